package connec

// This file links records created here from Connec! back to it
// (maestrano-protocol §5.4, SPEC §7): our id triplet is sent once per
// record, in batches of PUTs as the connector sends them. The links still
// to send are kept in the store (store.PendingLink) until Connec! has them,
// and the identity-map row keeps LinkedAt so that no later pull or
// notification links it again.
//
// Who sends them:
//   - a pull sends the links of the records it created while it reads its
//     later pages (pull.go);
//   - a notification writes its pending links and one outbox item
//     (KindLinkBack) per (group, collection) in its own transaction, so the
//     links survive a restart; the outbox Worker sends them soon after, with
//     the outbox's backoff and parking (Worker.linkBack).

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/tenantdesk/tenantdesk/store"
	"github.com/tenantdesk/tenantdesk/tenant"
)

// linkBatch is how many links back go in one batch call, as the connector sends.
const linkBatch = 50

// linkBatchResult is the outcome of one batch of links back.
type linkBatchResult struct {
	links   []store.PendingLink
	results []LinkResult
	err     error
}

// linker sends batches of links back in the background, a few at a time.
type linker struct {
	retry             func(context.Context, func() error) error
	ctx               context.Context
	cfg               *tenant.Config
	client            *Client
	group, collection string
	sem               chan struct{}
	wg                sync.WaitGroup
	mu                sync.Mutex
	done              []linkBatchResult
}

func (l *linker) start(links []store.PendingLink) {
	for i := 0; i < len(links); i += linkBatch {
		batch := links[i:min(i+linkBatch, len(links))]
		l.sem <- struct{}{}
		l.wg.Add(1)
		go func() {
			defer func() { <-l.sem; l.wg.Done() }()
			r := sendLinks(l.ctx, l.cfg, l.client, l.group, l.collection, batch, l.retry)
			l.mu.Lock()
			l.done = append(l.done, r)
			l.mu.Unlock()
		}()
	}
}

// take returns the batches finished since the last take.
func (l *linker) take() []linkBatchResult {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.done
	l.done = nil
	return out
}

func (l *linker) wait() { l.wg.Wait() }

// sendLinks sends one batch of links back, tried as retry says.
func sendLinks(ctx context.Context, cfg *tenant.Config, client *Client, group, collection string, links []store.PendingLink, retry func(context.Context, func() error) error) linkBatchResult {
	ops := make([]LinkOp, len(links))
	for i, l := range links {
		ops[i] = LinkOp{ConnecID: l.ConnecID, Ours: OurRef(cfg, l.GroupUID, l.LocalID)}
	}
	r := linkBatchResult{links: links}
	r.err = retry(ctx, func() (err error) {
		r.results, err = client.Link(ctx, group, collection, ops)
		return err
	})
	return r
}

// applyLinks records finished link batches in tx: a link Connec! took
// marks its identity-map row linked; one it refused for good is noted on
// the row and dropped; one that may work later stays pending. It returns
// how many were linked, the first Connec! error that left links pending,
// and a store error (which must fail tx).
func applyLinks(tx *store.Tx, batches []linkBatchResult, now time.Time) (linked int, firstErr, storeErr error) {
	for _, b := range batches {
		if b.err != nil {
			firstErr = cmpOr(firstErr, b.err)
			continue
		}
		for i, l := range b.links {
			r := b.results[i]
			retryable := r.Status == 0 || r.Status >= 500 || r.Status == http.StatusTooManyRequests
			if r.Status/100 != 2 && retryable {
				firstErr = cmpOr(firstErr, fmt.Errorf("link %s %s: HTTP %d: %s", l.Collection, l.ConnecID, r.Status, r.Err))
				continue
			}
			row, err := tx.Connected(l.RowID)
			switch {
			case err == nil:
				if r.Status/100 == 2 {
					row.LinkedAt, row.LastError = now, ""
					linked++
				} else {
					row.LastError = fmt.Sprintf("link back refused: HTTP %d: %s", r.Status, r.Err)
				}
				row.UpdatedAt = now
				if _, err := tx.PutConnected(row); err != nil {
					return linked, firstErr, err
				}
			case !errors.Is(err, store.ErrNotFound):
				return linked, firstErr, err
			}
			if err := tx.DeletePendingLink(l); err != nil {
				return linked, firstErr, err
			}
		}
	}
	return linked, firstErr, nil
}

// recordLinks records finished link batches in a transaction of their own.
func (p *Puller) recordLinks(db *store.DB, st *store.Pull, batches []linkBatchResult) error {
	if len(batches) == 0 {
		return nil
	}
	var linkErr error
	// Batches of 50 links, several at once: over one transaction's budget.
	err := db.UpdateLarge(func(tx *store.Tx) error {
		cur, err := tx.Pull(st.Tenant, st.GroupUID, st.Collection)
		if err != nil {
			return err
		}
		linked, pendingErr, err := applyLinks(tx, batches, p.now())
		if err != nil {
			return err
		}
		linkErr = pendingErr
		cur.Run.Linked += linked
		if err := tx.PutPull(cur); err != nil {
			return err
		}
		st.Run = cur.Run
		return nil
	})
	if err != nil {
		return fmt.Errorf("record links: %w", err)
	}
	return linkErr
}

