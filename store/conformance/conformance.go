// Package conformance is the one test suite every store backend passes
// (SPEC §14), in the shape of dex's storage/conformance: Run takes a
// function that opens a fresh, empty store, and runs every case on it
// through the store's exported API only. The bbolt file and an embedded
// etcd member both run it (conformance_test.go).
package conformance

import (
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/tenantdesk/tenantdesk/store"
)

// Backend opens stores of one kind for the suite.
type Backend struct {
	// Open opens a fresh, empty store with the transaction budget set,
	// closed when the test ends.
	Open func(t *testing.T) *store.DB
	// Peer opens a second handle on db's store, as another replica would
	// (bbolt: db itself, since one process owns a file).
	Peer func(t *testing.T, db *store.DB) *store.DB
}

// Run runs every case of the suite on b.
func Run(t *testing.T, b Backend) {
	cases := []struct {
		name string
		run  func(*testing.T, Backend)
	}{
		{"CRUD", testCRUD},
		{"IndexConsistency", testIndexConsistency},
		{"NotFoundAndDuplicate", testNotFoundAndDuplicate},
		{"FailedUpdateWritesNothing", testFailedUpdate},
		{"ReadsOwnWrites", testReadsOwnWrites},
		{"ConcurrentUpdates", testConcurrentUpdates},
		{"ExpiryPurge", testExpiryPurge},
		{"ClaimsExactlyOnce", testClaims},
		{"AuthnRequestTakenOnce", testAuthnTakenOnce},
		{"ReplayAcceptedOnce", testReplayOnce},
		{"Budget", testBudget},
		{"Sequences", testSequences},
		{"Watch", testWatch},
		{"LockExclusive", testLockExclusive},
		{"ClaimExclusive", testClaimExclusive},
		{"DueExceptTenants", testDueExcept},
		{"DayCountsConcurrent", testDayCounts},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { c.run(t, b) })
	}
}

var t0 = time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func tenant(key string) store.Tenant {
	return store.Tenant{Key: key, Config: json.RawMessage(`{"name":"` + key + `"}`), CreatedAt: t0, UpdatedAt: t0}
}

func testCRUD(t *testing.T, b Backend) {
	db := b.Open(t)
	must(t, db.Update(func(tx *store.Tx) error {
		for _, k := range []string{"acme", "acme-2", "beta"} {
			if err := tx.PutTenant(tenant(k)); err != nil {
				return err
			}
		}
		return nil
	}))
	must(t, db.View(func(tx *store.Tx) error {
		got, err := tx.Tenant("acme-2")
		if err != nil {
			return err
		}
		if string(got.Config) != `{"name":"acme-2"}` || !got.CreatedAt.Equal(t0) {
			t.Errorf("Tenant(acme-2) = %+v", got)
		}
		all, err := tx.Tenants()
		if err != nil {
			return err
		}
		if len(all) != 3 || all[0].Key != "acme" || all[1].Key != "acme-2" || all[2].Key != "beta" {
			t.Errorf("Tenants() = %v, want acme, acme-2, beta in order", all)
		}
		return nil
	}))
	updated := tenant("acme")
	updated.Config = json.RawMessage(`{"name":"Acme Ltd"}`)
	must(t, db.Update(func(tx *store.Tx) error { return tx.PutTenant(updated) }))
	must(t, db.Update(func(tx *store.Tx) error { return tx.DeleteTenant("beta") }))
	// A secret is sealed by one handle and opened by another (§15).
	secret := tenant("sealed")
	secret.Secrets = map[string]string{"api.key": "s3cret"}
	must(t, db.Update(func(tx *store.Tx) error { return tx.PutTenant(secret) }))
	must(t, b.Peer(t, db).View(func(tx *store.Tx) error {
		got, err := tx.Tenant("sealed")
		if err == nil && got.Secrets["api.key"] != "s3cret" {
			t.Errorf("secret read back through another handle: %q", got.Secrets["api.key"])
		}
		return err
	}))
	must(t, db.View(func(tx *store.Tx) error {
		got, err := tx.Tenant("acme")
		if err != nil {
			return err
		}
		if string(got.Config) != `{"name":"Acme Ltd"}` {
			t.Errorf("after update: %s", got.Config)
		}
		if _, err := tx.Tenant("beta"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("deleted tenant: err = %v, want ErrNotFound", err)
		}
		return nil
	}))
}

