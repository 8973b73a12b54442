package connec

// This file is one pull of a (tenant, group, collection) from Connec!
// (SPEC §7 "Pull", maestrano-protocol §5.3), as maestrano-connector-rails'
// Entity#get_connec_entities does:
//
//   - GET …/{group}/{collection}?$top=100, following pagination.next;
//     after the first complete pull only `$filter=updated_at gt '<last
//     pull − PullOverlap>'`;
//   - each page goes through the notification ingest rules (ingest.go) in
//     one transaction, together with the page cursor, so a pull killed
//     halfway resumes at the page it had not stored yet; a malformed record
//     is skipped and counted, never the page;
//   - the records it creates are linked back (link.go);
//   - 5xx answers and timeouts are retried with the outbox's backoff; a 401
//     stops the tenant's pulls (store.PullStop) until someone pulls by hand.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/tenantdesk/tenantdesk/store"
	"github.com/tenantdesk/tenantdesk/tenant"
)

// Pull tuning.
const (
	PageSize    = 100             // $top of every page
	PullOverlap = 5 * time.Minute // a delta pull asks from the last pull minus this (clock skew)
)

// ErrPullsStopped: the tenant's credentials were refused (401); its pulls
// wait until a pull by hand (PullNow) tries them again.
var ErrPullsStopped = errors.New("pulls stopped: Connec! refused the tenant's credentials (401)")

// PullProgress is reported after each page.
type PullProgress struct {
	Tenant, GroupUID, Collection string
	Counts                       store.PullCounts // of the run so far
	Total                        int              // records Connec! announced (pagination.total), 0 if unknown
}

// PullResult is one finished (or failed) pull of (tenant, group, collection).
type PullResult struct {
	Tenant, GroupUID, Collection string
	Counts                       store.PullCounts
	Complete                     bool // every page was read
	Err                          error
}

// pull runs (or resumes) the pull of one (tenant, group, collection) and
// records it through db (on etcd fenced by the tenant's claim). byHand: a
// pull asked for now, whose failure does not count against the queue's
// attempts.
func (p *Puller) pull(ctx context.Context, db *store.DB, cfg *tenant.Config, group, col string, full, byHand bool, progress func(PullProgress)) PullResult {
	defer p.lock(string(cfg.Key), group, col)()
	res := PullResult{Tenant: string(cfg.Key), GroupUID: group, Collection: col}
	st, err := p.begin(db, cfg, group, col, full, byHand)
	if err != nil {
		res.Err = err
		return res
	}
	client := NewClient(cfg, p.HTTPClient)
	res.Err = p.run(ctx, db, cfg, client, &st, progress)
	res.Counts = st.Run
	if ctx.Err() != nil && res.Err != nil {
		return res // shutting down: the cursor is stored, the run resumes later
	}
	if err := p.finish(db, &st, res.Err, byHand); err != nil {
		res.Err = errors.Join(res.Err, err)
		return res
	}
	if res.Err == nil {
		res.Complete, res.Counts = true, st.Last
	}
	return res
}

// begin starts a run or picks up the one a crash or failure left.
func (p *Puller) begin(db *store.DB, cfg *tenant.Config, group, col string, full, byHand bool) (store.Pull, error) {
	now := p.now()
	var st store.Pull
	err := db.Update(func(tx *store.Tx) error {
		if s, err := tx.PullStopped(string(cfg.Key)); err == nil && !byHand {
			return fmt.Errorf("%w (since %s)", ErrPullsStopped, s.At.Format(time.RFC3339))
		}
		var err error
		st, err = tx.Pull(string(cfg.Key), group, col)
		switch {
		case errors.Is(err, store.ErrNotFound):
			st = store.Pull{Tenant: string(cfg.Key), GroupUID: group, Collection: col}
		case err != nil:
			return err
		}
		resume := !st.RunStartedAt.IsZero() && (st.Full || !full)
		if !resume {
			st.RunStartedAt, st.Cursor, st.Run = now, "", store.PullCounts{}
			st.Full = full || st.LastPullAt.IsZero()
			st.Since = time.Time{}
			if !st.Full {
				st.Since = st.LastPullAt.Add(-PullOverlap)
			}
		}
		if st.Status != store.PullQueued {
			st.Status = store.PullIdle
		}
		st.UpdatedAt = now
		return tx.PutPull(st)
	})
	return st, err
}

// firstQuery is the query of a run's first page.
func firstQuery(st *store.Pull) string {
	q := "$top=" + fmt.Sprint(PageSize)
	if !st.Full && !st.Since.IsZero() {
		q += "&$filter=" + url.QueryEscape("updated_at gt '"+st.Since.UTC().Format(time.RFC3339)+"'")
	}
	return q
}

