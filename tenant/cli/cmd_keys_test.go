package cli

import (
	"bytes"
	"crypto/sha256"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func sum(t *testing.T, path string) [32]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(b)
}

// A copy of the data file where its key is not (another machine, another
// key file): one line naming the key, tenants and the identity map still
// listed, a write of a secret refused, and the file as it was.
func TestAFileWithoutItsKeyGetsOneMessageAndStaysAsItWas(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "td.db")
	if code, _, errOut := cli(t, marketplaces(t, "acme"), "--db", db, "tenant", "import", "-"); code != 0 {
		t.Fatalf("import: %s", errOut)
	}
	before := sum(t, db)
	other := filepath.Join(dir, "other.key")
	for _, verb := range [][]string{{"tenant", "list"}, {"idmap", "list"}, {"export"}} {
		code, out, errOut := cli(t, "", append([]string{"--db", db, "--key-file", other}, verb...)...)
		if code != 0 {
			t.Fatalf("%s without the key: exit %d, %s", verb, code, errOut)
		}
		lines := strings.Split(strings.TrimSpace(errOut), "\n")
		if len(lines) != 1 || !strings.Contains(lines[0], "sealed with key") || !strings.Contains(lines[0], "--key-file") {
			t.Errorf("%s without the key: stderr %q; want one line naming the key", verb, errOut)
		}
		if verb[0] == "tenant" && !strings.Contains(out, "acme") {
			t.Errorf("tenant list without the key: %q", out)
		}
		if strings.Contains(out, secretKey) {
			t.Errorf("%s printed the secret", verb)
		}
	}
	code, _, errOut := cli(t, marketplaces(t, "acme"), "--db", db, "--key-file", other, "tenant", "import", "-")
	if code == 0 || !strings.Contains(errOut, "sealed with key") {
		t.Errorf("import without the key: exit %d, %q", code, errOut)
	}
	for _, verb := range [][]string{{"settings", "set", "public-url", "https://td.example.com"}, {"demo-data"}, {"serve"}} {
		code, _, errOut := cli(t, "", append([]string{"--db", db, "--key-file", other, "--addr", "127.0.0.1:0"}, verb...)...)
		if code == 0 || !strings.Contains(errOut, "sealed with key") {
			t.Errorf("%s without the key: exit %d, %q; want refused with the key's message", verb, code, errOut)
		}
	}
	if _, err := os.Stat(other); err == nil {
		t.Error("a key file was made for a file that has its own key")
	}
	if sum(t, db) != before {
		t.Fatal("the data file changed although its key was missing")
	}
	// The key given again: the secrets are back.
	if code, out, errOut := cli(t, "", "--db", db, "tenant", "list"); code != 0 || errOut != "" || !strings.Contains(out, "acme") {
		t.Fatalf("with the key: exit %d, %q, %q", code, out, errOut)
	}
}

func TestAKeyFileOthersCanReadIsRefused(t *testing.T) {
	dir := t.TempDir()
	key := filepath.Join(dir, "wide.key")
	db := filepath.Join(dir, "td.db")
	if code, _, errOut := cli(t, "", "--db", db, "--key-file", key, "tenant", "list"); code != 0 {
		t.Fatalf("first open: %s", errOut)
	}
	if err := os.Chmod(key, 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, errOut := cli(t, "", "--db", db, "--key-file", key, "tenant", "list")
	if code == 0 || !strings.Contains(errOut, "chmod 600 "+key) || strings.Count(strings.TrimSpace(errOut), "\n") != 0 {
		t.Fatalf("key file of mode 0644: exit %d, %q; want one line saying how to mend it", code, errOut)
	}
}

// With no key file named, the first open makes one beside the user's
// configuration, owner only; the data file holds no key.
func TestTheDefaultKeyFileIsMadeOnFirstOpen(t *testing.T) {
	home := t.TempDir()
	db := filepath.Join(t.TempDir(), "td.db")
	cmd := subprocess(t, "--db", db, "tenant", "import", "-")
	var env []string
	for _, kv := range cmd.Env {
		if !strings.HasPrefix(kv, "TENANTDESK_KEY_FILE=") && !strings.HasPrefix(kv, "DBUS_SESSION_BUS_ADDRESS=") {
			env = append(env, kv)
		}
	}
	cmd.Env = append(env, "XDG_CONFIG_HOME="+home)
	cmd.Stdin = strings.NewReader(marketplaces(t, "acme"))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("import: %v\n%s", err, out)
	}
	key := filepath.Join(home, "tenantdesk", "tenantdesk.key")
	st, err := os.Stat(key)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("default key file: %v, %v", st, err)
	}
	raw, _ := os.ReadFile(db)
	keyText, _ := os.ReadFile(key)
	for _, line := range strings.Split(string(keyText), "\n") {
		if line != "" && !strings.HasPrefix(line, "#") && bytes.Contains(raw, []byte(line)) {
			t.Fatal("the data file holds its master key")
		}
	}
	if bytes.Contains(raw, []byte(secretKey)) {
		t.Fatal("the data file holds the api.key in plain text")
	}
}

// keyLines counts the keys a key file holds.
func keyLines(t *testing.T, path string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, line := range strings.Split(string(b), "\n") {
		if line != "" && !strings.HasPrefix(line, "#") {
			n++
		}
	}
	return n
}

// rekey through a running serve: a new key in the key file, the old one
// kept (a backup made before opens with it), and the listener still
// knows each tenant's api.key.
func TestRekeyThroughARunningServe(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "td.db")
	key := filepath.Join(dir, "td.key")
	t.Setenv("TENANTDESK_KEY_FILE", key) // this test's own, for serve too
	importedDataFile(t, db, marketplaces(t, "acme"))
	backup := filepath.Join(dir, "before.db")
	if code, _, errOut := cli(t, "", "--db", db, "backup", backup); code != 0 {
		t.Fatalf("backup: %s", errOut)
	}
	if n := keyLines(t, key); n != 1 {
		t.Fatalf("%d keys before the rekey", n)
	}
	addr, serve, serveErr := serving(t, db)

	code, out, errOut := cli(t, "", "--db", db, "rekey")
	if code != 0 || !strings.Contains(out, "sealed under the new key") || !strings.Contains(out, key) {
		t.Fatalf("rekey: exit %d, %q %q\nserve: %s", code, out, errOut, serveErr)
	}
	if n := keyLines(t, key); n != 2 {
		t.Fatalf("%d keys after the rekey; want the old and the new", n)
	}
	if code, _, errOut := cli(t, "", "--db", db, "rekey", "now"); code == 0 || !strings.Contains(errOut, "takes no arguments") {
		t.Fatalf("rekey with an argument: exit %d, %q", code, errOut)
	}
	req, _ := http.NewRequest(http.MethodGet, "http://"+addr+"/mno-enterprise/acme/metadata", nil)
	req.SetBasicAuth("app-acme", secretKey+"-acme")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("metadata with the api.key after the rekey: %d", resp.StatusCode)
	}
	if err := serve.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := serve.Wait(); err != nil {
		t.Fatalf("serve: %v\n%s", err, serveErr)
	}
	if !strings.Contains(serveErr.String(), "secrets sealed under a new key") {
		t.Errorf("the rekey did not run in serve:\n%s", serveErr)
	}
	for _, file := range []string{db, backup} {
		code, out, errOut := cli(t, "", "--db", file, "tenant", "list")
		if code != 0 || errOut != "" || !strings.Contains(out, "acme") {
			t.Fatalf("%s after the rekey: exit %d, %q %q", file, code, out, errOut)
		}
	}
}
