package admin

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"strings"
	"time"

	"github.com/tenantdesk/tenantdesk/store"
	"github.com/tenantdesk/tenantdesk/tenant"
)

// DemoSummary says what SeedDemo wrote.
type DemoSummary struct {
	Tenants, Groups, Users, Memberships, Invoices, IdmapRows, Bills, Events int
}

type demoTenant struct {
	key, name string
	enabled   bool
	certDays  int // certificate lifetime left
	mode      string
	price     int64
	currency  string
	groups    []string
}

var demoTenants = []demoTenant{
	{"acme", "Acme Marketplace", true, 400, tenant.ModeReal, 4900, "AUD",
		[]string{"Bluegum Bakery", "Harbour Plumbing", "Kestrel Legal", "Wattle & Co Accounting"}},
	{"globex", "Globex Business Hub", true, 10, tenant.ModeVirtual, 2900, "USD",
		[]string{"Northwind Traders", "Contoso Pharmacy", "Fabrikam Logistics"}},
	{"initech", "Initech App Store", false, 200, tenant.ModeReal, 1900, "GBP",
		[]string{"Penrose Dental", "Chetwynd Motors"}},
}

var demoPeople = [][2]string{
	{"Olivia", "Nguyen"}, {"Jack", "Williams"}, {"Charlotte", "Smith"}, {"Noah", "Brown"},
	{"Amelia", "Patel"}, {"Liam", "O'Connor"}, {"Isla", "Taylor"}, {"Lucas", "Martin"},
	{"Mia", "Wilson"}, {"Henry", "Anderson"}, {"Grace", "Thompson"}, {"Leo", "Chen"},
}

