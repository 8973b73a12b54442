package connec

// This file delivers the outbox: a Worker pushes due items to each
// tenant's Connec!, records the Connec! id in the identity map, and retries
// failures with exponential backoff until it parks them.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tenantdesk/tenantdesk/store"
	"github.com/tenantdesk/tenantdesk/tenant"
)

// Worker delivers queued pushes. The zero value of each field picks its
// default; Run, PushNow and Retry may be called from any goroutine.
type Worker struct {
	DB          *store.DB
	HTTPClient  *http.Client     // nil: http.DefaultClient; connec.timeout bounds each call
	Now         func() time.Time // nil: time.Now
	MaxAttempts int              // tries before an item is parked; default 8
	BaseBackoff time.Duration    // wait after the first failure, doubled each time up to 1 h; default 5 s
	Poll        time.Duration    // how often Run looks for due items; default 1 s
	Concurrency int              // pushes in flight at once; default 4
	Logger      *slog.Logger

	wake
	once sync.Once
	mu   sync.Mutex
	busy map[uint64]*itemLock // one push per item at a time
}

func (w *Worker) init() {
	w.once.Do(func() {
		w.busy = map[uint64]*itemLock{}
	})
}

func (w *Worker) now() time.Time    { return utcNow(w.Now) }
func (w *Worker) log() *slog.Logger { return orDefaultLogger(w.Logger) }

func (w *Worker) maxAttempts() int {
	if w.MaxAttempts > 0 {
		return w.MaxAttempts
	}
	return DefaultMaxAttempts
}

func (w *Worker) baseBackoff() time.Duration {
	if w.BaseBackoff > 0 {
		return w.BaseBackoff
	}
	return DefaultBaseBackoff
}

// Run delivers due items until ctx is done.
func (w *Worker) Run(ctx context.Context) error {
	w.init()
	w.loop(ctx, w.Poll, func() {
		if _, err := w.ProcessDue(ctx); err != nil && ctx.Err() == nil {
			w.log().Error("outbox", "error", err)
		}
	})
	return nil
}

// ProcessDue pushes every item due now, Concurrency at a time, and returns
// how many were delivered. Run calls it; tests call it with an injected
// clock.
func (w *Worker) ProcessDue(ctx context.Context) (int, error) {
	w.init()
	var delivered atomic.Int64
	seen := map[uint64]bool{}
	sem := make(chan struct{}, w.concurrency())
	for ctx.Err() == nil {
		var due []store.OutboxItem
		err := w.DB.View(func(tx *store.Tx) error {
			var err error
			due, err = tx.OutboxDue(w.now(), 64)
			return err
		})
		if err != nil {
			return int(delivered.Load()), fmt.Errorf("outbox: %w", err)
		}
		var wg sync.WaitGroup
		fresh := 0
		for _, it := range due {
			if seen[it.ID] || ctx.Err() != nil {
				continue // an item saved again during this call waits for the next
			}
			seen[it.ID] = true
			fresh++
			sem <- struct{}{}
			wg.Add(1)
			go func(id uint64) {
				defer func() { <-sem; wg.Done() }()
				if ok, _ := w.push(ctx, id, false); ok {
					delivered.Add(1)
				}
			}(it.ID)
		}
		wg.Wait()
		if len(due) < 64 || fresh == 0 {
			break
		}
	}
	return int(delivered.Load()), nil
}

func (w *Worker) concurrency() int {
	if w.Concurrency > 0 {
		return w.Concurrency
	}
	return 4
}

// Save saves a local invoice (SaveInvoice) and wakes Run to push it.
func (w *Worker) Save(inv store.Invoice) (store.Invoice, error) {
	saved, err := saveInvoice(w.DB, inv, w.now())
	if err == nil {
		w.Nudge()
	}
	return saved, err
}

// PushNow pushes one queued or parked item at once, whatever its next
// attempt time; it returns the push error, if any (also recorded on the
// item). A delivered item is left alone.
func (w *Worker) PushNow(ctx context.Context, itemID uint64) error {
	w.init()
	_, err := w.push(ctx, itemID, true)
	return err
}

// Retry queues a parked item again with fresh attempts and wakes Run.
func (w *Worker) Retry(itemID uint64) error {
	if err := Retry(w.DB, itemID, w.now()); err != nil {
		return err
	}
	w.Nudge()
	return nil
}

// lock serializes pushes of one item (Run and PushNow may race on it) and
// forgets the item's lock once nobody holds or waits for it.
func (w *Worker) lock(id uint64) func() {
	w.mu.Lock()
	l := w.busy[id]
	if l == nil {
		l = &itemLock{}
		w.busy[id] = l
	}
	l.refs++
	w.mu.Unlock()
	l.Lock()
	return func() {
		l.Unlock()
		w.mu.Lock()
		if l.refs--; l.refs == 0 {
			delete(w.busy, id)
		}
		w.mu.Unlock()
	}
}

type itemLock struct {
	sync.Mutex
	refs int
}

