package billing

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/tenantdesk/tenantdesk/store"
	"github.com/tenantdesk/tenantdesk/tenant/api"
)

// ErrRunInProgress is returned by Run while another run is going in this
// process.
var ErrRunInProgress = errors.New("another billing run is in progress")

// ErrIncomplete is wrapped by Run's error when some bills failed.
var ErrIncomplete = errors.New("not every bill was submitted")

// DefaultConcurrency is the number of bills in flight at once.
const DefaultConcurrency = 16

// running admits one run per process: two runs of the same period would
// race on the same ledger rows.
var running sync.Mutex

// InProgress reports whether a run is going in this process.
func InProgress() bool {
	if running.TryLock() {
		running.Unlock()
		return false
	}
	return true
}

// Options of a run.
type Options struct {
	Period Period
	Tenant string // "" = every tenant
	// Rebill names groups (by uid) whose cancelled bill of the period is
	// billed again, once: a later run sees the new bill as submitted.
	// A uid with no ledger row in the period fails the run before anything
	// is sent.
	Rebill      []string
	Concurrency int // default DefaultConcurrency
	HTTPClient  *http.Client
	// Progress is called after each bill is settled, one call at a time,
	// from the run's worker goroutines (a GUI hands it to fyne.Do).
	Progress func(Progress)
	Now      func() time.Time
	Logger   *slog.Logger
}

// Progress of a run: Done of Total due bills are settled, Failed of them
// failed; Line is the one just settled.
type Progress struct {
	Done, Total, Failed int
	Line                Line
}

// Summary of a run. Lines holds every line of the plan with its outcome.
type Summary struct {
	RunID     uint64
	Period    string
	Tenant    string
	Lines     []Line
	Due       int // bills the run had to send (new, failed or pending)
	Submitted int // settled as submitted by this run, adopted ones included
	Adopted   int // found already at the API by the pending check
	Failed    int
	NotSent   int // left for the next run by cancellation (pending or not sent)
	Skipped   int // submitted by an earlier run
	Direct    int // groups of removed tenants: bill directly
	Nothing   int // price 0
	// CancelledBills counts groups left alone because their bill of the
	// period was cancelled (not billed again).
	CancelledBills int
	Cancelled      bool
	Duration       time.Duration
}

// Complete reports whether every due bill is submitted.
func (s Summary) Complete() bool { return s.Submitted == s.Due }

type outcome int

const (
	outNone      outcome = iota
	outSubmitted         // POST answered with a bill
	outAdopted           // found at the API by the pending check
	outFailed            // the row is failed
	outInFlight          // cancelled while its POST was out: left pending
	outNotSent           // cancelled before its POST: row restored
)

type runner struct {
	db      *store.DB
	period  Period
	now     func() time.Time
	log     *slog.Logger
	runID   uint64
	clients map[string]*api.Client
	ledger  *ledger
	onProg  func(Progress)

	lines    []Line
	outcomes []outcome
	pending  []*store.Bill // the pending row written before the POST

	mu                  sync.Mutex
	done, failed, total int
}