func row(tenant, entity, remote, local string) store.ConnectedObject {
	return store.ConnectedObject{Tenant: tenant, GroupUID: "cld-1", LocalKind: store.KindRecord, LocalID: local,
		Provider: "tenantdesk", Entity: entity, RemoteID: remote, Name: "Row " + remote, CreatedAt: t0, UpdatedAt: t0}
}

func testIndexConsistency(t *testing.T, b Backend) {
	db := b.Open(t)
	var ids []uint64
	must(t, db.Update(func(tx *store.Tx) error {
		ids = ids[:0]       // a re-run starts again
		for i := range 10 { // about 9 writes each: 10 rows fit the budget
			entity := "invoices"
			if i%3 == 0 {
				entity = "people"
			}
			id, err := tx.PutConnected(row("acme", entity, fmt.Sprintf("r-%02d", i), fmt.Sprintf("l-%02d", i)))
			if err != nil {
				return err
			}
			ids = append(ids, id)
		}
		return nil
	}))
	count := func(entity string) int {
		var n int
		must(t, db.View(func(tx *store.Tx) error {
			var err error
			n, err = tx.CountConnected("acme", entity)
			return err
		}))
		return n
	}
	if n := count("invoices"); n != 6 {
		t.Errorf("CountConnected(invoices) = %d, want 6", n)
	}
	// Paging through the index finds each row once, in order.
	var seen []string
	after := ""
	for {
		var page []store.ConnectedObject
		must(t, db.View(func(tx *store.Tx) error {
			var err error
			page, after, err = tx.QueryConnected(store.IdmapQuery{Tenant: "acme", Entity: "invoices", Limit: 3, After: after})
			return err
		}))
		for _, r := range page {
			seen = append(seen, r.RemoteID)
		}
		if after == "" {
			break
		}
	}
	if fmt.Sprint(seen) != "[r-01 r-02 r-04 r-05 r-07 r-08]" {
		t.Errorf("pages = %v, want the 6 invoices r-01 … r-08 in order", seen)
	}
	// Moving a row to another remote id moves its index entry; deleting it removes it.
	must(t, db.Update(func(tx *store.Tx) error {
		r, err := tx.Connected(ids[1])
		if err != nil {
			return err
		}
		r.RemoteID = "r-moved"
		if _, err := tx.PutConnected(r); err != nil {
			return err
		}
		return tx.DeleteConnected(ids[2])
	}))
	must(t, db.View(func(tx *store.Tx) error {
		if _, err := tx.ConnectedByRemote("acme", "r-01"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("old remote id still found: %v", err)
		}
		if r, err := tx.ConnectedByRemote("acme", "r-moved"); err != nil || r.ID != ids[1] {
			t.Errorf("ConnectedByRemote(r-moved) = %v, %v", r.ID, err)
		}
		if _, err := tx.ConnectedByRemote("acme", "r-02"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("deleted row still found: %v", err)
		}
		return nil
	}))
	if n := count("invoices"); n != 5 {
		t.Errorf("CountConnected(invoices) after a delete = %d, want 5", n)
	}
}

func testNotFoundAndDuplicate(t *testing.T, b Backend) {
	db := b.Open(t)
	must(t, db.View(func(tx *store.Tx) error {
		if _, err := tx.Tenant("nobody"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Tenant(nobody): %v, want ErrNotFound", err)
		}
		if _, err := tx.Connected(42); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Connected(42): %v, want ErrNotFound", err)
		}
		return nil
	}))
	must(t, db.Update(func(tx *store.Tx) error {
		_, err := tx.PutConnected(row("acme", "invoices", "r-1", "l-1"))
		return err
	}))
	err := db.Update(func(tx *store.Tx) error {
		_, err := tx.PutConnected(row("acme", "invoices", "r-1", "l-2"))
		return err
	})
	if !errors.Is(err, store.ErrDuplicate) {
		t.Fatalf("second row with remote id r-1: %v, want ErrDuplicate", err)
	}
	must(t, db.View(func(tx *store.Tx) error {
		if _, err := tx.ConnectedByLocal("acme", store.KindRecord, "l-2"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("the refused row was written: %v", err)
		}
		return nil
	}))
}

