package store

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"go.etcd.io/bbolt"
)

// SPEC §11: the identity map at 1,000,000 rows answers the first page of a
// tenant+entity query in ≤ 5 ms and a lookup by remote id in ≤ 50 µs. Each
// benchmark has a raw-bbolt baseline in the same run.
//
// The million-row file is built once (about half a minute on 2 cores) and
// cached in os.TempDir under a name that changes with the layout, so that
// repeated runs start at once.

const (
	benchRows     = 1_000_000
	benchTenants  = 10
	benchPerTx    = 100_000
	benchFileName = "tenantdesk-bench-idmap-v3"
)

var benchEntities = []string{"invoices", "people", "items", "organizations", "payments"}

func benchTenant(i int) string { return fmt.Sprintf("tenant-%02d", i%benchTenants) }
func benchEntity(i int) string { return benchEntities[(i/benchTenants)%len(benchEntities)] }

// benchRemoteID is a Connec!-like uuid, deterministic so that benchmarks
// can look rows up without a scan.
func benchRemoteID(i int) string {
	sum := sha256.Sum256([]byte(fmt.Sprint(i)))
	h := hex.EncodeToString(sum[:16])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

func benchRow(i int, at time.Time) ConnectedObject {
	return ConnectedObject{
		Tenant:    benchTenant(i),
		GroupUID:  fmt.Sprintf("cld-%d", i%5000),
		LocalKind: KindRecord,
		LocalID:   fmt.Sprintf("rec-%07d", i),
		Provider:  "tenantdesk",
		Entity:    benchEntity(i),
		RemoteID:  benchRemoteID(i),
		Name:      fmt.Sprintf("Customer %x %d", i*7919%65521, i),
		CreatedAt: at,
		UpdatedAt: at,
	}
}

var bench struct {
	once sync.Once
	db   *DB
	err  error
}

// benchIdmap returns the shared million-row database of this process.
func benchIdmap(b *testing.B) *DB {
	b.Helper()
	bench.once.Do(func() {
		path := filepath.Join(os.TempDir(), fmt.Sprintf("%s-schema%d.db", benchFileName, SchemaVersion))
		if _, err := os.Stat(path); err != nil {
			start := time.Now()
			if bench.err = buildBenchIdmap(path); bench.err != nil {
				return
			}
			b.Logf("built %d identity-map rows in %s: %s", benchRows, time.Since(start).Round(time.Millisecond), path)
		}
		bench.db, bench.err = Open(path, Options{NoSync: true})
	})
	if bench.err != nil {
		b.Fatal(bench.err)
	}
	return bench.db
}

// buildBenchIdmap writes the rows into a side file renamed at the end. The
// rows go in through PutConnected in batches, and the indexes are then
// rebuilt by the migration's bulk loader (rebuildIdmapIndexes): the same
// keys PutConnected writes, as TestRebuildMatchesIncrementalIndexes checks,
// but laid down in key order, which is what keeps the build short.
func buildBenchIdmap(path string) error {
	tmp := path + ".building"
	_ = os.Remove(tmp)
	db, err := Open(tmp, Options{NoSync: true})
	if err != nil {
		return err
	}
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for start := 0; start < benchRows; start += benchPerTx {
		err := db.bolt.Update(func(btx *bbolt.Tx) error {
			primary := btx.Bucket(bucketIdmap.key())
			primary.FillPercent = 1.0
			for i := start; i < start+benchPerTx && i < benchRows; i++ {
				row := benchRow(i, at)
				id, err := primary.NextSequence()
				if err != nil {
					return err
				}
				row.ID = id
				if err := put(kvBucket{bolt: primary}, be64(id), row); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			_ = db.Close()
			return err
		}
	}
	if err := db.bolt.Update(rebuildIdmapIndexes); err != nil {
		_ = db.Close()
		return err
	}
	if err := db.bolt.Sync(); err != nil {
		_ = db.Close()
		return err
	}
	if err := db.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func BenchmarkIdmapFirstPage(b *testing.B) {
	db := benchIdmap(b)
	q := IdmapQuery{Tenant: benchTenant(3), Entity: "invoices", Limit: 50}
	b.ReportAllocs()
	for b.Loop() {
		err := db.View(func(tx *Tx) error {
			rows, next, err := tx.QueryConnected(q)
			if err == nil && (len(rows) != 50 || next == "") {
				err = fmt.Errorf("page of %d rows, next %q", len(rows), next)
			}
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkIdmapFirstPageBaseline reads 50 consecutive rows straight off
// the primary bucket: the least a page of 50 can cost.
func BenchmarkIdmapFirstPageBaseline(b *testing.B) {
	db := benchIdmap(b)
	start := be64(5000)
	b.ReportAllocs()
	for b.Loop() {
		err := db.bolt.View(func(btx *bbolt.Tx) error {
			c := btx.Bucket(bucketIdmap.key()).Cursor()
			n := 0
			for k, v := c.Seek(start); k != nil && n < 50; k, v = c.Next() {
				var row ConnectedObject
				if err := decodeValue(v, &row); err != nil {
					return err
				}
				n++
			}
			if n != 50 {
				return errors.New("short page")
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkIdmapSecondPage(b *testing.B) {
	db := benchIdmap(b)
	q := IdmapQuery{Tenant: benchTenant(3), Entity: "invoices", Limit: 50}
	if err := db.View(func(tx *Tx) error {
		var err error
		_, q.After, err = tx.QueryConnected(q)
		return err
	}); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		err := db.View(func(tx *Tx) error {
			rows, _, err := tx.QueryConnected(q)
			if err == nil && len(rows) != 50 {
				err = fmt.Errorf("page of %d rows", len(rows))
			}
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkIdmapJumpMiddle is the GUI's jump of the scrollbar to the middle
// of the unfiltered map: skip 500,000 index keys, then read one page of 100
// rows. Compare with BenchmarkIdmapFirstPage (the same page at offset 0).
// 500,000 falls on a tenant+entity stretch boundary, so whole stretches
// are passed by their counters; BenchmarkIdmapJumpTenantEntity measures
// the key-by-key walk inside a stretch.
func BenchmarkIdmapJumpMiddle(b *testing.B) {
	db := benchIdmap(b)
	const offset = benchRows / 2
	q := IdmapQuery{Limit: DefaultIdmapPage}
	b.ReportAllocs()
	for b.Loop() {
		err := db.View(func(tx *Tx) error {
			after, skipped, err := tx.SkipConnected(q, offset)
			if err != nil {
				return err
			}
			if skipped != offset {
				return fmt.Errorf("skipped %d rows, want %d", skipped, offset)
			}
			page := q
			page.After = after
			rows, _, err := tx.QueryConnected(page)
			if err == nil && len(rows) != DefaultIdmapPage {
				err = fmt.Errorf("page of %d rows", len(rows))
			}
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkIdmapJumpTenantEntity jumps to the middle of one tenant+entity
// query (10,000 of its 20,000 rows).
func BenchmarkIdmapJumpTenantEntity(b *testing.B) {
	db := benchIdmap(b)
	q := IdmapQuery{Tenant: benchTenant(3), Entity: "invoices", Limit: DefaultIdmapPage}
	b.ReportAllocs()
	for b.Loop() {
		err := db.View(func(tx *Tx) error {
			after, skipped, err := tx.SkipConnected(q, 10_000)
			if err == nil && skipped != 10_000 {
				err = fmt.Errorf("skipped %d rows", skipped)
			}
			if err != nil {
				return err
			}
			page := q
			page.After = after
			rows, _, err := tx.QueryConnected(page)
			if err == nil && len(rows) != DefaultIdmapPage {
				err = fmt.Errorf("page of %d rows", len(rows))
			}
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkIdmapNameSearch(b *testing.B) {
	db := benchIdmap(b)
	q := IdmapQuery{Tenant: benchTenant(3), NamePrefix: "customer 1a", Limit: 50}
	b.ReportAllocs()
	for b.Loop() {
		err := db.View(func(tx *Tx) error {
			rows, _, err := tx.QueryConnected(q)
			if err == nil && len(rows) == 0 {
				err = errors.New("no rows")
			}
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkIdmapByRemoteID(b *testing.B) {
	db := benchIdmap(b)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		n := (i * 7919) % benchRows
		i++
		err := db.View(func(tx *Tx) error {
			row, err := tx.ConnectedByRemote(benchTenant(n), benchRemoteID(n))
			if err == nil && row.ID != uint64(n+1) {
				err = fmt.Errorf("row %d, want %d", row.ID, n+1)
			}
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkIdmapByRemoteIDBaseline is a raw bbolt Get and decode of a known
// primary key: the floor under any indexed lookup.
func BenchmarkIdmapByRemoteIDBaseline(b *testing.B) {
	db := benchIdmap(b)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		n := (i * 7919) % benchRows
		i++
		err := db.bolt.View(func(btx *bbolt.Tx) error {
			var row ConnectedObject
			return decodeValue(btx.Bucket(bucketIdmap.key()).Get(be64(uint64(n+1))), &row)
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkIdmapCount(b *testing.B) {
	db := benchIdmap(b)
	b.ReportAllocs()
	for b.Loop() {
		err := db.View(func(tx *Tx) error {
			n, err := tx.CountConnected(benchTenant(3), "invoices")
			if err == nil && n != benchRows/benchTenants/len(benchEntities) {
				err = fmt.Errorf("count %d", n)
			}
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}

// benchInvoice is an invoice-sized value: three lines, every field set.
func benchInvoice(i int) Invoice {
	at := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	lines := make([]InvoiceLine, 3)
	for l := range lines {
		lines[l] = InvoiceLine{Description: fmt.Sprintf("Line %d of invoice %d", l, i), Quantity: 2, UnitPriceCents: 1250, TotalCents: 2500}
	}
	return Invoice{
		ID: fmt.Sprintf("inv-%06d", i+1), Tenant: "acme", GroupUID: "cld-1", Number: fmt.Sprintf("INV-%06d", i+1),
		Title: "Monthly services", Status: "AUTHORISED", TransactionDate: at, DueDate: at.AddDate(0, 0, 30),
		Currency: "AUD", Lines: lines, TotalCents: 7500, TaxCents: 750, CreatedAt: at, UpdatedAt: at,
	}
}

// BenchmarkRawPut10000Records is the baseline of SPEC §11's Connec!
// notification target: one bbolt transaction putting 10,000 invoice-sized
// JSON values into a fresh file, synced as the app syncs.
func BenchmarkRawPut10000Records(b *testing.B) {
	const n = 10_000
	keys := make([][]byte, n)
	values := make([][]byte, n)
	for i := range n {
		keys[i] = []byte(fmt.Sprintf("inv-%06d", i+1))
		v, err := encodeValue(benchInvoice(i))
		if err != nil {
			b.Fatal(err)
		}
		values[i] = v
	}
	b.ReportMetric(float64(len(values[0])), "bytes/value")
	dir := b.TempDir()
	run := 0
	for b.Loop() {
		b.StopTimer()
		run++
		db, err := bbolt.Open(filepath.Join(dir, fmt.Sprintf("raw-%d.db", run)), 0o600, &bbolt.Options{Timeout: time.Second})
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		err = db.Update(func(btx *bbolt.Tx) error {
			bk, err := btx.CreateBucketIfNotExists(bucketInvoices.key())
			if err != nil {
				return err
			}
			for i := range n {
				if err := bk.Put(keys[i], values[i]); err != nil {
					return err
				}
			}
			return nil
		})
		b.StopTimer()
		if err != nil {
			b.Fatal(err)
		}
		_ = db.Close()
		b.StartTimer()
	}
}
