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
// DACL (protected from inheritance) admits that user and SYSTEM, and the
// user the data file belongs to when that is another (serve run as a
// service, as SYSTEM, on a vendor's file). The owner is named, not
// defaulted, because an elevated token's default owner is the
// Administrators group, which the client would refuse.
func pipeSDDL(user string, fileOwner string) string {
	sddl := fmt.Sprintf("O:%sD:P(A;;GA;;;%s)(A;;GA;;;SY)", user, user)
	if fileOwner != "" && fileOwner != user && fileOwner != systemSID {
		sddl += fmt.Sprintf("(A;;GA;;;%s)", fileOwner)
	}
	return sddl
}

// systemSID is LocalSystem's, which services run as by default.
const systemSID = "S-1-5-18"

// currentUserSID is the SID of the user this process runs as.
func currentUserSID() (*windows.SID, error) {
	tu, err := windows.GetCurrentProcessToken().GetTokenUser()
	if err != nil {
		return nil, fmt.Errorf("who am I: %w", err)
	}
	return tu.User.Sid.Copy()
}

// fileOwnerSID is the owner of the file at path, or "" when it cannot be
// read (the pipe then admits this user and SYSTEM alone).
func fileOwnerSID(path string) string {
	sd, err := windows.GetNamedSecurityInfo(path, windows.SE_FILE_OBJECT, windows.OWNER_SECURITY_INFORMATION)
	if err != nil {
		return ""
	}
	owner, _, err := sd.Owner()
	if err != nil || owner == nil {
		return ""
	}
	return owner.String()
}

func listenControl(dbPath, path string, _ *slog.Logger) (net.Listener, error) {
	me, err := currentUserSID()
	if err != nil {
		return nil, err
	}
	// ListenPipe creates the first instance: if the name is taken (by a
	// process squatting it, or another owner) it fails, and this process
	// serves no pipe rather than share one.
	return winio.ListenPipe(path, &winio.PipeConfig{SecurityDescriptor: pipeSDDL(me.String(), fileOwnerSID(dbPath))})
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
// process's user. SYSTEM passes too: it is the service serve runs as, and
// a process that can make a pipe owned by SYSTEM rules the machine anyway.
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
	if !owner.Equals(me) && owner.String() != systemSID {
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
