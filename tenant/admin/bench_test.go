package admin

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/tenantdesk/tenantdesk/store"
)

// BenchmarkIdmapFirstPage compares the GUI's path to the first page of a
// tenant+entity filter (count, then a page through the facade) with the
// bare store query it wraps (the baseline), on 100,000 rows.
func BenchmarkIdmapFirstPage(b *testing.B) {
	db, err := store.Open(filepath.Join(b.TempDir(), "bench.db"), store.Options{NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	const rows = 100_000
	for done := 0; done < rows; done += 10_000 {
		err := db.Update(func(tx *store.Tx) error {
			for i := done; i < done+10_000; i++ {
				_, err := tx.PutConnected(store.ConnectedObject{Tenant: []string{"acme", "globex"}[i%2], LocalKind: store.KindRecord,
					LocalID: fmt.Sprint(i), Provider: "connec", Entity: []string{"users", "items", "invoices"}[i%3],
					RemoteID: fmt.Sprintf("r-%07d", i), Name: fmt.Sprintf("Record %07d", i), CreatedAt: time.Now()})
				if err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	s := New(db, Options{})
	f := IdmapFilter{Tenant: "globex", Entity: "items"}
	b.Run("baseline-store-query", func(b *testing.B) {
		for b.Loop() {
			_ = db.View(func(tx *store.Tx) error {
				_, _, err := tx.QueryConnected(store.IdmapQuery{Tenant: f.Tenant, Entity: f.Entity, Limit: 100})
				return err
			})
		}
	})
	b.Run("facade-count-and-page", func(b *testing.B) {
		for b.Loop() {
			if _, err := s.CountConnected(context.Background(), f); err != nil {
				b.Fatal(err)
			}
			if _, _, err := s.QueryConnected(f, "", 100); err != nil {
				b.Fatal(err)
			}
		}
	})
}
