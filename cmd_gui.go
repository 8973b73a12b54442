package main

import (
	"context"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/tenantdesk/tenantdesk/tenant/admin"
	"github.com/tenantdesk/tenantdesk/ui"
	_ "github.com/tenantdesk/tenantdesk/ui/locale" // before Fyne reads the locale
)

// runGUI is the double-click path: the window and the listener. SIGINT and
// SIGTERM quit the app as the window's Quit does.
func runGUI(ctx context.Context, g globals, stderr io.Writer) int {
	logger := slog.New(slog.NewTextHandler(stderr, nil))
	db, code := openDB(g, stderr)
	if db == nil {
		return code
	}
	defer db.Close()
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	svc := admin.New(db, admin.Options{PublicURL: g.publicURL, Addr: g.addr, Logger: logger})
	if err := ui.Run(ctx, svc, ui.Options{StartListener: true, Logger: logger}); err != nil {
		return exitf(stderr, "%v", err)
	}
	return 0
}