// run reads pages from st.Cursor on, storing each with the cursor after it.
// Three things overlap, as the network is the slow part: a fetcher reads
// the next page while the current one is stored, and links back go out in
// batches while later pages are read; their outcome is recorded in the
// next page's transaction.
func (p *Puller) run(ctx context.Context, db *store.DB, cfg *tenant.Config, client *Client, st *store.Pull, progress func(PullProgress)) error {
	if err := p.flushLinks(ctx, db, cfg, client, st); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	pages := make(chan fetched, 1)
	query := st.Cursor
	if query == "" {
		query = firstQuery(st)
	}
	go p.fetchPages(ctx, client, st.GroupUID, st.Collection, query, pages)
	l := &linker{retry: p.retry, ctx: ctx, cfg: cfg, client: client, group: st.GroupUID, collection: st.Collection, sem: make(chan struct{}, 4)}
	var runErr error
	for f := range pages {
		if f.err != nil {
			runErr = f.err
			break
		}
		pending, err := p.storePage(db, cfg, st, f.page, l.take())
		if err != nil {
			runErr = err
			break
		}
		if progress != nil {
			progress(PullProgress{Tenant: st.Tenant, GroupUID: st.GroupUID, Collection: st.Collection, Counts: st.Run, Total: f.page.Total})
		}
		l.start(pending)
		if f.page.Next == "" {
			break
		}
	}
	l.wait()
	if err := p.recordLinks(db, st, l.take()); err != nil || runErr != nil {
		return cmpOr(runErr, err)
	}
	// Links that failed for a while are retried here, one batch at a time.
	return p.flushLinks(ctx, db, cfg, client, st)
}

// fetched is one page read by fetchPages, or why it could not be.
type fetched struct {
	page Page
	err  error
}

// fetchPages reads pages from query on, following next, into out, until
// the last page, an error, or ctx's end; it closes out.
func (p *Puller) fetchPages(ctx context.Context, client *Client, group, collection, query string, out chan<- fetched) {
	defer close(out)
	for ctx.Err() == nil {
		var page Page
		err := p.retry(ctx, func() (err error) {
			page, err = client.GetPage(ctx, group, collection, query)
			return err
		})
		select {
		case out <- fetched{page: page, err: err}:
		case <-ctx.Done():
			return
		}
		if err != nil || page.Next == "" {
			return
		}
		query = page.Next
	}
}

// retry calls fn up to Tries times while it fails with a retryable error,
// waiting the outbox's backoff between tries.
func (p *Puller) retry(ctx context.Context, fn func() error) error {
	tries := orDefault(p.Tries, 4)
	for n := 1; ; n++ {
		err := fn()
		var ce *tenant.CallError
		if err == nil || n >= tries || !errors.As(err, &ce) || !ce.Retryable() || ctx.Err() != nil {
			return err
		}
		t := time.NewTimer(backoff(orDefault(p.RetryBase, time.Second), n))
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
	}
}

// storePage applies one page in one transaction: its records through the
// ingest rules, the outcome of finished link batches, the links to send,
// the counts and the cursor after it. It returns the links to send.
func (p *Puller) storePage(db *store.DB, cfg *tenant.Config, st *store.Pull, page Page, linksDone []linkBatchResult) ([]store.PendingLink, error) {
	now := p.now()
	recs := make([]notified, len(page.Records))
	bad := make([]error, len(page.Records))
	for i, raw := range page.Records {
		recs[i], bad[i] = decodePulled(cfg, st.Collection, st.GroupUID, raw)
	}
	var (
		reasons []string
		pending []store.PendingLink
		linkErr error
	)
	next := *st
	// A page of 100 records writes more keys than one transaction's
	// budget: UpdateLarge (on etcd, journaled chunks when it must be).
	err := db.UpdateLarge(func(tx *store.Tx) error {
		next = *st
		reasons, pending = reasons[:0], pending[:0]
		linked, pendingErr, err := applyLinks(tx, linksDone, now)
		if err != nil {
			return err
		}
		linkErr = pendingErr
		next.Run.Linked += linked
		a := newApplier(tx, cfg, now)
		a.byNotification = false
		for i := range recs {
			if bad[i] != nil {
				next.Run.Skipped++
				reasons = append(reasons, fmt.Sprintf("record %d of page %d: %v", i+1, next.Run.Pages+1, bad[i]))
				continue
			}
			rec := &recs[i]
			out, err := a.applyOne(rec)
			if err != nil {
				return err
			}
			switch out {
			case outcomeStored:
				next.Run.Stored++
			case outcomeUnchanged:
				next.Run.Unchanged++
			default:
				next.Run.Skipped++
				continue
			}
			l, err := pendingLink(tx, cfg, rec, a.row, now)
			if err != nil {
				return err
			}
			if l != nil {
				pending = append(pending, *l)
			}
		}
		next.Run.Pages++
		next.Cursor = page.Next
		next.UpdatedAt = now
		return tx.PutPull(next)
	})
	if err != nil {
		return nil, fmt.Errorf("store page %d of %s: %w", st.Run.Pages+1, st.Collection, err)
	}
	*st = next
	if linkErr != nil {
		p.log().Warn("connec pull: links back left pending", "tenant", st.Tenant, "group", st.GroupUID, "error", linkErr)
	}
	for _, r := range reasons {
		p.log().Warn("connec pull: record skipped", "tenant", st.Tenant, "group", st.GroupUID, "collection", st.Collection, "reason", r)
	}
	if len(reasons) > 0 {
		_ = db.Update(func(tx *store.Tx) error {
			_, err := tx.AppendEvent(store.Event{At: now, Tenant: st.Tenant, Kind: store.EventConnec, Outcome: "failed", Reason: "pull",
				Message: fmt.Sprintf("pull of %s for %s: %d malformed record(s) skipped: %s", st.Collection, st.GroupUID, len(reasons), clipN(strings.Join(reasons, "; "), 600))})
			return err
		})
	}
	return pending, nil
}