// SeedDemo fills db with realistic demonstration data: three tenants (one
// disabled, one whose IdP certificate expires in 10 days) with groups,
// users, memberships, invoices in every sync state, identity-map rows,
// last month's bills and activity events. It refuses a database that
// already holds tenants, so it never mixes demo data into real data.
func SeedDemo(db *store.DB, now time.Time) (DemoSummary, error) {
	now = now.UTC().Truncate(time.Second)
	var sum DemoSummary
	certs := map[string]string{}
	for _, dt := range demoTenants {
		pemText, err := demoCertificate(dt.key, now, dt.certDays)
		if err != nil {
			return sum, err
		}
		certs[dt.key] = pemText
	}
	lastMonth := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC).AddDate(0, -1, 0)
	period := lastMonth.Format("2006-01")

	err := db.Update(func(tx *store.Tx) error {
		existing, err := tx.Tenants()
		if err != nil {
			return err
		}
		if len(existing) > 0 {
			return fmt.Errorf("the database already has %d tenant(s); demo data goes into an empty database only", len(existing))
		}
		person := 0
		invoiceNo := 1000
		var runTotals store.BillingRun
		for ti, dt := range demoTenants {
			cfg := tenant.Config{
				Key: tenant.Key(dt.key), DisplayName: dt.name, Enabled: dt.enabled, Environment: "production",
				App: tenant.App{Host: "https://app.example.com"},
				API: tenant.API{ID: "app-" + dt.key, Key: tenant.Secret(demoSecret(dt.key)),
					Host: "https://api-hub." + dt.key + ".example", Base: "/api/v1/"},
				SSO: tenant.SSO{IdP: "https://idp." + dt.key + ".example", X509Certificate: certs[dt.key], CreationMode: dt.mode},
				Connec: tenant.Connec{Host: "https://api-connec." + dt.key + ".example", BasePath: "/api/v2",
					Timeout: tenant.Duration(60 * time.Second)},
				Billing: tenant.Billing{PriceCents: dt.price, Currency: dt.currency},
			}
			st, err := tenant.ToStored(&cfg, now)
			if err != nil {
				return err
			}
			st.CreatedAt = now.AddDate(0, -6+ti, 0) // a history for the demo
			if err := tx.PutTenant(st); err != nil {
				return err
			}
			sum.Tenants++
			for gi, gname := range dt.groups {
				created := now.AddDate(0, -5, gi*3)
				guid := fmt.Sprintf("cld-%s%d", dt.key[:2], 100+gi)
				g := store.Group{Tenant: dt.key, UID: guid, Name: gname, Email: "accounts@" + slug(gname) + ".example",
					Currency: dt.currency, Timezone: "Australia/Sydney", Country: "AU", City: "Sydney",
					HasCreditCard: gi%2 == 0, CreatedAt: created, UpdatedAt: created}
				if dt.key == "acme" && gi == 3 {
					g.Cancelled, g.CancelledAt = true, now.AddDate(0, 0, -12)
				}
				if err := tx.PutGroup(g); err != nil {
					return err
				}
				sum.Groups++
				if err := demoIdmap(tx, &sum, store.ConnectedObject{Tenant: dt.key, GroupUID: guid, LocalKind: store.KindGroup,
					LocalID: guid, Provider: "maestrano", Entity: "organizations", RemoteID: guid, Name: gname,
					CreatedAt: created, UpdatedAt: created, LastPullAt: created, Inactive: g.Cancelled}); err != nil {
					return err
				}
				// Two people per group, the first an admin.
				for ui := 0; ui < 2; ui++ {
					p := demoPeople[person%len(demoPeople)]
					person++
					uid := fmt.Sprintf("usr-%s%d", dt.key[:2], 500+person)
					u := store.User{Tenant: dt.key, UID: uid, RealUID: uid, Email: strings.ToLower(p[0]) + "@" + slug(gname) + ".example",
						FirstName: p[0], LastName: p[1], CompanyName: gname, CreatedAt: created, UpdatedAt: created}
					if dt.mode == tenant.ModeVirtual {
						u.UID, u.Virtual = uid+"."+guid, true
					}
					if err := tx.PutUser(u); err != nil {
						return err
					}
					sum.Users++
					role := "Member"
					if ui == 0 {
						role = "Admin"
					}
					if err := tx.PutMembership(store.Membership{Tenant: dt.key, GroupUID: guid, UserUID: u.UID, Role: role,
						Ended: g.Cancelled, EndedAt: g.CancelledAt, CreatedAt: created, UpdatedAt: created}); err != nil {
						return err
					}
					sum.Memberships++
					if err := demoIdmap(tx, &sum, store.ConnectedObject{Tenant: dt.key, GroupUID: guid, LocalKind: store.KindUser,
						LocalID: u.UID, Provider: "maestrano", Entity: "users", RemoteID: uid, Name: p[0] + " " + p[1],
						CreatedAt: created, UpdatedAt: created, LastPullAt: created}); err != nil {
						return err
					}
				}
				// Invoices: one per group, cycling through the sync states.
				if err := demoInvoice(tx, &sum, dt, g, &invoiceNo, gi+ti, now); err != nil {
					return err
				}
				if dt.enabled && !g.Cancelled {
					if err := demoPull(tx, g, gi+ti, now); err != nil {
						return err
					}
				}
				// Last month's bill for every active group of an enabled tenant.
				if dt.enabled && !g.Cancelled {
					b := store.Bill{Tenant: dt.key, GroupUID: guid, Period: period, RunID: 1, Status: store.BillSubmitted,
						RemoteID: fmt.Sprintf("bill-%s-%d", dt.key, 7700+gi), AmountCents: dt.price, Currency: dt.currency,
						Description: cfg.BillDescription(period), Attempts: 1,
						CreatedAt: now.AddDate(0, 0, -3), UpdatedAt: now.AddDate(0, 0, -3)}
					if dt.key == "globex" && gi == 2 {
						b.Status, b.RemoteID, b.Attempts = store.BillFailed, "", 3
						b.LastError = "POST account/bills: 502 Bad Gateway"
						runTotals.Failed++
					} else {
						runTotals.Submitted++
					}
					if err := tx.PutBill(b); err != nil {
						return err
					}
					sum.Bills++
				}
			}
		}
		if _, err := tx.PutBillingRun(store.BillingRun{Period: period, StartedAt: now.AddDate(0, 0, -3),
			FinishedAt: now.AddDate(0, 0, -3).Add(4 * time.Second), Submitted: runTotals.Submitted, Failed: runTotals.Failed}); err != nil {
			return err
		}
		if err := demoHistory(tx, &sum, now); err != nil {
			return err
		}
		return demoEvents(tx, &sum, now)
	})
	if err != nil {
		return DemoSummary{}, fmt.Errorf("seed demo data: %w", err)
	}
	return sum, nil
}

func demoIdmap(tx *store.Tx, sum *DemoSummary, c store.ConnectedObject) error {
	if _, err := tx.PutConnected(c); err != nil {
		return err
	}
	sum.IdmapRows++
	return nil
}

