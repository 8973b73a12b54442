package ui

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"github.com/tenantdesk/tenantdesk/store"
	"github.com/tenantdesk/tenantdesk/tenant"
	"github.com/tenantdesk/tenantdesk/tenant/admin"
	"github.com/tenantdesk/tenantdesk/tenant/api/apitest"
	"github.com/tenantdesk/tenantdesk/tenant/tenanttest"
)

func TestTenantFormShowsEachProblemBesideItsFieldAndSavesNothing(t *testing.T) {
	m, svc := newTestWindow(t)
	f := m.tenants.form
	onUI(func() {
		m.showScreen("tenants")
		m.tenants.newTenant()
		test.Type(f.key, "Bad Key!")
		test.Type(f.apiHost, "ftp://api.example.com")
		test.Type(f.price, "forty-nine")
		test.Type(f.cert, "not a certificate")
		test.Tap(m.tenants.save)
	})

	eventually(t, "field messages", func() bool { return f.errs["key"].Visible() && !m.tenants.saving })
	var shown int
	onUI(func() { // widgets are read on the UI goroutine's turn, as they are written
		for _, field := range []string{"key", "api.id", "api.key", "api.host", "sso.idp", "sso.x509_certificate", "billing.price_cents"} {
			if msg := f.errs[field]; !msg.Visible() || msg.Text == "" {
				t.Errorf("no message beside %s", field)
			}
		}
		if f.errs["display_name"].Visible() {
			t.Errorf("display name flagged although it defaults to the key: %q", f.errs["display_name"].Text)
		}
		shown = m.tenants.list.Len()
	})
	if list, err := svc.Tenants(); err != nil || len(list) != 0 {
		t.Fatalf("bad input saved %d tenants (%v)", len(list), err)
	}
	if shown != 0 {
		t.Fatalf("list shows %d tenants", shown)
	}
}

func TestValidTenantIsSavedAndListed(t *testing.T) {
	m, svc := newTestWindow(t)
	f := m.tenants.form
	cert := testCertificate(t, 20) // expires within 30 days: a warning, not an error
	onUI(func() {
		m.showScreen("tenants")
		m.tenants.newTenant()
		test.Type(f.key, "acme")
		test.Type(f.name, "Acme Marketplace")
		test.Type(f.apiID, "app-acme")
		test.Type(f.apiKey, "s3cret")
		test.Type(f.apiHost, "https://api-hub.acme.example")
		test.Type(f.idp, "https://idp.acme.example")
		f.cert.SetText(cert)
		test.Type(f.price, "4900")
		test.Tap(m.tenants.save)
	})

	eventually(t, "the tenant in the list", func() bool { return m.tenants.list.Len() == 1 })
	row, _ := m.tenants.list.Row(0)
	if row.Key != "acme" || !row.Enabled || len(row.Warnings) != 1 {
		t.Fatalf("listed %+v; want acme, enabled, one certificate warning", row)
	}
	if n := f.problemCount(); n != 0 {
		t.Errorf("%d field messages after a valid save", n)
	}
	var cfg *tenant.Config
	err := svc.DB().View(func(tx *store.Tx) (err error) { cfg, err = tenant.GetTx(tx, "acme"); return err })
	if err != nil || cfg.API.Key.Reveal() != "s3cret" || cfg.Billing.PriceCents != 4900 {
		t.Fatalf("stored %+v, %v", cfg, err)
	}
	if answer, _ := svc.Tenant("acme"); answer.API.Key.Reveal() != tenant.Mask {
		t.Errorf("the service's answer carries the api.key: %q", answer.API.Key.Reveal())
	}
	if f.key.Disabled() != true {
		t.Error("key still editable after the first save (keys are immutable)")
	}
	if len(m.tenants.urls.Objects) != len(tenant.Routes()) {
		t.Errorf("%d registration URLs shown, want %d", len(m.tenants.urls.Objects), len(tenant.Routes()))
	}
}

