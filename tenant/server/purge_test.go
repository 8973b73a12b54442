package server_test

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/tenantdesk/tenantdesk/store"
	"github.com/tenantdesk/tenantdesk/tenant/server"
)

// While the listener runs, its timer removes expired sessions, requests
// and replay entries and keeps the live ones; it stops with the listener.
func TestListenerPurgesExpiredLogins(t *testing.T) {
	e := newEnv(t)
	now := time.Now()
	if err := e.db.Update(func(tx *store.Tx) error {
		return errors.Join(
			tx.PutSession(store.Session{ID: "old", Tenant: "acme", ExpiresAt: now.Add(-time.Minute)}),
			tx.PutSession(store.Session{ID: "live", Tenant: "acme", ExpiresAt: now.Add(time.Hour)}),
			tx.PutAuthnRequest(store.AuthnRequest{Tenant: "acme", ID: "_old", ExpiresAt: now.Add(-time.Minute)}),
		)
	}); err != nil {
		t.Fatal(err)
	}
	s := server.New(e.db, publicURL, slog.New(slog.DiscardHandler))
	server.SetPurgeInterval(s, 10*time.Millisecond)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	ready := make(chan net.Addr, 1)
	go func() { done <- s.ListenAndServe(ctx, "127.0.0.1:0", func(a net.Addr) { ready <- a }) }()
	select {
	case <-ready:
	case err := <-done:
		t.Fatal(err)
	}
	gone := func(id string) bool {
		var err error
		_ = e.db.View(func(tx *store.Tx) error { _, err = tx.Session(id); return nil })
		return errors.Is(err, store.ErrNotFound)
	}
	pending := func() int {
		var n int
		_ = e.db.View(func(tx *store.Tx) error {
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
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// Stopped: nothing writes any more.
	gen := e.db.Generation()
	if err := e.db.Update(func(tx *store.Tx) error {
		return tx.PutSession(store.Session{ID: "late", Tenant: "acme", ExpiresAt: now.Add(-time.Minute)})
	}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	if g := e.db.Generation(); g != gen+1 {
		t.Errorf("%d writes after the listener stopped, want only the test's own", g-gen)
	}
}
