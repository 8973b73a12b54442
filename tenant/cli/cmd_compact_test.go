package cli

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tenantdesk/tenantdesk/store"
)

// compact on a closed file rewrites it and keeps the records; on a file
// another holder has open without answering for it, it explains and exits
// non-zero.
func TestCompactCommand(t *testing.T) {
	db := filepath.Join(t.TempDir(), "t.db")
	if code, _, errOut := cli(t, "", "--db", db, "demo-data"); code != 0 {
		t.Fatalf("demo-data: %d %s", code, errOut)
	}
	_, before, _ := cli(t, "", "--db", db, "tenant", "list", "--json")

	code, out, errOut := cli(t, "", "--db", db, "compact")
	if code != 0 || !strings.HasPrefix(out, "compacted "+db+": ") {
		t.Fatalf("compact: %d %q %q", code, out, errOut)
	}
	if _, after, _ := cli(t, "", "--db", db, "tenant", "list", "--json"); after != before || after == "" {
		t.Errorf("tenants after compact:\n%s\nwant\n%s", after, before)
	}

	holder, err := store.Open(db, testStoreOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close()
	code, out, errOut = cli(t, "", "--db", db, "compact")
	if code == 0 || out != "" || !strings.Contains(errOut, "open in another Tenantdesk process") {
		t.Errorf("compact of a file in use: %d %q %q", code, out, errOut)
	}
	if code, _, errOut := cli(t, "", "--db", db, "compact", "extra"); code == 0 || !strings.Contains(errOut, "takes no arguments") {
		t.Errorf("compact extra: %d %q", code, errOut)
	}
}

// compact while serve owns the file: the owner compacts it (no need to
// stop it), the file that absorbed a flood of sign-in requests shrinks
// once they are purged, the tenants are all there, and the listener and
// later writes carry on with the compacted file.
func TestCompactThroughARunningServe(t *testing.T) {
	db := filepath.Join(t.TempDir(), "td.db")
	importedDataFile(t, db, marketplaces(t, "acme", "globex"))
	flood, err := store.Open(db, store.Options{NoSync: true, Keys: testStoreOptions().Keys})
	if err != nil {
		t.Fatal(err)
	}
	expired := time.Now().Add(-time.Hour)
	if err := flood.Update(func(tx *store.Tx) error {
		for i := range 5000 {
			r := store.AuthnRequest{Tenant: "acme", ID: fmt.Sprintf("_%05d", i), GroupID: strings.Repeat("g", 256), CreatedAt: expired, ExpiresAt: expired}
			if err := tx.PutAuthnRequest(r); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := flood.Close(); err != nil {
		t.Fatal(err)
	}
	flooded, err := os.Stat(db)
	if err != nil {
		t.Fatal(err)
	}

	addr, serve, serveErr := serving(t, db)
	tenants := func() string {
		t.Helper()
		code, out, errOut := cli(t, "", "--db", db, "tenant", "list", "--json")
		if code != 0 {
			t.Fatalf("tenant list: %s", errOut)
		}
		return out
	}
	before := tenants()

	code, out, errOut := cli(t, "", "--db", db, "compact")
	if code != 0 || !strings.HasPrefix(out, "compacted "+db+": ") {
		t.Fatalf("compact through serve: exit %d, %q %q\nserve: %s", code, out, errOut, serveErr.String())
	}
	compacted, err := os.Stat(db)
	if err != nil {
		t.Fatal(err)
	}
	if compacted.Size() >= flooded.Size()/2 {
		t.Errorf("compact through serve: %d bytes, from %d after the flood; want well under half", compacted.Size(), flooded.Size())
	}
	if after := tenants(); after != before || !strings.Contains(after, "globex") {
		t.Errorf("tenants after compact:\n%s\nwant\n%s", after, before)
	}
	for _, path := range []string{"/healthz", "/mno-enterprise/acme/metadata"} {
		resp, err := http.Get("http://" + addr + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		// The metadata wants credentials: 401 says the listener knows acme.
		if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("%s after compact: %d", path, resp.StatusCode)
		}
	}
	if code, _, errOut := cli(t, "", "--db", db, "tenant", "remove", "globex"); code != 0 {
		t.Fatalf("a write after compact: %s", errOut)
	}

	if err := serve.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := serve.Wait(); err != nil {
		t.Fatalf("serve after compact: %v\n%s", err, serveErr.String())
	}
	if !strings.Contains(serveErr.String(), "data file compacted") {
		t.Errorf("serve's log does not tell of the compact:\n%s", serveErr.String())
	}
	if list := tenants(); !strings.Contains(list, "acme") || strings.Contains(list, "globex") {
		t.Errorf("the closed file after compact and remove:\n%s", list)
	}
}
