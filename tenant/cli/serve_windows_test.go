package cli

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/windows"

	"github.com/tenantdesk/tenantdesk/store/storetest"
)

// serve on Windows stops as it does on SIGTERM elsewhere when the console
// sends Ctrl+Break (as to a process group, which is how a console delivers
// it): the listener stops, the file is closed, exit 0.
func TestWindowsServeStopsOnCtrlBreak(t *testing.T) {
	db := filepath.Join(storetest.TempDir(t), "t.db")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	cmd := subprocess(t, "--db", db, "--addr", addr, "serve")
	cmd.SysProcAttr = &syscall.SysProcAttr{CreationFlags: syscall.CREATE_NEW_PROCESS_GROUP}
	var errOut bytes.Buffer
	cmd.Stderr = &errOut
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	out := bufio.NewScanner(stdout)
	if !out.Scan() || !strings.HasPrefix(out.Text(), "listening on") {
		_ = cmd.Process.Kill()
		t.Fatalf("serve said %q; stderr: %s", out.Text(), errOut.String())
	}
	if err := windows.GenerateConsoleCtrlEvent(windows.CTRL_BREAK_EVENT, uint32(cmd.Process.Pid)); err != nil {
		_ = cmd.Process.Kill()
		t.Skipf("cannot send Ctrl+Break here (Wine 8 answers GenerateConsoleCtrlEvent with %v; Windows delivers it)", err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve after Ctrl+Break: %v; stderr: %s", err, errOut.String())
		}
	case <-time.After(20 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatalf("serve still running 20 s after Ctrl+Break; stderr: %s", errOut.String())
	}
	if !strings.Contains(errOut.String(), "msg=stopped") {
		t.Fatalf("serve did not stop gracefully; stderr: %s", errOut.String())
	}
	// The file is closed: a verb opens it itself.
	if code, _, e := cli(t, "", "--db", db, "tenant", "list"); code != 0 {
		t.Fatal(fmt.Sprint("tenant list after serve: ", code, e))
	}
}
