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
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tenantdesk/tenantdesk/store"
	"github.com/tenantdesk/tenantdesk/tenant"
)

// Worker delivers queued pushes. The zero value of each field picks its
// default; Run, PushNow and Retry may be called from any goroutine. On an
// etcd store each replica runs one, and they share the tenants (claims.go).
type Worker struct {
	DB          *store.DB
	HTTPClient  *http.Client     // nil: http.DefaultClient; connec.timeout bounds each call
	Now         func() time.Time // nil: time.Now
	MaxAttempts int              // tries before an item is parked; default 8
	BaseBackoff time.Duration    // wait after the first failure, doubled each time up to 1 h; default 5 s
	Poll        time.Duration    // how often Run looks for due items; default 1 s
	Concurrency int              // pushes in flight at once, and on etcd tenants held at once; default 4
	Logger      *slog.Logger

	wake
	once   sync.Once
	mu     sync.Mutex
	busy   map[uint64]*itemLock // one push per item at a time
	claims tenantClaims         // etcd: the tenants this worker holds
}

func (w *Worker) init() {
	w.once.Do(func() {
		w.busy = map[uint64]*itemLock{}
		w.claims.prefix = "outbox/"
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
// clock. On etcd it works the tenants it can claim, at most Concurrency
// at once, and passes over those another replica holds.
func (w *Worker) ProcessDue(ctx context.Context) (int, error) {
	w.init()
	var delivered atomic.Int64
	seen := map[uint64]bool{}
	sem := make(chan struct{}, w.concurrency())
	claims := newPass(&w.claims, w.DB, w.concurrency())
	defer claims.end()
	for ctx.Err() == nil {
		skip, err := w.claims.elsewhere(w.DB)
		if err != nil {
			return int(delivered.Load()), fmt.Errorf("outbox: %w", err)
		}
		var due []store.OutboxItem
		err = w.DB.View(func(tx *store.Tx) error {
			var err error
			due, err = tx.OutboxDueExcept(w.now(), 64, skip)
			return err
		})
		if err != nil {
			return int(delivered.Load()), fmt.Errorf("outbox: %w", err)
		}
		tenants := make([]string, len(due))
		for i, it := range due {
			tenants[i] = it.Tenant
		}
		held := claims.claim(tenants)
		var wg sync.WaitGroup
		fresh, waiting := 0, 0
		for _, it := range due {
			db := held[it.Tenant]
			if db == nil {
				waiting++ // its tenant is claimed elsewhere, or this pass holds enough
				continue
			}
			if seen[it.ID] || ctx.Err() != nil {
				continue // an item saved again during this call waits for the next
			}
			seen[it.ID] = true
			fresh++
			sem <- struct{}{}
			wg.Add(1)
			go func(id uint64) {
				defer func() { <-sem; wg.Done() }()
				pctx, done := finishing(ctx, pushGrace)
				defer done()
				if ok, _ := w.push(pctx, db, id, false); ok {
					delivered.Add(1)
				}
			}(it.ID)
		}
		wg.Wait()
		if (len(due) < 64 && waiting == 0) || fresh == 0 {
			break
		}
	}
	return int(delivered.Load()), nil
}

// pushGrace is how long a push under way may go on once the worker is
// told to stop (serve's SIGTERM, a rolling restart). A push cut off midway
// may still have reached Connec!, and whoever works the tenant next would
// send it again, a duplicate; so stopping waits for it, within a bound.
const pushGrace = 10 * time.Second

// finishing is ctx for work that, once started, should finish: it ends
// grace after ctx ends, or when done is called.
func finishing(ctx context.Context, grace time.Duration) (_ context.Context, done context.CancelFunc) {
	fctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	stop := context.AfterFunc(ctx, func() {
		select {
		case <-time.After(grace):
			cancel()
		case <-fctx.Done():
		}
	})
	return fctx, func() { stop(); cancel() }
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
// item). A delivered item is left alone. On etcd, while another replica
// works the item's tenant, the item is made due now so that that replica
// pushes it next, and PushNow waits for the outcome (pushElsewhere).
func (w *Worker) PushNow(ctx context.Context, itemID uint64) error {
	w.init()
	var it store.OutboxItem
	if err := w.DB.View(func(tx *store.Tx) (err error) { it, err = tx.OutboxItem(itemID); return err }); err != nil {
		_, err = w.push(ctx, w.DB, itemID, true) // says why, as a push of it would
		return err
	}
	db, release, err := w.claims.take(w.DB, it.Tenant)
	switch {
	case errors.Is(err, store.ErrLocked):
		return w.pushElsewhere(ctx, it)
	case err != nil:
		return fmt.Errorf("push outbox item %d: %w", itemID, err)
	}
	defer release()
	_, err = w.push(ctx, db, itemID, true)
	return err
}

// pushElsewhereWait bounds how long PushNow waits for the replica that
// works the item's tenant.
const pushElsewhereWait = 30 * time.Second

// pushElsewhere is PushNow of an item whose tenant another replica holds:
// the item is queued due now, and PushNow waits until it is delivered or
// has failed again (its holder pushed it), or until the claim is free
// (then it pushes the item itself).
func (w *Worker) pushElsewhere(ctx context.Context, it store.OutboxItem) error {
	ctx, cancel := context.WithTimeout(ctx, pushElsewhereWait)
	defer cancel()
	now := w.now()
	done := false
	err := w.DB.Update(func(tx *store.Tx) error {
		cur, err := tx.OutboxItem(it.ID)
		if err != nil {
			return err
		}
		if done = cur.Status == store.OutboxDone; done {
			return nil
		}
		cur.Status, cur.NextAttemptAt, cur.UpdatedAt = store.OutboxQueued, now, now
		_, err = tx.PutOutboxItem(cur)
		return err
	})
	if err != nil || done {
		return err
	}
	w.log().Info("push now: another replica works the tenant; it pushes the item next", "tenant", it.Tenant, "item", it.ID)
	for {
		select {
		case <-ctx.Done():
			return fmt.Errorf("push outbox item %d: the replica working tenant %s has not pushed it yet: %w", it.ID, it.Tenant, ctx.Err())
		case <-time.After(claimPoll):
		}
		var cur store.OutboxItem
		if err := w.DB.View(func(tx *store.Tx) (err error) { cur, err = tx.OutboxItem(it.ID); return err }); err != nil {
			return fmt.Errorf("outbox item %d: %w", it.ID, err)
		}
		switch {
		case cur.Status == store.OutboxDone:
			return nil
		case !cur.UpdatedAt.Equal(now) && cur.LastError != "":
			return errors.New(cur.LastError)
		}
		db, release, err := w.claims.take(w.DB, it.Tenant)
		if errors.Is(err, store.ErrLocked) {
			continue
		}
		if err != nil {
			return fmt.Errorf("push outbox item %d: %w", it.ID, err)
		}
		_, err = w.push(ctx, db, it.ID, true)
		release()
		return err
	}
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
	// posted: this attempt sent a create (its answer decides the mark);
	// found: the record of an earlier create whose answer was lost was
	// found in Connec! (lostCreate) and this attempt updates it.
	posted, found bool
}

// push delivers one item and records the outcome through db (on etcd the
// store fenced by the claim of the item's tenant). It reports whether the
// item was delivered.
func (w *Worker) push(ctx context.Context, db *store.DB, itemID uint64, force bool) (bool, error) {
	defer w.lock(itemID)()
	job, skip, err := w.load(db, itemID, force)
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
		linked, err = w.linkBack(ctx, db, job.item, job.cfg)
	default:
		ids, err = w.pushInvoice(ctx, db, &job)
	}
	if err != nil && ctx.Err() != nil {
		return false, err // shutting down: not the item's fault, no attempt counted
	}
	if err != nil {
		if rerr := w.recordFailure(db, job, err); rerr != nil {
			return false, errors.Join(err, rerr)
		}
		return false, err
	}
	if job.item.LocalKind == KindLinkBack {
		return true, w.recordLinked(db, job, linked)
	}
	if err := w.recordSuccess(db, job, ids.Connec()); err != nil {
		return false, err
	}
	return true, nil
}

// pushInvoice sends the invoice of job: a PUT once it has a Connec! id; a
// create otherwise, made safe against a lost answer. A create whose answer
// never came back (the process died, the connection broke, a replica lost
// its claim) may still have made the record, so before the first create of
// an item its time is recorded (markCreateSent, one more write), and an
// attempt that finds that mark looks for the record in Connec! first
// (lostCreate): found, the invoice is sent as a PUT to it, never created
// twice. The mark goes once an answer is recorded (a 2xx, or a 4xx to the
// create: nothing was made).
func (w *Worker) pushInvoice(ctx context.Context, db *store.DB, job *pushJob) (IDSet, error) {
	client := NewClient(job.cfg, w.HTTPClient)
	if job.row.RemoteID == "" && !job.item.CreateSentAt.IsZero() {
		id, err := w.lostCreate(ctx, client, job)
		if err != nil {
			return nil, err
		}
		job.row.RemoteID, job.found = id, id != ""
	}
	if job.row.RemoteID == "" && job.item.CreateSentAt.IsZero() {
		if err := w.markCreateSent(db, job); err != nil {
			return nil, err
		}
	}
	job.posted = job.row.RemoteID == ""
	rec := InvoiceToConnec(job.inv, job.cfg, job.row.RemoteID)
	return client.Push(ctx, job.item.GroupUID, job.item.Entity, job.row.RemoteID, rec)
}

// markCreateSent records on the item, through db (fenced by the tenant's
// claim on etcd), that a create is about to go out: one write, the cost
// of this safety (BenchmarkPushCreateVsUpdate). The identity map is not
// read again: only a record of an earlier create could have given the
// invoice a Connec! id since load, and that create left the mark set.
func (w *Worker) markCreateSent(db *store.DB, job *pushJob) error {
	now := w.now()
	err := db.Update(func(tx *store.Tx) error {
		it, err := tx.OutboxItem(job.item.ID)
		if err != nil {
			return fmt.Errorf("outbox item %d: %w", job.item.ID, err)
		}
		it.CreateSentAt = now
		if _, err := tx.PutOutboxItem(it); err != nil {
			return fmt.Errorf("outbox item %d: %w", it.ID, err)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("record the create in flight: %w", err)
	}
	job.item.CreateSentAt = now
	return nil
}

// lostCreate looks in Connec! for the record that the item's earlier
// create may have made: the group's invoices updated since the mark (less
// PullOverlap, for clock skew; a record's updated_at only grows), every
// page. With external ids the record is the one carrying our triplet for
// the invoice. Without them there is no id of ours to find, so it is the
// one invoice created since the mark with the invoice's number, currency
// and total; none or several such: "" (the create goes out again, as a
// duplicate is less harm than taking over another app's record). It
// returns the record's Connec! id, or "" when there is none.
func (w *Worker) lostCreate(ctx context.Context, client *Client, job *pushJob) (string, error) {
	since := job.item.CreateSentAt.Add(-PullOverlap).UTC()
	query := fmt.Sprintf("$top=%d&$filter=%s", PageSize, url.QueryEscape("updated_at gt '"+since.Format(time.RFC3339)+"'"))
	ours := OurRef(job.cfg, job.item.GroupUID, job.item.LocalID)
	byTriplet := job.cfg.ExternalIDs() && ours.Provider != ""
	var alike []string
	for {
		page, err := client.GetPage(ctx, job.item.GroupUID, job.item.Entity, query)
		if err != nil {
			return "", fmt.Errorf("look for the record of a create whose answer was lost: %w", err)
		}
		for _, raw := range page.Records {
			h, err := DecodeHeader(raw)
			if err != nil || h.IDs.Connec() == "" {
				continue // not a record we could have made
			}
			if byTriplet {
				if h.IDs.Find(ours.Provider, ours.Realm) == ours.ID {
					return h.IDs.Connec(), nil
				}
				continue
			}
			inv, err := InvoiceFromConnec(job.item.Tenant, job.item.GroupUID, raw)
			if err == nil && job.inv.Number != "" && inv.Number == job.inv.Number && inv.Currency == job.inv.Currency &&
				inv.TotalCents == job.inv.TotalCents && !inv.CreatedAt.Before(since) {
				alike = append(alike, h.IDs.Connec())
			}
		}
		if page.Next == "" || len(page.Records) == 0 {
			break
		}
		query = page.Next
	}
	if len(alike) == 1 {
		return alike[0], nil
	}
	if len(alike) > 1 {
		w.log().Warn("outbox: several invoices in Connec! may be the one a lost create made; creating it again",
			"tenant", job.item.Tenant, "item", job.item.ID, "candidates", len(alike))
	}
	return "", nil
}

// recordLinked marks a KindLinkBack item delivered (the links themselves
// were recorded as they went).
func (w *Worker) recordLinked(db *store.DB, job pushJob, linked int) error {
	now := w.now()
	return db.Update(func(tx *store.Tx) error {
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

func (w *Worker) load(db *store.DB, itemID uint64, force bool) (pushJob, bool, error) {
	var job pushJob
	err := db.View(func(tx *store.Tx) error {
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

func (w *Worker) recordSuccess(db *store.DB, job pushJob, connecID string) error {
	now := w.now()
	return db.Update(func(tx *store.Tx) error {
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
		it.LastError, it.UpdatedAt, it.CreateSentAt = "", now, time.Time{}
		if _, err := tx.PutOutboxItem(it); err != nil {
			return fmt.Errorf("outbox item %d: %w", it.ID, err)
		}
		verb := "created"
		switch {
		case job.found:
			verb = "found (the answer to its create had been lost, so it was not created again) and updated"
		case job.row.RemoteID != "":
			verb = "updated"
		}
		_, err = tx.AppendEvent(store.Event{At: now, Tenant: it.Tenant, Kind: store.EventOutbox, Outcome: "ok",
			Message: fmt.Sprintf("invoice %s %s in Connec! (%s, group %s)", firstOf(job.inv.Number, it.LocalID), verb, connecID, it.GroupUID)})
		return err
	})
}

func (w *Worker) recordFailure(db *store.DB, job pushJob, pushErr error) error {
	now := w.now()
	msg := pushErr.Error()
	var ce *tenant.CallError
	permanent := errors.Is(pushErr, errPermanent) || (errors.As(pushErr, &ce) && !ce.Retryable())
	return db.Update(func(tx *store.Tx) error {
		it, err := tx.OutboxItem(job.item.ID)
		if err != nil {
			return fmt.Errorf("outbox item %d: %w", job.item.ID, err)
		}
		it.Attempts++
		it.LastError, it.UpdatedAt = msg, now
		if refused := (*tenant.CallError)(nil); job.posted && errors.As(pushErr, &refused) && refused.Status/100 == 4 {
			it.CreateSentAt = time.Time{} // the create was refused: Connec! made nothing
		}
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
