package remote

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"strings"

	"github.com/Microsoft/go-winio"
	"golang.org/x/sys/windows"
)

// SocketPath is the control channel of the data file at dbPath: on
// Windows a named pipe, since a Unix socket's file mode means nothing
// there (and Wine has no AF_UNIX at all). Its name is derived from the
// file's absolute path, case folded as NTFS folds it, so that every
// spelling of one file finds one pipe.
func SocketPath(dbPath string) string {
	abs, err := filepath.Abs(dbPath)
	if err != nil {
		abs = dbPath
	}
	sum := sha256.Sum256([]byte(strings.ToLower(filepath.Clean(abs))))
	return `\\.\pipe\tenantdesk-` + hex.EncodeToString(sum[:16])
}

// pipeSDDL is the pipe's security descriptor: owned by the user, and its
// DACL (protected from inheritance) admits that user and SYSTEM only.
// The owner is named, not defaulted, because an elevated token's default
// owner is the Administrators group, which the client would refuse.
func pipeSDDL(user string) string {
	return fmt.Sprintf("O:%sD:P(A;;GA;;;%s)(A;;GA;;;SY)", user, user)
}

// currentUserSID is the SID of the user this process runs as.
func currentUserSID() (*windows.SID, error) {
	tu, err := windows.GetCurrentProcessToken().GetTokenUser()
	if err != nil {
		return nil, fmt.Errorf("who am I: %w", err)
	}
	return tu.User.Sid.Copy()
}

func listenControl(path string, _ *slog.Logger) (net.Listener, error) {
	me, err := currentUserSID()
	if err != nil {
		return nil, err
	}
	// ListenPipe creates the first instance: if the name is taken (by a
	// process squatting it, or another owner) it fails, and this process
	// serves no pipe rather than share one.
	return winio.ListenPipe(path, &winio.PipeConfig{SecurityDescriptor: pipeSDDL(me.String())})
}

// dialControl connects to the pipe at path, and before anything is sent
// checks that its owner is this user: another user could create a pipe
// of that name first, and would then receive a verb's secrets.
func dialControl(ctx context.Context, path string) (net.Conn, error) {
	c, err := winio.DialPipeAccess(ctx, path, windows.GENERIC_READ|windows.GENERIC_WRITE|windows.READ_CONTROL)
	switch {
	case errors.Is(err, windows.ERROR_FILE_NOT_FOUND):
		return nil, fmt.Errorf("%s: %w", path, ErrNoOwner)
	case errors.Is(err, windows.ERROR_ACCESS_DENIED):
		return nil, fmt.Errorf("control pipe %s %w (it does not admit you)", path, ErrNotOurs)
	case err != nil:
		return nil, fmt.Errorf("control pipe %s: %w", path, err)
	}
	if err := checkPipeOwner(c); err != nil {
		_ = c.Close()
		return nil, fmt.Errorf("control pipe %s: %w", path, err)
	}
	return c, nil
}

// checkPipeOwner compares the owner SID of the pipe c leads to with this
// process's user.
func checkPipeOwner(c net.Conn) error {
	f, ok := c.(interface{ Fd() uintptr })
	if !ok {
		return errors.New("no handle to check; nothing was sent")
	}
	owner, err := pipeOwner(windows.Handle(f.Fd()))
	if err != nil {
		return fmt.Errorf("cannot read its owner (%v); nothing was sent", err)
	}
	me, err := currentUserSID()
	if err != nil {
		return err
	}
	if !owner.Equals(me) {
		return fmt.Errorf("%w (its owner is %s, you are %s)", ErrNotOurs, owner, me)
	}
	return nil
}

func pipeOwner(h windows.Handle) (*windows.SID, error) {
	sd, err := windows.GetSecurityInfo(h, windows.SE_KERNEL_OBJECT, windows.OWNER_SECURITY_INFORMATION)
	if err != nil {
		return nil, err
	}
	owner, _, err := sd.Owner()
	if err != nil {
		return nil, err
	}
	return owner.Copy()
}