// Run bills the period. The error is nil only when every due bill is
// submitted; the Summary is filled in either way.
func Run(ctx context.Context, db *store.DB, opt Options) (Summary, error) {
	if !running.TryLock() {
		return Summary{}, ErrRunInProgress
	}
	defer running.Unlock()
	// Across replicas on etcd, the store's billing lock; every write of the
	// run is fenced by it, so a run whose lease expired writes nothing more
	// once another has taken over (SPEC §14).
	lock, err := db.TryLock(store.LockBilling)
	if errors.Is(err, store.ErrLocked) {
		return Summary{}, ErrRunInProgress
	}
	if err != nil {
		return Summary{}, fmt.Errorf("billing run: %w", err)
	}
	defer lock.Unlock()
	db = lock.Fenced()

	if opt.Concurrency <= 0 {
		opt.Concurrency = DefaultConcurrency
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	hc := opt.HTTPClient
	if hc == nil {
		hc = &http.Client{Transport: api.NewTransport(opt.Concurrency)}
		defer hc.CloseIdleConnections()
	}
	if opt.Period.Name == "" {
		return Summary{}, errors.New("billing run: no period")
	}
	started := opt.Now()

	var lines []Line
	var runID uint64
	err = db.Update(func(tx *store.Tx) error {
		var err error
		if lines, err = plan(tx, opt.Period, opt.Tenant, opt.Rebill); err != nil {
			return err
		}
		runID, err = tx.PutBillingRun(store.BillingRun{Period: opt.Period.Name, Tenant: opt.Tenant, StartedAt: started})
		return err
	})
	if err != nil {
		return Summary{}, fmt.Errorf("billing run %s: %w", opt.Period, err)
	}

	r := &runner{db: db, period: opt.Period, now: opt.Now, log: opt.Logger.With("period", opt.Period.Name, "run", runID),
		runID: runID, clients: map[string]*api.Client{}, onProg: opt.Progress,
		lines: lines, outcomes: make([]outcome, len(lines)), pending: make([]*store.Bill, len(lines))}
	var due []int
	for i := range lines {
		if lines[i].Due() {
			due = append(due, i)
			if cfg := lines[i].cfg; cfg != nil && r.clients[lines[i].Tenant] == nil {
				r.clients[lines[i].Tenant] = api.New(cfg, hc)
			}
		}
	}
	r.total = len(due)
	r.ledger = newLedger(db)
	r.dispatch(ctx, due, opt.Concurrency)
	ledgerErr := r.ledger.close()

	sum := r.summary(opt, ctx.Err() != nil)
	sum.Duration = opt.Now().Sub(started)
	if err := r.record(sum, started); err != nil && ledgerErr == nil {
		ledgerErr = err
	}
	r.log.Info("billing run finished", "due", sum.Due, "submitted", sum.Submitted, "adopted", sum.Adopted,
		"failed", sum.Failed, "not_sent", sum.NotSent, "skipped", sum.Skipped, "duration", sum.Duration)
	switch {
	case ledgerErr != nil:
		return sum, fmt.Errorf("billing run %s: %w", opt.Period, ledgerErr)
	case sum.Cancelled:
		return sum, fmt.Errorf("billing run %s cancelled, %d bills left for the next run: %w", opt.Period, sum.NotSent, ctx.Err())
	case sum.Failed > 0:
		return sum, fmt.Errorf("billing run %s: %d of %d bills failed: %w", opt.Period, sum.Failed, sum.Due, ErrIncomplete)
	}
	return sum, nil
}

// dispatch writes the pending rows of the next chunk of bills in one
// commit, then hands them to the workers; it runs one chunk ahead of them,
// so no worker waits for an fsync before its POST.
func (r *runner) dispatch(ctx context.Context, due []int, workers int) {
	jobs := make(chan int, workers)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				r.settle(i, r.process(ctx, i))
			}
		}()
	}
	defer wg.Wait()
	defer close(jobs)

	chunk := 4 * workers
	for start := 0; start < len(due); start += chunk {
		if ctx.Err() != nil {
			r.markNotSent(due[start:])
			return
		}
		part := due[start:min(start+chunk, len(due))]
		rows := make([]store.Bill, 0, len(part))
		for _, i := range part {
			// A bill that may already be at the API keeps its row as it is
			// until process has looked for it (its amount may differ now).
			if r.lines[i].problem == "" && !r.mustCheck(&r.lines[i]) {
				row := r.pendingRow(&r.lines[i])
				r.pending[i] = &row
				rows = append(rows, row)
			}
		}
		if err := r.ledger.write(rows...); err != nil {
			// Nothing of this chunk was sent: fail it, the next run retries.
			for _, i := range part {
				r.pending[i] = nil
				r.lines[i].problem = "ledger: " + err.Error()
			}
		}
		for n, i := range part {
			select {
			case jobs <- i:
			case <-ctx.Done():
				r.markNotSent(part[n:])
				r.markNotSent(due[start+len(part):])
				return
			}
		}
	}
}

func (r *runner) markNotSent(idx []int) {
	for _, i := range idx {
		r.restore(i)
	}
}