// demoInvoice writes one invoice in the sync state picked by n: synced,
// queued, failed (parked in the outbox) or pulled from Connec!.
func demoInvoice(tx *store.Tx, sum *DemoSummary, dt demoTenant, g store.Group, no *int, n int, now time.Time) error {
	id, err := tx.NextInvoiceID()
	if err != nil {
		return err
	}
	*no++
	hours := int64(2 + n%5)
	lines := []store.InvoiceLine{
		{Description: "Consulting, " + g.Name, Quantity: float64(hours), UnitPriceCents: 15000, TotalCents: hours * 15000},
		{Description: "Support plan", Quantity: 1, UnitPriceCents: 9900, TotalCents: 9900},
	}
	net := hours*15000 + 9900
	at := now.AddDate(0, 0, -n-2)
	inv := store.Invoice{ID: id, Tenant: dt.key, GroupUID: g.UID, Number: fmt.Sprintf("INV-%d", *no),
		Title: "Services " + at.Format("January 2006"), Status: "AUTHORISED", TransactionDate: at,
		DueDate: at.AddDate(0, 0, 30), Currency: dt.currency, Lines: lines, TotalCents: net + net/10, TaxCents: net / 10,
		CreatedAt: at, UpdatedAt: at}
	if err := tx.PutInvoice(inv); err != nil {
		return err
	}
	sum.Invoices++
	remote := fmt.Sprintf("8f1c%04d-2b7e-4c1d-9a60-%012d", *no, *no)
	row := store.ConnectedObject{Tenant: dt.key, GroupUID: g.UID, LocalKind: store.KindInvoice, LocalID: id,
		Provider: "connec", Entity: "invoices", RemoteID: remote, Name: inv.Number + " " + inv.Title,
		CreatedAt: at, UpdatedAt: at}
	item := store.OutboxItem{Tenant: dt.key, GroupUID: g.UID, Entity: "invoices", LocalKind: store.KindInvoice,
		LocalID: id, CreatedAt: at, UpdatedAt: at}
	switch n % 4 {
	case 0: // synced
		row.LastPushAt = at.Add(time.Minute)
		item.Status, item.Attempts = store.OutboxDone, 1
	case 1: // queued, not yet connected
		item.Status, item.NextAttemptAt = store.OutboxQueued, now.Add(2*time.Minute)
		row = store.ConnectedObject{}
	case 2: // parked as failed
		item.Status, item.Attempts = store.OutboxFailed, 8
		item.LastError = "POST /api/v2/" + g.UID + "/invoices: 422 Unprocessable Entity: currency not enabled for this organization"
		row = store.ConnectedObject{}
	case 3: // pulled from Connec!
		row.LastPullAt = at.Add(time.Hour)
		item = store.OutboxItem{}
	}
	if row.Tenant != "" {
		if err := demoIdmap(tx, sum, row); err != nil {
			return err
		}
	}
	if item.Tenant != "" {
		if _, err := tx.PutOutboxItem(item); err != nil {
			return err
		}
	}
	return nil
}

// demoPull writes the Connec! sync state of a group's invoices in the
// state picked by n: in step, retrying after an error, halfway, queued.
func demoPull(tx *store.Tx, g store.Group, n int, now time.Time) error {
	p := store.Pull{Tenant: g.Tenant, GroupUID: g.UID, Collection: "invoices", Status: store.PullIdle,
		LastPullAt: now.Add(-time.Duration(20+n*7) * time.Minute), UpdatedAt: now,
		Last: store.PullCounts{Pages: 1, Stored: 3 + n, Unchanged: 12, Linked: 1}}
	switch n % 4 {
	case 1:
		p.Status, p.Attempts, p.DueAt = store.PullQueued, 3, now.Add(4*time.Minute)
		p.LastError = "GET /api/v2/" + g.UID + "/invoices: 503 Service Unavailable"
	case 2:
		p.Cursor, p.Run = "$skip=100&$top=100", store.PullCounts{Pages: 2, Stored: 180, Unchanged: 20}
	case 3:
		p.Status, p.DueAt = store.PullQueued, now.Add(time.Minute)
	}
	return tx.PutPull(p)
}

