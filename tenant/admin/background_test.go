package admin

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/tenantdesk/tenantdesk/store"
)

// While the owner's background work runs, its timer removes expired
// sessions, requests and replay entries and keeps the live ones, with no
// listener running; when ctx ends RunBackground returns, and nothing
// writes to the file any more.
func TestRunBackgroundPurgesExpiredLoginsAndStops(t *testing.T) {
	s := newService(t)
	s.now = time.Now
	s.purgeEvery = 10 * time.Millisecond
	now := time.Now()
	if err := s.db.Update(func(tx *store.Tx) error {
		return errors.Join(
			tx.PutSession(store.Session{ID: "old", Tenant: "acme", ExpiresAt: now.Add(-time.Minute)}),
			tx.PutSession(store.Session{ID: "live", Tenant: "acme", ExpiresAt: now.Add(time.Hour)}),
			tx.PutAuthnRequest(store.AuthnRequest{Tenant: "acme", ID: "_old", ExpiresAt: now.Add(-time.Minute)}),
		)
	}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); s.RunBackground(ctx) }()
	gone := func(id string) bool {
		var err error
		_ = s.db.View(func(tx *store.Tx) error { _, err = tx.Session(id); return nil })
		return errors.Is(err, store.ErrNotFound)
	}
	pending := func() int {
		var n int
		_ = s.db.View(func(tx *store.Tx) error {
			p, err := tx.PendingAuthnRequests("acme")
			n = len(p)
			return err
		})
		return n
	}
	deadline := time.Now().Add(5 * time.Second)
	for (!gone("old") || pending() != 0) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if !gone("old") || gone("live") || pending() != 0 {
		t.Errorf("after the purge: expired session gone=%v, live session gone=%v, %d expired requests kept",
			gone("old"), gone("live"), pending())
	}
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("RunBackground did not return within 10 s of its context ending")
	}
	// Stopped: nothing writes any more.
	gen := s.db.Generation()
	if err := s.db.Update(func(tx *store.Tx) error {
		return tx.PutSession(store.Session{ID: "late", Tenant: "acme", ExpiresAt: now.Add(-time.Minute)})
	}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	if g := s.db.Generation(); g != gen+1 {
		t.Errorf("%d writes after RunBackground returned, want only the test's own", g-gen)
	}
}
