package ui

import (
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"github.com/tenantdesk/tenantdesk/store"
	"github.com/tenantdesk/tenantdesk/tenant/api"
	"github.com/tenantdesk/tenantdesk/tenant/api/apitest"
	"github.com/tenantdesk/tenantdesk/tenant/billing"
	"github.com/tenantdesk/tenantdesk/tenant/devpl"
	"github.com/tenantdesk/tenantdesk/tenant/devpl/devpltest"
)

// The sync action shows its error in the panel under the toolbar (not a
// vanishing dialog), names the host, hides the secret and changes nothing;
// with the right secret it imports and says what changed.
func TestSyncActionShowsItsErrorThenImports(t *testing.T) {
	p := devpltest.New(t)
	for k, v := range p.Env() {
		t.Setenv(k, v)
	}
	t.Setenv(devpl.EnvSecret, "wrong-"+devpltest.EnvSecret)
	p.SetMarketplaces(t, devpltest.Marketplace(t, "maestrano-uat", "https://api-hub-uat.maestrano.io", time.Now()))
	m, svc := newTestWindow(t)
	s := m.tenants
	onUI(func() { m.showScreen("tenants"); test.Tap(s.syncBtn) })
	eventually(t, "the sync to fail", func() bool { return !s.syncing && s.lastSyncErr != nil })
	onUI(func() {
		text := s.syncStatus.Text
		if !s.syncBox.Visible() || s.syncStatus.Importance != widget.DangerImportance || s.syncProgress.Visible() {
			t.Errorf("the error is not shown as one: box %v, importance %v, progress %v", s.syncBox.Visible(), s.syncStatus.Importance, s.syncProgress.Visible())
		}
		if !strings.Contains(text, "nothing was changed") || !strings.Contains(text, p.URL()) || !strings.Contains(text, "HTTP 401") {
			t.Errorf("status %q must say nothing changed, name the host and the refusal", text)
		}
		if strings.Contains(text, devpltest.EnvSecret) {
			t.Error("the secret is shown")
		}
		if s.syncBtn.Disabled() {
			t.Error("the sync button stays disabled after a failure")
		}
	})
	if list, _ := svc.Tenants(); len(list) != 0 {
		t.Fatalf("a refused sync imported %d tenants", len(list))
	}

	t.Setenv(devpl.EnvSecret, devpltest.EnvSecret)
	gate := make(chan struct{})
	p.Hold(gate)
	onUI(func() { test.Tap(s.syncBtn) })
	// While the platform has not answered: progress, the button off, and
	// the UI goroutine free (this onUI turn would not come otherwise).
	eventually(t, "the fetch message", func() bool {
		return strings.Contains(s.syncStatus.Text, "Fetching the marketplaces document from "+p.URL())
	})
	onUI(func() {
		if !s.syncProgress.Visible() || !s.syncProgress.Running() || !s.syncBtn.Disabled() || s.syncStatus.Importance != widget.MediumImportance {
			t.Errorf("during the sync: progress shown %v running %v, button disabled %v", s.syncProgress.Visible(), s.syncProgress.Running(), s.syncBtn.Disabled())
		}
		test.Tap(s.syncBtn) // a second tap while one runs starts nothing
	})
	close(gate)
	eventually(t, "the sync to work", func() bool { return !s.syncing && s.lastSyncErr == nil })
	if _, accepted := p.Counts(); accepted != 1 {
		t.Errorf("the platform answered %d good requests, want 1 (one sync)", accepted)
	}
	eventually(t, "the tenant in the list", func() bool { return s.list.Len() == 1 })
	onUI(func() {
		if !strings.Contains(s.syncStatus.Text, "1 added (maestrano-uat)") || s.syncStatus.Importance != widget.SuccessImportance {
			t.Errorf("status after the sync: %q", s.syncStatus.Text)
		}
	})
}