// demoHistory writes a month of activity before today, so that the
// Overview has something to chart: acme steady, globex with failing
// pushes and refused sign-ins this last week, initech quiet since it was
// disabled two weeks ago. The counts vary by day but are the same on every
// run (no randomness).
func demoHistory(tx *store.Tx, sum *DemoSummary, now time.Time) error {
	today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	for ti, dt := range demoTenants {
		for ago := OverviewDays - 1; ago >= 1; ago-- {
			day := today.AddDate(0, 0, -ago)
			if dt.key == "initech" && ago < 14 {
				break
			}
			wave := (ago*7 + ti*5) % 6 // 0..5, uneven from day to day
			weekend := day.Weekday() == time.Saturday || day.Weekday() == time.Sunday
			signIns := 3 + wave + 2*len(dt.groups)
			if weekend {
				signIns /= 3
			}
			var evs []store.Event
			for i := range signIns {
				p := demoPeople[(i+ago+ti)%len(demoPeople)]
				evs = append(evs, store.Event{Kind: store.EventLogin, Outcome: "ok",
					Message: p[0] + " " + p[1] + " signed in to " + dt.groups[i%len(dt.groups)]})
			}
			for range 1 + wave%3 {
				evs = append(evs, store.Event{Kind: store.EventConnec, Outcome: "ok", Reason: "notification",
					Message: fmt.Sprintf("Connec! notification: %d stored, 0 skipped", 1+wave)})
			}
			if wave == 4 {
				evs = append(evs, store.Event{Kind: store.EventWebhook, Outcome: "ok", Reason: "member-removed",
					Message: "a member left " + dt.groups[ago%len(dt.groups)]})
			}
			if dt.key == "globex" && ago <= 6 {
				evs = append(evs,
					store.Event{Kind: store.EventLogin, Outcome: "failed", Reason: "audience_mismatch", Message: "SAML response for another audience"},
					store.Event{Kind: store.EventOutbox, Outcome: "failed", Message: "push of an invoice failed: 422 Unprocessable Entity"})
			}
			for i, e := range evs {
				e.Tenant = dt.key
				e.At = day.Add(8*time.Hour + time.Duration(i*37)*time.Minute)
				if _, err := tx.AppendEvent(e); err != nil {
					return err
				}
				sum.Events++
			}
		}
	}
	return nil
}

func demoEvents(tx *store.Tx, sum *DemoSummary, now time.Time) error {
	evs := []store.Event{
		{Tenant: "acme", Kind: store.EventLogin, Outcome: "ok", Message: "Olivia Nguyen signed in to Bluegum Bakery"},
		{Tenant: "acme", Kind: store.EventWebhook, Outcome: "ok", Message: "group cld-ac103 cancelled"},
		{Tenant: "globex", Kind: store.EventLogin, Outcome: "failed", Reason: "audience_mismatch", Message: "SAML response for another audience"},
		{Tenant: "globex", Kind: store.EventConnec, Outcome: "ok", Message: "notification: 3 invoices stored, 0 skipped"},
		{Tenant: "acme", Kind: store.EventOutbox, Outcome: "failed", Message: "invoice push parked after 8 tries"},
		{Tenant: "globex", Kind: store.EventBilling, Outcome: "failed", Message: "bill for cld-gl102 failed: 502 Bad Gateway"},
		{Tenant: "initech", Kind: store.EventError, Outcome: "failed", Reason: "tenant_disabled", Message: "request to a disabled tenant refused"},
		{Tenant: "acme", Kind: store.EventLogin, Outcome: "ok", Message: "Jack Williams signed in to Bluegum Bakery"},
	}
	for i, e := range evs {
		e.At = now.Add(time.Duration(i-len(evs)) * 7 * time.Minute)
		if _, err := tx.AppendEvent(e); err != nil {
			return err
		}
		sum.Events++
	}
	return nil
}

// demoCertificate makes a self-signed IdP certificate valid for days more.
func demoCertificate(key string, now time.Time, days int) (string, error) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", fmt.Errorf("demo certificate: %w", err)
	}
	tpl := &x509.Certificate{
		SerialNumber: big.NewInt(now.Unix()),
		Subject:      pkix.Name{CommonName: "idp." + key + ".example", Organization: []string{"Maestrano demo"}},
		NotBefore:    now.AddDate(-1, 0, 0),
		NotAfter:     now.AddDate(0, 0, days),
		KeyUsage:     x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, &priv.PublicKey, priv)
	if err != nil {
		return "", fmt.Errorf("demo certificate: %w", err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})), nil
}

// demoSecret is a fixed, obviously fake API key.
func demoSecret(key string) string { return "demo-" + key + "-k3y-not-a-real-secret" }

func slug(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		case r == ' ' && b.Len() > 0:
			b.WriteByte('-')
		}
	}
	return strings.Trim(b.String(), "-")
}
