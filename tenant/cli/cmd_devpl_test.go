package cli

import (
	"encoding/json"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tenantdesk/tenantdesk/tenant/api/apitest"
	"github.com/tenantdesk/tenantdesk/tenant/devpl"
	"github.com/tenantdesk/tenantdesk/tenant/devpl/devpltest"
)

func setEnv(t *testing.T, env map[string]string) {
	t.Helper()
	for k, v := range env {
		t.Setenv(k, v)
	}
}

func TestTenantSyncFromTheDeveloperPlatform(t *testing.T) {
	p := devpltest.New(t)
	setEnv(t, p.Env())
	db := filepath.Join(t.TempDir(), "td.db")

	p.SetDocument([]byte(marketplaces(t, "acme", "globex")))
	code, out, errOut := cli(t, "", "--db", db, "tenant", "sync")
	if code != 0 || !strings.Contains(out, "synced 2 tenant(s) from "+p.URL()+": 2 added (acme, globex), 0 updated, 0 unchanged") {
		t.Fatalf("sync: code %d, out %q, err %q", code, out, errOut)
	}
	code, out, _ = cli(t, "", "--db", db, "tenant", "sync")
	if code != 0 || !strings.Contains(out, "0 added, 0 updated, 2 unchanged (acme, globex)") {
		t.Fatalf("second sync: code %d, out %q", code, out)
	}

	// Refusals: non-zero exit, a message naming the host, never the
	// secret, and the tenants as they were.
	cases := []struct {
		name string
		env  map[string]string
		doc  string
		says string
	}{
		{"wrong secret", map[string]string{devpl.EnvSecret: "wrong"}, marketplaces(t, "acme", "globex", "initech"), "HTTP 401"},
		{"error key", nil, `{"error":"environment suspended"}`, "environment suspended"},
		{"missing marketplaces", nil, `{"data":{}}`, `no "marketplaces"`},
		{"one invalid marketplace", nil, strings.Replace(marketplaces(t, "acme", "initech"), `"id":"app-initech",`, ``, 1), "marketplaces[1].api.id: required"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			setEnv(t, tc.env)
			p.SetDocument([]byte(tc.doc))
			code, out, errOut := cli(t, "", "--db", db, "tenant", "sync")
			if code == 0 {
				t.Fatalf("exit 0: %q", out)
			}
			if !strings.Contains(errOut, "nothing changed") || !strings.Contains(errOut, p.URL()) || !strings.Contains(errOut, tc.says) {
				t.Errorf("stderr %q must say nothing changed, name %s and say %q", errOut, p.URL(), tc.says)
			}
			if strings.Contains(out+errOut, devpltest.EnvSecret) {
				t.Errorf("the secret was printed")
			}
			_, list, _ := cli(t, "", "--db", db, "tenant", "list", "--json")
			var got []struct{ Key string }
			if err := json.Unmarshal([]byte(list), &got); err != nil || len(got) != 2 || strings.Contains(list, "initech") {
				t.Errorf("tenants changed:\n%s", list)
			}
		})
	}
}

func TestTenantSyncUnconfiguredOrUnreachable(t *testing.T) {
	db := filepath.Join(t.TempDir(), "td.db")
	t.Setenv(devpl.EnvHost, "http://127.0.0.1:1")
	t.Setenv(devpl.EnvKey, "k")
	t.Setenv(devpl.EnvSecret, "")
	code, _, errOut := cli(t, "", "--db", db, "tenant", "sync")
	if code == 0 || !strings.Contains(errOut, devpl.EnvSecret) {
		t.Errorf("no secret: code %d, %q", code, errOut)
	}
	t.Setenv(devpl.EnvSecret, devpltest.EnvSecret)
	code, _, errOut = cli(t, "", "--db", db, "tenant", "sync")
	if code == 0 || !strings.Contains(errOut, "http://127.0.0.1:1") || !strings.Contains(errOut, "unreachable") ||
		strings.Contains(errOut, devpltest.EnvSecret) {
		t.Errorf("unreachable: code %d, %q", code, errOut)
	}
	if code, _, errOut := cli(t, "", "--db", db, "tenant", "sync", "extra"); code == 0 {
		t.Errorf("an argument must be refused: %q", errOut)
	}
}

