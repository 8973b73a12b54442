package connec

import (
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tenantdesk/tenantdesk/store"
)

func openStore(tb testing.TB) *store.DB {
	tb.Helper()
	db, err := store.Open(filepath.Join(tb.TempDir(), "tenantdesk.db"), store.Options{NoSync: true})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = db.Close() })
	return db
}

var ingestNow = time.Date(2026, 4, 1, 12, 0, 0, 0, time.UTC)

func ingest(tb testing.TB, db *store.DB, body string) (Counts, error) {
	tb.Helper()
	var c Counts
	err := db.Update(func(tx *store.Tx) (err error) {
		c, err = Ingest(tx, testConfig(true), []byte(body), ingestNow)
		return err
	})
	return c, err
}

// Without external ids, ids are plain strings; everything else holds.
func TestIngestPlainIDs(t *testing.T) {
	db := openStore(t)
	body := `{"invoices":[{"id":"c-1","group_id":"cld-1","transaction_number":"INV-1","updated_at":"2026-01-01T00:00:00Z"}],
	          "tax_codes":[{"id":"c-2","group_id":"cld-1","name":"GST","updated_at":"2026-01-01T00:00:00Z"}],
	          "opportunities":null}`
	c, err := ingest(t, db, body)
	if err != nil || c.Stored != 2 || c.Skipped != 0 {
		t.Fatalf("first: %+v %v", c, err)
	}
	c, err = ingest(t, db, body)
	if err != nil || c.Stored != 0 || c.Skipped != 2 {
		t.Fatalf("second: %+v %v", c, err)
	}
	_ = db.View(func(tx *store.Tx) error {
		row, err := tx.ConnectedByRemote("acme", "c-2")
		if err != nil || row.Name != "GST" || row.Entity != "tax_codes" || row.LocalKind != store.KindRecord {
			t.Errorf("tax code row: %+v %v", row, err)
		}
		return nil
	})
}