// Cancel on a submitted bill asks first, then cancels it at the API and in
// the ledger; the line then offers Bill again, which bills it once more.
func TestCancelBillAsksThenCancels(t *testing.T) {
	f := apitest.NewAccountAPI(t, nil)
	m, svc := billingWindow(t, f, 3)
	s := m.billing
	eventually(t, "the preview", func() bool { return s.lines.Len() == 3 })
	onUI(func() { test.Tap(s.run) })
	eventually(t, "the run to finish", func() bool { return !s.running && s.runs == 1 })
	eventually(t, "the submitted lines", func() bool {
		r, ok := s.lines.Row(0)
		return ok && r.Status == store.BillSubmitted
	})

	var line billingLine
	onUI(func() {
		if !s.cancelBill.Disabled() {
			t.Error("Cancel bill is enabled with nothing selected")
		}
		line, _ = s.lines.Row(1)
		s.selectLine(line)
		test.Tap(s.cancelBill)
	})
	if f.Deletes() != 0 {
		t.Fatal("cancelled without confirmation")
	}
	var yes *widget.Button
	onUI(func() { yes = findButton(m.win.Canvas().Overlays().Top(), "Yes") })
	if yes == nil {
		t.Fatal("no confirmation dialog")
	}
	onUI(func() { test.Tap(yes) })
	eventually(t, "the cancel", func() bool { return s.cancels == 1 })
	if f.Deletes() != 1 {
		t.Fatalf("%d DELETEs at the API, want 1", f.Deletes())
	}
	bills, _ := svc.Bills(s.period.Text, "acme")
	var row store.Bill
	for _, b := range bills {
		if b.GroupUID == line.GroupUID {
			row = b
		}
	}
	if row.Status != store.BillCancelled || row.CancelledID != line.RemoteID {
		t.Fatalf("ledger row %+v, want cancelled %s", row, line.RemoteID)
	}
	var cancelled billingLine
	eventually(t, "the line shown as cancelled", func() bool {
		for i := 0; i < s.lines.Len(); i++ {
			if r, _ := s.lines.Row(i); r.GroupUID == line.GroupUID && r.Action == billing.ActionCancelled {
				cancelled = r
				return strings.Contains(s.status.Text, "cancelled")
			}
		}
		return false
	})
	onUI(func() {
		s.selectLine(cancelled)
		if !s.cancelBill.Disabled() || !s.rebill.Visible() {
			t.Errorf("a cancelled line: Cancel enabled %v, Bill again shown %v", !s.cancelBill.Disabled(), s.rebill.Visible())
		}
		test.Tap(s.rebill)
	})
	eventually(t, "the rebill run", func() bool { return !s.running && s.runs == 2 })
	if s.lastError != nil || s.lastSum.Submitted != 1 {
		t.Fatalf("rebill run: %d submitted, %v", s.lastSum.Submitted, s.lastError)
	}
	var submitted int
	for _, b := range f.Bills()[line.GroupUID] {
		if b.Status == api.BillSubmitted {
			submitted++
		}
	}
	if submitted != 1 {
		t.Errorf("%d submitted bills of %s at the API, want 1", submitted, line.GroupUID)
	}
}

// An API that refuses the cancel (an invoiced bill) leaves the ledger as
// it was, and says why in the status line.
func TestCancelBillRefusedShowsWhy(t *testing.T) {
	f := apitest.NewAccountAPI(t, nil)
	m, svc := billingWindow(t, f, 1)
	s := m.billing
	eventually(t, "the preview", func() bool { return s.lines.Len() == 1 })
	onUI(func() { test.Tap(s.run) })
	eventually(t, "the run to finish", func() bool { return !s.running && s.runs == 1 })
	var line billingLine
	eventually(t, "the submitted line", func() bool {
		line, _ = s.lines.Row(0)
		return line.Status == store.BillSubmitted
	})
	f.SetBillStatus(line.RemoteID, api.BillInvoiced)
	onUI(func() { s.cancelSelected(s.period.Text, line) })
	eventually(t, "the refusal", func() bool { return strings.Contains(s.status.Text, "Not cancelled") })
	onUI(func() {
		if !strings.Contains(s.status.Text, "invoiced") {
			t.Errorf("status %q must say why", s.status.Text)
		}
	})
	if bills, _ := svc.Bills(s.period.Text, "acme"); bills[0].Status != store.BillSubmitted {
		t.Errorf("ledger row %s after a refused cancel", bills[0].Status)
	}
}

type billingLine = billing.Line
