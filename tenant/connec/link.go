package connec

// This file links records created here from Connec! back to it
// (maestrano-protocol §5.4, SPEC §7): our id triplet is sent once per
// record, in batches of PUTs as the connector sends them. The links still
// to send are kept in the store (store.PendingLink) until Connec! has them,
// and the identity-map row keeps LinkedAt so that no later pull links it
// again.

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
	p                 *Puller
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
			r := l.p.sendLinks(l.ctx, l.cfg, l.client, l.group, l.collection, batch)
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

// sendLinks sends one batch of links back, retrying as pages are.
func (p *Puller) sendLinks(ctx context.Context, cfg *tenant.Config, client *Client, group, collection string, links []store.PendingLink) linkBatchResult {
	ops := make([]LinkOp, len(links))
	for i, l := range links {
		ops[i] = LinkOp{ConnecID: l.ConnecID, Ours: OurRef(cfg, l.GroupUID, l.LocalID)}
	}
	r := linkBatchResult{links: links}
	r.err = p.retry(ctx, func() (err error) {
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
func (p *Puller) recordLinks(st *store.Pull, batches []linkBatchResult) error {
	if len(batches) == 0 {
		return nil
	}
	var linkErr error
	err := p.DB.Update(func(tx *store.Tx) error {
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

// noteLink decides the link back of a pulled record with identity row
// row: none when the row was linked before; none, but remembered, when
// Connec! already carries our triplet; otherwise a pending link.
func noteLink(tx *store.Tx, cfg *tenant.Config, rec *notified, row store.ConnectedObject, now time.Time) (*store.PendingLink, error) {
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
func (p *Puller) flushLinks(ctx context.Context, cfg *tenant.Config, client *Client, st *store.Pull) error {
	for {
		var links []store.PendingLink
		if err := p.DB.View(func(tx *store.Tx) (err error) {
			links, err = tx.PendingLinks(st.Tenant, st.GroupUID, st.Collection, 4*linkBatch)
			return err
		}); err != nil {
			return err
		}
		if len(links) == 0 {
			return nil
		}
		l := &linker{p: p, ctx: ctx, cfg: cfg, client: client, group: st.GroupUID, collection: st.Collection, sem: make(chan struct{}, 4)}
		l.start(links)
		l.wait()
		if err := p.recordLinks(st, l.take()); err != nil {
			return err
		}
	}
}
