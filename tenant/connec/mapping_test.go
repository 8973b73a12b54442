package connec

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tenantdesk/tenantdesk/store"
	"github.com/tenantdesk/tenantdesk/tenant"
)

func testConfig(externalIDs bool) *tenant.Config {
	return &tenant.Config{Key: "acme", Enabled: true, API: tenant.API{ID: "app-acme", Key: "k"},
		Connec: tenant.Connec{ExternalIDs: &externalIDs}}
}

func sampleLocalInvoice() store.Invoice {
	return store.Invoice{
		ID: "inv-000007", Tenant: "acme", GroupUID: "cld-1",
		Number: "INV-7", Title: "March hours", Status: "AUTHORISED",
		TransactionDate: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC),
		DueDate:         time.Date(2026, 3, 31, 0, 0, 0, 0, time.UTC),
		Currency:        "AUD",
		Lines: []store.InvoiceLine{
			{Description: "Consulting", Quantity: 3, UnitPriceCents: 12050, TotalCents: 36150},
			{Description: "Credit", Quantity: 1, UnitPriceCents: -1005, TotalCents: -1005},
		},
		TotalCents: 38660, TaxCents: 3515,
	}
}

// What we push comes back, through Connec!, as the same invoice.
func TestInvoiceRoundTrip(t *testing.T) {
	cfg := testConfig(true)
	local := sampleLocalInvoice()
	rec := InvoiceToConnec(local, cfg, "")
	// Connec! adds its own fields to what it stores.
	rec["group_id"] = "cld-1"
	rec["updated_at"] = "2026-03-02T10:00:00Z"
	rec["id"] = append(rec["id"].([]Ref), Ref{ID: "c-uuid", Provider: ProviderConnec, Realm: "org-1"})
	raw, err := json.Marshal(map[string]any{"invoices": rec})
	if err != nil {
		t.Fatal(err)
	}
	body, err := Unwrap(raw, "invoices")
	if err != nil {
		t.Fatal(err)
	}
	got, err := InvoiceFromConnec("acme", "cld-1", body)
	if err != nil {
		t.Fatal(err)
	}
	want := local
	want.ID = "" // the caller decides which local invoice it is
	want.UpdatedAt = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", got, want)
	}
	h, err := DecodeHeader(body)
	if err != nil {
		t.Fatal(err)
	}
	if h.IDs.Connec() != "c-uuid" || h.IDs.Ours(cfg, "cld-1") != local.ID || h.IDs.Ours(cfg, "cld-2") != "" {
		t.Errorf("ids: %+v", h.IDs)
	}
}

func TestInvoiceToConnecShape(t *testing.T) {
	local := sampleLocalInvoice()
	rec := InvoiceToConnec(local, testConfig(true), "c-uuid")
	b, _ := json.Marshal(rec)
	s := string(b)
	for _, want := range []string{
		`"id":[{"id":"inv-000007","provider":"app-acme","realm":"cld-1"}]`,
		`"transaction_number":"INV-7"`,
		`"amount":{"currency":"AUD","net_amount":351.45,"tax_amount":35.15,"total_amount":386.60}`,
		`"unit_price":{"currency":"AUD","net_amount":-10.05}`,
		`"opts":{"sparse":false}`,
		`"transaction_date":"2026-03-01T00:00:00Z"`,
	} {
		if !strings.Contains(s, want) {
			t.Errorf("body lacks %s:\n%s", want, s)
		}
	}
	if strings.Contains(s, "c-uuid") {
		t.Error("the Connec! id belongs in the PUT URL, not the body")
	}
	if _, ok := InvoiceToConnec(local, testConfig(false), "")["id"]; ok {
		t.Error("without external ids a POST must not carry an id (Connec! answers 409)")
	}
	local.Status = ""
	if got := InvoiceToConnec(local, testConfig(true), "")["status"]; got != "DRAFT" {
		t.Errorf("empty status pushed as %v", got)
	}
}

func TestInvoiceFromConnecVariants(t *testing.T) {
	tests := []struct {
		name string
		rec  string
		want func(*store.Invoice)
	}{
		{"older invoice_lines spelling, totals from lines",
			`{"code":"INV9","invoice_lines":[{"description":"a","quantity":2,"unit_price":{"total_amount":"1.50","currency":"nzd"}}]}`,
			func(i *store.Invoice) {
				i.Number, i.Currency, i.TotalCents = "INV9", "NZD", 300
				i.Lines = []store.InvoiceLine{{Description: "a", Quantity: 2, UnitPriceCents: 150, TotalCents: 300}}
			}},
		{"net amount plus tax",
			`{"transaction_number":"X","amount":{"net_amount":10,"tax_amount":1.5}}`,
			func(i *store.Invoice) { i.Number, i.TotalCents, i.TaxCents = "X", 1150, 150 }},
		{"plain dates",
			`{"transaction_date":"2026-01-02","due_date":"2026-01-31T00:00:00"}`,
			func(i *store.Invoice) {
				i.TransactionDate = time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)
				i.DueDate = time.Date(2026, 1, 31, 0, 0, 0, 0, time.UTC)
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := InvoiceFromConnec("acme", "cld-1", json.RawMessage(tc.rec))
			if err != nil {
				t.Fatal(err)
			}
			want := store.Invoice{Tenant: "acme", GroupUID: "cld-1", Lines: []store.InvoiceLine{}}
			tc.want(&want)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("\n got %+v\nwant %+v", got, want)
			}
		})
	}
	for _, bad := range []string{
		`{"amount":{"total_amount":"ten"}}`,
		`{"amount":{"total_amount":1e300}}`,
		`{"lines":[{"quantity":"many"}]}`,
		`{"due_date":"next week"}`,
		`[]`,
	} {
		if _, err := InvoiceFromConnec("acme", "cld-1", json.RawMessage(bad)); err == nil {
			t.Errorf("%s: accepted", bad)
		}
	}
}
