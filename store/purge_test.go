package store_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/tenantdesk/tenantdesk/store"
)

// A tenant at its cap of pending requests makes room by evicting its
// oldest (by key order); other tenants are untouched.
func TestIssueAuthnRequestEvictsOldest(t *testing.T) {
	db := openTemp(t)
	issue := func(tenant, id string) int {
		t.Helper()
		var evicted int
		update(t, db, func(tx *store.Tx) error {
			var err error
			evicted, err = tx.IssueAuthnRequest(store.AuthnRequest{Tenant: tenant, ID: id, ExpiresAt: t0.Add(time.Hour)}, 3)
			return err
		})
		return evicted
	}
	issue("globex", "_0")
	for i := 1; i <= 3; i++ {
		if n := issue("acme", fmt.Sprintf("_%d", i)); n != 0 {
			t.Fatalf("request %d evicted %d under the cap", i, n)
		}
	}
	if n := issue("acme", "_4"); n != 1 {
		t.Fatalf("request over the cap evicted %d, want 1", n)
	}
	update(t, db, func(tx *store.Tx) error {
		if _, err := tx.ConsumeAuthnRequest("acme", "_1", t0); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("oldest request not evicted: %v", err)
		}
		for _, id := range []string{"_2", "_3", "_4"} {
			if _, err := tx.ConsumeAuthnRequest("acme", id, t0); err != nil {
				t.Errorf("request %s: %v", id, err)
			}
		}
		if _, err := tx.ConsumeAuthnRequest("globex", "_0", t0); err != nil {
			t.Errorf("other tenant's request: %v", err)
		}
		return nil
	})
	// Consumed and purged requests leave the count: three more fit again,
	// and the count is never taken for a request.
	issue("acme", "_5")
	if _, err := db.PurgeExpired(t0.Add(2 * time.Hour)); err != nil {
		t.Fatal(err)
	}
	for i := 6; i <= 8; i++ {
		if n := issue("acme", fmt.Sprintf("_%d", i)); n != 0 {
			t.Errorf("request %d evicted %d after the others were consumed and purged", i, n)
		}
	}
	view(t, db, func(tx *store.Tx) error {
		p, err := tx.PendingAuthnRequests("acme")
		if err != nil || len(p) != 3 || p[0].ID != "_6" {
			t.Errorf("pending: %+v %v", p, err)
		}
		return nil
	})
	update(t, db, func(tx *store.Tx) error {
		if _, err := tx.ConsumeAuthnRequest("acme", "", t0); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("consume with an empty id: %v", err)
		}
		return nil
	})
}

// PurgeExpired removes exactly the expired entries of all three kinds,
// however many batches it takes, and keeps the live ones.
func TestPurgeExpiredInBatches(t *testing.T) {
	db := openTemp(t)
	n := 2*store.PurgeBatch + 17
	update(t, db, func(tx *store.Tx) error {
		for i := range n {
			// every third entry is still live
			exp := t0
			if i%3 == 0 {
				exp = t0.Add(time.Hour)
			}
			id := fmt.Sprintf("%05d", i)
			if err := tx.PutSession(store.Session{ID: "s" + id, Tenant: "acme", ExpiresAt: exp}); err != nil {
				return err
			}
			if err := tx.PutAuthnRequest(store.AuthnRequest{Tenant: "acme", ID: "_" + id, ExpiresAt: exp}); err != nil {
				return err
			}
			if _, err := tx.RememberAssertion("acme", "a"+id, exp, t0.Add(-time.Hour)); err != nil {
				return err
			}
		}
		return nil
	})
	gen := db.Generation()
	p, err := db.PurgeExpired(t0.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	live := (n + 2) / 3
	if want := n - live; p.Sessions != want || p.AuthnRequests != want || p.Assertions != want {
		t.Errorf("purged %+v, want %d of each", p, want)
	}
	if commits := db.Generation() - gen; commits < 3*3 {
		t.Errorf("%d write transactions for %d entries in batches of %d", commits, 3*n, store.PurgeBatch)
	}
	view(t, db, func(tx *store.Tx) error {
		for i := range n {
			id := fmt.Sprintf("%05d", i)
			_, err := tx.Session("s" + id)
			if (err == nil) != (i%3 == 0) {
				t.Fatalf("session %s after purge: %v", id, err)
			}
		}
		return nil
	})
	// Nothing left to purge: a second run removes nothing.
	if p, err := db.PurgeExpired(t0.Add(time.Minute)); err != nil || p.Total() != 0 {
		t.Errorf("second purge: %+v %v", p, err)
	}
}
