package cli

import (
	"crypto/sha256"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/tenantdesk/tenantdesk/store/storetest"
)

func fileDigest(t *testing.T, path string) [32]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(b)
}

// backupOf makes a backup of db through the CLI, as a user would.
func backupOf(t *testing.T, db string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "backup.db")
	if code, _, errOut := cli(t, "", "--db", db, "backup", path); code != 0 {
		t.Fatalf("backup: %s", errOut)
	}
	return path
}

// oneLine reports whether stderr is one line that says what is wrong,
// with no stack trace.
func oneLine(stderr string) bool {
	return strings.Count(stderr, "\n") == 1 && strings.HasSuffix(stderr, "\n") &&
		strings.HasPrefix(stderr, "tenantdesk: ") && !strings.Contains(stderr, "goroutine")
}

// Every verb on a damaged, empty or foreign data file, in a real process:
// one line on stderr, a non-zero exit, and the file as it was (an empty
// file is not grown into a database, nothing is initialized).
func TestEveryVerbRefusesABadDataFileInOneLine(t *testing.T) {
	good := filepath.Join(t.TempDir(), "td.db")
	importedDataFile(t, good, marketplaces(t, "acme"))
	backup := backupOf(t, good)
	tenants := filepath.Join(t.TempDir(), "m.json")
	if err := os.WriteFile(tenants, []byte(marketplaces(t, "globex")), 0o600); err != nil {
		t.Fatal(err)
	}
	damages := map[string]func(path string){
		"cut short":   func(p string) { copyFile(t, backup, p); storetest.CutShort(t, p) },
		"bit flipped": func(p string) { copyFile(t, backup, p); storetest.FlipRootPageBit(t, p) },
		"empty":       func(p string) { os.WriteFile(p, nil, 0o600) },
		"foreign":     func(p string) { os.WriteFile(p, []byte(strings.Repeat("PK\x03\x04 a zip, say\n", 500)), 0o600) },
	}
	verbs := [][]string{
		{"tenant", "list"}, {"tenant", "list", "--json"}, {"tenant", "import", tenants}, {"tenant", "remove", "acme"},
		{"idmap", "list"}, {"idmap", "list", "--csv"}, {"export"}, {"activity"},
		{"settings"}, {"settings", "set", "public-url", "https://td.example.com"},
		{"bill", "preview", "--period", "2026-10"}, {"admin-token"}, {"demo-data"}, {"compact"}, {"rekey"},
		{"backup", filepath.Join(t.TempDir(), "copy.db")}, {"serve"},
	}
	for name, damage := range damages {
		t.Run(name, func(t *testing.T) {
			db := filepath.Join(t.TempDir(), "td.db")
			damage(db)
			before := fileDigest(t, db)
			for _, verb := range verbs {
				args := append([]string{"--db", db, "--addr", "127.0.0.1:0"}, verb...)
				cmd := subprocess(t, args...)
				var stderr strings.Builder
				cmd.Stderr = &stderr
				err := cmd.Run()
				if err == nil {
					t.Errorf("%v: exit 0 on a %s file", verb, name)
				}
				if !oneLine(stderr.String()) {
					t.Errorf("%v: want one line on stderr, got:\n%s", verb, stderr.String())
				}
				if fileDigest(t, db) != before {
					t.Fatalf("%v changed the %s file", verb, name)
				}
			}
		})
	}
}

// restore FILE through a running serve: the verb returns once the swap is
// done, the next verb sees the backup's tenants, and the listener never
// stopped. A damaged backup is refused in one line and changes nothing;
// with serve gone, a data file too damaged to open is mended the same way.
func TestRestoreThroughARunningOwner(t *testing.T) {
	db := filepath.Join(t.TempDir(), "td.db")
	importedDataFile(t, db, marketplaces(t, "acme", "globex"))
	backup := backupOf(t, db)
	if code, _, errOut := cli(t, "", "--db", db, "tenant", "remove", "globex"); code != 0 {
		t.Fatal(errOut)
	}
	addr, serve, serveErr := serving(t, db)
	healthy := func(when string) {
		t.Helper()
		resp, err := http.Get("http://" + addr + "/healthz")
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: healthz %v %v\nserve: %s", when, resp, err, serveErr.String())
		}
		resp.Body.Close()
	}
	tenants := func() string {
		t.Helper()
		code, out, errOut := cli(t, "", "--db", db, "tenant", "list")
		if code != 0 {
			t.Fatalf("tenant list: %s", errOut)
		}
		return out
	}
	if strings.Contains(tenants(), "globex") {
		t.Fatal("globex was not removed")
	}

	cut := filepath.Join(t.TempDir(), "cut.db")
	copyFile(t, backup, cut)
	storetest.CutShort(t, cut)
	code, _, errOut := cli(t, "", "--db", db, "restore", cut)
	if code == 0 || !oneLine(errOut) || !strings.Contains(errOut, "refused, nothing changed") || !strings.Contains(errOut, "cut short") {
		t.Fatalf("restore of a cut-short backup: exit %d, %q", code, errOut)
	}
	if strings.Contains(tenants(), "globex") {
		t.Fatal("the refused restore changed the tenants")
	}
	if _, err := os.Stat(db + ".before-restore"); !os.IsNotExist(err) {
		t.Fatal("the refused restore moved the data file")
	}
	if left, _ := filepath.Glob(filepath.Join(filepath.Dir(db), ".*restoring")); len(left) != 0 {
		t.Fatalf("the refused restore left %v", left)
	}
	healthy("after a refused restore")

	code, out, errOut := cli(t, "", "--db", db, "restore", backup)
	if code != 0 || !strings.Contains(out, "restored "+db) || !strings.Contains(out, db+".before-restore") {
		t.Fatalf("restore through serve: exit %d, %q %q", code, out, errOut)
	}
	if !strings.Contains(tenants(), "globex") {
		t.Fatal("after the restore, tenant list does not show the backup's globex")
	}
	healthy("after the restore")
	resp, err := http.Get("http://" + addr + "/mno-enterprise/globex/metadata")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		t.Fatal("the listener does not know the restored tenant globex")
	}

	if err := serve.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := serve.Wait(); err != nil {
		t.Fatalf("serve after the restore: %v\n%s", err, serveErr.String())
	}
	storetest.CutShort(t, db)
	if code, _, errOut := cli(t, "", "--db", db, "tenant", "list"); code == 0 || !strings.Contains(errOut, "tenantdesk restore FILE") {
		t.Fatalf("tenant list on a cut-short file: exit %d, %q", code, errOut)
	}
	if code, _, errOut := cli(t, "", "--db", db, "restore", backup); code != 0 {
		t.Fatalf("restore over a damaged closed file: %q", errOut)
	}
	if !strings.Contains(tenants(), "globex") {
		t.Fatal("the mended file lacks globex")
	}
}
