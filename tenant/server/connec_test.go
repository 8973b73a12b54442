package server_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/tenantdesk/tenantdesk/store"
	"github.com/tenantdesk/tenantdesk/tenant"
)

// inv is a Connec! invoice record with external ids (the Connec! triplet only).
func inv(connecID, group, updatedAt, number string) string {
	return fmt.Sprintf(`{"id":[{"id":%q,"provider":"connec","realm":"org-1"}],"group_id":%q,"channel_id":"org-1",`+
		`"resource_type":"invoices","transaction_number":%q,"title":"Consulting","status":"AUTHORISED","type":"CUSTOMER",`+
		`"transaction_date":"2026-01-05T00:00:00Z","due_date":"2026-02-05T00:00:00Z","updated_at":%q,`+
		`"amount":{"total_amount":110.0,"tax_amount":10.0,"currency":"AUD"},`+
		`"lines":[{"description":"Hours","quantity":2,"unit_price":{"net_amount":50.0,"currency":"AUD"},"total_price":{"net_amount":100.0,"currency":"AUD"}}]}`,
		connecID, group, number, updatedAt)
}

func record(connecID, group, updatedAt, name string) string {
	return fmt.Sprintf(`{"id":%q,"group_id":%q,"name":%q,"updated_at":%q}`, connecID, group, name, updatedAt)
}

// notification builds a body from collection and record pairs.
func notification(invoices ...string) string {
	return `{"invoices":[` + strings.Join(invoices, ",") + `]}`
}

func (e *env) receive(c tenant.Config, body string) response {
	e.t.Helper()
	cr := creds(c)
	return e.do("POST", tenant.RouteConnecReceive.Path(c.Key), &cr, strings.NewReader(body))
}

func counts(t *testing.T, res response) (stored, skipped int) {
	t.Helper()
	if res.status != http.StatusOK {
		t.Fatalf("receive: %d %s", res.status, res.body)
	}
	var c struct{ Stored, Skipped int }
	if err := json.Unmarshal(res.body, &c); err != nil {
		t.Fatal(err)
	}
	return c.Stored, c.Skipped
}

