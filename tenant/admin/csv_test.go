package admin

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/tenantdesk/tenantdesk/store"
	"github.com/tenantdesk/tenantdesk/tenant/idmap"
)

// The GUI's CSV export and `tenantdesk idmap list --csv` are one writer:
// the same header (the CLI's public one, "group") and the same rows.
func TestIdentityMapCSVIsTheCLIsCSV(t *testing.T) {
	s := seeded(t)
	var gui, cli bytes.Buffer
	n, err := s.ExportConnectedCSV(context.Background(), IdmapFilter{}, &gui)
	if err != nil {
		t.Fatal(err)
	}
	if err := idmap.WriteCSV(&cli, idmap.StorePages(s.db, store.IdmapQuery{})); err != nil {
		t.Fatal(err)
	}
	header, _, _ := strings.Cut(gui.String(), "\n")
	if header != strings.Join(idmap.Columns, ",") || !strings.HasPrefix(header, "id,tenant,group,") {
		t.Fatalf("GUI header %q", header)
	}
	if gui.String() != cli.String() {
		t.Fatalf("GUI export differs from the CLI's:\n%s\n---\n%s", gui.String(), cli.String())
	}
	if lines := strings.Count(gui.String(), "\n"); n == 0 || lines != n+1 {
		t.Fatalf("%d rows reported, %d lines written", n, lines)
	}
}
