package connec

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/tenantdesk/tenantdesk/store"
)

// A JPY invoice (no minor unit) and a KWD one (three decimals) come in by
// notification, are stored in their own minor units, and go out again on
// a push with the very amounts Connec! sent: nothing rounded to hundredths.
func TestMinorUnitsRoundTripThroughNotificationStoreAndPush(t *testing.T) {
	for _, c := range []struct {
		currency              string
		unit, lineTotal       string // Connec!'s decimals
		tax, total            string
		unitMinor, totalMinor int64 // what the store must hold
		taxMinor, lineMinor   int64
	}{
		{"JPY", "4900", "9800", "980", "10780", 4900, 10780, 980, 9800},
		{"KWD", "1.234", "2.468", "0.247", "2.715", 1234, 2715, 247, 2468},
	} {
		t.Run(c.currency, func(t *testing.T) {
			e := newOutboxEnv(t)
			uuid := "e32303c1-" + c.currency
			body := fmt.Sprintf(`{"invoices":[{"id":[{"id":%q,"provider":"connec","realm":"org-1"}],"group_id":"cld-1",
				"transaction_number":"INV-%s","status":"AUTHORISED","currency":%q,"updated_at":"2026-11-20T00:00:00Z",
				"amount":{"tax_amount":%s,"total_amount":%s,"currency":%q},
				"lines":[{"description":"Widgets","quantity":2,"unit_price":{"net_amount":%s,"currency":%q},"total_price":{"net_amount":%s,"currency":%q}}]}]}`,
				uuid, c.currency, c.currency, c.tax, c.total, c.currency, c.unit, c.currency, c.lineTotal, c.currency)
			if err := e.db.Update(func(tx *store.Tx) error {
				_, err := Ingest(tx, e.cfg, []byte(body), e.clock.Now())
				return err
			}); err != nil {
				t.Fatal(err)
			}
			var inv store.Invoice
			if err := e.db.View(func(tx *store.Tx) error {
				row, err := tx.ConnectedByRemote("acme", uuid)
				if err != nil {
					return err
				}
				inv, err = tx.Invoice(row.LocalID)
				return err
			}); err != nil {
				t.Fatal(err)
			}
			if inv.Currency != c.currency || inv.TotalCents != c.totalMinor || inv.TaxCents != c.taxMinor ||
				len(inv.Lines) != 1 || inv.Lines[0].UnitPriceCents != c.unitMinor || inv.Lines[0].TotalCents != c.lineMinor {
				t.Fatalf("stored %s invoice %+v; want total %d, tax %d, unit %d, line %d minor units",
					c.currency, inv, c.totalMinor, c.taxMinor, c.unitMinor, c.lineMinor)
			}

			e.fake.records[uuid] = nil // Connec! holds the record: the push is a PUT
			if err := e.worker().PushInvoice(context.Background(), inv.ID); err != nil {
				t.Fatal(err)
			}
			sent := e.fake.sent()
			if len(sent) != 1 || sent[0].Method != "PUT" {
				t.Fatalf("requests %+v; want one PUT", sent)
			}
			var out struct {
				Amount struct {
					Tax   json.Number `json:"tax_amount"`
					Total json.Number `json:"total_amount"`
				}
				Lines []struct {
					UnitPrice  price `json:"unit_price"`
					TotalPrice price `json:"total_price"`
				}
			}
			raw := sent[0].Body["invoices"]
			if err := json.Unmarshal(raw, &out); err != nil {
				t.Fatal(err)
			}
			if out.Amount.Total != json.Number(c.total) || out.Amount.Tax != json.Number(c.tax) ||
				len(out.Lines) != 1 || out.Lines[0].UnitPrice.NetAmount != json.Number(c.unit) ||
				out.Lines[0].TotalPrice.NetAmount != json.Number(c.lineTotal) {
				t.Fatalf("pushed %s", raw)
			}
		})
	}
}