func TestNotificationMixingGroupsAndCollections(t *testing.T) {
	acme := tenantCfg(t, "acme")
	e := newEnv(t, acme, tenantCfg(t, "globex"))
	body := `{
	  "invoices": [` + inv("c-inv-1", "cld-1", "2026-01-10T00:00:00Z", "INV-1") + `,` + inv("c-inv-2", "cld-2", "2026-01-10T00:00:00Z", "INV-2") + `],
	  "items": [` + record("c-item-1", "cld-1", "2026-01-10T00:00:00Z", "Widget") + `],
	  "people": [{"id":"c-person-1","group_id":"cld-2","first_name":"Jane","last_name":"Doe","updated_at":"2026-01-10T00:00:00Z"}],
	  "company": {"id":"c-company-1","group_id":"cld-1","name":"DoeCorp","updated_at":"2026-01-10T00:00:00Z"}
	}`
	res := e.receive(acme, body)
	stored, skipped := counts(t, res)
	if stored != 5 || skipped != 0 {
		t.Fatalf("stored %d skipped %d, want 5 and 0: %s", stored, skipped, res.body)
	}
	cols := res.json(t)["collections"].(map[string]any)
	if cols["invoices"].(map[string]any)["stored"] != 2.0 || cols["people"].(map[string]any)["stored"] != 1.0 {
		t.Errorf("per-collection counts: %s", res.body)
	}
	e.view(func(tx *store.Tx) error {
		invs, err := tx.Invoices("acme")
		if err != nil {
			return err
		}
		if len(invs) != 2 {
			t.Fatalf("%d invoices, want 2", len(invs))
		}
		byGroup := map[string]store.Invoice{}
		for _, i := range invs {
			byGroup[i.GroupUID] = i
		}
		i1 := byGroup["cld-1"]
		if i1.Number != "INV-1" || i1.TotalCents != 11000 || i1.TaxCents != 1000 || i1.Currency != "AUD" ||
			len(i1.Lines) != 1 || i1.Lines[0].UnitPriceCents != 5000 || i1.Lines[0].TotalCents != 10000 || i1.Lines[0].Quantity != 2 {
			t.Errorf("invoice of cld-1 mapped wrongly: %+v", i1)
		}
		if byGroup["cld-2"].Number != "INV-2" {
			t.Errorf("invoice of cld-2: %+v", byGroup["cld-2"])
		}
		row, err := tx.ConnectedByRemote("acme", "c-inv-1")
		if err != nil || row.LocalKind != store.KindInvoice || row.LocalID != i1.ID || row.GroupUID != "cld-1" ||
			row.Entity != "invoices" || row.Provider != "connec" || row.LastPullAt.IsZero() {
			t.Errorf("identity row of c-inv-1: %+v %v", row, err)
		}
		rec, err := tx.Record("acme", "people", "c-person-1")
		if err != nil || rec.GroupUID != "cld-2" {
			t.Errorf("person record: %+v %v", rec, err)
		}
		row, err = tx.ConnectedByRemote("acme", "c-person-1")
		if err != nil || row.LocalKind != store.KindRecord || row.Entity != "people" || row.Name != "Jane Doe" {
			t.Errorf("identity row of the person: %+v %v", row, err)
		}
		if _, err := tx.Record("acme", "company", "c-company-1"); err != nil {
			t.Errorf("singleton company record: %v", err)
		}
		for _, other := range []string{"globex"} {
			if n, _ := tx.CountConnected(other, ""); n != 0 {
				t.Errorf("tenant %s got %d rows", other, n)
			}
		}
		n, err := tx.CountConnected("acme", "")
		if n != 5 {
			t.Errorf("%d identity rows, want 5", n)
		}
		return err
	})
	evs := e.events()
	if len(evs) == 0 || evs[0].Kind != store.EventConnec {
		t.Errorf("no connec event: %+v", evs)
	}
}

func TestNotificationTwiceAndOlderVersions(t *testing.T) {
	acme := tenantCfg(t, "acme")
	e := newEnv(t, acme)
	body := `{"invoices":[` + inv("c-1", "cld-1", "2026-01-10T00:00:00Z", "INV-1") + `],"items":[` +
		record("c-2", "cld-1", "2026-01-10T00:00:00Z", "Widget") + `]}`
	if stored, _ := counts(t, e.receive(acme, body)); stored != 2 {
		t.Fatalf("first delivery stored %d", stored)
	}
	before := e.snapshotData()
	if stored, skipped := counts(t, e.receive(acme, body)); stored != 0 || skipped != 2 {
		t.Fatalf("second delivery: stored %d skipped %d", stored, skipped)
	}
	older := `{"invoices":[` + inv("c-1", "cld-1", "2026-01-09T00:00:00Z", "INV-OLD") + `],"items":[` +
		record("c-2", "cld-1", "2026-01-09T00:00:00Z", "Old widget") + `]}`
	if stored, skipped := counts(t, e.receive(acme, older)); stored != 0 || skipped != 2 {
		t.Fatalf("older versions: stored %d skipped %d", stored, skipped)
	}
	if e.snapshotData() != before {
		t.Fatal("a repeated or older record changed data")
	}
	newer := `{"invoices":[` + inv("c-1", "cld-1", "2026-01-11T00:00:00Z", "INV-1b") + `],"items":[` +
		record("c-2", "cld-1", "2026-01-11T00:00:00Z", "New widget") + `]}`
	if stored, _ := counts(t, e.receive(acme, newer)); stored != 2 {
		t.Fatalf("newer versions stored %d", stored)
	}
	e.view(func(tx *store.Tx) error {
		invs, _ := tx.Invoices("acme")
		if len(invs) != 1 || invs[0].Number != "INV-1b" {
			t.Errorf("after the newer version: %+v", invs)
		}
		if n, _ := tx.CountConnected("acme", ""); n != 2 {
			t.Errorf("%d identity rows, want 2", n)
		}
		rec, _ := tx.Record("acme", "items", "c-2")
		if !strings.Contains(string(rec.Data), "New widget") {
			t.Errorf("record not updated: %s", rec.Data)
		}
		return nil
	})
}

