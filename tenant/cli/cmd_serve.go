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

	"github.com/tenantdesk/tenantdesk/store"
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
	if db.Etcd() {
		defer startBackgroundOnOne(ctx, db, svc, logger)()
	} else {
		defer startBackground(ctx, svc)()
	}
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
// owns. The function returned ends it and waits until it has stopped.
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

// startBackgroundOnOne runs the background work on the one replica of the
// cluster that holds store.LockBackground (SPEC §14: outbox and pulls have
// one worker, purges run on one replica); the others wait to take it over
// when the holder dies and its lease runs out. The function returned ends
// it and waits.
func startBackgroundOnOne(ctx context.Context, db *store.DB, svc *admin.Service, logger *slog.Logger) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			lock, err := db.TryLock(store.LockBackground)
			if err != nil {
				select {
				case <-ctx.Done():
				case <-time.After(2 * time.Second):
				}
				continue
			}
			logger.Info("this replica runs the background work")
			bctx, bcancel := context.WithCancel(ctx)
			go func() {
				select {
				case <-lock.Lost():
					logger.Warn("background lock lost: stopping the background work here")
					bcancel()
				case <-bctx.Done():
				}
			}()
			svc.RunBackground(bctx)
			bcancel()
			lock.Unlock()
		}
	}()
	return func() {
		cancel()
		<-done
	}
}