// Apply may run again after a rolled-back attempt (group commit does
// that); the second run must do exactly what the first would have done.
func TestApplyIsRepeatable(t *testing.T) {
	db := openStore(t)
	body := `{"invoices":[{"id":"c-1","group_id":"cld-1","transaction_number":"INV-1","lines":[{"description":"x","quantity":1,"unit_price":{"net_amount":5}}]}],
	          "items":[{"id":"c-2","group_id":"cld-1","name":"Widget"}]}`
	n, err := ParseNotification(testConfig(true), []byte(body))
	if err != nil {
		t.Fatal(err)
	}
	errAgain := errors.New("roll back")
	var first, second Counts
	err = db.Update(func(tx *store.Tx) error {
		if first, err = n.Apply(tx, testConfig(true), ingestNow); err != nil {
			return err
		}
		return errAgain
	})
	if !errors.Is(err, errAgain) {
		t.Fatal(err)
	}
	if err := db.Update(func(tx *store.Tx) (err error) {
		second, err = n.Apply(tx, testConfig(true), ingestNow)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(first, second) || second.Stored != 2 {
		t.Fatalf("first run %+v, second run %+v", first, second)
	}
	_ = db.View(func(tx *store.Tx) error {
		invs, _ := tx.Invoices("acme")
		if len(invs) != 1 || invs[0].ID != "inv-000001" || len(invs[0].Lines) != 1 || invs[0].TotalCents != 500 {
			t.Errorf("invoices: %+v", invs)
		}
		return nil
	})
}

// Errors are about the body (ErrMalformed) and name the failing record.
func TestIngestErrorsNameTheRecord(t *testing.T) {
	db := openStore(t)
	_, err := ingest(t, db, `{"items":[{"id":"c-1","group_id":"cld-1"},{"id":"c-2"}]}`)
	if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "items[1]") || !strings.Contains(err.Error(), "group_id") {
		t.Fatalf("error %v", err)
	}
}

// FuzzIngest: any body either stores cleanly or is refused as malformed
// with nothing written; never a panic, never a store error caused by input.
// The pipelined IngestConcurrently must agree with Ingest on every body.
func FuzzIngest(f *testing.F) {
	for _, s := range []string{
		`{"invoices":[{"id":[{"id":"c-1","provider":"connec","realm":"org-1"},{"id":"inv-000001","provider":"app-acme","realm":"cld-1"}],"group_id":"cld-1","transaction_number":"INV-1","amount":{"total_amount":12.5,"tax_amount":"1.25"},"lines":[{"description":"x","quantity":2,"unit_price":{"net_amount":5.625},"total_price":{"net_amount":11.25}}],"updated_at":"2026-01-01T00:00:00Z"}]}`,
		`{"items":[{"id":"c-2","group_id":"cld-2","name":"Widget","updated_at":"2026-01-01T00:00:00Z"}],"company":{"id":"c-3","group_id":"cld-2"}}`,
		`{"people":[{"id":"c-4","group_id":"cld-1","first_name":"Jo"}],"people":[{"id":"c-4","group_id":"cld-1","first_name":"Jo"}]}`,
		`{"invoices":null}`,
		`{}`,
		`[]`,
		`{"invoices":[{"id":"c-1","group_id":"cld-1","invoice_lines":[{"quantity":1e308}]}]}`,
		`{"x":[{"id":"\u0000","group_id":"cld-1"}]}`,
	} {
		f.Add([]byte(s))
	}
	serial, piped := openStore(f), openStore(f)
	rows := func(db *store.DB) (n int) {
		_ = db.View(func(tx *store.Tx) (err error) {
			n, err = tx.CountConnected("acme", "")
			return err
		})
		return n
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		before := rows(serial)
		c, err := ingest(t, serial, string(body))
		after := rows(serial)
		var pc Counts
		perr := piped.Update(func(tx *store.Tx) (err error) {
			pc, err = IngestConcurrently(tx, testConfig(true), body, ingestNow)
			return err
		})
		if (err == nil) != (perr == nil) || !reflect.DeepEqual(c, pc) || rows(piped) != after {
			t.Fatalf("Ingest: %+v %v; IngestConcurrently: %+v %v", c, err, pc, perr)
		}
		if err != nil {
			if !errors.Is(err, ErrMalformed) || !errors.Is(perr, ErrMalformed) {
				t.Fatalf("input caused a non-input error: %v / %v", err, perr)
			}
			if after != before {
				t.Fatalf("refused body wrote %d rows", after-before)
			}
			return
		}
		if after < before || after-before > c.Stored+c.Skipped {
			t.Fatalf("counts %+v, rows %d → %d", c, before, after)
		}
	})
}

// When the store fails mid-way, the parser goroutine is stopped and the
// call returns the store's error (here: a read-only transaction).
func TestIngestConcurrentlyStopsOnStoreError(t *testing.T) {
	db := openStore(t)
	var sb strings.Builder
	sb.WriteString(`{"items":[`)
	for i := range 5000 {
		if i > 0 {
			sb.WriteByte(',')
		}
		sb.WriteString(`{"id":"c-` + itoa(i) + `","group_id":"cld-1"}`)
	}
	sb.WriteString(`]}`)
	err := db.View(func(tx *store.Tx) error {
		_, err := IngestConcurrently(tx, testConfig(true), []byte(sb.String()), ingestNow)
		return err
	})
	if err == nil || errors.Is(err, ErrMalformed) {
		t.Fatalf("want the store's error, got %v", err)
	}
}

