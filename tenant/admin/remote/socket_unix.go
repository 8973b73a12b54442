//go:build unix

package remote

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"syscall"
)

// SocketPath is the control socket of the data file at dbPath.
func SocketPath(dbPath string) string { return dbPath + ".sock" }

func listenControl(_, path string, log *slog.Logger) (net.Listener, error) {
	if err := removeStale(path); err != nil {
		return nil, err
	}
	l, err := net.Listen("unix", path)
	if err != nil {
		return nil, err
	}
	l.(*net.UnixListener).SetUnlinkOnClose(true)
	if err := os.Chmod(path, 0o600); err != nil {
		_ = l.Close()
		return nil, err
	}
	return &sameUserListener{Listener: l, uid: os.Getuid(), log: log}, nil
}

// removeStale deletes a socket file left behind by a process that died.
// It refuses to delete anything that is not a socket.
func removeStale(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if fi.Mode()&os.ModeSocket == 0 {
		return errors.New("a file that is not a socket is in the way")
	}
	if err := os.Remove(path); err != nil {
		return fmt.Errorf("remove the stale one: %w", err)
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

// dialControl connects to the control socket at path, and checks before
// anything is sent that both the socket file and the process listening on
// it belong to this user: a socket another user made in a shared folder
// would otherwise receive the secrets of `settings set` or an import.
func dialControl(ctx context.Context, path string) (net.Conn, error) {
	fi, err := os.Lstat(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%s: %w", path, ErrNoOwner)
	}
	if err != nil {
		return nil, fmt.Errorf("control socket %s: %w", path, err)
	}
	if fi.Mode()&os.ModeSocket == 0 {
		return nil, fmt.Errorf("control socket %s: not a socket; remove it or use --db for another file", path)
	}
	me := os.Getuid()
	if st, ok := fi.Sys().(*syscall.Stat_t); !ok || int(st.Uid) != me {
		return nil, fmt.Errorf("control socket %s: the socket file %w (its owner is uid %d, you are %d)", path, ErrNotOurs, fileUID(fi), me)
	}
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		// A socket file with no process behind it: the owner died.
		return nil, fmt.Errorf("%s: %w (%v)", path, ErrNoOwner, err)
	}
	uid, err := peerUID(c)
	if err != nil {
		_ = c.Close()
		return nil, fmt.Errorf("control socket %s: cannot tell who listens on it (%v); nothing was sent", path, err)
	}
	if uid != me {
		_ = c.Close()
		return nil, fmt.Errorf("control socket %s: the process listening on it %w (it runs as uid %d, you are %d)", path, ErrNotOurs, uid, me)
	}
	return c, nil
}

func fileUID(fi os.FileInfo) int {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return int(st.Uid)
	}
	return -1
}