func (r *runner) pendingRow(ln *Line) store.Bill {
	now := r.now().UTC()
	row := store.Bill{Tenant: ln.Tenant, GroupUID: ln.GroupUID, Period: r.period.Name, CreatedAt: now}
	if ln.row != nil {
		row = *ln.row
	}
	row.RunID = r.runID
	row.Status = store.BillPending
	row.AmountCents, row.Currency, row.Description = ln.AmountCents, ln.Currency, ln.Description
	row.Attempts++
	row.UpdatedAt = now
	return row
}

// process settles one line and returns its outcome.
func (r *runner) process(ctx context.Context, i int) outcome {
	ln := &r.lines[i]
	if ctx.Err() != nil {
		r.restore(i)
		return outNotSent
	}
	client := r.clients[ln.Tenant]
	if r.mustCheck(ln) {
		// An earlier attempt may have reached the API: look before sending.
		prev := ln.row
		remote, err := r.findSent(ctx, client, prev)
		switch {
		case err != nil && ctx.Err() != nil:
			r.restore(i)
			return outNotSent
		case err != nil:
			return r.fail(i, "check for a bill sent by an earlier run: "+err.Error())
		case remote != nil:
			row := *prev
			row.RunID, row.Status, row.RemoteID, row.LastError, row.UpdatedAt = r.runID, store.BillSubmitted, remote.ID, "", r.now().UTC()
			r.ledger.writeAsync(row)
			ln.Status, ln.RemoteID, ln.Attempts, ln.Error, ln.Adopted = row.Status, row.RemoteID, row.Attempts, "", true
			return outAdopted
		}
		if ln.problem == "" {
			row := r.pendingRow(ln)
			if err := r.ledger.write(row); err != nil {
				return r.fail(i, "ledger: "+err.Error())
			}
			r.pending[i] = &row
		}
	}
	if ln.problem != "" || r.pending[i] == nil {
		return r.fail(i, firstNonEmpty(ln.problem, "not sent"))
	}
	if ctx.Err() != nil {
		r.restore(i)
		return outNotSent
	}
	bill, err := client.CreateBill(ctx, ln.request)
	row := *r.pending[i]
	row.UpdatedAt = r.now().UTC()
	switch {
	case err != nil && ctx.Err() != nil:
		// The POST may have reached the API: the row stays pending and
		// the next run looks for the bill before sending it again.
		row.LastError = "run cancelled while the bill was being sent"
		r.ledger.writeAsync(row)
		ln.Status, ln.Attempts, ln.Error = row.Status, row.Attempts, row.LastError
		return outInFlight
	case err != nil:
		return r.fail(i, err.Error())
	}
	row.Status, row.RemoteID, row.LastError = store.BillSubmitted, bill.ID, ""
	r.ledger.writeAsync(row)
	ln.Status, ln.RemoteID, ln.Attempts, ln.Error = row.Status, row.RemoteID, row.Attempts, ""
	return outSubmitted
}

// mustCheck reports whether a line's row may stand for a bill that reached
// the API: pending (a crash or a cancelled POST) or failed after a POST
// whose answer was lost or an error.
func (r *runner) mustCheck(ln *Line) bool {
	return ln.row != nil && ln.row.Attempts > 0 && ln.row.Status != store.BillSubmitted && r.clients[ln.Tenant] != nil
}

// findSent lists the group's bills and returns the one prev describes.
func (r *runner) findSent(ctx context.Context, client *api.Client, prev *store.Bill) (*api.Bill, error) {
	bills, err := client.ListBills(ctx, prev.GroupUID)
	if err != nil {
		return nil, err
	}
	want := api.BillRequest{GroupID: prev.GroupUID, PriceCents: prev.AmountCents, Currency: prev.Currency,
		Description: prev.Description, PeriodStartedAt: r.period.Start}
	for i := range bills {
		// A cancelled bill is not the one we are sending again.
		if bills[i].Status != api.BillCancelled && bills[i].Matches(want) {
			return &bills[i], nil
		}
	}
	return nil, nil
}

