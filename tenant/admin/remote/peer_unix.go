//go:build linux || darwin || freebsd

package remote

import (
	"errors"
	"net"
)

// peerUID is the user id of the process at the other end of c, as the
// kernel gives it (fdPeerUID: SO_PEERCRED on Linux, LOCAL_PEERCRED on the
// BSDs and macOS).
func peerUID(c net.Conn) (int, error) {
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return -1, errors.New("not a unix socket")
	}
	rc, err := uc.SyscallConn()
	if err != nil {
		return -1, err
	}
	uid, credErr := -1, error(nil)
	if err := rc.Control(func(fd uintptr) { uid, credErr = fdPeerUID(int(fd)) }); err != nil {
		return -1, err
	}
	return uid, credErr
}