// PushInvoice pushes a local invoice now ("push now" in the GUI): its
// queued or parked item, or a new one.
func (w *Worker) PushInvoice(ctx context.Context, invoiceID string) error {
	w.init()
	var id uint64
	err := w.DB.Update(func(tx *store.Tx) error {
		inv, err := tx.Invoice(invoiceID)
		if err != nil {
			return fmt.Errorf("invoice %s: %w", invoiceID, err)
		}
		it, err := liveItem(tx, inv.Tenant, store.KindInvoice, inv.ID)
		if err == nil && it.ID == 0 {
			if err = enqueue(tx, inv, w.now()); err == nil {
				it, err = liveItem(tx, inv.Tenant, store.KindInvoice, inv.ID)
			}
		}
		id = it.ID
		return err
	})
	switch {
	case err != nil:
		return fmt.Errorf("push invoice: %w", err)
	case id == 0:
		return fmt.Errorf("push invoice %s: not shared (its tenant was removed or pushing is switched off)", invoiceID)
	}
	return w.PushNow(ctx, id)
}

// pushJob is what one push needs, read in one transaction.
type pushJob struct {
	item store.OutboxItem
	cfg  *tenant.Config
	inv  store.Invoice
	row  store.ConnectedObject // ID 0: not connected yet
}

// push delivers one item and records the outcome. It reports whether the
// item was delivered.
func (w *Worker) push(ctx context.Context, itemID uint64, force bool) (bool, error) {
	defer w.lock(itemID)()
	job, skip, err := w.load(itemID, force)
	if skip {
		return false, err
	}
	var (
		ids    IDSet
		linked int
	)
	switch {
	case err != nil:
	case job.item.LocalKind == KindLinkBack:
		linked, err = w.linkBack(ctx, job.item, job.cfg)
	default:
		rec := InvoiceToConnec(job.inv, job.cfg, job.row.RemoteID)
		ids, err = NewClient(job.cfg, w.HTTPClient).Push(ctx, job.item.GroupUID, job.item.Entity, job.row.RemoteID, rec)
	}
	if err != nil && ctx.Err() != nil {
		return false, err // shutting down: not the item's fault, no attempt counted
	}
	if err != nil {
		if rerr := w.recordFailure(job, err); rerr != nil {
			return false, errors.Join(err, rerr)
		}
		return false, err
	}
	if job.item.LocalKind == KindLinkBack {
		return true, w.recordLinked(job, linked)
	}
	if err := w.recordSuccess(job, ids.Connec()); err != nil {
		return false, err
	}
	return true, nil
}

// recordLinked marks a KindLinkBack item delivered (the links themselves
// were recorded as they went).
func (w *Worker) recordLinked(job pushJob, linked int) error {
	now := w.now()
	return w.DB.Update(func(tx *store.Tx) error {
		it, err := tx.OutboxItem(job.item.ID)
		if err != nil {
			return fmt.Errorf("outbox item %d: %w", job.item.ID, err)
		}
		if it.Status == store.OutboxQueued && !it.UpdatedAt.Equal(job.item.UpdatedAt) {
			it.Attempts = 0 // queued again meanwhile: its new links go out next
		} else {
			it.Status = store.OutboxDone
			it.Attempts++
		}
		it.LastError, it.UpdatedAt = "", now
		if _, err := tx.PutOutboxItem(it); err != nil {
			return fmt.Errorf("outbox item %d: %w", it.ID, err)
		}
		if linked == 0 {
			return nil
		}
		_, err = tx.AppendEvent(store.Event{At: now, Tenant: it.Tenant, Kind: store.EventOutbox, Outcome: "ok",
			Message: fmt.Sprintf("%d %s of group %s linked back in Connec! (our id sent)", linked, it.Entity, it.GroupUID)})
		return err
	})
}

// errPermanent marks a failure that retrying cannot fix: the item is
// parked at once.
var errPermanent = errors.New("cannot be pushed")

func (w *Worker) load(itemID uint64, force bool) (pushJob, bool, error) {
	var job pushJob
	err := w.DB.View(func(tx *store.Tx) error {
		var err error
		if job.item, err = tx.OutboxItem(itemID); err != nil {
			return fmt.Errorf("outbox item %d: %w", itemID, err)
		}
		if job.item.LocalKind != store.KindInvoice && job.item.LocalKind != KindLinkBack {
			return fmt.Errorf("%w: local kind %q has no push", errPermanent, job.item.LocalKind)
		}
		if job.cfg, err = tenant.GetTx(tx, tenant.Key(job.item.Tenant)); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("%w: tenant %s was removed", errPermanent, job.item.Tenant)
			}
			return err
		}
		if job.item.LocalKind == KindLinkBack {
			return nil // the links themselves are read as they are sent
		}
		if job.inv, err = tx.Invoice(job.item.LocalID); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("%w: invoice %s no longer exists", errPermanent, job.item.LocalID)
			}
			return err
		}
		job.row, err = tx.ConnectedByLocal(job.item.Tenant, store.KindInvoice, job.item.LocalID)
		if errors.Is(err, store.ErrNotFound) {
			job.row, err = store.ConnectedObject{}, nil
		}
		return err
	})
	switch {
	case job.item.ID == 0:
		return job, true, err
	case job.item.Status == store.OutboxDone:
		return job, true, nil
	case !force && (job.item.Status != store.OutboxQueued || job.item.NextAttemptAt.After(w.now())):
		return job, true, nil // handled meanwhile by PushNow or rescheduled
	case err != nil:
		return job, false, err
	case !job.cfg.Enabled:
		return job, false, errors.New("tenant is disabled")
	case job.row.PushDisabled:
		return job, false, fmt.Errorf("%w: pushing is switched off for this invoice", errPermanent)
	}
	return job, false, nil
}