func BenchmarkParseNotification10kInvoices(b *testing.B) {
	body := invoicesBody(0)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseNotification(testConfig(true), body); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkIngest10kInvoices compares parse-then-apply with the pipelined
// IngestConcurrently, in one committed transaction each (fsync on).
func BenchmarkIngest10kInvoices(b *testing.B) {
	for _, mode := range []string{"serial", "concurrent"} {
		b.Run(mode, func(b *testing.B) {
			db, err := store.Open(filepath.Join(b.TempDir(), "tenantdesk.db"), store.Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			for i := 0; i <= b.N; i++ { // round 0: warm-up
				b.StopTimer()
				body := invoicesBody(i)
				if i == 1 {
					b.ResetTimer()
				}
				b.StartTimer()
				err := db.Update(func(tx *store.Tx) error {
					var c Counts
					var err error
					if mode == "serial" {
						c, err = Ingest(tx, testConfig(true), body, ingestNow)
					} else {
						c, err = IngestConcurrently(tx, testConfig(true), body, ingestNow)
					}
					if err == nil && c.Stored != 10000 {
						err = fmt.Errorf("stored %d", c.Stored)
					}
					return err
				})
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// invoicesBody is a notification of 10,000 invoices with ids new to round.
func invoicesBody(round int) []byte {
	var sb strings.Builder
	sb.WriteString(`{"invoices":[`)
	for i := range 10000 {
		if i > 0 {
			sb.WriteByte(',')
		}
		sb.WriteString(`{"id":[{"id":"c-` + itoa(round) + "-" + itoa(i) + `","provider":"connec","realm":"org-1"}],"group_id":"cld-1","transaction_number":"INV","title":"T","status":"AUTHORISED","updated_at":"2026-01-10T00:00:00Z","amount":{"total_amount":110.0,"tax_amount":10.0,"currency":"AUD"},"lines":[{"description":"Hours","quantity":2,"unit_price":{"net_amount":50.0},"total_price":{"net_amount":100.0}}]}`)
	}
	sb.WriteString(`]}`)
	return []byte(sb.String())
}

func itoa(i int) string {
	const digits = "0123456789"
	if i < 10 {
		return digits[i : i+1]
	}
	return itoa(i/10) + digits[i%10:i%10+1]
}

// Records carrying our own triplet never become a second local invoice.
func TestEchoesMatchOurInvoice(t *testing.T) {
	db := openStore(t)
	var a, b, c string // three local invoices of cld-1
	if err := db.Update(func(tx *store.Tx) error {
		for _, id := range []*string{&a, &b, &c} {
			var err error
			if *id, err = tx.NextInvoiceID(); err != nil {
				return err
			}
			if err := tx.PutInvoice(store.Invoice{ID: *id, Tenant: "acme", GroupUID: "cld-1", Number: *id}); err != nil {
				return err
			}
		}
		// b is linked to c-B already; c's row has pull disabled.
		if _, err := tx.PutConnected(store.ConnectedObject{Tenant: "acme", GroupUID: "cld-1", LocalKind: store.KindInvoice,
			LocalID: b, Provider: ProviderConnec, Entity: EntityInvoices, RemoteID: "c-B"}); err != nil {
			return err
		}
		_, err := tx.PutConnected(store.ConnectedObject{Tenant: "acme", GroupUID: "cld-1", LocalKind: store.KindInvoice,
			LocalID: c, Provider: ProviderConnec, Entity: EntityInvoices, RemoteID: "c-C", PullDisabled: true})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	echo := func(local, connecID, number string) string {
		return `{"id":[{"id":"` + connecID + `","provider":"connec","realm":"org-1"},{"id":"` + local +
			`","provider":"app-acme","realm":"cld-1"}],"group_id":"cld-1","transaction_number":"` + number + `","updated_at":"2026-02-01T00:00:00Z"}`
	}
	counts, err := ingest(t, db, `{"invoices":[`+
		echo(a, "c-A", "A2")+","+ // no row yet: matched to a, row created
		echo(b, "c-X", "B2")+","+ // b is linked to another Connec! record: conflict, skipped
		echo(c, "c-C", "C2")+","+ // pull disabled: skipped
		echo("inv-999999", "c-Z", "Z")+ // our id naming nothing: a new invoice with an id of our sequence
		`]}`)
	if err != nil || counts.Stored != 2 || counts.Skipped != 2 {
		t.Fatalf("counts %+v, %v", counts, err)
	}
	_ = db.View(func(tx *store.Tx) error {
		invs, _ := tx.Invoices("acme")
		byID := map[string]store.Invoice{}
		for _, i := range invs {
			byID[i.ID] = i
		}
		if len(invs) != 4 || byID[a].Number != "A2" || byID[b].Number != b || byID[c].Number != c || byID["inv-000004"].Number != "Z" {
			t.Errorf("invoices after the echoes: %+v", invs)
		}
		row, err := tx.ConnectedByRemote("acme", "c-A")
		if err != nil || row.LocalID != a {
			t.Errorf("c-A row: %+v %v", row, err)
		}
		if _, err := tx.ConnectedByRemote("acme", "c-X"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("the conflicting record got a row: %v", err)
		}
		return nil
	})
}
