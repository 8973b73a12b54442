package connec

// This file is the outbox (SPEC §7): saving a local invoice queues its push
// to the tenant's Connec! in the same transaction, so a saved invoice is
// never left unshared by a crash. push.go delivers the queue; the backoff
// policy here is the one every retry of a Connec! call uses.

import (
	"errors"
	"fmt"
	"time"

	"github.com/tenantdesk/tenantdesk/store"
)

// enqueue queues the push of a saved invoice, unless its tenant is gone
// (orphaned records stay local) or pushing is switched off for it. An
// invoice has at most one live item: a queued one is made due now, a
// parked one is queued again with fresh attempts.
func enqueue(tx *store.Tx, inv store.Invoice, now time.Time) error {
	if _, err := tx.Tenant(inv.Tenant); errors.Is(err, store.ErrNotFound) {
		return nil
	} else if err != nil {
		return fmt.Errorf("read tenant: %w", err)
	}
	row, err := tx.ConnectedByLocal(inv.Tenant, store.KindInvoice, inv.ID)
	switch {
	case err == nil && row.PushDisabled:
		return nil
	case err != nil && !errors.Is(err, store.ErrNotFound):
		return fmt.Errorf("identity map: %w", err)
	}
	it, err := liveItem(tx, inv.Tenant, store.KindInvoice, inv.ID)
	if err != nil {
		return err
	}
	if it.ID == 0 {
		it = store.OutboxItem{Tenant: inv.Tenant, GroupUID: inv.GroupUID, Entity: EntityInvoices,
			LocalKind: store.KindInvoice, LocalID: inv.ID, CreatedAt: now}
	}
	if it.Status == store.OutboxFailed {
		it.Attempts, it.LastError = 0, ""
	}
	it.Status, it.NextAttemptAt, it.UpdatedAt = store.OutboxQueued, now, now
	if _, err := tx.PutOutboxItem(it); err != nil {
		return fmt.Errorf("queue push: %w", err)
	}
	return nil
}

// liveItem is the queued or parked item of a local object, or a zero item.
func liveItem(tx *store.Tx, tenantKey, kind, localID string) (store.OutboxItem, error) {
	for _, status := range []string{store.OutboxQueued, store.OutboxFailed} {
		items, err := tx.OutboxByStatus(status)
		if err != nil {
			return store.OutboxItem{}, fmt.Errorf("read outbox: %w", err)
		}
		for _, it := range items {
			if it.Tenant == tenantKey && it.LocalKind == kind && it.LocalID == localID {
				return it, nil
			}
		}
	}
	return store.OutboxItem{}, nil
}

// Backoff policy of the outbox worker.
const (
	DefaultMaxAttempts = 8
	DefaultBaseBackoff = 5 * time.Second
	MaxBackoff         = time.Hour
)

// backoff is the wait after the n-th failed attempt (n ≥ 1): base, 2×base,
// 4×base, … capped at MaxBackoff.
func backoff(base time.Duration, n int) time.Duration {
	d := base
	for i := 1; i < n && d < MaxBackoff; i++ {
		d *= 2
	}
	return min(d, MaxBackoff)
}

// Retry queues a parked (failed) item again with fresh attempts, due now.
// A queued item is made due now; a delivered one is left alone.
func Retry(db *store.DB, itemID uint64, now time.Time) error {
	return db.Update(func(tx *store.Tx) error {
		it, err := tx.OutboxItem(itemID)
		if err != nil {
			return fmt.Errorf("retry outbox item %d: %w", itemID, err)
		}
		switch it.Status {
		case store.OutboxDone:
			return fmt.Errorf("retry outbox item %d: already delivered", itemID)
		case store.OutboxFailed:
			it.Attempts, it.LastError = 0, ""
		}
		it.Status, it.NextAttemptAt, it.UpdatedAt = store.OutboxQueued, now.UTC(), now.UTC()
		if _, err := tx.PutOutboxItem(it); err != nil {
			return fmt.Errorf("retry outbox item %d: %w", itemID, err)
		}
		_, err = tx.AppendEvent(store.Event{At: now, Tenant: it.Tenant, Kind: store.EventOutbox,
			Message: fmt.Sprintf("push of %s %s queued again by hand", it.LocalKind, it.LocalID)})
		return err
	})
}

// FailedPushes lists the parked items, oldest first, for the GUI's retry list.
func FailedPushes(db *store.DB) ([]store.OutboxItem, error) {
	var items []store.OutboxItem
	err := db.View(func(tx *store.Tx) (err error) {
		items, err = tx.OutboxByStatus(store.OutboxFailed)
		return err
	})
	return items, err
}
