//go:build darwin || freebsd

package remote

import "golang.org/x/sys/unix"

// fdPeerUID is getpeereid's user id for the socket fd: LOCAL_PEERCRED's
// xucred on these systems.
func fdPeerUID(fd int) (int, error) {
	cred, err := unix.GetsockoptXucred(fd, unix.SOL_LOCAL, unix.LOCAL_PEERCRED)
	if err != nil {
		return -1, err
	}
	return int(cred.Uid), nil
}
