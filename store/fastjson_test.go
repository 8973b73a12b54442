package store

import (
	"bytes"
	"encoding/json"
	"math"
	"testing"
	"time"
)

func sameAsEncodingJSON(t *testing.T, v any) {
	t.Helper()
	want, werr := json.Marshal(v)
	got, ok := appendFastJSON(nil, v)
	switch {
	case !ok && werr == nil:
		t.Fatalf("fast path left %+v to json.Marshal, which writes it", v)
	case ok && werr != nil:
		t.Fatalf("fast path wrote %s where json.Marshal refuses: %v", got, werr)
	case ok && !bytes.Equal(got, want):
		t.Fatalf("fast path differs from json.Marshal:\n fast %s\n json %s", got, want)
	}
}

func TestFastJSONIsEncodingJSON(t *testing.T) {
	at := time.Date(2026, 11, 26, 9, 0, 0, 123456789, time.UTC)
	sydney := time.FixedZone("AEDT", 11*3600+30) // seconds of offset are dropped, as json.Marshal drops them
	weird := "Ünïcode <b>&amp;</b> \"quoted\" \\ back\tslash\n\r\b\f\x01\x1f\x7f \u2028\u2029 \xff bad utf8 😀"
	for _, v := range []any{
		Invoice{}, ConnectedObject{}, PendingLink{},
		Invoice{ID: "inv-000001", Tenant: "acme", GroupUID: "cld-1", Number: "INV-1", Title: weird, Status: "DRAFT",
			TransactionDate: at, DueDate: at.In(sydney), Currency: "JPY", TotalCents: -4900, TaxCents: math.MaxInt64,
			Lines: []InvoiceLine{{Description: weird, Quantity: 2.5, UnitPriceCents: 1250, TotalCents: math.MinInt64},
				{Quantity: 1e-7}, {Quantity: 1e21}, {Quantity: -0.000001}, {Quantity: 123456789.125}, {Quantity: 0}},
			CreatedAt: at, UpdatedAt: at},
		Invoice{Lines: []InvoiceLine{}},
		ConnectedObject{ID: math.MaxUint64, Tenant: "acme", GroupUID: "cld-1", LocalKind: KindInvoice, LocalID: "inv-1",
			Provider: "connec", Entity: "invoices", RemoteID: "c-1", Name: weird, CreatedAt: at, UpdatedAt: at,
			LastPushAt: at, LastPullAt: at.In(sydney), LinkedAt: at, PushDisabled: true, PullDisabled: true,
			LastError: weird, Inactive: true},
		PendingLink{Tenant: "acme", GroupUID: "cld-1", Collection: "invoices", ConnecID: weird, LocalID: "inv-1", RowID: 7},
	} {
		sameAsEncodingJSON(t, v)
	}
	// What json.Marshal refuses, the fast path leaves to it.
	for _, v := range []any{
		Invoice{Lines: []InvoiceLine{{Quantity: math.NaN()}}},
		Invoice{CreatedAt: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)},
		ConnectedObject{UpdatedAt: time.Date(2026, 1, 1, 0, 0, 0, 0, time.FixedZone("odd", 24*3600))},
	} {
		if _, ok := appendFastJSON(nil, v); ok {
			t.Errorf("fast path wrote %+v", v)
		}
	}
	// And what it writes reads back as the same value.
	row := ConnectedObject{ID: 3, Tenant: "acme", Name: weird, CreatedAt: at, LinkedAt: at}
	val, err := encodeValue(row)
	if err != nil {
		t.Fatal(err)
	}
	var back ConnectedObject
	if err := decodeValue(val, &back); err != nil || back.ID != 3 || !back.LinkedAt.Equal(at) {
		t.Fatalf("read back %+v, %v", back, err)
	}
}

// Any strings, amounts, quantities and times: the fast path writes what
// json.Marshal writes, or leaves the value to it.
func FuzzFastJSON(f *testing.F) {
	f.Add("acme", "INV-1 <&>", "\xff\u2028", int64(1999), 2.5, int64(1_700_000_000), int32(0))
	f.Add("", "", "", int64(math.MinInt64), 1e-7, int64(-62135596800), int32(3600))
	f.Fuzz(func(t *testing.T, a, b, c string, n int64, q float64, unix int64, offset int32) {
		at := time.Unix(unix, n%1_000_000_000).In(time.FixedZone("z", int(offset%(2*86400))))
		sameAsEncodingJSON(t, Invoice{ID: a, Tenant: b, Title: c, Currency: a, TotalCents: n, TransactionDate: at, CreatedAt: at,
			Lines: []InvoiceLine{{Description: c, Quantity: q, UnitPriceCents: n, TotalCents: -n}}})
		sameAsEncodingJSON(t, ConnectedObject{ID: uint64(n), Name: c, RemoteID: b, LastError: a, UpdatedAt: at, LinkedAt: at, Inactive: n%2 == 0})
		sameAsEncodingJSON(t, PendingLink{Tenant: a, ConnecID: c, RowID: uint64(n)})
	})
}
