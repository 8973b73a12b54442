package cli

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tenantdesk/tenantdesk/store"
	"github.com/tenantdesk/tenantdesk/tenant/admin"
	"github.com/tenantdesk/tenantdesk/tenant/admin/remote"
	"github.com/tenantdesk/tenantdesk/tenant/admin/remote/remotetest"
	"github.com/tenantdesk/tenantdesk/tenant/api/apitest"
	"github.com/tenantdesk/tenantdesk/tenant/billing"
)

// owner opens db as the GUI or `serve` would and serves its control
// socket until the test ends: the running instance of SPEC §13, in process.
func owner(t testing.TB, db string) *admin.Service {
	t.Helper()
	s, err := store.Open(db, testStoreOptions())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	svc := admin.New(s, admin.Options{
		PublicURL: "http://" + defaultAddr, Addr: defaultAddr,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	done, err := remote.ServeSocket(ctx, db, svc, remote.Info{Name: "test"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		<-done
		_ = s.Close()
	})
	return svc
}

// seedFile is a data file with tenants whose account API is fake, two
// groups to bill and the demo data.
func seedFile(t *testing.T) (string, string, *apitest.AccountAPI) {
	t.Helper()
	fake := apitest.NewAccountAPI(t, map[string]string{"app-acme": secretKey + "-acme"})
	dir := t.TempDir()
	db := filepath.Join(dir, "seed.db")
	doc := strings.ReplaceAll(marketplaces(t, "acme"), "https://hub.acme.test", fake.URL())
	doc = strings.ReplaceAll(doc, "https://connec.acme.test", fake.URL()) // answers Connec! with 404s, at once
	doc = strings.Replace(doc, `"marketplace":"acme"`, `"marketplace":"acme","billing":{"price_cents":4900,"currency":"AUD"}`, 1)
	file := filepath.Join(dir, "m.json")
	if err := os.WriteFile(file, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"demo-data"}, {"tenant", "import", file}, {"admin-cert"}} {
		if code, _, errOut := cli(t, "", append([]string{"--db", db}, args...)...); code != 0 {
			t.Fatalf("%v: %s", args, errOut)
		}
	}
	s, err := store.Open(db, testStoreOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Update(func(tx *store.Tx) error {
		for _, g := range []string{"cld-1", "cld-2"} {
			if err := tx.PutGroup(store.Group{Tenant: "acme", UID: g, Name: g, CreatedAt: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return db, file, fake
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// billingTook is the one part of a billing summary that differs by run.
var billingTook = regexp.MustCompile(`; [0-9.]+(ms|s|µs)\n`)

// TestEveryVerbThroughTheOwnerIsTheSameAsOnAClosedFile runs each CLI verb
// twice on the same data: once on the closed file, once while another
// "process" owns the file and serves its control socket. Output and exit
// code must not tell them apart.
func TestEveryVerbThroughTheOwnerIsTheSameAsOnAClosedFile(t *testing.T) {
	seed, importFile, _ := seedFile(t)
	dir := t.TempDir()
	db := filepath.Join(dir, "td.db")
	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, []byte(`{"marketplaces":[{"marketplace":"Not A Key"}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	backup := filepath.Join(dir, "copy.db")
	verbs := []struct {
		args  []string
		stdin string
		after func(t *testing.T) // checks the effect, on the file as the verb left it
	}{
		{args: []string{"tenant", "list"}},
		{args: []string{"tenant", "list", "--json"}},
		{args: []string{"tenant", "import", importFile}},
		{args: []string{"tenant", "import", "-"}, stdin: "{not json"},
		{args: []string{"tenant", "import", bad}},
		{args: []string{"tenant", "remove", "acme"}},
		{args: []string{"tenant", "remove", "nosuch"}},
		{args: []string{"idmap", "list"}},
		{args: []string{"idmap", "list", "--csv", "--entity", "users"}},
		{args: []string{"idmap", "list", "--json", "--search", "a"}},
		{args: []string{"idmap", "list", "--tenant", "nobody"}},
		{args: []string{"export"}},
		{args: []string{"export", "--tenant", "acme"}},
		{args: []string{"bill", "preview", "--period", "2026-10"}},
		{args: []string{"bill", "preview", "--period", "2026-10", "--tenant", "acme"}},
		{args: []string{"bill", "run", "--period", "2026-10", "--tenant", "acme"}},
		{args: []string{"bill", "cancel", "--period", "2026-10", "--tenant", "acme", "--group", "cld-1"}},
		{args: []string{"tenant", "sync"}},
		{args: []string{"activity"}},
		{args: []string{"activity", "--tenant", "acme", "--limit", "3", "--json"}},
		{args: []string{"connec", "pull", "--tenant", "acme"}},
		{args: []string{"connec", "pull", "--tenant", "nobody"}},
		{args: []string{"admin-cert"}},
		{args: []string{"admin-token", "--revoke"}},
		{args: []string{"demo-data"}},
		{args: []string{"settings"}},
		{args: []string{"settings", "set", "public-url", "https://td.example.com"}, after: func(t *testing.T) {
			if _, out, _ := cli(t, "", "--db", db, "settings", "get", "public-url"); out != "https://td.example.com\n" {
				t.Fatalf("public-url after set: %q", out)
			}
		}},
		{args: []string{"settings", "set", "devpl-env-secret", "-"}, stdin: "not-printed-secret\n"},
		{args: []string{"settings", "set", "addr", "no-port"}},
		{args: []string{"settings", "get", "devpl-env-secret"}},
		{args: []string{"settings", "unset", "addr"}},
		{args: []string{"settings", "get", "colour"}},
		{args: []string{"backup", backup}, after: func(t *testing.T) {
			_, want, _ := cli(t, "", "--db", db, "tenant", "list")
			code, got, errOut := cli(t, "", "--db", backup, "tenant", "list")
			if code != 0 || got != want {
				t.Fatalf("the backup lists other tenants (code %d, %s):\n%s\nwant\n%s", code, errOut, got, want)
			}
		}},
	}
	for _, v := range verbs {
		t.Run(strings.Join(v.args, " "), func(t *testing.T) {
			args := append([]string{"--db", db}, v.args...)
			copyFile(t, seed, db)
			os.Remove(backup)
			code, out, errOut := cli(t, v.stdin, args...)
			if v.after != nil {
				v.after(t)
			}
			copyFile(t, seed, db)
			os.Remove(backup)
			owner(t, db)
			code2, out2, errOut2 := cli(t, v.stdin, args...)
			out, out2 = billingTook.ReplaceAllString(out, "\n"), billingTook.ReplaceAllString(out2, "\n")
			if code != code2 || out != out2 || errOut != errOut2 {
				t.Fatalf("closed file: exit %d\n%s%s\nthrough the owner: exit %d\n%s%s", code, out, errOut, code2, out2, errOut2)
			}
			if v.after != nil {
				v.after(t)
			}
			t.Logf("exit %d, %d bytes out, %d bytes err", code, len(out), len(errOut))
		})
	}
}

func TestControlSocketIsOwnerOnlyAndAStaleOneIsReplaced(t *testing.T) {
	db := filepath.Join(t.TempDir(), "td.db")
	// A process that died left its socket file behind.
	staleSocket(t, remote.SocketPath(db))
	if code, _, errOut := cli(t, "", "--db", db, "tenant", "list"); code != 0 {
		t.Fatalf("a stale socket stopped a verb on a closed file: %s", errOut)
	}
	owner(t, db)
	fi, err := os.Stat(remote.SocketPath(db))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode()&os.ModeSocket == 0 || fi.Mode().Perm() != 0o600 {
		t.Fatalf("control socket mode %v, want a socket with 0600", fi.Mode())
	}
	code, out, errOut := cli(t, "", "--db", db, "tenant", "list")
	if code != 0 || !strings.Contains(out, "no tenants yet") {
		t.Fatalf("verb through the owner: %d %q %q", code, out, errOut)
	}
}

// staleSocket leaves a socket file at path with nobody listening, as a
// process killed with SIGKILL does.
func staleSocket(t *testing.T, path string) {
	t.Helper()
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	l.(*net.UnixListener).SetUnlinkOnClose(false)
	l.Close()
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("no stale socket left: %v", err)
	}
}

// adminServer runs `serve --admin-addr`'s admin API over svc on a free
// loopback port and returns its URL and a --server-ca file.
func adminServer(t *testing.T, svc *admin.Service) (string, string) {
	t.Helper()
	url := remotetest.AdminServer(t, svc, "test-server")
	pem, err := svc.AdminCertificatePEM()
	if err != nil {
		t.Fatal(err)
	}
	ca := filepath.Join(t.TempDir(), "server.pem")
	if err := os.WriteFile(ca, []byte(pem), 0o600); err != nil {
		t.Fatal(err)
	}
	return url, ca
}

func TestRemoteAdminWithAGoodWrongAndRevokedToken(t *testing.T) {
	db := filepath.Join(t.TempDir(), "td.db")
	importedDataFile(t, db, marketplaces(t, "acme", "globex"))
	_, localList, _ := cli(t, "", "--db", db, "tenant", "list")
	svc := owner(t, db)
	url, ca := adminServer(t, svc)
	token, err := svc.NewAdminToken()
	if err != nil {
		t.Fatal(err)
	}
	remoteCLI := func(token string, args ...string) (int, string, string) {
		return cli(t, "", append([]string{"--db", filepath.Join(t.TempDir(), "unused.db"), "--server", url, "--token", token, "--server-ca", ca}, args...)...)
	}
	tenants := func() int {
		list, err := svc.Tenants()
		if err != nil {
			t.Fatal(err)
		}
		return len(list)
	}

	// Good token: the server's tenants, as a local list shows them.
	code, out, errOut := remoteCLI(token, "tenant", "list")
	if code != 0 || out != localList {
		t.Fatalf("good token: exit %d, %q\n%s\nwant\n%s", code, errOut, out, localList)
	}

	// Wrong token: a clear error, non-zero exit, nothing removed.
	for _, wrong := range []string{token + "x", "tdk_guess", strings.ToUpper(token)} {
		code, out, errOut = remoteCLI(wrong, "tenant", "remove", "acme")
		if code == 0 || out != "" || !strings.Contains(errOut, "refused the admin token") {
			t.Fatalf("wrong token: exit %d, out %q, err %q", code, out, errOut)
		}
	}
	if n := tenants(); n != 2 {
		t.Fatalf("a wrong token changed the tenants: %d left", n)
	}

	// Without --server-ca the self-signed certificate is not trusted.
	code, _, errOut = cli(t, "", "--server", url, "--token", token, "tenant", "list")
	if code == 0 || !strings.Contains(errOut, "certificate") {
		t.Fatalf("untrusted certificate: exit %d, %q", code, errOut)
	}

	// A new token revokes the old one.
	newToken, err := svc.NewAdminToken()
	if err != nil {
		t.Fatal(err)
	}
	if code, _, errOut = remoteCLI(token, "tenant", "remove", "acme"); code == 0 || !strings.Contains(errOut, "refused") {
		t.Fatalf("replaced token still works: exit %d, %q", code, errOut)
	}
	if n := tenants(); n != 2 {
		t.Fatalf("a replaced token changed the tenants: %d left", n)
	}
	if code, out, errOut = remoteCLI(newToken, "tenant", "remove", "acme"); code != 0 || !strings.Contains(out, "removed tenant acme") {
		t.Fatalf("new token: exit %d, %q %q", code, out, errOut)
	}
	if n := tenants(); n != 1 {
		t.Fatalf("remove through the admin API left %d tenants", n)
	}

	// admin-token --revoke (here through the API itself): no token works.
	if code, _, errOut = remoteCLI(newToken, "admin-token", "--revoke"); code != 0 {
		t.Fatalf("revoke: %q", errOut)
	}
	if code, _, errOut = remoteCLI(newToken, "tenant", "remove", "globex"); code == 0 || !strings.Contains(errOut, "refused") {
		t.Fatalf("revoked token still works: exit %d, %q", code, errOut)
	}
	if n := tenants(); n != 1 {
		t.Fatalf("a revoked token changed the tenants: %d left", n)
	}
	if svc.CheckAdminToken("") {
		t.Fatal("the empty token passes after a revoke")
	}
}

// The whole path in real processes: serve --admin-addr, admin-token and
// admin-cert through its control socket, and a verb with --server.
func TestServeAdminAddrInARealProcess(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "td.db")
	importedDataFile(t, db, marketplaces(t, "acme"))
	adminAddr := freeAddr(t)
	serve := subprocess(t, "--db", db, "--addr", freeAddr(t), "serve", "--admin-addr", adminAddr)
	line, serveErr := startServe(t, serve)
	defer serve.Process.Kill()
	if !strings.HasPrefix(line, "listening on ") {
		t.Fatalf("serve: %q\n%s", line, serveErr.String())
	}

	code, token, errOut := cli(t, "", "--db", db, "admin-token")
	if code != 0 || !strings.HasPrefix(token, "tdk_") {
		t.Fatalf("admin-token through serve: %d %q %q", code, token, errOut)
	}
	code, pem, errOut := cli(t, "", "--db", db, "admin-cert")
	if code != 0 || !strings.Contains(pem, "BEGIN CERTIFICATE") || strings.Contains(pem, "PRIVATE KEY") {
		t.Fatalf("admin-cert through serve: %d %q", code, errOut)
	}
	ca := filepath.Join(dir, "server.pem")
	if err := os.WriteFile(ca, []byte(pem), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := cli(t, "", "--server", "https://"+adminAddr, "--token", strings.TrimSpace(token), "--server-ca", ca, "tenant", "list")
	if code != 0 || !strings.HasPrefix(out, "acme ") {
		t.Fatalf("tenant list with --server: %d %q %q\nserve: %s", code, out, errOut, serveErr.String())
	}
	code, _, errOut = cli(t, "", "--server", "https://"+adminAddr, "--token", "tdk_wrong", "--server-ca", ca, "tenant", "remove", "acme")
	if code == 0 || !strings.Contains(errOut, "refused the admin token") {
		t.Fatalf("wrong token: %d %q", code, errOut)
	}
	if err := serve.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := serve.Wait(); err != nil {
		t.Fatalf("serve: %v\n%s", err, serveErr.String())
	}
	if code, out, _ := cli(t, "", "--db", db, "tenant", "list"); code != 0 || !strings.HasPrefix(out, "acme ") {
		t.Fatalf("after serve: %d %q (the wrong token removed acme?)", code, out)
	}
}

// Ctrl-C on a `bill run` that runs in the owner cancels the run there,
// and the verb ends as it does on a closed file: the cancelled summary,
// exit 1, and the owner free again.
func TestBillRunThroughTheOwnerIsCancelledWithTheVerb(t *testing.T) {
	seed, _, fake := seedFile(t)
	gate := make(chan struct{})
	defer close(gate)
	fake.HoldPosts(gate) // every bill hangs at the API until the test ends
	db := filepath.Join(t.TempDir(), "td.db")
	cancelled := func() (int, string, string) {
		ctx, cancel := context.WithCancel(context.Background())
		type result struct {
			code     int
			out, err string
		}
		done := make(chan result, 1)
		go func() {
			var out, errOut bytes.Buffer
			code := run(ctx, []string{"--db", db, "bill", "run", "--period", "2026-10", "--tenant", "acme"}, strings.NewReader(""), &out, &errOut)
			done <- result{code, out.String(), errOut.String()}
		}()
		for deadline := time.Now().Add(10 * time.Second); !billing.InProgress(); time.Sleep(5 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatal("the run did not start")
			}
		}
		time.Sleep(50 * time.Millisecond) // the bills are in flight
		cancel()
		select {
		case r := <-done:
			return r.code, billingTook.ReplaceAllString(r.out, "\n"), r.err
		case <-time.After(20 * time.Second):
			t.Fatal("the verb did not end within 20 s of its cancel")
		}
		return 0, "", ""
	}
	copyFile(t, seed, db)
	code, out, errOut := cancelled()
	if code == 0 || !strings.Contains(out+errOut, "cancelled") {
		t.Fatalf("closed file: a cancelled run: exit %d %q %q", code, out, errOut)
	}
	copyFile(t, seed, db)
	svc := owner(t, db)
	code2, out2, errOut2 := cancelled()
	if code2 != code || out2 != out || errOut2 != errOut {
		t.Fatalf("closed file: exit %d\n%s%s\nthrough the owner: exit %d\n%s%s", code, out, errOut, code2, out2, errOut2)
	}
	if svc.BillingRunning() {
		t.Fatal("the owner's run goes on after the verb was cancelled")
	}
}
