package ui

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2/test"

	"github.com/tenantdesk/tenantdesk/store"
	"github.com/tenantdesk/tenantdesk/tenant"
	"github.com/tenantdesk/tenantdesk/tenant/admin"
	"github.com/tenantdesk/tenantdesk/tenant/connec/connectest"
	"github.com/tenantdesk/tenantdesk/tenant/tenanttest"
)

func TestPullNowShowsTheSyncState(t *testing.T) {
	m, svc := newTestWindow(t)
	emu := connectest.New("app-acme", "s3cret-key")
	defer emu.Close()
	at := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	for i := 1; i <= 130; i++ {
		emu.Add("cld-1", "invoices", connectest.Invoice(fmt.Sprintf("c-%03d", i), i, at))
	}
	cfg := tenant.Config{Key: "acme", DisplayName: "Acme", Enabled: true,
		API:    tenant.API{ID: "app-acme", Key: "s3cret-key", Host: "https://hub.acme.example"},
		SSO:    tenant.SSO{IdP: "https://hub.acme.example", X509Certificate: tenanttest.Certificate(t, time.Now().Add(-time.Hour), time.Now().AddDate(1, 0, 0))},
		Connec: tenant.Connec{Host: emu.URL}}
	if _, err := svc.SaveTenant(cfg, true); err != nil {
		t.Fatal(err)
	}
	if err := svc.DB().Update(func(tx *store.Tx) error {
		return tx.PutGroup(store.Group{Tenant: "acme", UID: "cld-1", Name: "Bluegum Bakery"})
	}); err != nil {
		t.Fatal(err)
	}
	s := m.invoices
	onUI(func() { m.showScreen("invoices") })
	onUI(func() { test.Tap(s.sync.pullNow) })
	eventually(t, "the pull's summary", func() bool {
		return !s.sync.running && strings.Contains(s.sync.status.Text, "130 stored")
	})
	eventually(t, "the sync row and the pulled invoices", func() bool { return s.sync.table.Len() == 1 && s.list.Len() == 130 })
	var row admin.SyncState
	onUI(func() { row, _ = s.sync.table.Row(0) })
	if row.GroupUID != "cld-1" || row.Last.Stored != 130 || row.Last.Linked != 130 || row.LastPullAt.IsZero() ||
		!strings.HasPrefix(syncStateText(row), "in step") {
		t.Fatalf("sync row %+v (%s)", row, syncStateText(row))
	}
	// A refused pull says so beside the table.
	emu.FailPage("invoices", 0, 401, 1)
	onUI(func() { test.Tap(s.sync.pullNow) })
	eventually(t, "the refusal", func() bool { return !s.sync.running && strings.Contains(s.sync.status.Text, "401") })
	eventually(t, "the stopped state", func() bool {
		r, ok := s.sync.table.Row(0)
		return ok && strings.HasPrefix(syncStateText(r), "stopped")
	})
}

// The tenant form keeps connec.collections and connec.pull_interval: a
// save from the GUI must not drop what an import set.
func TestTenantFormKeepsPullSettings(t *testing.T) {
	test.NewTempApp(t)
	var f *tenantForm
	onUI(func() { f = newTenantForm(func() {}) })
	in := tenant.Config{Key: "acme", Connec: tenant.Connec{Host: "https://connec.example",
		Collections: []string{"invoices", "organizations"}, PullInterval: tenant.Duration(15 * time.Minute)}}
	var out tenant.Config
	var problems []tenant.Problem
	onUI(func() {
		f.load(in, false)
		out, problems = f.config()
	})
	if len(problems) != 0 || strings.Join(out.Connec.Collections, ",") != "invoices,organizations" || time.Duration(out.Connec.PullInterval) != 15*time.Minute {
		t.Fatalf("form gave %+v, %v", out.Connec, problems)
	}
	onUI(func() {
		f.pullEvery.SetText("soon")
		_, problems = f.config()
	})
	if len(problems) != 1 || problems[0].Field != "connec.pull_interval" {
		t.Errorf("bad interval: %v", problems)
	}
}
