package remote

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/tenantdesk/tenantdesk/tenant/admin"
)

// ServeSocket serves api on the control channel of the data file at
// dbPath (SocketPath: a Unix socket beside it, or a named pipe on
// Windows) until ctx ends, then closes it. Only the owner of the file may
// call it: holding the file's lock proves that a socket file already there
// was left by a process that died, so it is replaced. Only this process's
// user reaches it: the socket is mode 0600 and peers of another uid are
// dropped; the pipe's DACL admits the user and SYSTEM alone.
func ServeSocket(ctx context.Context, dbPath string, api admin.API, info Info, log *slog.Logger) (<-chan error, error) {
	if log == nil {
		log = slog.Default()
	}
	path := SocketPath(dbPath)
	l, err := listenControl(dbPath, path, log)
	if err != nil {
		return nil, fmt.Errorf("control channel %s: %w", path, err)
	}
	srv := &http.Server{
		Handler:           Handler(api, info, nil, log),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       60 * time.Second,
	}
	done := make(chan error, 1)
	go func() {
		err := srv.Serve(l)
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		done <- err
	}()
	go func() {
		<-ctx.Done()
		// Calls in flight (a billing run) get a moment to finish.
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(sctx); err != nil {
			_ = srv.Close()
		}
	}()
	log.Debug("control channel ready", "path", path)
	return done, nil
}

// ErrNotOurs is returned when the control channel of a data file belongs
// to another user, or the process behind it runs as one: the CLI refuses
// it before sending a byte (SPEC §15), since a verb may carry secrets.
var ErrNotOurs = errors.New("belongs to another user; nothing was sent")

// dialChecked connects to the control channel at path and returns the
// connection only once it is known to lead to a process of this user
// (dialControl does the checks for the platform).
func dialChecked(ctx context.Context, path string) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, helloTimeout)
	defer cancel()
	return dialControl(ctx, path)
}
