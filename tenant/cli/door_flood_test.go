//go:build linux

package cli

import (
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A flood of half-open connections on the admin address (opened, nothing
// sent) with the process at a low open-file limit: the public listener's
// /healthz still answers, since each listener holds at most its share of
// the limit and the rest of the flood waits in the kernel's backlog.
func TestAdminAddrFloodLeavesTheListenerAnswering(t *testing.T) {
	db := filepath.Join(t.TempDir(), "td.db")
	importedDataFile(t, db, marketplaces(t, "acme"))
	addr, adminAddr := freeAddr(t), freeAddr(t)
	serve := subprocess(t, "--db", db, "--addr", addr, "serve", "--admin-addr", adminAddr)
	// ulimit -n sets the hard limit too, which Go does not raise.
	serve.Args = append([]string{"/bin/sh", "-c", `ulimit -n 256 && exec "$0" "$@"`}, serve.Args...)
	serve.Path = "/bin/sh"
	line, serveErr := startServe(t, serve)
	defer serve.Process.Kill()
	if !strings.HasPrefix(line, "listening on ") {
		t.Fatalf("serve: %q\n%s", line, serveErr.String())
	}
	var flood []net.Conn
	closeFlood := func() {
		for _, c := range flood {
			c.Close()
		}
		flood = nil
	}
	defer closeFlood()
	for range 300 {
		c, err := net.DialTimeout("tcp", adminAddr, time.Second)
		if err != nil {
			break // the backlog is full: the flood is as big as it gets
		}
		flood = append(flood, c)
	}
	if len(flood) < 256 {
		t.Fatalf("only %d connections opened: not a flood past the limit", len(flood))
	}
	time.Sleep(200 * time.Millisecond) // the server accepts what it will
	client := &http.Client{Timeout: 5 * time.Second}
	for i := range 20 {
		resp, err := client.Get("http://" + addr + "/healthz")
		if err != nil {
			t.Fatalf("healthz %d under the flood: %v\nserve: %s", i, err, serveErr.String())
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("healthz %d under the flood: %d", i, resp.StatusCode)
		}
	}
	closeFlood() // else the graceful stop waits 5 s for them
	if err := serve.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := serve.Wait(); err != nil {
		t.Fatalf("serve: %v\n%s", err, serveErr.String())
	}
	if strings.Contains(serveErr.String(), "too many open files") {
		t.Errorf("serve ran out of descriptors:\n%s", serveErr.String())
	}
}
