package store

import (
	"errors"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/tenantdesk/tenantdesk/store/etcdtest"
)

// A replay entry on etcd is a key under a lease: within its time a
// replay is refused on another handle (another replica), and after it
// the cluster has deleted the key itself, with no purge. Entries that end
// in the same slot share one lease.
func TestEtcdReplayEntryExpiresWithLease(t *testing.T) {
	defer func(w time.Duration) { expiryBucket = w }(expiryBucket)
	expiryBucket = time.Second
	url := etcdtest.URL(t)
	a := openEtcd(t, url)
	b := openEtcd(t, url)
	remember := func(db *DB, id string, ttl time.Duration) bool {
		t.Helper()
		now := time.Now()
		var fresh bool
		if err := db.Update(func(tx *Tx) (err error) {
			fresh, err = tx.RememberAssertion("acme", id, now.Add(ttl), now)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return fresh
	}
	raw := func(id string) *clientv3.GetResponse {
		t.Helper()
		resp, err := a.etcd.cli.Get(t.Context(), a.etcd.prefix+bucketAssertions.name+"/"+string(key("acme", id)))
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}

	if !remember(a, "_first", 2*time.Second) {
		t.Fatal("a new assertion was refused")
	}
	if remember(b, "_first", 2*time.Second) {
		t.Fatal("a replay through another handle was accepted within the entry's time")
	}
	if !remember(b, "_second", 2*time.Second) {
		t.Fatal("a second new assertion was refused")
	}
	first, second := raw("_first"), raw("_second")
	if len(first.Kvs) != 1 || first.Kvs[0].Lease == 0 {
		t.Fatalf("replay entry stored as %v, want one key under a lease", first.Kvs)
	}
	if len(second.Kvs) != 1 || second.Kvs[0].Lease == 0 {
		t.Fatalf("second replay entry stored as %v, want one key under a lease", second.Kvs)
	}
	// Keys that end in one slot share its lease; the next slot has another.
	slot := time.Now().Add(5 * time.Second).Truncate(expiryBucket)
	l1, err1 := a.etcd.expiryLease(slot.Add(100 * time.Millisecond))
	l2, err2 := a.etcd.expiryLease(slot.Add(900 * time.Millisecond))
	l3, err3 := a.etcd.expiryLease(slot.Add(1100 * time.Millisecond))
	if err := errors.Join(err1, err2, err3); err != nil {
		t.Fatal(err)
	}
	if l1 != l2 || l2 == l3 {
		t.Errorf("leases of one slot %x, %x (want one), of the next %x (want another)", l1, l2, l3)
	}
	ttl, err := a.etcd.cli.TimeToLive(t.Context(), clientv3.LeaseID(first.Kvs[0].Lease))
	if err != nil {
		t.Fatal(err)
	}
	// The lease ends one to two slots after the entry's 2 s: at most 4 s plus the rounding up.
	if ttl.TTL < 2 || ttl.TTL > 5 {
		t.Errorf("lease of a 2 s entry has %d s left, want 2–5", ttl.TTL)
	}

	// Both entries go, the one written through the other handle too (it
	// may have fallen into the next slot, a second later).
	deadline := time.Now().Add(15 * time.Second)
	for len(raw("_first").Kvs)+len(raw("_second").Kvs) != 0 && time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
	}
	if len(raw("_first").Kvs) != 0 {
		t.Fatal("replay entry still in etcd 15 s after its 2 s lease")
	}
	if len(raw("_second").Kvs) != 0 {
		t.Fatal("the entry written through the other handle still in etcd 15 s after its 2 s lease")
	}
	// Its time over, the id is new again (the assertion itself has
	// expired by then: consume refuses it on its NotOnOrAfter).
	if !remember(b, "_first", time.Minute) {
		t.Error("an id whose entry expired is still refused")
	}
}
