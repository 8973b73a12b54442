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
	"github.com/tenantdesk/tenantdesk/tenant/connec"
)

// cmdServe runs the listener and the Connec! outbox worker until SIGINT or
// SIGTERM, then lets in-flight requests finish and closes the database.
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
	db, code := openDB(&g, stderr)
	if db == nil {
		return code
	}
	defer db.Close()
	if g.settingsErr != nil {
		return exitf(stderr, "serve: bad settings (fix with `tenantdesk settings set|unset KEY`, or the flag or variable named):\n%v", g.settingsErr)
	}
	if err := g.pickPort(); err != nil {
		return exitf(stderr, "%v", err)
	}

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
	svc := admin.New(db, g.adminOptions(logger))
	syncDone := make(chan struct{})
	go func() {
		defer close(syncDone)
		if err := svc.RunDevPlatformSync(ctx); err != nil {
			logger.Error("developer-platform re-sync not started", "err", err)
		}
	}()
	// Connec! pulls: initial pulls, retries, delta pulls every
	// connec.pull_interval; they end with ctx.
	pullsDone := make(chan struct{})
	go func() {
		defer close(pullsDone)
		if err := svc.RunPulls(ctx); err != nil {
			logger.Error("connec pulls", "err", err)
		}
	}()
	defer openDoor(ctx, g, svc, logger)()
	if *adminAddr != "" {
		wait, err := serveAdminAddr(ctx, g, *adminAddr, svc, logger)
		if err != nil {
			stop()
			<-workerDone
			<-syncDone
			return exitf(stderr, "serve: %v", err)
		}
		defer wait()
	}
	// The listener runs under the admin service, as in the GUI, so that
	// its state reads the same to every client of this process.
	err := svc.StartListener()
	if err == nil {
		fmt.Fprintf(stdout, "listening on %s\n", g.publicURL)
		<-ctx.Done()
		stopCtx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		err = svc.StopListener(stopCtx)
		cancel()
	}
	stop()
	<-workerDone
	<-syncDone
	<-pullsDone
	if err != nil {
		return exitf(stderr, "serve: %v", err)
	}
	logger.Info("stopped")
	return 0
}
