package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/tenantdesk/tenantdesk/tenant/admin"
)

// cmdServe runs the listener and the owner's background work (the Connec!
// outbox and pulls, the developer-platform re-sync, the purges) until
// SIGINT or SIGTERM, then lets in-flight requests finish and closes the
// database. On Windows, Ctrl+C and Ctrl+Break arrive as os.Interrupt, and
// closing the console, logging off or shutting down as SIGTERM (Go's
// runtime holds the console's close event until the process exits, within
// Windows' 5 s); run as a service, the manager's Stop and Shutdown end it
// the same way (runService).
func cmdServe(ctx context.Context, g globals, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	adminAddr := fs.String("admin-addr", envOr("TENANTDESK_ADMIN_ADDR", ""),
		"also serve the admin API over TLS on HOST:PORT, for `--server` and the GUI's Connect to server (env TENANTDESK_ADMIN_ADDR)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() != 0 {
		return exitf(stderr, "serve: unexpected argument %q (global flags go before serve)", fs.Arg(0))
	}
	logger := slog.New(slog.NewTextHandler(stderr, nil))
	db, err := openDB(&g)
	if err != nil {
		return exitf(stderr, "%v", err)
	}
	defer db.Close()
	// Serving writes (logins, webhooks, the activity log), and a file
	// whose key is missing is never written to: say why, and stop.
	if err := db.KeyErr(); err != nil {
		return exitf(stderr, "serve: %v", err)
	}
	if g.settingsErr != nil {
		return exitf(stderr, "serve: bad settings (fix with `tenantdesk settings set|unset KEY`, or the flag or variable named):\n%v", g.settingsErr)
	}
	if err := g.pickPort(); err != nil {
		return exitf(stderr, "%v", err)
	}

	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	svc := admin.New(db, g.adminOptions(logger))
	// On etcd every replica runs the outbox and pulls, sharing the tenants;
	// the purges and the re-sync run on one (admin.Service.RunBackground).
	defer startBackground(ctx, svc)()
	if db.Etcd() {
		// A replica of the cluster: no control socket (verbs work on the
		// cluster directly), a presence key for `cluster status` instead.
		wait, err := announce(ctx, g, db, *adminAddr)
		if err != nil {
			stop()
			return exitf(stderr, "serve: %v", err)
		}
		defer wait()
	} else {
		defer openDoor(ctx, g, svc, logger)()
	}
	if *adminAddr != "" {
		wait, err := serveAdminAddr(ctx, g, *adminAddr, svc, logger)
		if err != nil {
			stop()
			return exitf(stderr, "serve: %v", err)
		}
		defer wait()
	}
	// The listener runs under the admin service, as in the GUI, so that
	// its state reads the same to every client of this process.
	err = svc.StartListener()
	if err == nil {
		fmt.Fprintf(stdout, "listening on %s\n", g.publicURL)
		<-ctx.Done()
		stopCtx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		err = svc.StopListener(stopCtx)
		cancel()
	}
	stop() // the door, the admin address and the background work end; the defers wait for them
	if err != nil {
		return exitf(stderr, "serve: %v", err)
	}
	logger.Info("stopped")
	return 0
}

// startBackground starts the owner's background work on svc
// (admin.Service.RunBackground): serve and the GUI on a file this process
// owns, and every serve replica of an etcd store. The function returned
// ends it and waits until it has stopped.
func startBackground(ctx context.Context, svc *admin.Service) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		svc.RunBackground(ctx)
	}()
	return func() {
		cancel()
		<-done
	}
}
