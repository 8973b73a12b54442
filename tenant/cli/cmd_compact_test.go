package cli

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/tenantdesk/tenantdesk/store"
)

// compact on a closed file rewrites it and keeps the records; on a file
// another holder has open it explains and exits non-zero.
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

	holder, err := store.Open(db, store.Options{})
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
