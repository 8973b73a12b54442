package connec

// This file pulls records from Connec! (SPEC §7 "Pull", maestrano-protocol
// §5.3–§5.4), as maestrano-connector-rails' Entity#get_connec_entities does:
//
//   - one pull per (tenant, group, collection): GET …/{group}/{collection}
//     ?$top=100, following pagination.next; after the first complete pull
//     only `$filter=updated_at gt '<last pull − PullOverlap>'`;
//   - each page goes through the notification ingest rules (ingest.go) in
//     one transaction, together with the page cursor, so a pull killed
//     halfway resumes at the page it had not stored yet; a malformed record
//     is skipped and counted, never the page;
//   - a record created here from Connec! gets our id triplet sent back once
//     (a batch of PUTs, like the connector's); the identity-map row keeps
//     LinkedAt so later pulls never link it again, and the links still to
//     send are kept in the store until Connec! has them;
//   - 5xx answers and timeouts are retried with the outbox's backoff; a 401
//     stops the tenant's pulls (store.PullStop) until someone pulls by hand.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/tenantdesk/tenantdesk/store"
	"github.com/tenantdesk/tenantdesk/tenant"
)

// Pull tuning.
const (
	PageSize    = 100             // $top of every page
	PullOverlap = 5 * time.Minute // a delta pull asks from the last pull minus this (clock skew)
	linkBatch   = 50              // ops per batch call, as the connector sends
)

// ErrPullsStopped: the tenant's credentials were refused (401); its pulls
// wait until a pull by hand (PullNow) tries them again.
var ErrPullsStopped = errors.New("pulls stopped: Connec! refused the tenant's credentials (401)")

// queueInitialPulls queues a full pull of each of the tenant's collections
// for a group that has never been pulled (its first sign-in or first
// notification). It reports whether it queued anything.
func queueInitialPulls(tx *store.Tx, cfg *tenant.Config, groupUID string, now time.Time) (bool, error) {
	if !cfg.ConnecEnabled() {
		return false, nil
	}
	queued := false
	for _, col := range cfg.PullCollections() {
		_, err := tx.Pull(string(cfg.Key), groupUID, col)
		switch {
		case err == nil:
			continue
		case !errors.Is(err, store.ErrNotFound):
			return queued, fmt.Errorf("read pull state: %w", err)
		}
		if err := tx.PutPull(store.Pull{Tenant: string(cfg.Key), GroupUID: groupUID, Collection: col,
			Status: store.PullQueued, DueAt: now, Full: true, UpdatedAt: now}); err != nil {
			return queued, fmt.Errorf("queue initial pull: %w", err)
		}
		queued = true
	}
	return queued, nil
}

// QueueInitialPulls is the first-sign-in hook: inside the sign-in's
// transaction, it queues the initial pull of a group that was never
// pulled. A tenant without Connec! (or gone) queues nothing.
func QueueInitialPulls(tx *store.Tx, tenantKey, groupUID string, now time.Time) error {
	cfg, err := tenant.GetTx(tx, tenant.Key(tenantKey))
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil
	case err != nil:
		return err
	}
	_, err = queueInitialPulls(tx, cfg, groupUID, now.UTC())
	return err
}

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

// Puller runs pulls: the durable queue (Run), and pulls by hand (PullNow).
// The zero value of each field picks its default.
type Puller struct {
	DB          *store.DB
	HTTPClient  *http.Client     // nil: http.DefaultClient; connec.timeout bounds each call
	Now         func() time.Time // nil: time.Now
	Logger      *slog.Logger
	Tries       int           // tries of one request within a run; default 4
	RetryBase   time.Duration // wait after a request's first failure, doubled each time; default 1 s
	QueueBase   time.Duration // wait before a failed queued pull runs again, doubled each time; default DefaultBaseBackoff
	MaxAttempts int           // failed runs before a queued pull is parked; default DefaultMaxAttempts
	Poll        time.Duration // how often Run looks for due pulls; default 1 s
	Concurrency int           // pulls in flight at once; default 2

	once  sync.Once
	nudge chan struct{}
	mu    sync.Mutex
	busy  map[string]*sync.Mutex // one run per (tenant, group, collection)
}

func (p *Puller) init() {
	p.once.Do(func() {
		p.nudge = make(chan struct{}, 1)
		p.busy = map[string]*sync.Mutex{}
	})
}

func (p *Puller) now() time.Time {
	if p.Now != nil {
		return p.Now().UTC()
	}
	return time.Now().UTC()
}

func (p *Puller) log() *slog.Logger {
	if p.Logger != nil {
		return p.Logger
	}
	return slog.Default()
}

