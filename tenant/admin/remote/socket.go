package remote

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/tenantdesk/tenantdesk/tenant/admin"
)

// SocketPath is the control socket of the data file at dbPath.
func SocketPath(dbPath string) string { return dbPath + ".sock" }

// ServeSocket serves api on the control socket next to the data file
// until ctx ends, then removes the socket. Only the owner of the file may
// call it: holding the file's lock proves that any socket file already
// there was left by a process that died, so it is replaced. The socket is
// mode 0600 and every connection from another user is dropped.
func ServeSocket(ctx context.Context, dbPath string, api admin.API, info Info, log *slog.Logger) (<-chan error, error) {
	if log == nil {
		log = slog.Default()
	}
	path := SocketPath(dbPath)
	if err := removeStale(path); err != nil {
		return nil, err
	}
	l, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("control socket %s: %w", path, err)
	}
	l.(*net.UnixListener).SetUnlinkOnClose(true)
	if err := os.Chmod(path, 0o600); err != nil {
		_ = l.Close()
		return nil, fmt.Errorf("control socket %s: %w", path, err)
	}
	srv := &http.Server{
		Handler:           Handler(api, info, nil, log),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       60 * time.Second,
	}
	done := make(chan error, 1)
	go func() {
		err := srv.Serve(&sameUserListener{Listener: l, uid: os.Getuid(), log: log})
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
	log.Debug("control socket ready", "path", path)
	return done, nil
}

// removeStale deletes a socket file left behind by a process that died.
// It refuses to delete anything that is not a socket.
func removeStale(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("control socket %s: %w", path, err)
	}
	if fi.Mode()&os.ModeSocket == 0 {
		return fmt.Errorf("control socket %s: a file that is not a socket is in the way", path)
	}
	if err := os.Remove(path); err != nil {
		return fmt.Errorf("control socket %s: remove the stale one: %w", path, err)
	}
	return nil
}

// sameUserListener drops connections whose peer runs as another user.
type sameUserListener struct {
	net.Listener
	uid int
	log *slog.Logger
}

func (l *sameUserListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		uid, err := peerUID(c)
		if err == nil && uid == l.uid {
			return c, nil
		}
		l.log.Warn("control socket: refused a peer of another user", "uid", uid, "err", err)
		_ = c.Close()
	}
}
