package idmap

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/tenantdesk/tenantdesk/store"
)

// seed writes n rows for each of two tenants, alternating two entities.
func seed(t *testing.T, n int) *store.DB {
	t.Helper()
	db, err := store.Open(filepath.Join(t.TempDir(), "idmap.db"), store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	err = db.Update(func(tx *store.Tx) error {
		for _, ten := range []string{"acme", "globex"} {
			for i := range n {
				entity := []string{"invoices", "items"}[i%2]
				_, err := tx.PutConnected(store.ConnectedObject{
					Tenant: ten, GroupUID: "cld-1", LocalKind: store.KindRecord, LocalID: fmt.Sprintf("r-%d", i),
					Provider: "connec", Entity: entity, RemoteID: fmt.Sprintf("%s-%d", ten, i), Name: fmt.Sprintf("Row, \"%d\"", i),
				})
				if err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return db
}

func TestEachPagesThroughEveryMatchingRowOnce(t *testing.T) {
	n := PageSize*2 + 7 // several pages per tenant
	db := seed(t, n)
	seen := map[uint64]bool{}
	err := Each(StorePages(db, store.IdmapQuery{Tenant: "acme", Entity: "items"}), func(c store.ConnectedObject) error {
		if c.Tenant != "acme" || c.Entity != "items" {
			t.Fatalf("row outside the filter: %+v", c)
		}
		if seen[c.ID] {
			t.Fatalf("row %d twice", c.ID)
		}
		seen[c.ID] = true
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := n / 2; len(seen) != want {
		t.Fatalf("got %d rows, want %d", len(seen), want)
	}
}

func TestWriteCSVAndJSON(t *testing.T) {
	db := seed(t, 5)
	var buf bytes.Buffer
	if err := WriteCSV(&buf, StorePages(db, store.IdmapQuery{Tenant: "globex"})); err != nil {
		t.Fatal(err)
	}
	records, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatalf("CSV does not parse back: %v", err)
	}
	if len(records) != 6 || len(records[0]) != len(Columns) || records[0][0] != "id" {
		t.Fatalf("CSV: %d records, header %v", len(records), records[0])
	}
	if records[1][1] != "globex" || records[1][8] != `Row, "0"` {
		t.Fatalf("CSV row: %v", records[1])
	}

	buf.Reset()
	if err := WriteJSON(&buf, StorePages(db, store.IdmapQuery{})); err != nil {
		t.Fatal(err)
	}
	var rows []store.ConnectedObject
	if err := json.Unmarshal(buf.Bytes(), &rows); err != nil || len(rows) != 10 {
		t.Fatalf("JSON: %d rows, %v", len(rows), err)
	}
	buf.Reset()
	if err := WriteJSON(&buf, StorePages(db, store.IdmapQuery{Tenant: "nobody"})); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(buf.Bytes(), &rows); err != nil || len(rows) != 0 {
		t.Fatalf("empty JSON: %q %v", buf.String(), err)
	}
}

// A Connec! organization named like a formula, and an error that starts
// with "-", come out of the CSV as text a spreadsheet shows, not runs.
func TestWriteCSVNeutralizesFormulas(t *testing.T) {
	db := seed(t, 0)
	err := db.Update(func(tx *store.Tx) error {
		_, err := tx.PutConnected(store.ConnectedObject{Tenant: "acme", GroupUID: "cld-1", LocalKind: store.KindRecord, LocalID: "org-1",
			Provider: "connec", Entity: "organizations", RemoteID: "o-1", Name: `=HYPERLINK("http://x","y")`, LastError: "-1+cmd|' /C calc'!A0"})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := WriteCSV(&buf, StorePages(db, store.IdmapQuery{})); err != nil {
		t.Fatal(err)
	}
	records, err := csv.NewReader(&buf).ReadAll()
	if err != nil || len(records) != 2 {
		t.Fatalf("CSV: %v %v", records, err)
	}
	if name, lastErr := records[1][8], records[1][16]; name != `'=HYPERLINK("http://x","y")` || lastErr != "'-1+cmd|' /C calc'!A0" {
		t.Fatalf("name %q, last_error %q: want both with a leading '", name, lastErr)
	}
}