func orDefault[T int | time.Duration](v, def T) T {
	if v > 0 {
		return v
	}
	return def
}

// Nudge makes Run look for due pulls now.
func (p *Puller) Nudge() {
	p.init()
	select {
	case p.nudge <- struct{}{}:
	default:
	}
}

// lock serializes runs of one (tenant, group, collection).
func (p *Puller) lock(tenantKey, group, collection string) func() {
	p.init()
	k := tenantKey + "\x00" + group + "\x00" + collection
	p.mu.Lock()
	l := p.busy[k]
	if l == nil {
		l = &sync.Mutex{}
		p.busy[k] = l
	}
	p.mu.Unlock()
	l.Lock()
	return l.Unlock
}

// Run works the pull queue until ctx is done: due pulls run, failures wait
// with backoff, and tenants with connec.pull_interval get their delta pulls
// queued on time.
func (p *Puller) Run(ctx context.Context) error {
	p.init()
	t := time.NewTicker(orDefault(p.Poll, time.Second))
	defer t.Stop()
	lastSchedule := time.Time{}
	for {
		if now := p.now(); now.Sub(lastSchedule) >= time.Minute || lastSchedule.IsZero() {
			if err := p.SchedulePeriodic(); err != nil && ctx.Err() == nil {
				p.log().Error("connec pull schedule", "error", err)
			}
			lastSchedule = now
		}
		if _, err := p.ProcessDue(ctx); err != nil && ctx.Err() == nil {
			p.log().Error("connec pull queue", "error", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-p.nudge:
		}
	}
}

// SchedulePeriodic queues a delta pull of every active group of each
// enabled tenant with connec.pull_interval whose last pull is that old
// (or that was never pulled).
func (p *Puller) SchedulePeriodic() error {
	now := p.now()
	var due []store.Pull
	// Look first, write only when something is due: the check runs every
	// minute and must not cost a commit each time.
	if err := p.DB.View(func(tx *store.Tx) (err error) {
		due, err = periodicDue(tx, now)
		return err
	}); err != nil || len(due) == 0 {
		return err
	}
	return p.DB.Update(func(tx *store.Tx) error {
		due, err := periodicDue(tx, now)
		if err != nil {
			return err
		}
		for _, st := range due {
			st.Status, st.DueAt, st.Attempts, st.UpdatedAt = store.PullQueued, now, 0, now
			if err := tx.PutPull(st); err != nil {
				return err
			}
		}
		return nil
	})
}

// periodicDue lists the pulls SchedulePeriodic must queue.
func periodicDue(tx *store.Tx, now time.Time) ([]store.Pull, error) {
	cfgs, err := listTenants(tx)
	if err != nil {
		return nil, err
	}
	var out []store.Pull
	for _, cfg := range cfgs {
		every := cfg.PullInterval()
		if every <= 0 || !cfg.Enabled || !cfg.ConnecEnabled() {
			continue
		}
		if _, err := tx.PullStopped(string(cfg.Key)); err == nil {
			continue
		}
		groups, err := tx.Groups(string(cfg.Key))
		if err != nil {
			return nil, err
		}
		for _, g := range groups {
			if g.Cancelled {
				continue
			}
			for _, col := range cfg.PullCollections() {
				st, err := tx.Pull(string(cfg.Key), g.UID, col)
				switch {
				case errors.Is(err, store.ErrNotFound):
					st = store.Pull{Tenant: string(cfg.Key), GroupUID: g.UID, Collection: col, Full: true}
				case err != nil:
					return nil, err
				case st.Status == store.PullQueued || st.Status == store.PullStopped:
					continue
				case st.Status == store.PullFailed && now.Sub(st.UpdatedAt) < every:
					continue // a pull that gave up waits an interval before it tries again
				case !st.LastPullAt.IsZero() && now.Sub(st.LastPullAt) < every:
					continue
				}
				out = append(out, st)
			}
		}
	}
	return out, nil
}

// ProcessDue runs every queued pull due now, Concurrency at a time, and
// returns how many completed.
func (p *Puller) ProcessDue(ctx context.Context) (int, error) {
	p.init()
	done := 0
	seen := map[string]bool{}
	for ctx.Err() == nil {
		var due []store.Pull
		if err := p.DB.View(func(tx *store.Tx) (err error) {
			due, err = tx.PullsDue(p.now(), 32)
			return err
		}); err != nil {
			return done, fmt.Errorf("pull queue: %w", err)
		}
		var (
			wg    sync.WaitGroup
			mu    sync.Mutex
			fresh int
		)
		sem := make(chan struct{}, orDefault(p.Concurrency, 2))
		for _, st := range due {
			k := st.Tenant + "\x00" + st.GroupUID + "\x00" + st.Collection
			if seen[k] || ctx.Err() != nil {
				continue
			}
			seen[k] = true
			fresh++
			sem <- struct{}{}
			wg.Add(1)
			go func(st store.Pull) {
				defer func() { <-sem; wg.Done() }()
				if res := p.runQueued(ctx, st); res.Complete {
					mu.Lock()
					done++
					mu.Unlock()
				}
			}(st)
		}
		wg.Wait()
		if len(due) < 32 || fresh == 0 {
			break
		}
	}
	return done, nil
}

// runQueued runs one queued pull and reschedules it on failure.
func (p *Puller) runQueued(ctx context.Context, st store.Pull) PullResult {
	var cfg *tenant.Config
	err := p.DB.View(func(tx *store.Tx) (err error) {
		cfg, err = tenant.GetTx(tx, tenant.Key(st.Tenant))
		return err
	})
	res := PullResult{Tenant: st.Tenant, GroupUID: st.GroupUID, Collection: st.Collection}
	switch {
	case errors.Is(err, store.ErrNotFound):
		res.Err = errors.New("tenant was removed")
	case err != nil:
		res.Err = err
		return res // the store failed; the item stays queued
	case !cfg.Enabled:
		res.Err = errors.New("tenant is disabled")
	case !cfg.ConnecEnabled():
		res.Err = errors.New("tenant has no connec.host")
	}
	if res.Err != nil {
		_ = p.DB.Update(func(tx *store.Tx) error {
			cur, err := tx.Pull(st.Tenant, st.GroupUID, st.Collection)
			if err != nil {
				return nil
			}
			cur.Status, cur.LastError, cur.UpdatedAt = store.PullIdle, res.Err.Error(), p.now()
			return tx.PutPull(cur)
		})
		return res
	}
	return p.pull(ctx, cfg, st.GroupUID, st.Collection, st.Full, false, nil)
}

// PullRequest selects what PullNow pulls: every tenant with Connec!
// (Tenant ""), every active group (Group ""), each of its collections.
type PullRequest struct {
	Tenant string
	Group  string
	Full   bool // ask for every record, not only changes
}

// PullNow pulls at once (the CLI's `connec pull`, the GUI's Pull now),
// retrying failed requests within the run. A tenant stopped by a 401 is
// tried again. progress, when set, is called after each page.
func (p *Puller) PullNow(ctx context.Context, req PullRequest, progress func(PullProgress)) ([]PullResult, error) {
	type job struct {
		cfg        *tenant.Config
		group, col string
	}
	var jobs []job
	err := p.DB.Update(func(tx *store.Tx) error {
		var cfgs []*tenant.Config
		if req.Tenant != "" {
			cfg, err := tenant.GetTx(tx, tenant.Key(req.Tenant))
			switch {
			case errors.Is(err, store.ErrNotFound):
				return fmt.Errorf("no tenant %q", req.Tenant)
			case err != nil:
				return err
			}
			if !cfg.ConnecEnabled() {
				return fmt.Errorf("tenant %q has no connec.host: nothing to pull", req.Tenant)
			}
			cfgs = []*tenant.Config{cfg}
		} else {
			all, err := listTenants(tx)
			if err != nil {
				return err
			}
			for _, cfg := range all {
				if cfg.Enabled && cfg.ConnecEnabled() {
					cfgs = append(cfgs, cfg)
				}
			}
		}
		for _, cfg := range cfgs {
			var groups []string
			if req.Group != "" {
				g, err := tx.Group(string(cfg.Key), req.Group)
				switch {
				case errors.Is(err, store.ErrNotFound) && req.Tenant != "":
					return fmt.Errorf("tenant %q has no group %q", cfg.Key, req.Group)
				case errors.Is(err, store.ErrNotFound):
					continue
				case err != nil:
					return err
				case g.Cancelled:
					return fmt.Errorf("group %q of tenant %q is cancelled", req.Group, cfg.Key)
				}
				groups = []string{g.UID}
			} else {
				gs, err := tx.Groups(string(cfg.Key))
				if err != nil {
					return err
				}
				for _, g := range gs {
					if !g.Cancelled {
						groups = append(groups, g.UID)
					}
				}
			}
			if err := tx.ResumePulls(string(cfg.Key)); err != nil {
				return err
			}
			for _, g := range groups {
				for _, col := range cfg.PullCollections() {
					jobs = append(jobs, job{cfg: cfg, group: g, col: col})
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("connec pull: %w", err)
	}
	if req.Group != "" && len(jobs) == 0 {
		return nil, fmt.Errorf("connec pull: no tenant with Connec! has a group %q", req.Group)
	}
	out := make([]PullResult, 0, len(jobs))
	for _, j := range jobs {
		if ctx.Err() != nil {
			out = append(out, PullResult{Tenant: string(j.cfg.Key), GroupUID: j.group, Collection: j.col, Err: ctx.Err()})
			continue
		}
		out = append(out, p.pull(ctx, j.cfg, j.group, j.col, req.Full, true, progress))
	}
	return out, nil
}

// pull runs (or resumes) the pull of one (tenant, group, collection) and
// records its outcome. byHand: a pull asked for now, whose failure does not
// count against the queue's attempts.
func (p *Puller) pull(ctx context.Context, cfg *tenant.Config, group, col string, full, byHand bool, progress func(PullProgress)) PullResult {
	defer p.lock(string(cfg.Key), group, col)()
	res := PullResult{Tenant: string(cfg.Key), GroupUID: group, Collection: col}
	st, err := p.begin(cfg, group, col, full, byHand)
	if err != nil {
		res.Err = err
		return res
	}
	client := NewClient(cfg, p.HTTPClient)
	res.Err = p.run(ctx, cfg, client, &st, progress)
	res.Counts = st.Run
	if ctx.Err() != nil && res.Err != nil {
		return res // shutting down: the cursor is stored, the run resumes later
	}
	if err := p.finish(cfg, &st, res.Err, byHand); err != nil {
		res.Err = errors.Join(res.Err, err)
		return res
	}
	if res.Err == nil {
		res.Complete, res.Counts = true, st.Last
	}
	return res
}

// begin starts a run or picks up the one a crash or failure left.
func (p *Puller) begin(cfg *tenant.Config, group, col string, full, byHand bool) (store.Pull, error) {
	now := p.now()
	var st store.Pull
	err := p.DB.Update(func(tx *store.Tx) error {
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
func (p *Puller) run(ctx context.Context, cfg *tenant.Config, client *Client, st *store.Pull, progress func(PullProgress)) error {
	if err := p.flushLinks(ctx, cfg, client, st); err != nil {
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
	l := &linker{p: p, ctx: ctx, cfg: cfg, client: client, group: st.GroupUID, collection: st.Collection, sem: make(chan struct{}, 4)}
	var runErr error
	for f := range pages {
		if f.err != nil {
			runErr = f.err
			break
		}
		pending, err := p.storePage(cfg, st, f.page, l.take())
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
	if err := p.recordLinks(st, l.take()); err != nil || runErr != nil {
		return cmpOr(runErr, err)
	}
	// Links that failed for a while are retried here, one batch at a time.
	return p.flushLinks(ctx, cfg, client, st)
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

// retry calls fn up to Tries times while it fails with a retryable error,
// waiting the outbox's backoff between tries.
func (p *Puller) retry(ctx context.Context, fn func() error) error {
	tries := orDefault(p.Tries, 4)
	for n := 1; ; n++ {
		err := fn()
		var ce *Error
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
func (p *Puller) storePage(cfg *tenant.Config, st *store.Pull, page Page, linksDone []linkBatchResult) ([]store.PendingLink, error) {
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
	err := p.DB.Update(func(tx *store.Tx) error {
		next = *st
		reasons, pending = reasons[:0], pending[:0]
		linked, pendingErr, err := applyLinks(tx, linksDone, now)
		if err != nil {
			return err
		}
		linkErr = pendingErr
		next.Run.Linked += linked
		a := newApplier(tx, cfg, now)
		a.queueInitial = false
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
			l, err := noteLink(tx, cfg, rec, a.row, now)
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
		_ = p.DB.Update(func(tx *store.Tx) error {
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
	rec, err := decodeRecord(json.NewDecoder(bytes.NewReader(raw)), cfg, collection)
	if err != nil {
		return notified{}, err
	}
	if rec.groupUID != group {
		return notified{}, fmt.Errorf("record of group %q in a pull of %q", clip(rec.groupUID), group)
	}
	return rec, nil
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

// listTenants reads every tenant's configuration.
func listTenants(tx *store.Tx) ([]*tenant.Config, error) {
	ts, err := tx.Tenants()
	if err != nil {
		return nil, fmt.Errorf("list tenants: %w", err)
	}
	out := make([]*tenant.Config, 0, len(ts))
	for _, t := range ts {
		c, err := tenant.FromStored(t)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
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
func (p *Puller) finish(cfg *tenant.Config, st *store.Pull, runErr error, byHand bool) error {
	now := p.now()
	return p.DB.Update(func(tx *store.Tx) error {
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
		case errors.Is(runErr, ErrUnauthorized):
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
			var ce *Error
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