// pendingLink decides the link back of a record from Connec! with
// identity row row: none when the row was linked before; none, but
// remembered, when Connec! already carries our triplet; otherwise a
// pending link, written in tx.
func pendingLink(tx *store.Tx, cfg *tenant.Config, rec *notified, row store.ConnectedObject, now time.Time) (*store.PendingLink, error) {
	if row.ID == 0 || !row.LinkedAt.IsZero() {
		return nil, nil
	}
	if rec.ids.Ours(cfg, rec.groupUID) != "" {
		row.LinkedAt = now
		_, err := tx.PutConnected(row)
		return nil, err
	}
	l := store.PendingLink{Tenant: row.Tenant, GroupUID: rec.groupUID, Collection: rec.entity,
		ConnecID: rec.connecID, LocalID: row.LocalID, RowID: row.ID}
	return &l, tx.PutPendingLink(l)
}

// flushLinks sends the links still pending for st's (tenant, group,
// collection) — left by a crash, or by batches that failed — and records
// the ones Connec! took.
func (p *Puller) flushLinks(ctx context.Context, db *store.DB, cfg *tenant.Config, client *Client, st *store.Pull) error {
	return flushPending(ctx, db, cfg, client, st.GroupUID, st.Collection, p.retry, func(b []linkBatchResult) error {
		return p.recordLinks(db, st, b)
	})
}

// flushPending sends every link pending for (cfg's tenant, group,
// collection), a few batches at a time, and hands each round's outcome to
// record, until none is left or record fails (a link that must wait).
func flushPending(ctx context.Context, db *store.DB, cfg *tenant.Config, client *Client, group, collection string,
	retry func(context.Context, func() error) error, record func([]linkBatchResult) error) error {
	for {
		var links []store.PendingLink
		if err := db.View(func(tx *store.Tx) (err error) {
			links, err = tx.PendingLinks(string(cfg.Key), group, collection, 4*linkBatch)
			return err
		}); err != nil {
			return err
		}
		if len(links) == 0 {
			return nil
		}
		l := &linker{retry: retry, ctx: ctx, cfg: cfg, client: client, group: group, collection: collection, sem: make(chan struct{}, 4)}
		l.start(links)
		l.wait()
		if err := record(l.take()); err != nil {
			return err
		}
	}
}

// KindLinkBack is the LocalKind of an outbox item that sends the pending
// links back of one (group, collection) (Entity); its LocalID is the
// collection too, so that lists of items read "link-back invoices".
const KindLinkBack = "link-back"

// linkQueue is a (group, collection) whose links back a notification left
// pending.
type linkQueue struct{ group, collection string }

// noteLink remembers the link back of a record a notification brought,
// when it needs one (pendingLink).
func (a *applier) noteLink(rec *notified) error {
	if !a.byNotification || !a.cfg.ConnecEnabled() {
		return nil
	}
	l, err := pendingLink(a.tx, a.cfg, rec, a.row, a.now)
	if err != nil || l == nil {
		return err
	}
	if a.linkQueues == nil {
		a.linkQueues = map[linkQueue]bool{}
	}
	a.linkQueues[linkQueue{l.GroupUID, l.Collection}] = true
	return nil
}

// queueLinks queues, in the notification's transaction, one outbox item
// for each (group, collection) it left links pending for, unless one is
// queued or parked already (a parked one is queued again).
func (a *applier) queueLinks() error {
	if len(a.linkQueues) == 0 {
		return nil
	}
	live := map[linkQueue]store.OutboxItem{}
	for _, status := range []string{store.OutboxFailed, store.OutboxQueued} {
		items, err := a.tx.OutboxByStatus(status)
		if err != nil {
			return fmt.Errorf("read outbox: %w", err)
		}
		for _, it := range items {
			if it.Tenant == a.tenant && it.LocalKind == KindLinkBack {
				live[linkQueue{it.GroupUID, it.Entity}] = it
			}
		}
	}
	for q := range a.linkQueues {
		it, ok := live[q]
		switch {
		case ok && it.Status == store.OutboxQueued && !it.NextAttemptAt.After(a.now):
			continue // due already: it sends the new links too
		case !ok:
			it = store.OutboxItem{Tenant: a.tenant, GroupUID: q.group, Entity: q.collection,
				LocalKind: KindLinkBack, LocalID: q.collection, CreatedAt: a.now}
		}
		it.Status, it.Attempts, it.LastError, it.NextAttemptAt, it.UpdatedAt = store.OutboxQueued, 0, "", a.now, a.now
		if _, err := a.tx.PutOutboxItem(it); err != nil {
			return fmt.Errorf("queue links back: %w", err)
		}
	}
	return nil
}

// linkBack delivers a KindLinkBack item: the pending links of its (group,
// collection), one try each (the outbox's backoff retries the item). It
// returns how many Connec! took; an error leaves the rest pending.
func (w *Worker) linkBack(ctx context.Context, db *store.DB, it store.OutboxItem, cfg *tenant.Config) (int, error) {
	once := func(_ context.Context, fn func() error) error { return fn() }
	linked := 0
	err := flushPending(ctx, db, cfg, NewClient(cfg, w.HTTPClient), it.GroupUID, it.Entity, once, func(b []linkBatchResult) error {
		var linkErr error
		err := db.UpdateLarge(func(tx *store.Tx) error { // a round is up to 4 batches of 50
			n, pendingErr, err := applyLinks(tx, b, w.now())
			linked, linkErr = linked+n, pendingErr
			return err
		})
		return cmpOr(err, linkErr)
	})
	return linked, err
}
