package connec

// This file is the pull queue (SPEC §7 "Pull"): the Puller that works it,
// the initial pulls a group's first sign-in or notification queues, the
// periodic delta pulls of connec.pull_interval, and pulls by hand
// (PullNow). One pull itself is pull.go; its links back are link.go.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/tenantdesk/tenantdesk/store"
	"github.com/tenantdesk/tenantdesk/tenant"
)

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

// Puller runs pulls: the durable queue (Run), and pulls by hand (PullNow).
// The zero value of each field picks its default. On an etcd store each
// replica runs one, and they share the tenants (claims.go).
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
	Concurrency int           // pulls in flight at once, and on etcd tenants held at once; default 2

	wake
	once   sync.Once
	mu     sync.Mutex
	busy   map[string]*sync.Mutex // one run per (tenant, group, collection)
	claims tenantClaims           // etcd: the tenants this puller holds
}

func (p *Puller) init() {
	p.once.Do(func() {
		p.busy = map[string]*sync.Mutex{}
		p.claims.prefix = "pull/"
	})
}

func (p *Puller) now() time.Time    { return utcNow(p.Now) }
func (p *Puller) log() *slog.Logger { return orDefaultLogger(p.Logger) }

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
	lastSchedule := time.Time{}
	p.loop(ctx, p.Poll, func() {
		if now := p.now(); now.Sub(lastSchedule) >= time.Minute || lastSchedule.IsZero() {
			if err := p.SchedulePeriodic(); err != nil && ctx.Err() == nil {
				p.log().Error("connec pull schedule", "error", err)
			}
			lastSchedule = now
		}
		if _, err := p.ProcessDue(ctx); err != nil && ctx.Err() == nil {
			p.log().Error("connec pull queue", "error", err)
		}
	})
	return nil
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
// returns how many completed. On etcd it works the tenants it can claim,
// at most Concurrency at once, and passes over those another replica holds.
func (p *Puller) ProcessDue(ctx context.Context) (int, error) {
	p.init()
	done := 0
	seen := map[string]bool{}
	concurrency := orDefault(p.Concurrency, 2)
	claims := newPass(&p.claims, p.DB, concurrency)
	defer claims.end()
	for ctx.Err() == nil {
		skip, err := p.claims.elsewhere(p.DB)
		if err != nil {
			return done, fmt.Errorf("pull queue: %w", err)
		}
		var due []store.Pull
		if err := p.DB.View(func(tx *store.Tx) (err error) {
			due, err = tx.PullsDueExcept(p.now(), 32, skip)
			return err
		}); err != nil {
			return done, fmt.Errorf("pull queue: %w", err)
		}
		tenants := make([]string, len(due))
		for i, st := range due {
			tenants[i] = st.Tenant
		}
		held := claims.claim(tenants)
		var (
			wg             sync.WaitGroup
			mu             sync.Mutex
			fresh, waiting int
		)
		sem := make(chan struct{}, concurrency)
		for _, st := range due {
			db := held[st.Tenant]
			if db == nil {
				waiting++ // its tenant is claimed elsewhere, or this pass holds enough
				continue
			}
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
				if res := p.runQueued(ctx, db, st); res.Complete {
					mu.Lock()
					done++
					mu.Unlock()
				}
			}(st)
		}
		wg.Wait()
		if (len(due) < 32 && waiting == 0) || fresh == 0 {
			break
		}
	}
	return done, nil
}

// runQueued runs one queued pull and reschedules it on failure, writing
// through db (on etcd fenced by the tenant's claim).
func (p *Puller) runQueued(ctx context.Context, db *store.DB, st store.Pull) PullResult {
	var cfg *tenant.Config
	err := db.View(func(tx *store.Tx) (err error) {
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
		_ = db.Update(func(tx *store.Tx) error {
			cur, err := tx.Pull(st.Tenant, st.GroupUID, st.Collection)
			if err != nil {
				return nil
			}
			cur.Status, cur.LastError, cur.UpdatedAt = store.PullIdle, res.Err.Error(), p.now()
			return tx.PutPull(cur)
		})
		return res
	}
	return p.pull(ctx, db, cfg, st.GroupUID, st.Collection, st.Full, false, nil)
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
// tried again. progress, when set, is called after each page. On etcd
// each tenant's pulls wait for its claim while another replica works it.
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
		db, release, err := p.claims.wait(ctx, p.DB, string(j.cfg.Key))
		if err != nil {
			out = append(out, PullResult{Tenant: string(j.cfg.Key), GroupUID: j.group, Collection: j.col,
				Err: fmt.Errorf("another replica works tenant %s: %w", j.cfg.Key, err)})
			continue
		}
		out = append(out, p.pull(ctx, db, j.cfg, j.group, j.col, req.Full, true, progress))
		release()
	}
	return out, nil
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
