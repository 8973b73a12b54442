package cli

import (
	"bytes"
	"crypto/sha256"
	"os"
	"path/filepath"
	"strings"
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
