package store

import (
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tenantdesk/tenantdesk/store/etcdtest"
)

// BenchmarkDurableSmallWrites: 50 concurrent writers of one small record
// each (a webhook's write), every write durable before it returns: bbolt
// with group commit (Batch, fsync on) beside one etcd member that syncs
// its log (SPEC §11's replica row is measured against one bbolt serve;
// this is the store's share of it). Reports writes/s of each and etcd/bolt.
func BenchmarkDurableSmallWrites(b *testing.B) {
	bolt, err := Open(filepath.Join(b.TempDir(), "td.db"), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer bolt.Close()
	m := etcdtest.Start(b)
	etcd, err := OpenURL("etcd://"+m.Endpoint, TLSFiles{}, Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer etcd.Close()
	const writers = 50
	rate := func(db *DB, n int) float64 {
		var next atomic.Int64
		var wg sync.WaitGroup
		start := time.Now()
		for w := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for next.Add(1) <= int64(n) {
					err := db.Batch(func(tx *Tx) error {
						return tx.PutSession(Session{ID: fmt.Sprintf("s-%d-%d", w, next.Load()), Tenant: "acme", UserUID: "usr-1",
							ExpiresAt: time.Now().Add(time.Hour)})
					})
					if err != nil {
						b.Error(err)
						return
					}
				}
			}()
		}
		wg.Wait()
		return float64(n) / time.Since(start).Seconds()
	}
	var boltRate, etcdRate float64
	for b.Loop() {
		boltRate = rate(bolt, 2000)
		etcdRate = rate(etcd, 2000)
	}
	b.ReportMetric(boltRate, "bolt-writes/s")
	b.ReportMetric(etcdRate, "etcd-writes/s")
	b.ReportMetric(etcdRate/boltRate, "etcd/bolt")
}

// BenchmarkLargeWrite10kInvoices: a 10,000-invoice body in one UpdateLarge
// (about 20,000 keys: journaled chunks on etcd) beside the same on bbolt.
func BenchmarkLargeWrite10kInvoices(b *testing.B) {
	m := etcdtest.Start(b)
	var boltT, etcdT time.Duration
	for i := 0; b.Loop(); i++ {
		bolt, err := Open(filepath.Join(b.TempDir(), fmt.Sprintf("td-%d.db", i)), Options{})
		if err != nil {
			b.Fatal(err)
		}
		etcd, err := OpenURL(fmt.Sprintf("etcd://%s/bench-%d", m.Endpoint, i), TLSFiles{}, Options{})
		if err != nil {
			b.Fatal(err)
		}
		write := func(db *DB) time.Duration {
			start := time.Now()
			if err := db.UpdateLarge(func(tx *Tx) error {
				for n := range 10000 {
					if err := tx.PutInvoice(benchInvoice(n)); err != nil {
						return err
					}
				}
				return nil
			}); err != nil {
				b.Fatal(err)
			}
			return time.Since(start)
		}
		boltT, etcdT = write(bolt), write(etcd)
		bolt.Close()
		etcd.Close()
	}
	b.ReportMetric(float64(boltT.Milliseconds()), "bolt-ms")
	b.ReportMetric(float64(etcdT.Milliseconds()), "etcd-ms")
	b.ReportMetric(float64(etcdT)/float64(boltT), "etcd/bolt")
}

// BenchmarkEtcdViewGate: what reading the journals' gate costs a view on
// etcd (its first read is a txn with the gate's read instead of a Get).
// The baseline in the same run is the same read in an Update that writes
// nothing (no gate read, no commit); 1 reader, then 20 at once.
func BenchmarkEtcdViewGate(b *testing.B) {
	db, err := OpenURL(etcdtest.URL(b), TLSFiles{}, Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	if err := db.Update(func(tx *Tx) error { return tx.PutSetting(Setting{Key: "public-url", Value: "https://td.example"}) }); err != nil {
		b.Fatal(err)
	}
	read := func(tx *Tx) error {
		_, err := tx.Settings()
		return err
	}
	per := func(readers, n int, run func(func(*Tx) error) error) time.Duration {
		var next atomic.Int64
		var wg sync.WaitGroup
		start := time.Now()
		for range readers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for next.Add(1) <= int64(n) {
					if err := run(read); err != nil {
						b.Error(err)
						return
					}
				}
			}()
		}
		wg.Wait()
		return time.Since(start) / time.Duration(n)
	}
	for b.Loop() {
		_ = db.View(read)
	}
	for _, readers := range []int{1, 20} { // after the loop, which resets the metrics
		var view, update time.Duration
		for range 3 { // alternate, so that noise falls on both
			update += per(readers, 1000, db.Update)
			view += per(readers, 1000, db.View)
		}
		b.ReportMetric(float64(view.Microseconds())/3, fmt.Sprintf("view-µs/%d", readers))
		b.ReportMetric(float64(update.Microseconds())/3, fmt.Sprintf("baseline-µs/%d", readers))
		b.ReportMetric(float64(view)/float64(update), fmt.Sprintf("x-baseline/%d", readers))
	}
}
