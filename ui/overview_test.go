package ui

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2/widget"

	"github.com/tenantdesk/tenantdesk/store"
	"github.com/tenantdesk/tenantdesk/tenant"
	"github.com/tenantdesk/tenantdesk/tenant/admin"
)

// addOverviewTenant saves an enabled tenant whose certificate has certDays left.
func addOverviewTenant(t *testing.T, svc *admin.Service, key string, certDays int) {
	t.Helper()
	cfg := tenant.Config{Key: tenant.Key(key), DisplayName: strings.ToUpper(key[:1]) + key[1:], Enabled: true,
		API:     tenant.API{ID: "app-" + key, Key: "s3cret", Host: "https://api." + key + ".example"},
		SSO:     tenant.SSO{IdP: "https://idp." + key + ".example", X509Certificate: testCertificate(t, certDays)},
		Billing: tenant.Billing{PriceCents: 4900, Currency: "AUD"}}
	if _, err := svc.SaveTenant(cfg, true); err != nil {
		t.Fatal(err)
	}
}

func appendEvents(t *testing.T, svc *admin.Service, evs ...store.Event) {
	t.Helper()
	err := svc.DB().Update(func(tx *store.Tx) error {
		for _, e := range evs {
			if _, err := tx.AppendEvent(e); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func repeat(n int, e store.Event) []store.Event {
	out := make([]store.Event, n)
	for i := range out {
		out[i] = e
	}
	return out
}

// The Overview shows, per tenant, the counts the store holds: sign-ins and
// refused sign-ins by day, webhooks and notifications, failed pushes, this
// month's bills and the certificate, and says which tenant needs a look.
func TestOverviewShowsTheCountsTheStoreHolds(t *testing.T) {
	m, svc := newTestWindow(t)
	addOverviewTenant(t, svc, "acme", 400)
	addOverviewTenant(t, svc, "globex", 12)
	now := time.Now().UTC()
	yesterday := now.AddDate(0, 0, -1)
	var evs []store.Event
	evs = append(evs, repeat(5, store.Event{At: now, Tenant: "acme", Kind: store.EventLogin, Outcome: "ok"})...)
	evs = append(evs, repeat(2, store.Event{At: yesterday, Tenant: "acme", Kind: store.EventLogin, Outcome: "ok"})...)
	evs = append(evs, repeat(3, store.Event{At: yesterday, Tenant: "acme", Kind: store.EventWebhook, Outcome: "ok", Reason: "group-cancelled"})...)
	evs = append(evs, repeat(4, store.Event{At: now, Tenant: "acme", Kind: store.EventConnec, Outcome: "ok", Reason: "notification"})...)
	evs = append(evs, store.Event{At: now, Tenant: "acme", Kind: store.EventConnec, Outcome: "ok", Reason: "pull"}) // a pull is not a notification
	evs = append(evs, repeat(2, store.Event{At: now, Tenant: "globex", Kind: store.EventLogin, Outcome: "failed", Reason: "audience_mismatch"})...)
	evs = append(evs, store.Event{At: now, Tenant: "globex", Kind: store.EventOutbox, Outcome: "failed"})
	evs = append(evs, store.Event{At: now.AddDate(0, 0, -45), Tenant: "acme", Kind: store.EventLogin, Outcome: "ok"}) // outside the 30 days
	appendEvents(t, svc, evs...)
	err := svc.DB().Update(func(tx *store.Tx) error {
		period := now.AddDate(0, -1, 0).Format("2006-01")
		for i, st := range []string{store.BillSubmitted, store.BillSubmitted} {
			if err := tx.PutBill(store.Bill{Tenant: "acme", GroupUID: fmt.Sprint("cld-", i), Period: period, Status: st,
				AmountCents: 4900, Currency: "AUD", CreatedAt: now, UpdatedAt: now}); err != nil {
				return err
			}
		}
		_, err := tx.PutOutboxItem(store.OutboxItem{Tenant: "globex", GroupUID: "cld-9", Entity: "invoices", LocalKind: store.KindInvoice,
			LocalID: "inv-000001", Status: store.OutboxFailed, Attempts: 8, CreatedAt: now, UpdatedAt: now})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}

	s := m.overview
	onUI(func() { m.showScreen("overview") })
	eventually(t, "two cards", func() bool { return len(s.shownCards) == 2 })
	onUI(func() {
		// globex needs a look (refused sign-ins, a parked push, its
		// certificate), so it comes first.
		g, a := s.shownCards[0], s.shownCards[1]
		if g.key != "globex" || a.key != "acme" {
			t.Fatalf("cards in order %s, %s; want globex (needs a look) first", g.key, a.key)
		}
		for _, c := range []struct{ what, got, want string }{
			{"acme sign-ins", a.signIns.Text, "7"},
			{"acme webhooks + notifications", a.traffic.Text, "7"},
			{"acme failed pushes", a.pushes.Text, "0"},
			{"acme billed", a.billed.Text, "98.00 AUD"},
			{"acme certificate", a.cert.Text, "399 days left"},
			{"acme health", a.health.Text, "Healthy."},
			{"globex failed pushes", g.pushes.Text, "1"},
			{"globex certificate", g.cert.Text, "11 days left"},
		} {
			if c.got != c.want {
				t.Errorf("%s: %q, want %q", c.what, c.got, c.want)
			}
		}
		for _, want := range []string{"1 failed push waiting for a retry", "IdP certificate expires in 11 days", "2 refused sign-ins this week"} {
			if !strings.Contains(g.health.Text, want) {
				t.Errorf("globex health %q lacks %q", g.health.Text, want)
			}
		}
		// The charts hold the days: today last, yesterday before it.
		signIns := a.signInChart.series[0].values
		if len(signIns) != admin.OverviewDays || signIns[len(signIns)-1] != 5 || signIns[len(signIns)-2] != 2 || a.signInChart.total() != 7 {
			t.Errorf("acme sign-in chart %v; want 30 days ending 2, 5", signIns)
		}
		if refused := g.signInChart.series[1].values; refused[len(refused)-1] != 2 {
			t.Errorf("globex refused sign-ins today: %d, want 2", refused[len(refused)-1])
		}
		if got := s.summary.Text; got != "1 of 2 marketplaces needs a look." {
			t.Errorf("summary %q", got)
		}
	})

	// A new sign-in shows on the next reload.
	appendEvents(t, svc, store.Event{At: time.Now().UTC(), Tenant: "acme", Kind: store.EventLogin, Outcome: "ok"})
	onUI(s.reload)
	eventually(t, "the new sign-in", func() bool {
		for _, c := range s.shownCards {
			if c.key == "acme" {
				return c.signIns.Text == "8"
			}
		}
		return false
	})
}

// With no tenant the Overview says what to do, with a way to the Tenants
// screen, and no cards.
func TestOverviewEmptyStateLeadsToTenants(t *testing.T) {
	m, _ := newTestWindow(t)
	s := m.overview
	onUI(func() { m.showScreen("overview") })
	eventually(t, "the empty state", func() bool { return len(s.body.Objects) == 1 && s.body.Objects[0] == s.empty })
	onUI(func() {
		if len(s.shownCards) != 0 {
			t.Fatalf("%d cards without tenants", len(s.shownCards))
		}
	})
}

// The health line: a healthy tenant has none, a disabled one is only
// disabled, and the summary counts only enabled tenants.
func TestOverviewSummarySaysWhetherAllAreHealthy(t *testing.T) {
	now := time.Now()
	healthy := admin.TenantOverview{Key: "acme", Enabled: true, CertExpiry: now.AddDate(1, 0, 0), Days: make([]admin.DayActivity, 30)}
	off := admin.TenantOverview{Key: "initech", CertExpiry: now.AddDate(0, 0, -3)}
	if p, _ := tenantHealth(healthy, now); len(p) != 0 {
		t.Fatalf("healthy tenant flagged: %v", p)
	}
	if p, _ := tenantHealth(off, now); len(p) != 0 {
		t.Fatalf("disabled tenant flagged: %v", p)
	}
	if _, text := overviewSummary(admin.Overview{Generated: now, Tenants: []admin.TenantOverview{healthy, off}}); text != "The marketplace is healthy. 1 disabled." {
		t.Fatalf("summary %q", text)
	}
	expired := healthy
	expired.CertExpiry = now.AddDate(0, 0, -1)
	if p, _ := tenantHealth(expired, now); len(p) != 1 || p[0] != "IdP certificate expired" {
		t.Fatalf("expired certificate: %v", p)
	}
	billFailed := healthy
	billFailed.BillsFailed = 1
	if p, imp := tenantHealth(billFailed, now); len(p) != 1 || p[0] != "1 bill failed this month" || imp != widget.DangerImportance {
		t.Fatalf("failed bill: %v", p)
	}
}