func (r *runner) fail(i int, msg string) outcome {
	ln := &r.lines[i]
	var row store.Bill
	switch {
	case r.pending[i] != nil:
		row = *r.pending[i]
	case ln.row != nil:
		row = *ln.row
	default:
		row = store.Bill{Tenant: ln.Tenant, GroupUID: ln.GroupUID, Period: r.period.Name, CreatedAt: r.now().UTC(),
			AmountCents: ln.AmountCents, Currency: ln.Currency, Description: ln.Description}
	}
	row.RunID, row.Status, row.LastError, row.UpdatedAt = r.runID, store.BillFailed, msg, r.now().UTC()
	r.ledger.writeAsync(row)
	ln.Status, ln.Attempts, ln.Error = row.Status, row.Attempts, msg
	r.log.Warn("bill failed", "tenant", ln.Tenant, "group", ln.GroupUID, "error", msg)
	return outFailed
}

// restore undoes the pending row of a bill that was never sent: the row
// goes back to what it was, or to failed with no attempt for a new bill.
func (r *runner) restore(i int) {
	ln := &r.lines[i]
	r.outcomes[i] = outNotSent
	p := r.pending[i]
	if p == nil {
		return
	}
	row := store.Bill{Tenant: ln.Tenant, GroupUID: ln.GroupUID, Period: r.period.Name, RunID: r.runID,
		Status: store.BillFailed, AmountCents: ln.AmountCents, Currency: ln.Currency, Description: ln.Description,
		LastError: "run cancelled before this bill was sent", CreatedAt: p.CreatedAt, UpdatedAt: r.now().UTC()}
	if ln.row != nil {
		row = *ln.row
	}
	r.ledger.writeAsync(row)
	ln.Status, ln.Attempts, ln.Error = row.Status, row.Attempts, row.LastError
}

func (r *runner) settle(i int, out outcome) {
	r.outcomes[i] = out
	if out == outNotSent || out == outInFlight {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.done++
	if out == outFailed {
		r.failed++
	}
	if r.onProg != nil {
		r.onProg(Progress{Done: r.done, Total: r.total, Failed: r.failed, Line: r.lines[i]})
	}
}

func (r *runner) summary(opt Options, ctxDone bool) Summary {
	s := Summary{RunID: r.runID, Period: opt.Period.Name, Tenant: opt.Tenant, Lines: r.lines}
	for i, ln := range r.lines {
		switch ln.Action {
		case ActionSkip:
			s.Skipped++
		case ActionCancelled:
			s.CancelledBills++
		case ActionDirect:
			s.Direct++
		case ActionNothing:
			s.Nothing++
		}
		if !ln.Due() {
			continue
		}
		s.Due++
		switch r.outcomes[i] {
		case outSubmitted:
			s.Submitted++
		case outAdopted:
			s.Submitted++
			s.Adopted++
		case outFailed:
			s.Failed++
		default:
			s.NotSent++
		}
	}
	s.Cancelled = ctxDone && s.NotSent > 0
	return s
}

// record completes the run's history row and logs an activity event.
func (r *runner) record(s Summary, started time.Time) error {
	outcome := "ok"
	if !s.Complete() {
		outcome = "failed"
	}
	msg := fmt.Sprintf("billing %s: %d submitted (%d found already sent), %d failed, %d not sent, %d skipped",
		s.Period, s.Submitted, s.Adopted, s.Failed, s.NotSent, s.Skipped)
	return r.db.Update(func(tx *store.Tx) error {
		_, err := tx.PutBillingRun(store.BillingRun{ID: r.runID, Period: s.Period, Tenant: s.Tenant, StartedAt: started,
			FinishedAt: r.now(), Submitted: s.Submitted, Skipped: s.Skipped, Failed: s.Failed, Cancelled: s.Cancelled})
		if err != nil {
			return fmt.Errorf("record run: %w", err)
		}
		if _, err := tx.AppendEvent(store.Event{At: r.now(), Tenant: s.Tenant, Kind: store.EventBilling, Outcome: outcome, Message: msg}); err != nil {
			return fmt.Errorf("record run: %w", err)
		}
		return nil
	})
}