func TestDeleteAsksFirst(t *testing.T) {
	m, svc := newTestWindow(t)
	if _, err := admin.SeedDemo(svc.DB(), time.Now()); err != nil {
		t.Fatal(err)
	}
	onUI(func() { m.showScreen("tenants") })
	eventually(t, "three tenants", func() bool { return m.tenants.list.Len() == 3 })
	var row admin.TenantSummary
	onUI(func() { row, _ = m.tenants.list.Row(2); m.tenants.edit(row) })
	eventually(t, "the form", func() bool { return m.tenants.editing == row.Key })
	onUI(func() { test.Tap(m.tenants.remove) })
	if list, _ := svc.Tenants(); len(list) != 3 {
		t.Fatal("deleted without confirmation")
	}
	var yes *widget.Button
	onUI(func() { yes = findButton(m.win.Canvas().Overlays().Top(), "Yes") })
	if yes == nil {
		t.Fatal("no confirmation dialog")
	}
	onUI(func() { test.Tap(yes) })
	eventually(t, "two tenants", func() bool { return m.tenants.list.Len() == 2 })
	if _, err := svc.Tenant(row.Key); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("tenant %s still stored: %v", row.Key, err)
	}
}

func TestIdentityMapFiltersNarrowTheRowCount(t *testing.T) {
	m, svc := newTestWindow(t)
	if _, err := admin.SeedDemo(svc.DB(), time.Now()); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	all, _ := svc.CountConnected(ctx, admin.IdmapFilter{})
	acme, _ := svc.CountConnected(ctx, admin.IdmapFilter{Tenant: "acme"})
	acmeUsers, _ := svc.CountConnected(ctx, admin.IdmapFilter{Tenant: "acme", Entity: "users"})
	s := m.idmap
	onUI(func() { m.showScreen("identity") })
	eventually(t, "every row", func() bool { return s.table.Len() == all })
	eventually(t, "the first page", func() bool { _, ok := s.table.Row(0); return ok })

	eventually(t, "tenant options", func() bool { return len(s.tenant.Options) == 4 })
	onUI(func() { s.tenant.SetSelected("acme") })
	eventually(t, "acme rows", func() bool { return s.table.Len() == acme })
	onUI(func() { s.entity.SetText("users") })
	eventually(t, "acme users", func() bool { return s.table.Len() == acmeUsers })
	onUI(func() { test.Type(s.search, "Oli") })
	eventually(t, "one name match", func() bool { return s.table.Len() == 1 })
	eventually(t, "the match loaded", func() bool { r, ok := s.table.Row(0); return ok && r.Name == "Olivia Nguyen" })
	if !(all > acme && acme > acmeUsers && acmeUsers > 1) {
		t.Fatalf("fixture does not narrow: %d > %d > %d > 1", all, acme, acmeUsers)
	}
	onUI(func() { r, _ := s.table.Row(0); s.showDetail(r) })
	eventually(t, "the detail pane", func() bool { return len(s.local.Items) > 0 })
}

// The pager holds a bounded number of rows however far the table scrolls.
func TestIdentityMapPagerKeepsFewPages(t *testing.T) {
	m, svc := newTestWindow(t)
	const n = 5000
	seedItems(t, svc, n)
	var mu sync.Mutex
	loads := 0
	p := newIdmapPager(m.ctx, svc, admin.IdmapFilter{Tenant: "acme"}, n, func() { mu.Lock(); loads++; mu.Unlock() })
	for i := 0; i < n; i += 37 {
		eventually(t, fmt.Sprintf("row %d", i), func() bool {
			r, ok := p.Row(i)
			if ok && r.RemoteID != fmt.Sprintf("r-%05d", i) {
				t.Fatalf("row %d is %s", i, r.RemoteID)
			}
			return ok
		})
	}
	if got, limit := p.cachedRows(), idmapCachePage*idmapPageSize; got > limit {
		t.Fatalf("pager holds %d rows, limit %d", got, limit)
	}
	// A jump to the end walks cursors forward without keeping the pages.
	p2 := newIdmapPager(m.ctx, svc, admin.IdmapFilter{Tenant: "acme"}, n, nil)
	eventually(t, "the last row", func() bool { r, ok := p2.Row(n - 1); return ok && r.RemoteID == fmt.Sprintf("r-%05d", n-1) })
	if got := p2.cachedRows(); got > 2*idmapPageSize {
		t.Fatalf("jump cached %d rows", got)
	}
}

func TestPageCacheEvictsLeastRecentlyUsed(t *testing.T) {
	c := newPageCache(2)
	c.put(1, []store.ConnectedObject{{ID: 1}})
	c.put(2, []store.ConnectedObject{{ID: 2}})
	c.get(1)
	c.put(3, []store.ConnectedObject{{ID: 3}})
	if _, ok := c.get(2); ok {
		t.Error("page 2 (least recently used) kept")
	}
	if _, ok := c.get(1); !ok {
		t.Error("page 1 (recently used) evicted")
	}
	if c.len() != 2 {
		t.Errorf("len %d", c.len())
	}
}

