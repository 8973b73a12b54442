package store_test

import (
	"errors"
	"testing"
	"time"

	"github.com/tenantdesk/tenantdesk/store"
)

func TestPullQueueOrderAndDequeue(t *testing.T) {
	db := openTemp(t)
	update(t, db, func(tx *store.Tx) error {
		if err := tx.PutTenant(store.Tenant{Key: "acme", Config: []byte(`{}`)}); err != nil {
			return err
		}
		for i, g := range []string{"cld-2", "cld-1", "cld-3"} {
			if err := tx.PutPull(store.Pull{Tenant: "acme", GroupUID: g, Collection: "invoices", Status: store.PullQueued,
				DueAt: t0.Add(time.Duration(i) * time.Minute)}); err != nil {
				return err
			}
		}
		// Moving one later and dequeuing another updates the index.
		if err := tx.PutPull(store.Pull{Tenant: "acme", GroupUID: "cld-2", Collection: "invoices", Status: store.PullQueued, DueAt: t0.Add(time.Hour)}); err != nil {
			return err
		}
		return tx.PutPull(store.Pull{Tenant: "acme", GroupUID: "cld-1", Collection: "invoices", Status: store.PullIdle})
	})
	view(t, db, func(tx *store.Tx) error {
		due, err := tx.PullsDue(t0.Add(10*time.Minute), 0)
		if err != nil {
			return err
		}
		if len(due) != 1 || due[0].GroupUID != "cld-3" {
			t.Errorf("due at +10m: %+v, want cld-3 only", due)
		}
		if next, ok := tx.NextPullDue(); !ok || !next.Equal(t0.Add(2*time.Minute)) {
			t.Errorf("next due %v %v", next, ok)
		}
		all, err := tx.Pulls("acme")
		if len(all) != 3 || err != nil {
			t.Errorf("pulls of acme: %d, %v", len(all), err)
		}
		return nil
	})
	update(t, db, func(tx *store.Tx) error {
		if err := tx.PutPendingLink(store.PendingLink{Tenant: "acme", GroupUID: "cld-1", Collection: "invoices", ConnecID: "c-1", LocalID: "inv-1", RowID: 7}); err != nil {
			return err
		}
		if err := tx.StopPulls(store.PullStop{Tenant: "acme", At: t0, Reason: "401"}); err != nil {
			return err
		}
		return tx.DeleteTenant("acme")
	})
	view(t, db, func(tx *store.Tx) error {
		if due, _ := tx.PullsDue(t0.Add(100*time.Hour), 0); len(due) != 0 {
			t.Errorf("queue of a removed tenant: %+v", due)
		}
		if links, _ := tx.PendingLinks("acme", "cld-1", "invoices", 0); len(links) != 0 {
			t.Errorf("pending links of a removed tenant: %+v", links)
		}
		if _, err := tx.PullStopped("acme"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("stop of a removed tenant: %v", err)
		}
		return nil
	})
}