// decodePulled decodes one record of a page; it must belong to the group.
func decodePulled(cfg *tenant.Config, collection, group string, raw json.RawMessage) (notified, error) {
	if firstByte(raw) != '{' {
		return notified{}, errors.New("a record must be a JSON object")
	}
	rec, err := decodeRecord(raw, cfg, collection)
	if err != nil {
		return notified{}, err
	}
	if rec.groupUID != group {
		return notified{}, fmt.Errorf("record of group %q in a pull of %q", clip(rec.groupUID), group)
	}
	return rec, nil
}

func clipN(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

func cmpOr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// finish records the end of a run: on success the new last-pull time and
// counts; on failure the error and, for the queue, when to try again.
func (p *Puller) finish(db *store.DB, st *store.Pull, runErr error, byHand bool) error {
	now := p.now()
	return db.Update(func(tx *store.Tx) error {
		cur, err := tx.Pull(st.Tenant, st.GroupUID, st.Collection)
		if err != nil {
			return err
		}
		ev := store.Event{At: now, Tenant: st.Tenant, Kind: store.EventConnec, Reason: "pull"}
		switch {
		case runErr == nil:
			cur.LastPullAt, cur.Last = cur.RunStartedAt, cur.Run
			cur.RunStartedAt, cur.Cursor, cur.Run, cur.Full, cur.Since = time.Time{}, "", store.PullCounts{}, false, time.Time{}
			cur.Status, cur.Attempts, cur.LastError = store.PullIdle, 0, ""
			*st = cur
			ev.Outcome = "ok"
			ev.Message = fmt.Sprintf("pulled %s of group %s: %d stored, %d unchanged, %d skipped, %d linked back (%d pages)",
				cur.Collection, cur.GroupUID, cur.Last.Stored, cur.Last.Unchanged, cur.Last.Skipped, cur.Last.Linked, cur.Last.Pages)
		case errors.Is(runErr, tenant.ErrUnauthorized):
			cur.Status, cur.LastError = store.PullStopped, runErr.Error()
			if err := tx.StopPulls(store.PullStop{Tenant: st.Tenant, At: now, Reason: runErr.Error()}); err != nil {
				return err
			}
			ev.Outcome = "failed"
			ev.Message = fmt.Sprintf("pulls of tenant %s stopped: Connec! refused its credentials (401); fix api.id/api.key, then pull by hand: %v", st.Tenant, runErr)
			p.log().Error("connec pulls stopped", "tenant", st.Tenant, "error", runErr)
		case errors.Is(runErr, ErrPullsStopped):
			cur.Status, cur.LastError = store.PullStopped, runErr.Error()
			ev = store.Event{}
		default:
			cur.LastError = runErr.Error()
			var ce *tenant.CallError
			retryable := !errors.As(runErr, &ce) || ce.Retryable()
			if byHand {
				if cur.Status != store.PullQueued {
					cur.Status = store.PullFailed
				}
			} else {
				cur.Attempts++
				if retryable && cur.Attempts < orDefault(p.MaxAttempts, DefaultMaxAttempts) {
					cur.Status, cur.DueAt = store.PullQueued, now.Add(backoff(orDefault(p.QueueBase, DefaultBaseBackoff), cur.Attempts))
				} else {
					cur.Status = store.PullFailed
				}
			}
			ev.Outcome = "failed"
			ev.Message = fmt.Sprintf("pull of %s for group %s failed after %d page(s); it resumes there: %v", cur.Collection, cur.GroupUID, cur.Run.Pages, runErr)
			p.log().Warn("connec pull failed", "tenant", st.Tenant, "group", st.GroupUID, "collection", st.Collection, "error", runErr)
		}
		cur.UpdatedAt = now
		if err := tx.PutPull(cur); err != nil {
			return err
		}
		if ev.Kind != "" {
			if _, err := tx.AppendEvent(ev); err != nil {
				return err
			}
		}
		return nil
	})
}