// snapshotData is snapshot plus Connec! records.
func (e *env) snapshotData() string {
	s := e.snapshot()
	e.view(func(tx *store.Tx) error {
		rows, _, err := tx.QueryConnected(store.IdmapQuery{Limit: 100000})
		for _, r := range rows {
			if r.LocalKind == store.KindRecord {
				rec, err := tx.Record(r.Tenant, r.Entity, r.RemoteID)
				if err != nil {
					return err
				}
				s += string(rec.Data) + rec.UpdatedAt.String()
			}
		}
		return err
	})
	return s
}

func TestEchoOfOurPushIsNotDuplicated(t *testing.T) {
	acme := tenantCfg(t, "acme")
	e := newEnv(t, acme)
	// A local invoice that the outbox pushed: its identity row has no
	// Connec! id yet (the push answer has not been processed).
	e.update(func(tx *store.Tx) error {
		id, err := tx.NextInvoiceID()
		if err != nil || id != "inv-000001" {
			t.Fatalf("first invoice id %q %v", id, err)
		}
		if err := tx.PutInvoice(store.Invoice{ID: id, Tenant: "acme", GroupUID: "cld-1", Number: "INV-1", Title: "Consulting",
			Status: "AUTHORISED", Currency: "AUD", TotalCents: 11000, TaxCents: 1000,
			Lines: []store.InvoiceLine{{Description: "Hours", Quantity: 2, UnitPriceCents: 5000, TotalCents: 10000}}}); err != nil {
			return err
		}
		_, err = tx.PutConnected(store.ConnectedObject{Tenant: "acme", GroupUID: "cld-1", LocalKind: store.KindInvoice,
			LocalID: id, Provider: "connec", Entity: "invoices", Name: "INV-1"})
		return err
	})
	echo := strings.Replace(inv("c-echo", "cld-1", "2026-01-10T00:00:00Z", "INV-1"),
		`"id":[`, `"id":[{"id":"inv-000001","provider":"app-acme","realm":"cld-1"},`, 1)
	counts(t, e.receive(acme, notification(echo)))
	// A foreign triplet with our id but another realm is not ours.
	foreign := strings.Replace(inv("c-other", "cld-1", "2026-01-10T00:00:00Z", "INV-9"),
		`"id":[`, `"id":[{"id":"inv-000001","provider":"app-acme","realm":"cld-999"},`, 1)
	counts(t, e.receive(acme, notification(foreign)))

	e.view(func(tx *store.Tx) error {
		invs, _ := tx.Invoices("acme")
		if len(invs) != 2 {
			t.Fatalf("%d invoices, want 2 (the echo matched, the foreign one new): %+v", len(invs), invs)
		}
		row, err := tx.ConnectedByLocal("acme", store.KindInvoice, "inv-000001")
		if err != nil || row.RemoteID != "c-echo" {
			t.Errorf("echo did not link the Connec! id: %+v %v", row, err)
		}
		if n, _ := tx.CountConnected("acme", "invoices"); n != 2 {
			t.Errorf("%d invoice rows, want 2", n)
		}
		return nil
	})
}

func TestNotificationForCancelledGroupIsSkipped(t *testing.T) {
	acme := tenantCfg(t, "acme")
	e := newEnv(t, acme)
	c := creds(acme)
	e.seedGroup("acme", "cld-1", "usr-1")
	wantSuccess(t, e.do("DELETE", groupPath(acme.Key, "cld-1"), &c, nil))
	body := notification(inv("c-1", "cld-1", "2026-01-10T00:00:00Z", "INV-1"), inv("c-2", "cld-2", "2026-01-10T00:00:00Z", "INV-2"))
	if stored, skipped := counts(t, e.receive(acme, body)); stored != 1 || skipped != 1 {
		t.Fatalf("stored %d skipped %d, want 1 and 1", stored, skipped)
	}
}

