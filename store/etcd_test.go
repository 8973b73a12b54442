package store

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/tenantdesk/tenantdesk/store/etcdtest"
)

// openEtcd opens a handle on the store at url, closed when the test ends.
func openEtcd(t *testing.T, url string) *DB {
	t.Helper()
	db, err := OpenURL(url, TLSFiles{}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// A process killed after it marked a big transaction committed, before it
// applied every chunk, leaves a journal: the next Open applies it whole.
func TestEtcdJournalFinishedByOpen(t *testing.T) {
	url := etcdtest.URL(t)
	db := openEtcd(t, url)
	s := db.etcd
	var ops []clientv3.Op
	for i := range 250 {
		val, _ := encodeValue(Setting{Key: fmt.Sprintf("k-%03d", i), Value: "v"})
		ops = append(ops, clientv3.OpPut(s.prefix+bucketSettings.name+"/"+fmt.Sprintf("k-%03d", i), string(val)))
	}
	chunks := chunkOps(ops, DefaultTxBudget.Writes, DefaultTxBudget.Bytes)
	if len(chunks) != 3 {
		t.Fatalf("%d chunks of 250 writes, want 3 of at most %d", len(chunks), DefaultTxBudget.Writes)
	}
	// What commitJournaled leaves when it dies after the mark and one
	// chunk: its claim went with its lease.
	name := fmt.Sprintf("%016x-%08x", time.Now().UnixNano(), 1)
	dir := s.prefix + etcdJournalDir + name + "/"
	if _, err := s.cli.Put(t.Context(), s.prefix+etcdApplyingDir+name, ""); err != nil {
		t.Fatal(err)
	}
	for i, c := range chunks {
		if _, err := s.cli.Put(t.Context(), fmt.Sprintf("%schunk-%08d", dir, i), string(encodeOps(c))); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.cli.Put(t.Context(), dir+"commit", "3"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.applyChunks(chunks[0], keyFence(s.journalOwner(name), 0)); err != nil {
		t.Fatal(err)
	}
	count := func(db *DB) int {
		var n int
		if err := db.View(func(tx *Tx) error {
			m, err := tx.Settings()
			n = len(m)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := count(db); n != 0 {
		t.Fatalf("before recovery a view saw %d settings, want none (as before the journal), not the first chunk's 100", n)
	}
	again := openEtcd(t, url)
	if n := count(again); n != 250 {
		t.Errorf("after Open %d settings, want all 250", n)
	}
	for _, dir := range []string{etcdJournalDir, etcdApplyingDir} {
		resp, err := s.cli.Get(t.Context(), s.prefix+dir, clientv3.WithPrefix(), clientv3.WithCountOnly())
		if err != nil || resp.Count != 0 {
			t.Errorf("%s keys left after recovery: %d (%v)", dir, resp.Count, err)
		}
	}
}

// A journal chunk decodes to the writes it was made of.
func TestJournalChunkRoundTrip(t *testing.T) {
	ops := []clientv3.Op{clientv3.OpPut("/a/1", "x"), clientv3.OpDelete("/a/2"), clientv3.OpPut("/a/3", "")}
	got, err := decodeOps(encodeOps(ops))
	if err != nil || len(got) != 3 || !got[1].IsDelete() || string(got[0].ValueBytes()) != "x" || string(got[2].KeyBytes()) != "/a/3" {
		t.Fatalf("decodeOps = %v, %v", got, err)
	}
	if _, err := decodeOps([]byte{5, 'a'}); err == nil {
		t.Error("a truncated chunk decoded")
	}
}

func TestParseStoreURL(t *testing.T) {
	for _, c := range []struct {
		in, endpoints, prefix string
		ok                    bool
	}{
		{"etcd://127.0.0.1:2379", "[http://127.0.0.1:2379]", "/tenantdesk/", true},
		{"etcds://a:1,b:2/prod", "[https://a:1 https://b:2]", "/prod/", true},
		{"etcd://a", "", "", false},
		{"http://a:1", "", "", false},
		{"etcd://u:p@a:1", "", "", false},
	} {
		eps, p, _, err := parseStoreURL(c.in)
		if (err == nil) != c.ok || (c.ok && (fmt.Sprint(eps) != c.endpoints || p != c.prefix)) {
			t.Errorf("parseStoreURL(%q) = %v, %q, %v", c.in, eps, p, err)
		}
	}
}

// A holder whose lease expired cannot write through its fenced store,
// while the next holder can; the expired one's write leaves nothing.
func TestEtcdLockFencedAfterExpiry(t *testing.T) {
	url := etcdtest.URL(t)
	a := openEtcd(t, url)
	b := openEtcd(t, url)
	first, err := a.TryLock(LockBilling)
	if err != nil {
		t.Fatal(err)
	}
	first.expireForTest() // a stalled replica: its lease ran out
	second, err := b.TryLock(LockBilling)
	if err != nil {
		t.Fatalf("lock after the first holder's lease expired: %v", err)
	}
	defer second.Unlock()
	put := func(db *DB, key string) error {
		return db.Update(func(tx *Tx) error { return tx.PutSetting(Setting{Key: key, Value: "x"}) })
	}
	if err := put(first.Fenced(), "stale"); !errors.Is(err, ErrLockLost) {
		t.Fatalf("write of the expired holder: %v, want ErrLockLost", err)
	}
	if err := put(second.Fenced(), "current"); err != nil {
		t.Fatalf("write of the holder: %v", err)
	}
	_ = a.View(func(tx *Tx) error {
		s, _ := tx.Settings()
		if _, ok := s["stale"]; ok {
			t.Error("the expired holder's write was committed")
		}
		if _, ok := s["current"]; !ok {
			t.Error("the holder's write is missing")
		}
		return nil
	})
}

// On etcd the activity log is trimmed by the purge, oldest first.
func TestEtcdTrimLogKeepsTheNewest(t *testing.T) {
	db := openEtcd(t, etcdtest.URL(t))
	var last uint64
	for range 12 {
		if err := db.Update(func(tx *Tx) error {
			var err error
			last, err = tx.AppendEvent(Event{At: time.Now(), Tenant: "acme", Kind: EventWebhook, Outcome: "ok"})
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.etcd.trimLog(bucketEvents, 5); err != nil {
		t.Fatal(err)
	}
	var evs []Event
	if err := db.View(func(tx *Tx) (err error) { evs, err = tx.RecentEvents(100); return err }); err != nil {
		t.Fatal(err)
	}
	if len(evs) != 5 || evs[0].Seq != last {
		t.Fatalf("after trimming to 5: %d events, newest %d (want %d)", len(evs), evs[0].Seq, last)
	}
}

// A transaction that reads more than readAheadAfter keys reads spans
// (etcdread.go): it still sees exactly what bbolt sees — keys present and
// absent, its own writes and deletes over the stored ones, prefix scans —
// whatever order it reads in.
func TestEtcdReadAheadSeesWhatBboltSees(t *testing.T) {
	bolt, err := Open(filepath.Join(t.TempDir(), "td.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer bolt.Close()
	etcd, err := OpenURL(etcdtest.URL(t), TLSFiles{}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer etcd.Close()
	name := func(i int) []byte { return fmt.Appendf(nil, "k-%04d", i) }
	views := map[string]string{}
	for _, db := range []*DB{bolt, etcd} {
		// Every third key stored, in buckets of 10 ("k-00" prefix etc.).
		if err := db.UpdateLarge(func(tx *Tx) error {
			for i := 0; i < 600; i += 3 {
				if err := tx.bucket(bucketSettings).Put(name(i), fmt.Appendf(nil, "v%d", i)); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		var view strings.Builder
		if err := db.UpdateLarge(func(tx *Tx) error {
			view.Reset()
			b := tx.bucket(bucketSettings)
			// Own writes first: each fifth key written, each seventh deleted.
			for i := 0; i < 600; i += 5 {
				if err := b.Put(name(i), []byte("mine")); err != nil {
					return err
				}
			}
			for i := 0; i < 600; i += 7 {
				if err := b.Delete(name(i)); err != nil {
					return err
				}
			}
			// Point reads, far past readAheadAfter: down the stored keys
			// (each one read ahead from is the first of its span), then
			// every key up.
			for i := 597; i >= 0; i -= 3 {
				fmt.Fprintf(&view, "%s=%q ", name(i), b.Get(name(i)))
			}
			for i := range 600 {
				fmt.Fprintf(&view, "%s=%q ", name(i), b.Get(name(i)))
			}
			// Prefix scans of a decade each, and a whole walk.
			for d := 0; d < 60; d += 7 {
				_ = scanPrefix(b, fmt.Appendf(nil, "k-%03d", d), func(k, v []byte) error {
					fmt.Fprintf(&view, "[%s %s]", k, v)
					return nil
				})
			}
			return b.ForEach(func(k, v []byte) error {
				fmt.Fprintf(&view, "(%s %s)", k, v)
				return nil
			})
		}); err != nil {
			t.Fatal(err)
		}
		views[fmt.Sprint(db.Etcd())] = view.String()
	}
	if views["true"] != views["false"] {
		t.Errorf("etcd's view differs from bbolt's:\netcd:  %.400s\nbbolt: %.400s", views["true"], views["false"])
	}
}

// A key read through a span of read-ahead is compared at the commit like
// one read alone: another writer's change to it re-runs the transaction,
// which then sees the change.
func TestEtcdReadAheadConflictReruns(t *testing.T) {
	url := etcdtest.URL(t)
	a := openEtcd(t, url)
	b := openEtcd(t, url)
	runs := 0
	err := a.Update(func(tx *Tx) error {
		runs++
		bk := tx.bucket(bucketSettings)
		for i := range readAheadAfter + 5 { // past the point where Gets read spans
			bk.Get(fmt.Appendf(nil, "warm-%02d", i))
		}
		seen := bk.Get([]byte("x")) // absent the first time, from a span
		if runs == 1 {
			if err := b.Update(func(tx *Tx) error { return tx.bucket(bucketSettings).Put([]byte("x"), []byte("b")) }); err != nil {
				return err
			}
		}
		return bk.Put([]byte("copy"), append([]byte("seen:"), seen...))
	})
	if err != nil {
		t.Fatal(err)
	}
	var got []byte
	_ = a.View(func(tx *Tx) error { got = append(got, tx.bucket(bucketSettings).Get([]byte("copy"))...); return nil })
	if runs != 2 || string(got) != "seen:b" {
		t.Fatalf("%d runs, copy %q: want 2 runs and seen:b", runs, got)
	}
}

// A scan of one user's memberships reads nothing past its prefix, so a
// concurrent write of the next user's does not re-run it (on etcd every
// key read is a conflict when another writer changes it).
func TestEtcdPrefixScanIgnoresTheNeighbours(t *testing.T) {
	url := etcdtest.URL(t)
	a := openEtcd(t, url)
	b := openEtcd(t, url)
	member := func(user string) Membership {
		return Membership{Tenant: "acme", GroupUID: "cld-1", UserUID: user, Role: "Member"}
	}
	if err := a.Update(func(tx *Tx) error {
		if err := tx.PutMembership(member("usr-1")); err != nil {
			return err
		}
		return tx.PutMembership(member("usr-2"))
	}); err != nil {
		t.Fatal(err)
	}
	runs := 0
	err := a.Update(func(tx *Tx) error {
		runs++
		ms, err := tx.UserMemberships("acme", "usr-1")
		if err != nil || len(ms) != 1 {
			return fmt.Errorf("memberships of usr-1: %v, %v", ms, err)
		}
		if runs == 1 {
			if err := b.Update(func(tx *Tx) error { m := member("usr-2"); m.Ended = true; return tx.PutMembership(m) }); err != nil {
				return err
			}
		}
		m := ms[0]
		m.Role = "Admin"
		return tx.PutMembership(m)
	})
	if err != nil || runs != 1 {
		t.Fatalf("%d runs (%v): the neighbour's write re-ran the scan", runs, err)
	}
}

// Reads of concurrent transactions go out together (etcdbatch.go), each
// still at its own transaction's revision: 20 views that read once, then
// again together after another writer's change, see the value of their
// first read's revision, and a view begun after the change sees the new.
func TestEtcdBatchedReadsKeepEachRevision(t *testing.T) {
	url := etcdtest.URL(t)
	db := openEtcd(t, url)
	put := func(v string) {
		if err := db.Update(func(tx *Tx) error { return tx.bucket(bucketSettings).Put([]byte("b"), []byte(v)) }); err != nil {
			t.Fatal(err)
		}
	}
	put("old")
	const views = 20
	var started, reread sync.WaitGroup
	started.Add(views)
	reread.Add(1)
	seen := make([]string, views)
	var done sync.WaitGroup
	for i := range views {
		done.Add(1)
		go func() {
			defer done.Done()
			_ = db.View(func(tx *Tx) error {
				tx.bucket(bucketSettings).Get([]byte("a")) // fixes the view's revision
				started.Done()
				reread.Wait()
				seen[i] = string(tx.bucket(bucketSettings).Get([]byte("b")))
				return nil
			})
		}()
	}
	started.Wait()
	put("new")
	reread.Done()
	done.Wait()
	for i, v := range seen {
		if v != "old" {
			t.Errorf("view %d read %q after another writer's change, want its revision's \"old\"", i, v)
		}
	}
	var now []byte
	_ = db.View(func(tx *Tx) error { now = append(now, tx.bucket(bucketSettings).Get([]byte("b"))...); return nil })
	if string(now) != "new" {
		t.Errorf("a view begun after the change read %q", now)
	}
}

// The purge folds a past day's count shards into one key: what three
// replicas counted reads the same afterwards, from one key.
func TestEtcdPurgeFoldsPastDayCounts(t *testing.T) {
	url := etcdtest.URL(t)
	var dbs []*DB
	for range 3 {
		db := openEtcd(t, url)
		dbs = append(dbs, db)
	}
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	past, today := now.Add(-foldAfter), now
	if err := dbs[0].Update(func(tx *Tx) error { return tx.PutTenant(Tenant{Key: "acme", Config: []byte("{}")}) }); err != nil {
		t.Fatal(err)
	}
	for i, db := range dbs {
		for _, at := range []time.Time{past, today} {
			if err := db.Update(func(tx *Tx) error {
				_, err := tx.AppendEvent(Event{At: at, Tenant: "acme", Kind: EventWebhook, Outcome: "ok", Count: i + 1})
				return err
			}); err != nil {
				t.Fatal(err)
			}
		}
	}
	shards := func(day time.Time) int {
		var n int
		_ = dbs[0].View(func(tx *Tx) error {
			return scanPrefix(tx.bucket(bucketDayCounts), key("acme", day.Format(dayLayout)), func(_, _ []byte) error { n++; return nil })
		})
		return n
	}
	if n := shards(past); n != 3 {
		t.Fatalf("%d shards of the past day before the purge, want one per replica", n)
	}
	if _, err := dbs[1].PurgeExpired(now); err != nil {
		t.Fatal(err)
	}
	if n, m := shards(past), shards(today); n != 1 || m != 3 {
		t.Errorf("after the purge %d shards of the past day (want 1), %d of today (want 3, left alone)", n, m)
	}
	var days []DayCount
	if err := dbs[2].View(func(tx *Tx) (err error) { days, err = tx.DayCounts("acme", past, today); return err }); err != nil {
		t.Fatal(err)
	}
	if len(days) != 2 || days[0].N != 6 || days[1].N != 6 {
		t.Errorf("DayCounts after the fold = %+v, want 6 on each day", days)
	}
}