func TestBillCancelAndRebill(t *testing.T) {
	fake := apitest.NewAccountAPI(t, map[string]string{"app-acme": secretKey + "-acme"})
	db := filepath.Join(t.TempDir(), "td.db")
	doc := strings.ReplaceAll(marketplaces(t, "acme"), "https://hub.acme.test", fake.URL())
	doc = strings.Replace(doc, `"marketplace":"acme"`, `"marketplace":"acme","billing":{"price_cents":4900,"currency":"AUD"}`, 1)
	importedDataFile(t, db, doc, billableGroups("acme", "cld-1", "cld-2", "cld-3")...)
	if code, out, errOut := cli(t, "", "--db", db, "bill", "run", "--period", "2026-10"); code != 0 {
		t.Fatalf("run: %s %s", out, errOut)
	}

	// Refusals first: each exits non-zero and changes nothing.
	for _, args := range [][]string{
		{"--period", "2026-10", "--tenant", "acme"},                       // no --group
		{"--period", "2026-13", "--tenant", "acme", "--group", "cld-1"},   // bad period
		{"--period", "2026-09", "--tenant", "acme", "--group", "cld-1"},   // nothing billed that month
		{"--period", "2026-10", "--tenant", "acme", "--group", "cld-404"}, // unknown group
		{"--period", "2026-10", "--tenant", "Bad_Key", "--group", "cld-1"},
	} {
		code, out, errOut := cli(t, "", append([]string{"--db", db, "bill", "cancel"}, args...)...)
		if code == 0 || errOut == "" {
			t.Errorf("bill cancel %v: code %d, out %q", args, code, out)
		}
	}
	if fake.Deletes() != 0 {
		t.Fatalf("a refused cancel called the API %d times", fake.Deletes())
	}

	code, out, errOut := cli(t, "", "--db", db, "bill", "cancel", "--period", "2026-10", "--tenant", "acme", "--group", "cld-2")
	if code != 0 || !regexp.MustCompile(`cancelled bill bill-\d+ of group cld-2 `).MatchString(out) || !strings.Contains(out, "--rebill cld-2") {
		t.Fatalf("cancel: code %d, out %q, err %q", code, out, errOut)
	}
	code, _, errOut = cli(t, "", "--db", db, "bill", "cancel", "--period", "2026-10", "--tenant", "acme", "--group", "cld-2")
	if code == 0 || !strings.Contains(errOut, "not submitted") {
		t.Errorf("second cancel: code %d, %q", code, errOut)
	}

	code, out, _ = cli(t, "", "--db", db, "bill", "preview", "--period", "2026-10")
	if code != 0 || !strings.Contains(out, "cancelled (bill-") {
		t.Fatalf("preview after cancel:\n%s", out)
	}
	code, out, _ = cli(t, "", "--db", db, "bill", "run", "--period", "2026-10")
	if posts, _, _ := fake.Counts(); code != 0 || posts != 3 || !strings.Contains(out, "1 cancelled (bill again with --rebill UID)") {
		t.Fatalf("rerun after cancel: code %d, posts %d\n%s", code, posts, out)
	}
	if code, _, errOut := cli(t, "", "--db", db, "bill", "run", "--period", "2026-10", "--rebill", "cld-2,cld-typo"); code == 0 ||
		!strings.Contains(errOut, "cld-typo") {
		t.Fatalf("rebill of a group without a bill: code %d, %q", code, errOut)
	}
	for range 2 {
		if code, out, errOut := cli(t, "", "--db", db, "bill", "run", "--period", "2026-10", "--rebill", "cld-2", "--rebill", "cld-2"); code != 0 {
			t.Fatalf("rebill: code %d\n%s\n%s", code, out, errOut)
		}
	}
	bills := fake.Bills()["cld-2"]
	if len(bills) != 2 || bills[0].Status != "cancelled" || bills[1].Status != "submitted" {
		t.Fatalf("cld-2 at the API: %+v; want the cancelled bill and one new one", bills)
	}
	if posts, _, _ := fake.Counts(); posts != 4 {
		t.Errorf("%d POSTs, want 4 (3 + one rebill)", posts)
	}
}

// serve syncs from the developer platform when devpl-refresh is set (at
// once, then on each tick), and logs what changed without the secret.
func TestServeSyncsFromTheDeveloperPlatform(t *testing.T) {
	p := devpltest.New(t)
	p.SetDocument([]byte(marketplaces(t, "acme")))
	db := filepath.Join(t.TempDir(), "td.db")
	cmd := subprocess(t, "--db", db, "--addr", freeAddr(t), "serve")
	for k, v := range p.Env() {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Env = append(cmd.Env, devpl.EnvRefresh+"=1h")
	var stderr lockedBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	deadline := time.Now().Add(20 * time.Second)
	for {
		if _, accepted := p.Counts(); accepted > 0 {
			if code, out, _ := cli(t, "", "--db", db, "tenant", "list"); code == 0 && strings.Contains(out, "acme") {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve never synced acme; stderr:\n%s", stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("serve: %v\n%s", err, stderr.String())
	}
	log := stderr.String()
	if !strings.Contains(log, "developer-platform sync") || !strings.Contains(log, "acme") {
		t.Errorf("serve did not log the sync:\n%s", log)
	}
	if strings.Contains(log, devpltest.EnvSecret) {
		t.Errorf("serve logged the secret")
	}
}

type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
