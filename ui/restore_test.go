package ui

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tenantdesk/tenantdesk/tenant/admin"
)

// A backup cut in half, picked in File → Restore…, is refused in a dialog
// that gives the reason and says that the data file in use is as it was;
// the window keeps running and showing its data, and the file is not
// touched.
func TestRestoreRefusesDamagedBackup(t *testing.T) {
	m, svc := newTestWindow(t)
	addOverviewTenant(t, svc, "acme", 200)
	backup := filepath.Join(t.TempDir(), "backup.db")
	f, err := os.Create(backup)
	if err != nil {
		t.Fatal(err)
	}
	n, err := svc.Backup(context.Background(), f)
	if cerr := f.Close(); err != nil || cerr != nil {
		t.Fatal(err, cerr)
	}
	if err := os.Truncate(backup, n/2); err != nil {
		t.Fatal(err)
	}
	current := svc.DataFile().Path
	before, err := os.ReadFile(current)
	if err != nil {
		t.Fatal(err)
	}

	_, reason := admin.InspectBackup(backup)
	if reason == nil || !strings.Contains(reason.Error(), "cut short") {
		t.Fatalf("InspectBackup of the cut backup: %v", reason)
	}

	onUI(func() { m.restoreFrom(backup) })
	want := reason.Error() + "\n\n" + restoreRefusedNext(current)
	eventually(t, "the refusal, with what the user still has", func() bool {
		top := m.win.Canvas().Overlays().Top()
		return top != nil && findLabel(top, want)
	})
	if !strings.Contains(want, "The data file in use, "+current+", is as it was") {
		t.Errorf("the refusal does not say the data file is unchanged: %q", want)
	}

	after, err := os.ReadFile(current)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(before, after) {
		t.Error("the data file changed")
	}
	onUI(func() { m.tenants.reload("") }) // the window still reads its file
	eventually(t, "the tenant still listed", func() bool { return m.tenants.list.Len() == 1 })
}
