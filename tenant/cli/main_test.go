package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tenantdesk/tenantdesk/store"
	"github.com/tenantdesk/tenantdesk/store/masterkeys"
	"github.com/tenantdesk/tenantdesk/tenant/tenanttest"
)

// testProgram is the program as main builds it, without a window (the
// CLI's tests never open one: the GUI's are in ui/ and .ci/gui-smoke.sh).
var testProgram = func() Program {
	toml, err := os.ReadFile("../../FyneApp.toml")
	if err != nil {
		panic(err)
	}
	return Program{Version: Version(string(toml))}
}()

// run is the program in-process with the test program.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return Main(ctx, testProgram, args, stdin, stdout, stderr)
}

// The test binary doubles as the tenantdesk binary for subprocess tests.
func TestMain(m *testing.M) {
	if os.Getenv("TENANTDESK_TEST_MAIN") == "1" {
		os.Exit(Main(context.Background(), testProgram, os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
	}
	// Every test, and every process it starts, seals with one key file of
	// the run's own, never the user's default one.
	dir, err := os.MkdirTemp("", "tenantdesk-keys")
	if err != nil {
		panic(err)
	}
	os.Setenv("TENANTDESK_KEY_FILE", filepath.Join(dir, "test.key"))
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// cli runs the command in-process and returns its exit code and output.
func cli(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(context.Background(), args, strings.NewReader(stdin), &out, &errOut)
	return code, out.String(), errOut.String()
}

// subprocess starts the test binary as tenantdesk with args.
func subprocess(t *testing.T, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "TENANTDESK_TEST_MAIN=1")
	return cmd
}

// testStoreOptions open a data file in a test as the CLI under test does:
// with the run's key file.
func testStoreOptions() store.Options {
	return store.Options{Keys: masterkeys.File{Path: os.Getenv("TENANTDESK_KEY_FILE")}}
}

const secretKey = "s3cret-api-key-never-shown"

func marketplaces(t testing.TB, keys ...string) string {
	t.Helper()
	cert := tenanttest.Certificate(t, time.Now().Add(-time.Hour), time.Now().AddDate(1, 0, 0))
	var list []map[string]any
	for _, k := range keys {
		list = append(list, map[string]any{
			"marketplace": k,
			"environment": "production",
			"api":         map[string]any{"id": "app-" + k, "key": secretKey + "-" + k, "host": "https://hub." + k + ".test"},
			"sso":         map[string]any{"idp": "https://hub." + k + ".test", "x509_certificate": cert},
			"connec":      map[string]any{"host": "https://connec." + k + ".test", "base_path": "/api/v2", "timeout": 300},
		})
	}
	b, err := json.Marshal(map[string]any{"marketplaces": list})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestTenantImportListRemove(t *testing.T) {
	db := filepath.Join(t.TempDir(), "td.db")
	file := filepath.Join(t.TempDir(), "m.json")
	if err := os.WriteFile(file, []byte(marketplaces(t, "acme", "globex")), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := cli(t, "", "--db", db, "tenant", "import", file)
	if code != 0 || !strings.Contains(out, "imported 2 tenant(s): acme, globex") {
		t.Fatalf("import: code %d, out %q, err %q", code, out, errOut)
	}
	code, out, _ = cli(t, "", "--db", db, "tenant", "list")
	if code != 0 || !strings.Contains(out, "acme") || !strings.Contains(out, "globex") {
		t.Fatalf("list: code %d, out %q", code, out)
	}
	code, outJSON, _ := cli(t, "", "--db", db, "tenant", "list", "--json")
	if code != 0 {
		t.Fatalf("list --json: code %d", code)
	}
	var listed []map[string]any
	if err := json.Unmarshal([]byte(outJSON), &listed); err != nil || len(listed) != 2 {
		t.Fatalf("list --json is not a 2-element array: %v %q", err, outJSON)
	}
	if strings.Contains(out+outJSON, secretKey) {
		t.Fatal("tenant list shows the API key")
	}
	code, _, errOut = cli(t, "", "--db", db, "tenant", "remove", "acme")
	if code != 0 {
		t.Fatalf("remove: %d %s", code, errOut)
	}
	code, _, errOut = cli(t, "", "--db", db, "tenant", "remove", "acme")
	if code == 0 || !strings.Contains(errOut, `no tenant "acme"`) {
		t.Fatalf("second remove: code %d, %q", code, errOut)
	}
	_, out, _ = cli(t, "", "--db", db, "tenant", "list")
	if strings.Contains(out, "acme") || !strings.Contains(out, "globex") {
		t.Fatalf("after remove: %q", out)
	}
}

func TestTenantImportInvalidWritesNothing(t *testing.T) {
	db := filepath.Join(t.TempDir(), "td.db")
	bad := strings.Replace(marketplaces(t, "good", "bad"), `"https://hub.bad.test"`, `"ftp://nowhere"`, 1)
	code, out, errOut := cli(t, bad, "--db", db, "tenant", "import", "-")
	if code == 0 {
		t.Fatalf("invalid import exited 0: %q", out)
	}
	if !strings.Contains(errOut, "nothing imported") || !strings.Contains(errOut, "api.host") {
		t.Fatalf("error does not name the field: %q", errOut)
	}
	_, out, _ = cli(t, "", "--db", db, "tenant", "list")
	if strings.Contains(out, "good") {
		t.Fatalf("a valid tenant of a rejected file was written: %q", out)
	}
	if code, _, errOut := cli(t, "{", "--db", db, "tenant", "import", "-"); code == 0 || errOut == "" {
		t.Fatal("malformed JSON accepted")
	}
}

func TestUsageErrors(t *testing.T) {
	db := filepath.Join(t.TempDir(), "td.db")
	for _, args := range [][]string{
		{"--db", db, "frobnicate"},
		{"--db", db, "tenant"},
		{"--db", db, "tenant", "remove", "Not A Key"},
		{"--db", db, "idmap", "list", "--tenant", "../x"},
		{"--db", db, "idmap", "list", "--json", "--csv"},
		{"--db", db, "bill", "preview"},
		{"--db", db, "bill", "preview", "--period", "2026-13"},
		{"--db", db, "bill", "run", "--period", "nov"},
		{"--db", db, "backup"},
	} {
		code, _, errOut := cli(t, "", args...)
		if code == 0 || !strings.HasPrefix(errOut, "tenantdesk") && !strings.Contains(errOut, "flag") {
			t.Errorf("%v: code %d, stderr %q", args, code, errOut)
		}
	}
}

func TestDemoDataExportIdmapBackup(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "td.db")
	if code, out, errOut := cli(t, "", "--db", db, "demo-data"); code != 0 {
		t.Fatalf("demo-data: %d %q %q", code, out, errOut)
	}
	code, out, errOut := cli(t, "", "--db", db, "export")
	if code != 0 {
		t.Fatalf("export: %d %q", code, errOut)
	}
	var doc map[string][]json.RawMessage
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("export is not JSON: %v", err)
	}
	for _, k := range []string{"tenants", "users", "groups", "memberships", "identity_map", "invoices", "bills"} {
		if len(doc[k]) == 0 {
			t.Errorf("export has no %s", k)
		}
	}
	if strings.Contains(out, "k3y-not-a-real-secret") {
		t.Fatal("export contains an API key")
	}

	code, out, _ = cli(t, "", "--db", db, "idmap", "list", "--csv")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || !strings.HasPrefix(lines[0], "id,tenant,group,") || len(lines) < 2 {
		t.Fatalf("idmap csv: code %d, %q", code, out)
	}
	code, outJSON, _ := cli(t, "", "--db", db, "idmap", "list", "--json", "--entity", "users")
	var rows []store.ConnectedObject
	if err := json.Unmarshal([]byte(outJSON), &rows); code != 0 || err != nil || len(rows) == 0 {
		t.Fatalf("idmap json: code %d err %v", code, err)
	}
	for _, r := range rows {
		if r.Entity != "users" {
			t.Fatalf("--entity users returned a %s row", r.Entity)
		}
	}

	backup := filepath.Join(dir, "copy.db")
	if code, _, errOut := cli(t, "", "--db", db, "backup", backup); code != 0 {
		t.Fatalf("backup: %q", errOut)
	}
	_, orig, _ := cli(t, "", "--db", db, "idmap", "list", "--csv")
	_, copied, _ := cli(t, "", "--db", backup, "idmap", "list", "--csv")
	if orig != copied {
		t.Fatal("the backup's identity map differs from the original's")
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func TestServeReadyHealthzAndGracefulStop(t *testing.T) {
	db := filepath.Join(t.TempDir(), "td.db")
	addr := freeAddr(t)
	cmd := subprocess(t, "--db", db, "--addr", addr, "serve")
	line, stderr := startServe(t, cmd)
	defer cmd.Process.Kill()
	if line != "listening on http://"+addr+"\n" {
		t.Fatalf("first stdout line %q; stderr %s", line, stderr.String())
	}
	resp, err := http.Get("http://" + addr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("healthz %d", resp.StatusCode)
	}

	// A verb in another process runs through serve (SPEC §13)...
	out, err := subprocess(t, "--db", db, "tenant", "list").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "no tenants yet") {
		t.Fatalf("tenant list while serve runs: err %v, output %q", err, out)
	}
	// ...and a second serve on the same file fails fast with a clear message.
	second := subprocess(t, "--db", db, "--addr", freeAddr(t), "serve")
	started := time.Now()
	out, err = second.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "another Tenantdesk process") {
		t.Fatalf("second serve: err %v, output %q", err, out)
	}
	if waited := time.Since(started); waited > 2*time.Second {
		t.Fatalf("second serve took %v to fail", waited)
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve exited with %v; stderr %s", err, stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not stop within 10 s of SIGTERM")
	}
	if _, err := os.Stat(db + ".sock"); !os.IsNotExist(err) {
		t.Fatalf("serve left its control socket behind: %v", err)
	}
	// The database was closed: it opens again at once.
	if code, _, errOut := cli(t, "", "--db", db, "tenant", "list"); code != 0 {
		t.Fatalf("db not released after serve: %s", errOut)
	}
}

func TestVersion(t *testing.T) {
	code, out, _ := cli(t, "", "version")
	if code != 0 || !strings.HasPrefix(out, fmt.Sprintf("tenantdesk %s", "0.")) {
		t.Fatalf("version: %d %q", code, out)
	}
}

func TestGUIWithoutDisplayExplains(t *testing.T) {
	t.Setenv("DISPLAY", "")
	t.Setenv("WAYLAND_DISPLAY", "")
	code, _, errOut := cli(t, "", "--db", filepath.Join(t.TempDir(), "td.db"))
	if code == 0 || !strings.Contains(errOut, "no display found") || !strings.Contains(errOut, "tenantdesk serve") {
		t.Fatalf("code %d, stderr %q", code, errOut)
	}
}

func TestServeOnPortZeroAnnouncesTheRealPort(t *testing.T) {
	cmd := subprocess(t, "--db", filepath.Join(t.TempDir(), "td.db"), "--addr", "127.0.0.1:0", "serve")
	line, _ := startServe(t, cmd)
	defer func() { _ = cmd.Process.Signal(syscall.SIGTERM); _ = cmd.Wait() }()
	url := strings.TrimSpace(strings.TrimPrefix(line, "listening on "))
	if !strings.HasPrefix(line, "listening on http://127.0.0.1:") || strings.HasSuffix(url, ":0") {
		t.Fatalf("announced %q", line)
	}
	resp, err := http.Get(url + "/healthz")
	if err != nil {
		t.Fatalf("the announced URL does not answer: %v", err)
	}
	resp.Body.Close()
}

// importedDataFile is a data file at db holding the tenants of the
// marketplaces document doc (imported through the CLI, as a vendor would)
// and the groups given, as sign-ins would have left them.
func importedDataFile(t *testing.T, db, doc string, groups ...store.Group) {
	t.Helper()
	file := filepath.Join(t.TempDir(), "m.json")
	if err := os.WriteFile(file, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := cli(t, "", "--db", db, "tenant", "import", file); code != 0 {
		t.Fatalf("import: %s", errOut)
	}
	if len(groups) == 0 {
		return
	}
	s, err := store.Open(db, testStoreOptions())
	if err != nil {
		t.Fatal(err)
	}
	err = s.Update(func(tx *store.Tx) error {
		for _, g := range groups {
			if err := tx.PutGroup(g); err != nil {
				return err
			}
		}
		return nil
	})
	if cerr := s.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
}

// billableGroups are groups of tenant key created on 1 January 2026, so
// every later period bills them.
func billableGroups(key string, uids ...string) []store.Group {
	out := make([]store.Group, len(uids))
	for i, uid := range uids {
		out[i] = store.Group{Tenant: key, UID: uid, Name: uid, CreatedAt: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	}
	return out
}

// startServe starts the `serve` subprocess cmd and returns the first line
// it prints on stdout ("listening on URL\n" once it accepts connections;
// empty if it exited first) and the buffer its stderr goes to. Stopping it
// is the test's: each checks its own way of ending.
func startServe(t *testing.T, cmd *exec.Cmd) (string, *bytes.Buffer) {
	t.Helper()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr := new(bytes.Buffer)
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, _ := bufio.NewReader(stdout).ReadString('\n')
	return line, stderr
}

// serving starts `serve` on db on a free loopback address and waits until
// it listens; the test stops it (SIGTERM, to check a clean end), else it
// is killed at cleanup.
func serving(t *testing.T, db string) (addr string, serve *exec.Cmd, serveErr *bytes.Buffer) {
	t.Helper()
	addr = freeAddr(t)
	serve = subprocess(t, "--db", db, "--addr", addr, "serve")
	line, serveErr := startServe(t, serve)
	t.Cleanup(func() { _ = serve.Process.Kill() })
	if !strings.HasPrefix(line, "listening on ") {
		t.Fatalf("serve: %q\n%s", line, serveErr.String())
	}
	return addr, serve, serveErr
}