func testFailedUpdate(t *testing.T, b Backend) {
	db := b.Open(t)
	boom := errors.New("boom")
	err := db.Update(func(tx *store.Tx) error {
		if err := tx.PutTenant(tenant("acme")); err != nil {
			return err
		}
		if _, err := tx.PutConnected(row("acme", "invoices", "r-1", "l-1")); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Update = %v, want the function's error", err)
	}
	must(t, db.View(func(tx *store.Tx) error {
		if all, _ := tx.Tenants(); len(all) != 0 {
			t.Errorf("a failed update left tenants %v", all)
		}
		if n, _ := tx.CountConnected("acme", "invoices"); n != 0 {
			t.Errorf("a failed update left %d identity-map rows", n)
		}
		return nil
	}))
}

func testReadsOwnWrites(t *testing.T, b Backend) {
	db := b.Open(t)
	must(t, db.Update(func(tx *store.Tx) error {
		for _, k := range []string{"b", "d"} {
			if err := tx.PutTenant(tenant(k)); err != nil {
				return err
			}
		}
		return nil
	}))
	must(t, db.Update(func(tx *store.Tx) error {
		if err := tx.PutTenant(tenant("a")); err != nil {
			return err
		}
		if err := tx.PutTenant(tenant("c")); err != nil {
			return err
		}
		if err := tx.DeleteTenant("d"); err != nil {
			return err
		}
		all, err := tx.Tenants()
		if err != nil {
			return err
		}
		var keys []string
		for _, x := range all {
			keys = append(keys, x.Key)
		}
		if fmt.Sprint(keys) != "[a b c]" {
			t.Errorf("inside the transaction, Tenants() = %v, want [a b c]", keys)
		}
		return nil
	}))
}

// testConcurrentUpdates: 100 goroutines each add one to the same record;
// none of the additions is lost.
func testConcurrentUpdates(t *testing.T, b Backend) {
	db := b.Open(t)
	peer := b.Peer(t, db)
	const n = 100
	errs := make(chan error, n)
	concurrently(n, db, peer, func(h *store.DB) {
		errs <- h.Update(func(tx *store.Tx) error {
			s, _ := tx.Settings()
			var v int
			fmt.Sscan(s["counter"].Value, &v)
			return tx.PutSetting(store.Setting{Key: "counter", Value: fmt.Sprint(v + 1), Updated: t0})
		})
	})
	close(errs)
	for err := range errs {
		must(t, err)
	}
	must(t, db.View(func(tx *store.Tx) error {
		s, err := tx.Settings()
		if s["counter"].Value != fmt.Sprint(n) {
			t.Errorf("counter = %q after %d concurrent increments", s["counter"].Value, n)
		}
		return err
	}))
}

func testExpiryPurge(t *testing.T, b Backend) {
	db := b.Open(t)
	must(t, db.Update(func(tx *store.Tx) error {
		for i, exp := range []time.Time{t0.Add(-time.Minute), t0.Add(time.Hour), t0.Add(-time.Second)} {
			s := store.Session{ID: fmt.Sprintf("s-%d", i), Tenant: "acme", UserUID: "usr-1", CreatedAt: t0.Add(-time.Hour), ExpiresAt: exp}
			if err := tx.PutSession(s); err != nil {
				return err
			}
		}
		return nil
	}))
	purged, err := db.PurgeExpired(t0)
	must(t, err)
	if purged.Sessions != 2 {
		t.Errorf("purged %d sessions, want 2", purged.Sessions)
	}
	must(t, db.View(func(tx *store.Tx) error {
		if _, err := tx.Session("s-1"); err != nil {
			t.Errorf("live session purged: %v", err)
		}
		if _, err := tx.Session("s-0"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("expired session kept: %v", err)
		}
		return nil
	}))
}

// testClaims: 50 workers claim 20 due outbox items; each is taken once.
func testClaims(t *testing.T, b Backend) {
	db := b.Open(t)
	peer := b.Peer(t, db)
	const items, workers = 20, 50
	must(t, db.Update(func(tx *store.Tx) error {
		for i := range items {
			it := store.OutboxItem{Tenant: "acme", GroupUID: "cld-1", Entity: "invoices", LocalKind: store.KindInvoice,
				LocalID: fmt.Sprintf("inv-%d", i), Status: store.OutboxQueued, NextAttemptAt: t0, CreatedAt: t0, UpdatedAt: t0}
			if _, err := tx.PutOutboxItem(it); err != nil {
				return err
			}
		}
		return nil
	}))
	var mu sync.Mutex
	claimed := map[uint64]int{}
	concurrently(workers, db, peer, func(h *store.DB) {
		for {
			var got uint64
			err := h.Update(func(tx *store.Tx) error {
				got = 0
				due, err := tx.OutboxDue(t0, 1)
				if err != nil || len(due) == 0 {
					return err
				}
				it := due[0]
				it.Status, it.Attempts = store.OutboxDone, it.Attempts+1
				if _, err := tx.PutOutboxItem(it); err != nil {
					return err
				}
				got = it.ID
				return nil
			})
			if err != nil {
				t.Error(err)
				return
			}
			if got == 0 {
				return
			}
			mu.Lock()
			claimed[got]++
			mu.Unlock()
		}
	})
	if len(claimed) != items {
		t.Errorf("%d items claimed, want %d", len(claimed), items)
	}
	for id, n := range claimed {
		if n != 1 {
			t.Errorf("item %d claimed %d times", id, n)
		}
	}
}

// testAuthnTakenOnce: a request issued once is consumed by exactly one
// of 50 concurrent consumers, on whichever handle.
func testAuthnTakenOnce(t *testing.T, b Backend) {
	db := b.Open(t)
	peer := b.Peer(t, db)
	req := store.AuthnRequest{Tenant: "acme", ID: "id-1", CreatedAt: t0, ExpiresAt: t0.Add(5 * time.Minute)}
	must(t, db.Update(func(tx *store.Tx) error { _, err := tx.IssueAuthnRequest(req, 100); return err }))
	var mu sync.Mutex
	taken, refused := 0, 0
	concurrently(50, db, peer, func(h *store.DB) {
		err := h.Update(func(tx *store.Tx) error {
			_, err := tx.ConsumeAuthnRequest("acme", "id-1", t0)
			return err
		})
		mu.Lock()
		defer mu.Unlock()
		switch {
		case err == nil:
			taken++
		case errors.Is(err, store.ErrNotFound):
			refused++
		default:
			t.Error(err)
		}
	})
	if taken != 1 || refused != 49 {
		t.Errorf("taken %d, refused %d; want 1 and 49", taken, refused)
	}
}

func testReplayOnce(t *testing.T, b Backend) {
	db := b.Open(t)
	peer := b.Peer(t, db)
	var mu sync.Mutex
	accepted := 0
	concurrently(50, db, peer, func(h *store.DB) {
		var fresh bool
		err := h.Update(func(tx *store.Tx) error {
			var err error
			fresh, err = tx.RememberAssertion("acme", "assertion-1", t0.Add(time.Hour), t0)
			return err
		})
		if err != nil {
			t.Error(err)
		}
		if fresh {
			mu.Lock()
			accepted++
			mu.Unlock()
		}
	})
	if accepted != 1 {
		t.Errorf("one assertion accepted %d times, want once", accepted)
	}
}

// testBudget: within the budget a transaction is one transaction on every
// backend; past it Update refuses and writes nothing, and UpdateLarge
// writes it all.
func testBudget(t *testing.T, b Backend) {
	db := b.Open(t)
	write := func(n int, prefix string) func(*store.Tx) error {
		return func(tx *store.Tx) error {
			for i := range n {
				if err := tx.PutSetting(store.Setting{Key: fmt.Sprintf("%s-%04d", prefix, i), Value: "v", Updated: t0}); err != nil {
					return err
				}
			}
			return nil
		}
	}
	must(t, db.Update(write(store.DefaultTxBudget.Writes, "fits")))
	if err := db.Update(write(store.DefaultTxBudget.Writes+1, "over")); !errors.Is(err, store.ErrTxBudget) {
		t.Fatalf("Update of %d writes = %v, want ErrTxBudget", store.DefaultTxBudget.Writes+1, err)
	}
	must(t, db.UpdateLarge(write(1500, "large")))
	must(t, db.View(func(tx *store.Tx) error {
		s, err := tx.Settings()
		over, large := 0, 0
		for k := range s {
			switch k[:4] {
			case "over":
				over++
			case "larg":
				large++
			}
		}
		if over != 0 || large != 1500 {
			t.Errorf("refused transaction wrote %d, large one %d of 1500", over, large)
		}
		return err
	}))
}

func testSequences(t *testing.T, b Backend) {
	db := b.Open(t)
	peer := b.Peer(t, db)
	seen := map[uint64]bool{}
	for i := range 30 {
		h := db
		if i%2 == 1 {
			h = peer
		}
		var id uint64
		must(t, h.Update(func(tx *store.Tx) error {
			var err error
			id, err = tx.AppendEvent(store.Event{At: t0, Kind: store.EventWebhook, Tenant: "acme", Outcome: "ok"})
			return err
		}))
		if seen[id] {
			t.Fatalf("event id %d handed out twice", id)
		}
		seen[id] = true
	}
	must(t, db.View(func(tx *store.Tx) error {
		evs, err := tx.RecentEvents(100)
		if len(evs) != 30 {
			t.Errorf("%d events, want 30", len(evs))
		}
		return err
	}))
}

// testWatch: a write through another handle moves this one's generation
// within 2 s, so what is cached by generation is read again (SPEC §14).
func testWatch(t *testing.T, b Backend) {
	db := b.Open(t)
	peer := b.Peer(t, db)
	before := db.Generation()
	must(t, peer.Update(func(tx *store.Tx) error { return tx.PutTenant(tenant("acme")) }))
	deadline := time.Now().Add(2 * time.Second)
	for db.Generation() == before {
		if time.Now().After(deadline) {
			t.Fatal("generation did not move within 2 s of another handle's write")
		}
		time.Sleep(5 * time.Millisecond)
	}
	must(t, db.View(func(tx *store.Tx) error {
		_, err := tx.Tenant("acme")
		return err
	}))
}

// testLockExclusive: of 20 concurrent TryLocks on two handles one wins;
// once it unlocks, the lock can be taken again, and the holder's fenced
// writes commit.
func testLockExclusive(t *testing.T, b Backend) {
	db := b.Open(t)
	peer := b.Peer(t, db)
	var mu sync.Mutex
	var held []*store.Lock
	concurrently(20, db, peer, func(h *store.DB) {
		l, err := h.TryLock(store.LockBilling)
		switch {
		case err == nil:
			mu.Lock()
			held = append(held, l)
			mu.Unlock()
		case !errors.Is(err, store.ErrLocked):
			t.Error(err)
		}
	})
	if len(held) != 1 {
		t.Fatalf("%d holders of one lock, want 1", len(held))
	}
	must(t, held[0].Fenced().Update(func(tx *store.Tx) error { return tx.PutTenant(tenant("acme")) }))
	held[0].Unlock()
	again, err := peer.TryLock(store.LockBilling)
	if err != nil {
		t.Fatalf("lock after unlock: %v", err)
	}
	again.Unlock()
}

// testClaimExclusive: of 20 concurrent claims of one tenant's work on two
// handles one wins; claims of other names are each their own; Claimed
// lists what is held, by anyone; a released claim is free for another.
func testClaimExclusive(t *testing.T, b Backend) {
	db := b.Open(t)
	peer := b.Peer(t, db)
	var mu sync.Mutex
	var held []*store.Lock
	concurrently(20, db, peer, func(h *store.DB) {
		l, err := h.TryClaim("outbox/acme")
		switch {
		case err == nil:
			mu.Lock()
			held = append(held, l)
			mu.Unlock()
		case !errors.Is(err, store.ErrLocked):
			t.Error(err)
		}
	})
	if len(held) != 1 {
		t.Fatalf("%d holders of one claim, want 1", len(held))
	}
	beta, err := peer.TryClaim("outbox/beta")
	must(t, err)
	pull, err := db.TryClaim("pull/acme")
	must(t, err)
	claimed, err := db.Claimed("outbox/")
	must(t, err)
	if len(claimed) != 2 || !claimed["outbox/acme"] || !claimed["outbox/beta"] {
		t.Errorf("Claimed(outbox/) = %v, want outbox/acme and outbox/beta", claimed)
	}
	must(t, held[0].Fenced().Update(func(tx *store.Tx) error { return tx.PutTenant(tenant("acme")) }))
	held[0].Unlock()
	beta.Unlock()
	pull.Unlock()
	if claimed, err := peer.Claimed(""); err != nil || len(claimed) != 0 {
		t.Errorf("after release Claimed = %v, %v; want none", claimed, err)
	}
	again, err := peer.TryClaim("outbox/acme")
	if err != nil {
		t.Fatalf("claim after release: %v", err)
	}
	again.Unlock()
}

// testDueExcept: the due scans of outbox items and pulls pass over the
// tenants a worker skips (others hold them) and keep the order of the rest.
func testDueExcept(t *testing.T, b Backend) {
	db := b.Open(t)
	must(t, db.Update(func(tx *store.Tx) error {
		for i, key := range []string{"acme", "beta", "acme", "gamma", "beta"} {
			at := t0.Add(time.Duration(i) * time.Second)
			if _, err := tx.PutOutboxItem(store.OutboxItem{Tenant: key, GroupUID: "cld-1", Entity: "invoices", LocalKind: store.KindInvoice,
				LocalID: fmt.Sprintf("inv-%d", i), Status: store.OutboxQueued, NextAttemptAt: at, CreatedAt: t0, UpdatedAt: t0}); err != nil {
				return err
			}
			if err := tx.PutPull(store.Pull{Tenant: key, GroupUID: fmt.Sprintf("cld-%d", i), Collection: "invoices",
				Status: store.PullQueued, DueAt: at, UpdatedAt: t0}); err != nil {
				return err
			}
		}
		return nil
	}))
	skipBeta := func(tenant string) bool { return tenant == "beta" }
	must(t, db.View(func(tx *store.Tx) error {
		items, err := tx.OutboxDueExcept(t0.Add(time.Minute), 0, skipBeta)
		if err != nil {
			return err
		}
		var got []string
		for _, it := range items {
			got = append(got, it.Tenant+"/"+it.LocalID)
		}
		if fmt.Sprint(got) != "[acme/inv-0 acme/inv-2 gamma/inv-3]" {
			t.Errorf("OutboxDueExcept(beta) = %v", got)
		}
		pulls, err := tx.PullsDueExcept(t0.Add(time.Minute), 2, skipBeta)
		if err != nil {
			return err
		}
		got = got[:0]
		for _, p := range pulls {
			got = append(got, p.Tenant+"/"+p.GroupUID)
		}
		if fmt.Sprint(got) != "[acme/cld-0 acme/cld-2]" {
			t.Errorf("PullsDueExcept(beta, limit 2) = %v", got)
		}
		return nil
	}))
}

// testDayCounts: 40 concurrent events of one tenant, kind and day on two
// handles are all counted, whatever the backend spreads them over.
func testDayCounts(t *testing.T, b Backend) {
	db := b.Open(t)
	peer := b.Peer(t, db)
	concurrently(40, db, peer, func(h *store.DB) {
		if err := h.Update(func(tx *store.Tx) error {
			_, err := tx.AppendEvent(store.Event{At: t0, Kind: store.EventWebhook, Tenant: "acme", Outcome: "ok"})
			return err
		}); err != nil {
			t.Error(err)
		}
	})
	must(t, db.View(func(tx *store.Tx) error {
		days, err := tx.DayCounts("acme", t0, t0)
		if len(days) != 1 || days[0].N != 40 || days[0].Kind != store.EventWebhook {
			t.Errorf("DayCounts = %+v, want one count of 40 webhooks", days)
		}
		return err
	}))
}

// concurrently runs fn n times at once, alternately on db and on its peer
// (two handles of the one store, as two replicas or two processes would
// hold it), and returns when all have returned.
func concurrently(n int, db, peer *store.DB, fn func(h *store.DB)) {
	var wg sync.WaitGroup
	for i := range n {
		h := db
		if i%2 == 1 {
			h = peer
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			fn(h)
		}()
	}
	wg.Wait()
}
