package remote

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// nobody is the uid the fake owners run as.
const nobody = 65534

// needRoot skips a test that must make files and processes of another
// user.
func needRoot(t *testing.T) {
	t.Helper()
	if os.Getuid() != 0 {
		t.Skip("needs root to act as another user")
	}
}

// A socket file made by another user beside the data file (a shared
// folder) is refused before the CLI connects: nothing reaches it.
func TestDialSocketRefusesSocketFileOfAnotherUser(t *testing.T) {
	needRoot(t)
	db := filepath.Join(t.TempDir(), "t.db")
	l, err := net.Listen("unix", SocketPath(db))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var received atomic.Int64
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			n, _ := io.Copy(io.Discard, c)
			received.Add(n + 1) // an accepted connection counts too
			c.Close()
		}
	}()
	if err := os.Chown(SocketPath(db), nobody, nobody); err != nil {
		t.Fatal(err)
	}
	_, err = DialSocket(context.Background(), db)
	if !errors.Is(err, ErrNotOurs) || !strings.Contains(err.Error(), "socket file") {
		t.Fatalf("DialSocket: %v, want a refusal naming the socket file's owner", err)
	}
	time.Sleep(100 * time.Millisecond)
	if n := received.Load(); n != 0 {
		t.Fatalf("the foreign socket received %d connections/bytes", n)
	}
}

// A socket file of this user, but served by a process of another user
// (it was chowned, or swapped in under the same name): the peer's uid
// (SO_PEERCRED) is checked after connecting and before sending, and the
// fake owner reads nothing.
func TestDialSocketRefusesPeerOfAnotherUser(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	// The other user must reach dir (t.TempDir's parent is 0700) and
	// make its socket there.
	if err := os.Chmod(filepath.Dir(dir), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	// The test binary, where the other user can run it.
	self, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	exe := filepath.Join(dir, "fake-owner")
	if err := os.WriteFile(exe, self, 0o755); err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(dir, "t.db")
	cmd := exec.Command(exe, "-test.run=^TestHelperFakeOwner$")
	cmd.Env = append(os.Environ(), "FAKE_OWNER_SOCKET="+SocketPath(db))
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	out := bufio.NewScanner(stdout)
	if !out.Scan() || out.Text() != "ready" {
		t.Fatalf("fake owner: %q %v", out.Text(), out.Err())
	}
	if err := os.Chown(SocketPath(db), os.Getuid(), os.Getgid()); err != nil {
		t.Fatal(err)
	}
	_, err = DialSocket(context.Background(), db)
	if !errors.Is(err, ErrNotOurs) || !strings.Contains(err.Error(), fmt.Sprintf("uid %d", nobody)) {
		t.Fatalf("DialSocket: %v, want a refusal naming the listener's uid %d", err, nobody)
	}
	stdin.Close() // tells the fake owner to report
	if !out.Scan() || out.Text() != "received 0 bytes" {
		t.Fatalf("fake owner: %q, want it to have received nothing", out.Text())
	}
	_ = cmd.Wait()
}

// TestHelperFakeOwner is the other user's process: it serves a socket
// and, when its stdin closes, says how many bytes it was sent.
func TestHelperFakeOwner(t *testing.T) {
	path := os.Getenv("FAKE_OWNER_SOCKET")
	if path == "" {
		t.Skip("helper process only")
	}
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
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
			}()
		}
	}()
	fmt.Println("ready")
	_, _ = io.Copy(io.Discard, os.Stdin)
	time.Sleep(100 * time.Millisecond)
	fmt.Printf("received %d bytes\n", received.Load())
}
