package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"

	"github.com/tenantdesk/tenantdesk/tenant/admin"
	"github.com/tenantdesk/tenantdesk/tenant/connec"
	"github.com/tenantdesk/tenantdesk/tenant/server"
)

// cmdServe runs the listener and the Connec! outbox worker until SIGINT or
// SIGTERM, then lets in-flight requests finish and closes the database.
func cmdServe(ctx context.Context, g globals, args []string, stdout, stderr io.Writer) int {
	if len(args) != 0 {
		return exitf(stderr, "serve: takes no arguments (global flags go before it)")
	}
	logger := slog.New(slog.NewTextHandler(stderr, nil))
	db, code := openDB(g, stderr)
	if db == nil {
		return code
	}
	defer db.Close()

	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	worker := &connec.Worker{DB: db, Logger: logger}
	workerDone := make(chan struct{})
	go func() {
		defer close(workerDone)
		worker.Run(ctx)
	}()
	// Re-sync tenants from the developer platform every devpl-refresh
	// (off when unset); it ends with ctx.
	svc := admin.New(db, admin.Options{PublicURL: g.publicURL, Addr: g.addr, Logger: logger})
	syncDone := make(chan struct{})
	go func() {
		defer close(syncDone)
		if err := svc.RunDevPlatformSync(ctx); err != nil {
			logger.Error("developer-platform re-sync not started", "err", err)
		}
	}()
	defer openDoor(ctx, g, svc, logger)()
	srv := server.New(db, g.publicURL, logger)
	err := srv.ListenAndServe(ctx, g.addr, func(net.Addr) {
		fmt.Fprintf(stdout, "listening on %s\n", g.publicURL)
	})
	stop()
	<-workerDone
	<-syncDone
	if err != nil {
		return exitf(stderr, "serve: %v", err)
	}
	logger.Info("stopped")
	return 0
}
