package remote

import (
	"context"
	"errors"
	"io"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Microsoft/go-winio"
	"golang.org/x/sys/windows"

	"github.com/tenantdesk/tenantdesk/store/storetest"
)

// The owner's pipe answers its own user, and its security descriptor is
// the one the CLI relies on: owned by the user, a protected DACL of the
// user and SYSTEM alone.
func TestWindowsPipeServesItsUserOnly(t *testing.T) {
	db := filepath.Join(storetest.TempDir(t), "t.db")
	ctx, cancel := context.WithCancel(context.Background())
	done, err := ServeSocket(ctx, db, demoService(t), Info{Name: "owner"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); <-done }()

	c, err := DialSocket(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.Info.Name != "owner" {
		t.Fatalf("hello: %+v", c.Info)
	}

	conn, err := winio.DialPipeAccess(context.Background(), SocketPath(db), windows.GENERIC_READ|windows.READ_CONTROL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	h := windows.Handle(conn.(interface{ Fd() uintptr }).Fd())
	sd, err := windows.GetSecurityInfo(h, windows.SE_KERNEL_OBJECT, windows.OWNER_SECURITY_INFORMATION|windows.DACL_SECURITY_INFORMATION)
	if err != nil {
		t.Fatal(err)
	}
	me, err := currentUserSID()
	if err != nil {
		t.Fatal(err)
	}
	want := pipeSDDL(me.String(), me.String())
	if got := sd.String(); got != want && got != strings.Replace(want, ";;;SY)", ";;;S-1-5-18)", 1) {
		t.Fatalf("pipe security descriptor %s, want %s", got, want)
	}
}

// A pipe of the data file's name made by someone else first (a squatter)
// is refused on its owner before a byte is sent.
func TestWindowsDialRefusesPipeOfAnotherOwner(t *testing.T) {
	db := filepath.Join(storetest.TempDir(t), "t.db")
	// Owned by the Administrators group rather than the user, and open to
	// everyone: what another account could set up.
	l, err := winio.ListenPipe(SocketPath(db), &winio.PipeConfig{SecurityDescriptor: "O:BAD:(A;;GA;;;WD)"})
	if err != nil {
		t.Skipf("cannot make a pipe owned by another principal here: %v", err)
	}
	defer l.Close()
	var received atomic.Int64
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				n, _ := io.Copy(io.Discard, c)
				received.Add(n)
				c.Close()
			}()
		}
	}()
	_, err = DialSocket(context.Background(), db)
	if !errors.Is(err, ErrNotOurs) {
		t.Fatalf("DialSocket: %v, want ErrNotOurs", err)
	}
	time.Sleep(200 * time.Millisecond)
	if n := received.Load(); n != 0 {
		t.Fatalf("the squatting pipe received %d bytes", n)
	}
}

// No pipe: no owner, so the CLI opens the file itself.
func TestWindowsNoPipeIsNoOwner(t *testing.T) {
	_, err := DialSocket(context.Background(), filepath.Join(storetest.TempDir(t), "t.db"))
	if !errors.Is(err, ErrNoOwner) {
		t.Fatalf("DialSocket: %v, want ErrNoOwner", err)
	}
}

// One file, one pipe, however its path is spelled.
func TestWindowsPipeNameFoldsSpelling(t *testing.T) {
	a := SocketPath(`C:\Users\Ann\AppData\Roaming\tenantdesk\tenantdesk.db`)
	b := SocketPath(`c:\users\ann\appdata\roaming\TENANTDESK\.\tenantdesk.db`)
	if a != b || !strings.HasPrefix(a, `\\.\pipe\tenantdesk-`) {
		t.Fatalf("%s vs %s", a, b)
	}
}

// serve run as a service (SYSTEM) on a user's data file admits that user
// too, and nobody else; run as the user, nobody but the user and SYSTEM.
func TestWindowsPipeSDDLAdmitsTheFileOwner(t *testing.T) {
	const user = "S-1-5-21-1-2-3-1001"
	if got, want := pipeSDDL(systemSID, user), "O:S-1-5-18D:P(A;;GA;;;S-1-5-18)(A;;GA;;;SY)(A;;GA;;;"+user+")"; got != want {
		t.Fatalf("as a service: %s, want %s", got, want)
	}
	if got, want := pipeSDDL(user, user), "O:"+user+"D:P(A;;GA;;;"+user+")(A;;GA;;;SY)"; got != want {
		t.Fatalf("as the user: %s, want %s", got, want)
	}
}