func (w *Worker) recordSuccess(job pushJob, connecID string) error {
	now := w.now()
	return w.DB.Update(func(tx *store.Tx) error {
		it, err := tx.OutboxItem(job.item.ID)
		if err != nil {
			return fmt.Errorf("outbox item %d: %w", job.item.ID, err)
		}
		// The identity-map row may have appeared meanwhile (a notification
		// echoing our push): update that one.
		row, err := tx.ConnectedByLocal(it.Tenant, store.KindInvoice, it.LocalID)
		switch {
		case errors.Is(err, store.ErrNotFound):
			row = store.ConnectedObject{Tenant: it.Tenant, GroupUID: it.GroupUID, LocalKind: store.KindInvoice,
				LocalID: it.LocalID, Provider: ProviderConnec, Entity: EntityInvoices, CreatedAt: now}
		case err != nil:
			return fmt.Errorf("identity map: %w", err)
		}
		row.RemoteID, row.LastPushAt, row.UpdatedAt, row.LastError = connecID, now, now, ""
		row.Name = firstOf(job.inv.Number, job.inv.Title, row.Name)
		if _, err := tx.PutConnected(row); err != nil {
			return fmt.Errorf("identity map: %w", err)
		}
		if it.Status == store.OutboxQueued && !it.UpdatedAt.Equal(job.item.UpdatedAt) {
			// Saved again while we pushed: the new state goes out next.
			it.Attempts = 0
		} else {
			it.Status = store.OutboxDone
			it.Attempts++
		}
		it.LastError, it.UpdatedAt = "", now
		if _, err := tx.PutOutboxItem(it); err != nil {
			return fmt.Errorf("outbox item %d: %w", it.ID, err)
		}
		verb := "created"
		if job.row.RemoteID != "" {
			verb = "updated"
		}
		_, err = tx.AppendEvent(store.Event{At: now, Tenant: it.Tenant, Kind: store.EventOutbox, Outcome: "ok",
			Message: fmt.Sprintf("invoice %s %s in Connec! (%s, group %s)", firstOf(job.inv.Number, it.LocalID), verb, connecID, it.GroupUID)})
		return err
	})
}

func (w *Worker) recordFailure(job pushJob, pushErr error) error {
	now := w.now()
	msg := pushErr.Error()
	var ce *tenant.CallError
	permanent := errors.Is(pushErr, errPermanent) || (errors.As(pushErr, &ce) && !ce.Retryable())
	return w.DB.Update(func(tx *store.Tx) error {
		it, err := tx.OutboxItem(job.item.ID)
		if err != nil {
			return fmt.Errorf("outbox item %d: %w", job.item.ID, err)
		}
		it.Attempts++
		it.LastError, it.UpdatedAt = msg, now
		parked := permanent || it.Attempts >= w.maxAttempts()
		if parked {
			it.Status = store.OutboxFailed
		} else {
			it.Status = store.OutboxQueued
			it.NextAttemptAt = now.Add(backoff(w.baseBackoff(), it.Attempts))
		}
		if _, err := tx.PutOutboxItem(it); err != nil {
			return fmt.Errorf("outbox item %d: %w", it.ID, err)
		}
		subject := "push of invoice " + firstOf(job.inv.Number, it.LocalID)
		if it.LocalKind == KindLinkBack {
			subject = fmt.Sprintf("links back of %s for group %s", it.Entity, it.GroupUID)
		} else if row, err := tx.ConnectedByLocal(it.Tenant, store.KindInvoice, it.LocalID); err == nil {
			row.LastError, row.UpdatedAt = msg, now
			if _, err := tx.PutConnected(row); err != nil {
				return fmt.Errorf("identity map: %w", err)
			}
		}
		what := fmt.Sprintf("%s failed (attempt %d of %d), next try %s: %s",
			subject, it.Attempts, w.maxAttempts(), it.NextAttemptAt.Format(time.RFC3339), msg)
		if parked {
			what = fmt.Sprintf("%s parked after %d attempts: %s", subject, it.Attempts, msg)
		}
		w.log().Warn("outbox push failed", "tenant", it.Tenant, "item", it.ID, "attempts", it.Attempts, "parked", parked, "error", msg)
		_, err = tx.AppendEvent(store.Event{At: now, Tenant: it.Tenant, Kind: store.EventOutbox, Outcome: "failed", Message: what})
		return err
	})
}
