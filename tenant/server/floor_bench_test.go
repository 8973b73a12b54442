package server_test

// schemaFloorPut is the second baseline of BenchmarkNotification10kInvoices:
// what bbolt alone costs for what a notification must store per invoice,
// with no HTTP, no parsing, no rules and no encoding. Per record it does
// the same operations in one transaction, with keys of the store's shapes
// and values of the stored encodings' sizes (json.Marshal of the very
// values ingest writes):
//
//   - 3 look-ups that find nothing (the rules' look-up by Connec! id, and
//     the identity map's two uniqueness checks), 1 read of the invoice id;
//   - the invoice and its by-tenant index entry;
//   - the identity-map row and its 7 index entries;
//   - the pending link back.
//
// That is 11 puts and 4 reads where the raw put does 1 put: the ratio of
// the notification to this floor is what our code adds to bbolt.

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/tenantdesk/tenantdesk/store"
)

var floorBuckets = []string{"invoices", "invoices-tenant", "idmap", "idmap-entity", "idmap-entity-only", "idmap-remote",
	"idmap-local", "idmap-name", "idmap-tenant-name", "idmap-group", "pull-links"}

func schemaFloorPut(b *testing.B, db *bbolt.DB, round int, recs []string) time.Duration {
	at := time.Date(2026, 1, 10, 0, 0, 0, 0, time.UTC)
	type put struct {
		bucket int
		k, v   []byte
	}
	// Prepared outside the timed transaction: the floor is bbolt's part.
	var ops []put
	var seeks [][]byte
	join := func(parts ...string) []byte { return []byte(strings.Join(parts, "\x00")) }
	withID := func(k []byte, id uint64) []byte { return binary.BigEndian.AppendUint64(append(k, 0), id) }
	for j := range recs {
		id := uint64(round*len(recs) + j + 1)
		invID, group := fmt.Sprintf("inv-%d-%05d", round, j), fmt.Sprintf("cld-%d", j%100)
		connecID, name := fmt.Sprintf("c-%d-%05d", round, j), strings.ToLower(fmt.Sprintf("INV-%d-%05d", round, j))
		inv, _ := json.Marshal(store.Invoice{ID: invID, Tenant: "acme", GroupUID: group, Number: name, Title: "Consulting",
			Status: "AUTHORISED", TransactionDate: at, DueDate: at, Currency: "AUD", TotalCents: 11000, TaxCents: 1000,
			Lines: []store.InvoiceLine{{Description: "Hours", Quantity: 2, UnitPriceCents: 5000, TotalCents: 10000}}, CreatedAt: at, UpdatedAt: at})
		row, _ := json.Marshal(store.ConnectedObject{ID: id, Tenant: "acme", GroupUID: group, LocalKind: store.KindInvoice, LocalID: invID,
			Provider: "connec", Entity: "invoices", RemoteID: connecID, Name: name, CreatedAt: at, UpdatedAt: at, LastPullAt: at})
		link, _ := json.Marshal(store.PendingLink{Tenant: "acme", GroupUID: group, Collection: "invoices", ConnecID: connecID, LocalID: invID, RowID: id})
		seeks = append(seeks, join("acme", connecID, ""), join("acme", connecID, ""), join("acme", store.KindInvoice, invID, ""), []byte(invID))
		ops = append(ops,
			put{0, []byte(invID), append([]byte{1}, inv...)}, put{1, join("acme", invID), nil},
			put{2, binary.BigEndian.AppendUint64(nil, id), append([]byte{1}, row...)},
			put{3, withID(join("acme", "invoices"), id), nil}, put{4, withID(join("invoices"), id), nil},
			put{5, withID(join("acme", connecID), id), nil}, put{6, withID(join("acme", store.KindInvoice, invID), id), nil},
			put{7, withID(join(name, "acme", "invoices"), id), nil}, put{8, withID(join("acme", name, "invoices"), id), nil},
			put{9, withID(join("acme", group), id), nil},
			put{10, join("acme", group, "invoices", connecID), append([]byte{1}, link...)})
	}
	start := time.Now()
	err := db.Update(func(tx *bbolt.Tx) error {
		bks := make([]*bbolt.Bucket, len(floorBuckets))
		for i, name := range floorBuckets {
			var err error
			if bks[i], err = tx.CreateBucketIfNotExists([]byte(name)); err != nil {
				return err
			}
		}
		for j := range recs {
			for k, s := range seeks[4*j : 4*j+4] {
				if k < 3 {
					bks[[]int{5, 5, 6}[k]].Cursor().Seek(s)
				} else {
					bks[0].Get(s)
				}
			}
			for _, op := range ops[11*j : 11*j+11] {
				if err := bks[op.bucket].Put(op.k, op.v); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	return time.Since(start)
}
