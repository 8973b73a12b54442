package cli

import (
	"context"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"syscall"

	"github.com/tenantdesk/tenantdesk/tenant/admin"
	"github.com/tenantdesk/tenantdesk/tenant/admin/remote"
)

// runGUI is the double-click path: the window and the listener. SIGINT and
// SIGTERM quit the app as the window's Quit does.
func runGUI(ctx context.Context, g globals, stderr io.Writer) int {
	if !hasDisplay() {
		return exitf(stderr, "no display found (DISPLAY and WAYLAND_DISPLAY are unset): the window needs a desktop session; `tenantdesk serve` runs the listener alone")
	}
	if g.program.Window == nil {
		return exitf(stderr, "this build has no window; `tenantdesk serve` runs the listener alone")
	}
	logger := slog.New(slog.NewTextHandler(stderr, nil))
	// Another Tenantdesk owns the data (--server, or serve or a first
	// window on this file): this window becomes its client.
	c, db, err := reach(ctx, &g)
	if err != nil {
		return exitf(stderr, "%v", err)
	}
	if c != nil {
		name := "local instance · " + filepath.Base(g.db)
		if g.server != "" {
			name = c.Name
			if c.Info.Name != "" {
				name = c.Info.Name + " (" + c.Name + ")"
			}
		} else {
			logger.Info("the data file is open in another Tenantdesk process: working through it", "db", g.db)
		}
		return runClientGUI(ctx, g, c, name, stderr, logger)
	}
	defer db.Close()
	warnLocked(db, stderr)
	if err := g.pickPort(); err != nil {
		return exitf(stderr, "%v", err)
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	svc := admin.New(db, g.adminOptions(logger))
	// The owner's background work runs here, not in the window: the
	// window only shows what the API gives it.
	// A file whose key is missing is only read (the window says why):
	// no listener, no background work, both of which write.
	locked := db.KeyErr() != nil
	if !locked {
		stopBackground := startBackground(ctx, svc)
		defer stopBackground()
	}
	ctx, closeDoor := context.WithCancel(ctx)
	defer closeDoor()
	waitDoor := openDoor(ctx, g, svc, logger)
	defer func() { closeDoor(); waitDoor() }()
	if err := g.program.Window(ctx, svc, WindowOptions{StartListener: !locked, Logger: logger, Version: g.program.Version}); err != nil {
		return exitf(stderr, "%v", err)
	}
	return 0
}

// hasDisplay reports whether a window can open: on X11/Wayland systems
// Fyne panics at start-up without one, so say so plainly instead.
func hasDisplay() bool {
	switch runtime.GOOS {
	case "linux", "freebsd", "openbsd", "netbsd":
		return os.Getenv("DISPLAY") != "" || os.Getenv("WAYLAND_DISPLAY") != ""
	}
	return true
}

// runClientGUI is the window of a client: it works on the process c talks
// to, and starts no listener of its own.
func runClientGUI(ctx context.Context, g globals, c *remote.Client, name string, stderr io.Writer, logger *slog.Logger) int {
	defer c.Close()
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := g.program.Window(ctx, c, WindowOptions{Logger: logger, Server: name, Version: g.program.Version}); err != nil {
		return exitf(stderr, "%v", err)
	}
	return 0
}