func TestMalformedNotificationWritesNothing(t *testing.T) {
	acme := tenantCfg(t, "acme")
	e := newEnv(t, acme)
	good := inv("c-1", "cld-1", "2026-01-10T00:00:00Z", "INV-1")
	for name, body := range map[string]string{
		"not JSON":             `{"invoices":[`,
		"array at top":         `[` + good + `]`,
		"trailing data":        notification(good) + `{}`,
		"record not an object": `{"invoices":[` + good + `, 42]}`,
		"no id":                `{"items":[{"group_id":"cld-1","name":"x"}]}`,
		"no group_id":          `{"items":[{"id":"c-9","name":"x"}]}`,
		"bad group_id":         `{"items":[{"id":"c-9","group_id":"cld/../1"}]}`,
		"only our triplet":     `{"items":[{"id":[{"id":"x","provider":"app-acme","realm":"cld-1"}],"group_id":"cld-1"}]}`,
		"bad amount":           `{"invoices":[` + good + `,` + strings.Replace(good, `"total_amount":110.0`, `"total_amount":"lots"`, 1) + `]}`,
		"huge amount":          `{"invoices":[` + strings.Replace(good, `"total_amount":110.0`, `"total_amount":1e30`, 1) + `]}`,
		"bad date":             `{"invoices":[` + strings.Replace(good, `"2026-01-10T00:00:00Z"`, `"yesterday"`, 1) + `]}`,
		"bad collection":       `{"In Voices":[` + good + `]}`,
		"collection a string":  `{"invoices":"all of them"}`,
	} {
		res := e.receive(acme, body)
		if res.status != http.StatusBadRequest || res.json(t)["error"] == nil {
			t.Errorf("%s: %d %s", name, res.status, res.body)
		}
	}
	e.view(func(tx *store.Tx) error {
		invs, _ := tx.Invoices("")
		n, _ := tx.CountConnected("", "")
		if len(invs) != 0 || n != 0 {
			t.Errorf("malformed notifications wrote %d invoices and %d rows", len(invs), n)
		}
		return nil
	})
}

// Bodies over 64 KiB are written while they are parsed; a malformed last
// record must still leave nothing behind.
func TestBigNotification(t *testing.T) {
	acme := tenantCfg(t, "acme")
	e := newEnv(t, acme)
	var recs []string
	for i := range 300 {
		recs = append(recs, inv(fmt.Sprintf("c-%d", i), fmt.Sprintf("cld-%d", i%7), "2026-01-10T00:00:00Z", fmt.Sprintf("INV-%d", i)))
	}
	bad := notification(append(recs[:299:299], `{"id":"c-bad","group_id":"cld-1","amount":{"total_amount":"lots"}}`)...)
	if len(bad) <= 64<<10 {
		t.Fatalf("body of %d bytes is not big", len(bad))
	}
	res := e.receive(acme, bad)
	if res.status != http.StatusBadRequest || !strings.Contains(res.json(t)["error"].(string), "invoices[299]") {
		t.Fatalf("malformed big body: %d %s", res.status, res.body)
	}
	e.view(func(tx *store.Tx) error {
		invs, _ := tx.Invoices("")
		n, _ := tx.CountConnected("", "")
		if len(invs) != 0 || n != 0 {
			t.Errorf("a refused big body left %d invoices and %d rows", len(invs), n)
		}
		return nil
	})
	if stored, skipped := counts(t, e.receive(acme, notification(recs...))); stored != 300 || skipped != 0 {
		t.Fatalf("big body: stored %d skipped %d", stored, skipped)
	}
	if stored, skipped := counts(t, e.receive(acme, notification(recs...))); stored != 0 || skipped != 300 {
		t.Fatalf("big body again: stored %d skipped %d", stored, skipped)
	}
}
