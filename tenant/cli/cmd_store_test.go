package cli

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tenantdesk/tenantdesk/store"
	"github.com/tenantdesk/tenantdesk/store/etcdtest"
)

// A workstation's file copied to etcd (SPEC §14): every verb then works on
// the cluster directly, two serve replicas run on it at once and list
// themselves in cluster status, and a replica that stops leaves it.
func TestStoreCopyReplicasAndClusterStatus(t *testing.T) {
	file := filepath.Join(t.TempDir(), "td.db")
	doc := filepath.Join(t.TempDir(), "m.json")
	if err := os.WriteFile(doc, []byte(marketplaces(t, "acme", "globex")), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := cli(t, "", "--db", file, "tenant", "import", doc); code != 0 {
		t.Fatalf("import: %s", errOut)
	}
	url := etcdtest.URL(t)
	code, out, errOut := cli(t, "", "store", "copy", "--from", file, "--to", url)
	if code != 0 || !strings.Contains(out, "copied ") {
		t.Fatalf("store copy: code %d, %q %q", code, out, errOut)
	}
	code, _, errOut = cli(t, "", "store", "copy", "--from", file, "--to", url)
	if code == 0 || !strings.Contains(errOut, "already holds data") {
		t.Fatalf("copy into a store with data: code %d, %q", code, errOut)
	}
	code, out, errOut = cli(t, "", "--store", url, "tenant", "list")
	if code != 0 || !strings.Contains(out, "acme") || !strings.Contains(out, "globex") || strings.Contains(out, secretKey) {
		t.Fatalf("tenant list on etcd: code %d, %q %q", code, out, errOut)
	}

	var replicas []*replica
	for range 2 {
		addr := freeAddr(t)
		cmd := subprocess(t, "--store", url, "--addr", addr, "--public-url", "http://lb.test", "serve")
		line, serveErr := startServe(t, cmd)
		t.Cleanup(func() { _ = cmd.Process.Kill() })
		if line != "listening on http://lb.test\n" {
			t.Fatalf("replica: %q\n%s", line, serveErr)
		}
		replicas = append(replicas, &replica{addr: addr, pid: cmd.Process.Pid, wait: cmd.Wait, stderr: serveErr})
	}
	for _, r := range replicas {
		resp, err := http.Get("http://" + r.addr + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("healthz of replica %s: %d", r.addr, resp.StatusCode)
		}
	}
	// A verb while both serve: straight on the cluster, no owner to find.
	if code, _, errOut := cli(t, "", "--store", url, "tenant", "remove", "globex"); code != 0 {
		t.Fatalf("tenant remove while replicas serve: %s", errOut)
	}
	status := func() (st struct {
		Replicas []store.Replica
		Members  []store.Member
	}) {
		t.Helper()
		code, out, errOut := cli(t, "", "--store", url, "cluster", "status", "--json")
		if code != 0 {
			t.Fatalf("cluster status: %s", errOut)
		}
		if err := json.Unmarshal([]byte(out), &st); err != nil {
			t.Fatalf("cluster status --json: %v: %q", err, out)
		}
		return st
	}
	st := status()
	if len(st.Replicas) != 2 || len(st.Members) != 1 || !st.Members[0].Leader || !st.Members[0].Healthy {
		t.Fatalf("cluster status = %+v", st)
	}
	for _, r := range st.Replicas {
		if r.Version == "" || r.PublicURL != "http://lb.test" || time.Since(r.LastSeen) > time.Minute {
			t.Errorf("replica %+v", r)
		}
	}
	// SIGTERM: the replica ends cleanly and its presence goes with it.
	if p, err := os.FindProcess(replicas[0].pid); err != nil {
		t.Fatal(err)
	} else if err := p.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := replicas[0].wait(); err != nil {
		t.Fatalf("replica stopped with %v", err)
	}
	if st := status(); len(st.Replicas) != 1 || !strings.HasSuffix(st.Replicas[0].Addr, replicas[1].addr[strings.LastIndex(replicas[1].addr, ":"):]) {
		t.Fatalf("after one replica stopped: %+v", st.Replicas)
	}
	_, out, _ = cli(t, "", "--store", url, "tenant", "list")
	if !strings.Contains(out, "acme") || strings.Contains(out, "globex") {
		t.Fatalf("tenant list after the remove: %q", out)
	}
	// The background work ran on one replica at a time: the first to take
	// its lock, then, when that one stopped first, the other.
	const runs = "this replica runs the background work"
	first := strings.Count(replicas[0].stderr.String(), runs)
	time.Sleep(2500 * time.Millisecond) // the other's next try at the lock
	if p, err := os.FindProcess(replicas[1].pid); err == nil {
		_ = p.Signal(syscall.SIGTERM)
	}
	if err := replicas[1].wait(); err != nil {
		t.Fatalf("second replica stopped with %v", err)
	}
	second := strings.Count(replicas[1].stderr.String(), runs)
	if first+second < 1 || first > 1 || second > 1 || (first == 1 && second != 1) {
		t.Errorf("background work taken %d times by the first replica and %d by the second; want once, and by the second after the first stopped\n%s\n%s",
			first, second, replicas[0].stderr, replicas[1].stderr)
	}
}

type replica struct {
	addr   string
	pid    int
	wait   func() error
	stderr *bytes.Buffer // read only once the replica has exited
}

func TestStoreFlagErrors(t *testing.T) {
	code, _, errOut := cli(t, "", "--store", "/tmp/x.db", "tenant", "list")
	if code == 0 || !strings.Contains(errOut, "a file goes in --db") {
		t.Errorf("--store with a file: code %d, %q", code, errOut)
	}
	code, _, errOut = cli(t, "", "--db", filepath.Join(t.TempDir(), "td.db"), "cluster", "status")
	if code == 0 || !strings.Contains(errOut, "not an etcd store") {
		t.Errorf("cluster status on a file: code %d, %q", code, errOut)
	}
	code, _, errOut = cli(t, "", "store", "copy", "--from", filepath.Join(t.TempDir(), "missing.db"), "--to", filepath.Join(t.TempDir(), "b.db"))
	if code == 0 || !strings.Contains(errOut, "--from") {
		t.Errorf("copy from a missing file: code %d, %q", code, errOut)
	}
}

// A second billing run anywhere on the cluster exits 1 (SPEC §14).
func TestBillRunOnEtcdRefusedWhileAnotherRuns(t *testing.T) {
	url := etcdtest.URL(t)
	db, err := store.OpenURL(url, store.TLSFiles{}, testStoreOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	lock, err := db.TryLock(store.LockBilling)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Unlock()
	code, _, errOut := cli(t, "", "--store", url, "bill", "run", "--period", "2026-11")
	if code != 1 || !strings.Contains(errOut, "in progress") {
		t.Fatalf("bill run while another runs: code %d, %q", code, errOut)
	}
}

// A verb that names where it wrote names the cluster on etcd, not the
// default data file it never touched.
func TestDemoDataOnEtcdNamesTheCluster(t *testing.T) {
	url := etcdtest.URL(t)
	dbFlag := filepath.Join(t.TempDir(), "never.db")
	code, out, errOut := cli(t, "", "--store", url, "--db", dbFlag, "demo-data")
	if code != 0 || !strings.Contains(out, "demo data written to "+url+":") {
		t.Fatalf("demo-data on etcd: code %d, %q %q", code, out, errOut)
	}
	if _, err := os.Stat(dbFlag); !os.IsNotExist(err) {
		t.Fatalf("demo-data on etcd created the data file %s: %v", dbFlag, err)
	}
}