// billingWindow saves a tenant whose API is the fake, with n active groups.
func billingWindow(t *testing.T, f *apitest.AccountAPI, n int) (*mainWindow, *admin.Service) {
	t.Helper()
	m, svc := newTestWindow(t)
	f.SetCredentials("app-acme", "s3cret")
	cfg := tenant.Config{Key: "acme", DisplayName: "Acme", Enabled: true,
		API:     tenant.API{ID: "app-acme", Key: "s3cret", Host: f.URL()},
		SSO:     tenant.SSO{IdP: "https://idp.example.com", X509Certificate: testCertificate(t, 365)},
		Billing: tenant.Billing{PriceCents: 4900}}
	if _, err := svc.SaveTenant(cfg, true); err != nil {
		t.Fatal(err)
	}
	err := svc.DB().Update(func(tx *store.Tx) error {
		for i := 0; i < n; i++ {
			created := time.Now().AddDate(0, -3, 0)
			if err := tx.PutGroup(store.Group{Tenant: "acme", UID: fmt.Sprintf("cld-%03d", i), Name: fmt.Sprintf("Customer %d", i),
				CreatedAt: created, UpdatedAt: created}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	onUI(func() { m.showScreen("billing") })
	return m, svc
}

func TestBillingProgressReachesTheEnd(t *testing.T) {
	f := apitest.NewAccountAPI(t, nil)
	m, _ := billingWindow(t, f, 25)
	s := m.billing
	eventually(t, "the preview", func() bool { return s.lines.Len() == 25 })
	onUI(func() { test.Tap(s.run) })
	eventually(t, "the run to finish", func() bool { return !s.running && s.runs == 1 })
	if s.lastError != nil {
		t.Fatalf("run: %v", s.lastError)
	}
	if s.progress.Value != s.progress.Max || s.progress.Max != 25 {
		t.Fatalf("progress %v of %v, want 25 of 25", s.progress.Value, s.progress.Max)
	}
	if posts, _, _ := f.Counts(); s.lastSum.Submitted != 25 || posts != 25 {
		t.Fatalf("submitted %d, API got %d posts; want 25", s.lastSum.Submitted, posts)
	}
	eventually(t, "results in the table", func() bool {
		r, ok := s.lines.Row(0)
		return ok && r.Status == store.BillSubmitted && r.RemoteID != ""
	})
	eventually(t, "the run in history", func() bool { return s.history.Len() == 1 })
	if s.run.Disabled() {
		t.Error("Run billing still disabled after the run")
	}
}

func TestRunTappedTwiceStartsOneRun(t *testing.T) {
	gate := make(chan struct{})
	f := apitest.NewAccountAPI(t, nil)
	f.HoldPosts(gate)
	m, svc := billingWindow(t, f, 5)
	s := m.billing
	eventually(t, "the preview", func() bool { return s.lines.Len() == 5 })
	var runs int
	var disabled bool
	onUI(func() {
		test.Tap(s.run)
		test.Tap(s.run)
		runs, disabled = s.runs, s.run.Disabled()
	})
	if runs != 1 || !disabled {
		t.Fatalf("runs started %d, button disabled %v; want 1 and disabled", runs, disabled)
	}
	eventually(t, "the run going", svc.BillingRunning)
	// Even a caller that bypasses the button gets the guard.
	onUI(func() { s.running = false; s.startRun() })
	eventually(t, "the refused second run", func() bool { return errors.Is(s.lastError, admin.ErrRunInProgress) })
	close(gate)
	eventually(t, "the first run to finish", func() bool { return !svc.BillingRunning() })
	if got, _, _ := f.Counts(); got != 5 {
		t.Fatalf("API got %d bills, want 5 (one run)", got)
	}
	history, err := svc.BillingHistory(10)
	if err != nil || len(history) != 1 {
		t.Fatalf("history has %d runs (%v), want 1", len(history), err)
	}
}

func TestActivityShowsNewEventsAndFilters(t *testing.T) {
	m, svc := newTestWindow(t)
	onUI(func() { m.showScreen("activity") })
	add := func(e store.Event) {
		e.At = time.Now()
		if err := svc.DB().Update(func(tx *store.Tx) error { _, err := tx.AppendEvent(e); return err }); err != nil {
			t.Fatal(err)
		}
	}
	add(store.Event{Tenant: "acme", Kind: store.EventLogin, Outcome: "ok", Message: "Olivia signed in"})
	add(store.Event{Tenant: "globex", Kind: store.EventWebhook, Outcome: "ok", Message: "group cancelled"})
	add(store.Event{Tenant: "acme", Kind: store.EventError, Outcome: "failed", Message: "bad signature"})
	s := m.activity
	eventually(t, "three events", func() bool { return s.table.Len() == 3 })
	eventually(t, "newest first", func() bool { r, _ := s.table.Row(0); return r.Message == "bad signature" })
	onUI(func() { s.kind.SetSelected(store.EventLogin) })
	eventually(t, "the login only", func() bool { return s.table.Len() == 1 })
	onUI(func() {
		s.kind.SetSelected(allKinds)
		s.tenant.SetOptions([]string{allTenants, "acme", "globex"})
		s.tenant.SetSelected("acme")
	})
	eventually(t, "acme's two", func() bool { return s.table.Len() == 2 })
	add(store.Event{Tenant: "acme", Kind: store.EventConnec, Outcome: "ok", Message: "3 invoices stored"})
	eventually(t, "the new one, filtered live", func() bool { return s.table.Len() == 3 })
}

func TestDataTableSortsByHeader(t *testing.T) {
	test.NewTempApp(t)
	dt := newDataTable("numbers", "none",
		column[int]{title: "N", text: func(n int) string { return fmt.Sprint(n) }, compare: func(a, b int) int { return a - b }})
	onUI(func() { dt.SetRows([]int{3, 1, 2}) })
	eventually(t, "rows", func() bool { return dt.Len() == 3 })
	onUI(func() { dt.sortBy(0) })
	eventually(t, "ascending", func() bool { r, _ := dt.Row(0); return r == 1 })
	onUI(func() { dt.sortBy(0) })
	eventually(t, "descending", func() bool { r, _ := dt.Row(0); return r == 3 })
	onUI(func() { dt.SetFilter(func(n int) bool { return n != 3 }) })
	eventually(t, "filtered", func() bool { r, _ := dt.Row(0); return dt.Len() == 2 && r == 2 })
	if got := dt.countText(2); got != "2 of 3 numbers" {
		t.Errorf("footer %q", got)
	}
}

func TestThousands(t *testing.T) {
	if thousands(1000000) != "1,000,000" || thousands(999) != "999" {
		t.Error("thousands")
	}
}

// findButton finds a button by its text in a widget tree.
func findButton(o fyne.CanvasObject, text string) *widget.Button {
	switch w := o.(type) {
	case *widget.Button:
		if w.Text == text {
			return w
		}
	case *fyne.Container:
		for _, c := range w.Objects {
			if b := findButton(c, text); b != nil {
				return b
			}
		}
	}
	if w, ok := o.(fyne.Widget); ok {
		r := test.WidgetRenderer(w)
		if r != nil {
			for _, c := range r.Objects() {
				if b := findButton(c, text); b != nil {
					return b
				}
			}
		}
	}
	return nil
}

// testCertificate is a self-signed certificate valid for days more.
func testCertificate(t *testing.T, days int) string {
	t.Helper()
	now := time.Now()
	return tenanttest.Certificate(t, now.Add(-time.Hour), now.AddDate(0, 0, days))
}

func TestEveryScreenOpensWithDemoData(t *testing.T) {
	m, svc := newTestWindow(t)
	if _, err := admin.SeedDemo(svc.DB(), time.Now()); err != nil {
		t.Fatal(err)
	}
	for _, e := range m.entries {
		id := e.id
		onUI(func() { m.showScreen(id) })
		eventually(t, id+" shown", func() bool { return m.current >= 0 && m.entries[m.current].id == id })
	}
	eventually(t, "invoices listed", func() bool { return m.invoices.list.Len() == 9 })
	eventually(t, "failed pushes listed", func() bool { return m.invoices.failed.Len() == 3 })
	eventually(t, "the status bar's failed count", func() bool { return m.status.failed.Visible() && m.status.failed.Text == "3 failed pushes" })
}

func TestShortcutsOpenNewTenantAndSearch(t *testing.T) {
	m, _ := newTestWindow(t)
	c := m.win.Canvas().(interface{ TypedShortcut(fyne.Shortcut) })
	onUI(func() {
		m.showScreen("billing")
		c.TypedShortcut(&desktop.CustomShortcut{KeyName: fyne.KeyN, Modifier: fyne.KeyModifierShortcutDefault})
	})
	eventually(t, "the new tenant form", func() bool {
		return m.entries[m.current].id == "tenants" && m.tenants.isNew && m.win.Canvas().Focused() == m.tenants.form.key
	})
	onUI(func() {
		m.showScreen("identity")
		c.TypedShortcut(&desktop.CustomShortcut{KeyName: fyne.KeyF, Modifier: fyne.KeyModifierShortcutDefault})
	})
	eventually(t, "search focused", func() bool { return m.win.Canvas().Focused() == m.idmap.search })
}

func TestClosingWithTheListenerRunningAsks(t *testing.T) {
	m, svc := newTestWindow(t)
	if err := svc.StartListener(); err != nil {
		t.Fatal(err)
	}
	defer svc.StopListener(context.Background())
	var quit, tray, cancel *widget.Button
	onUI(func() {
		m.closeRequested()
		top := m.win.Canvas().Overlays().Top()
		quit = findButton(top, "Stop listener and quit")
		tray = findButton(top, "Keep running in tray")
		cancel = findButton(top, "Cancel")
	})
	if quit == nil || cancel == nil {
		t.Fatal("no quit question while the listener runs")
	}
	if tray != nil {
		t.Error("tray offered although no tray is available")
	}
	onUI(func() { test.Tap(cancel) })
	if svc.ListenerStatus().State != admin.ListenerRunning || m.ctx.Err() != nil {
		t.Fatal("cancel stopped something")
	}
}

func TestSettingsStopAndStartTheListener(t *testing.T) {
	m, svc := newTestWindow(t)
	if err := svc.StartListener(); err != nil {
		t.Fatal(err)
	}
	defer svc.StopListener(context.Background())
	s := m.settings
	onUI(func() { m.showScreen("settings") })
	eventually(t, "running shown", func() bool { return s.stop.Disabled() == false && s.start.Disabled() })
	onUI(func() { test.Tap(s.stop) })
	eventually(t, "stopped", func() bool { return svc.ListenerStatus().State == admin.ListenerStopped && !s.start.Disabled() })
	onUI(func() {
		s.addr.SetText("127.0.0.1:0")
		s.publicURL.SetText("https://td.example.org")
		test.Tap(s.start)
	})
	eventually(t, "running again", func() bool { return svc.ListenerStatus().State == admin.ListenerRunning && s.start.Disabled() })
	if svc.PublicURL() != "https://td.example.org" {
		t.Errorf("public URL %q", svc.PublicURL())
	}
}

func TestThemeAndWindowSizeAreRemembered(t *testing.T) {
	m, svc := newTestWindow(t)
	onUI(func() {
		m.settings.theme.SetSelected("Dark")
		m.win.Resize(fyne.NewSize(1000, 640))
		m.rememberSize()
	})
	p := m.app.Preferences()
	if p.String(prefTheme) != themeDark {
		t.Errorf("theme preference %q", p.String(prefTheme))
	}
	var m2 *mainWindow
	onUI(func() { m2 = newMainWindow(m.app, svc, Options{}) })
	defer m2.stop()
	if got := m2.win.Canvas().Size(); got.Width != 1000 || got.Height != 640 {
		t.Errorf("restored size %v, want 1000x640", got)
	}
}

// A walk to a far page stops when the table asks for another place, and
// what it learned is kept for the next request.
func TestPagerAbandonsAWalkTheTableLeft(t *testing.T) {
	m, svc := newTestWindow(t)
	const n = 30 * idmapPageSize * 4
	seedItems(t, svc, n)
	p := newIdmapPager(m.ctx, svc, admin.IdmapFilter{}, n, nil)
	p.Row(n - 1) // starts a walk to the last page
	p.Row(0)     // the user went back to the top
	eventually(t, "the top rows", func() bool { r, ok := p.Row(0); return ok && r.RemoteID == "r-00000" })
	eventually(t, "the last row, when asked again", func() bool { r, ok := p.Row(n - 1); return ok && r.RemoteID == fmt.Sprintf("r-%05d", n-1) })
}

func TestImportShowsEveryProblemAndChangesNothing(t *testing.T) {
	m, svc := newTestWindow(t)
	doc := `{"marketplaces":[
	  {"marketplace":"BAD KEY","api":{"host":"nope"}},
	  {"marketplace":"globex","api":{"id":"app-globex"}}]}`
	onUI(func() {
		m.showScreen("tenants")
		m.tenants.importFrom("marketplaces.json", func() ([]byte, error) { return []byte(doc), nil })
	})
	eventually(t, "the problems dialog", func() bool { return len(m.tenants.importProblems) > 0 })
	var problems []string
	onUI(func() { problems = m.tenants.importProblems })
	joined := fmt.Sprint(problems)
	for _, want := range []string{"marketplaces[0]", "marketplaces[1]", "api.key"} {
		if !strings.Contains(joined, want) {
			t.Errorf("problems %q do not mention %s", problems, want)
		}
	}
	if list, _ := svc.Tenants(); len(list) != 0 {
		t.Fatalf("a rejected import wrote %d tenants", len(list))
	}
}

// invoicesWindow is a window on the Invoices screen of a data file with
// tenant acme (with Connec!) and its group cld-1.
func invoicesWindow(t *testing.T) (*invoicesScreen, *admin.Service) {
	m, svc := newTestWindow(t)
	cfg := tenant.Config{Key: "acme", DisplayName: "Acme", Enabled: true,
		API:    tenant.API{ID: "app-acme", Key: "s3cret", Host: "https://api.acme.example"},
		SSO:    tenant.SSO{IdP: "https://idp.example.com", X509Certificate: testCertificate(t, 365)},
		Connec: tenant.Connec{Host: "https://connec.acme.example"}}
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
	eventually(t, "tenant options", func() bool { return len(s.editor.tenant.Options) == 1 })
	return s, svc
}

func TestNewInvoiceIsSavedAndQueued(t *testing.T) {
	s, _ := invoicesWindow(t)
	e := s.editor
	onUI(func() {
		s.newInvoice()
		e.tenant.SetSelected("acme")
		test.Type(e.group, "cld-1")
		test.Type(e.number, "INV-77")
		test.Type(e.title, "Bread")
		e.lines = append(e.lines, store.InvoiceLine{Description: "Loaves", Quantity: 3, UnitPriceCents: 450, TotalCents: 1350})
		e.renderLines()
		test.Type(e.tax, "1.35")
		test.Tap(e.save)
	})
	eventually(t, "the invoice in the list", func() bool {
		if e.problem.Visible() {
			t.Fatalf("editor says: %s", e.problem.Text)
		}
		return s.list.Len() == 1
	})
	var row admin.InvoiceRow
	onUI(func() { row, _ = s.list.Row(0) })
	if row.Number != "INV-77" || row.Sync != admin.SyncQueued || row.TotalCents != 1485 {
		t.Fatalf("listed %+v; want INV-77, queued, 14.85", row)
	}
}

// TestRegisteredPathsListedFirstAndKeptBySave: a tenant imported with
// paths registered on the developer platform shows them first under URLs
// to register, and saving it from the form keeps them (the form does not
// edit them).
func TestRegisteredPathsListedFirstAndKeptBySave(t *testing.T) {
	m, svc := newTestWindow(t)
	cfg := tenant.Config{Key: "uat", DisplayName: "UAT", Enabled: true,
		API: tenant.API{ID: "app-uat", Key: "s3cret", Host: "https://api-hub.uat.example"},
		SSO: tenant.SSO{IdP: "https://idp.uat.example", X509Certificate: testCertificate(t, 200),
			IdM: "https://desk.example.com", InitPath: "/maestrano/auth/saml/init?marketplace=uat"},
		Hooks: tenant.Hooks{Account: tenant.AccountHooks{GroupPath: "/maestrano/account/groups/:id?marketplace=uat"}},
	}
	if _, err := svc.SaveTenant(cfg, true); err != nil {
		t.Fatal(err)
	}
	onUI(func() {
		m.showScreen("tenants")
		m.tenants.edit(admin.TenantSummary{Key: "uat", DisplayName: "UAT", Enabled: true})
	})
	eventually(t, "the tenant's URLs", func() bool { return len(m.tenants.urls.Objects) > len(tenant.Routes()) })
	var first, second string
	onUI(func() {
		first = m.tenants.urls.Objects[0].(*widget.Label).Text
		row := m.tenants.urls.Objects[1].(*fyne.Container)
		for _, o := range row.Objects {
			if box, ok := o.(*fyne.Container); ok && len(box.Objects) == 2 {
				if l, ok := box.Objects[1].(*widget.Label); ok {
					second = l.Text
				}
			}
		}
	})
	if !strings.Contains(first, "Registered on the developer platform") || second != "https://desk.example.com/maestrano/auth/saml/init?marketplace=uat" {
		t.Fatalf("URLs to register start with %q, %q; want the registered init URL first", first, second)
	}
	onUI(func() {
		test.Type(m.tenants.form.name, " (edited)")
		test.Tap(m.tenants.save)
	})
	eventually(t, "the save", func() bool {
		c, err := svc.Tenant("uat")
		return err == nil && strings.Contains(c.DisplayName, "(edited)")
	})
	got, _ := svc.Tenant("uat")
	if got.SSO.InitPath != cfg.SSO.InitPath || got.SSO.IdM != cfg.SSO.IdM || got.Hooks != cfg.Hooks {
		t.Errorf("saving from the form lost the registered paths: %+v %+v", got.SSO, got.Hooks)
	}
}

// The invoice editor reads and writes amounts in the currency's own minor
// units: 4900 JPY is 4900 yen, 4.900 KWD is 4900 fils, and a KWD amount
// typed with four decimals is refused with a message, nothing saved.
func TestInvoiceEditorAmountsFollowTheCurrency(t *testing.T) {
	s, svc := invoicesWindow(t)
	e := s.editor
	for i, c := range []struct {
		currency, unit, tax string
		unitMinor, taxMinor int64
		total               string
	}{
		{"JPY", "4900", "980", 4900, 980, "Total 10780 JPY"},
		{"KWD", "4.9", "0.98", 4900, 980, "Total 10.780 KWD"},
	} {
		number := fmt.Sprintf("INV-%d", i+1)
		onUI(func() {
			s.newInvoice()
			e.tenant.SetSelected("acme")
			test.Type(e.group, "cld-1")
			test.Type(e.number, number)
			e.cur.SetText(c.currency)
			e.lines = append(e.lines, store.InvoiceLine{Description: "Loaves", Quantity: 2})
			e.renderLines()
			e.units[0].SetText(c.unit)
			test.Type(e.tax, c.tax)
		})
		onUI(func() {
			if e.total.Text != c.total {
				t.Errorf("%s: editor shows %q, want %q", c.currency, e.total.Text, c.total)
			}
			test.Tap(e.save)
		})
		eventually(t, "the invoice in the list", func() bool {
			if e.problem.Visible() {
				t.Fatalf("editor says: %s", e.problem.Text)
			}
			return s.list.Len() == i+1
		})
		var saved store.Invoice
		err := svc.DB().View(func(tx *store.Tx) error {
			invs, err := tx.Invoices("acme")
			for _, inv := range invs {
				if inv.Number == number {
					saved = inv
				}
			}
			return err
		})
		if err != nil || len(saved.Lines) != 1 || saved.Lines[0].UnitPriceCents != c.unitMinor || saved.TaxCents != c.taxMinor ||
			saved.TotalCents != 2*c.unitMinor+c.taxMinor {
			t.Fatalf("%s: saved %+v, %v", c.currency, saved, err)
		}
		var shown string
		onUI(func() { e.load(saved, false); shown = e.units[0].Text + " " + e.tax.Text })
		if want := map[string]string{"JPY": "4900 980", "KWD": "4.900 0.980"}[c.currency]; shown != want {
			t.Errorf("%s: reloaded as %q, want %q", c.currency, shown, want)
		}
	}
	onUI(func() {
		s.newInvoice()
		e.tenant.SetSelected("acme")
		test.Type(e.group, "cld-1")
		test.Type(e.number, "INV-3")
		e.cur.SetText("KWD")
		test.Type(e.tax, "0.9801")
		test.Tap(e.save)
	})
	eventually(t, "the refusal", func() bool { return e.problem.Visible() })
	onUI(func() {
		if !strings.Contains(e.problem.Text, "Tax:") || !strings.Contains(e.problem.Text, "19.999") {
			t.Errorf("problem %q", e.problem.Text)
		}
	})
	if s.list.Len() != 2 {
		t.Errorf("a refused invoice was saved: %d listed", s.list.Len())
	}
}
