package connec

// This file is how the outbox Worker and the Puller share the work of a
// cluster (SPEC §14: outbox items and Connec! pulls are claimed per tenant
// with a lease, one worker each, taken over when a replica dies). On etcd
// every replica runs both; before it works a tenant's due items a worker
// claims the tenant (store.DB.TryClaim "outbox/<tenant>" or
// "pull/<tenant>"), writes their outcome fenced by that claim, keeps it
// while the tenant has due work and releases it when idle. Items of
// tenants claimed elsewhere are passed over. A worker holds at most
// Concurrency tenants at a time, claimed in random order, so the tenants
// with work spread over the replicas. On a bbolt file one process owns the
// store and nothing is claimed.

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/tenantdesk/tenantdesk/store"
)

// tenantClaims are the tenants a Worker or a Puller holds. Run and the
// calls by hand (PushNow, PullNow) of one worker share a claim: the
// worker's own locks keep them apart within the process.
type tenantClaims struct {
	prefix string // "outbox/" or "pull/"
	mu     sync.Mutex
	held   map[string]*heldClaim
}

type heldClaim struct {
	lock   *store.Lock
	fenced *store.DB // the store as the claim's holder writes it
	refs   int
}

// take claims tenant's work (or shares this worker's claim of it) and
// returns the store to write its outcome through and the release. On a
// bbolt file it is db itself. store.ErrLocked: another replica works it.
func (c *tenantClaims) take(db *store.DB, tenant string) (*store.DB, func(), error) {
	if !db.Etcd() {
		return db, func() {}, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	h := c.held[tenant]
	if h != nil && lost(h.lock) {
		delete(c.held, tenant) // its holders' writes fail; a new claim for what comes next
		h = nil
	}
	if h == nil {
		l, err := db.TryClaim(c.prefix + tenant)
		if err != nil {
			return nil, nil, err
		}
		h = &heldClaim{lock: l, fenced: l.Fenced()}
		if c.held == nil {
			c.held = map[string]*heldClaim{}
		}
		c.held[tenant] = h
	}
	h.refs++
	var once sync.Once
	return h.fenced, func() { once.Do(func() { c.release(tenant, h) }) }, nil
}

func (c *tenantClaims) release(tenant string, h *heldClaim) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if h.refs--; h.refs > 0 {
		return
	}
	if c.held[tenant] == h {
		delete(c.held, tenant)
	}
	h.lock.Unlock()
}

func lost(l *store.Lock) bool {
	select {
	case <-l.Lost():
		return true
	default:
		return false
	}
}

// elsewhere is the skip of a due scan: the tenants whose work another
// replica holds now. nil on a bbolt file.
func (c *tenantClaims) elsewhere(db *store.DB) (func(string) bool, error) {
	if !db.Etcd() {
		return nil, nil
	}
	claimed, err := db.Claimed(c.prefix)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	others := map[string]bool{}
	for name := range claimed {
		t := name[len(c.prefix):]
		if c.held[t] == nil {
			others[t] = true
		}
	}
	return func(t string) bool { return others[t] }, nil
}

// wait takes tenant's claim, trying again every claimPoll while another
// replica holds it, until ctx ends.
func (c *tenantClaims) wait(ctx context.Context, db *store.DB, tenant string) (*store.DB, func(), error) {
	for {
		fenced, release, err := c.take(db, tenant)
		if !errors.Is(err, store.ErrLocked) {
			return fenced, release, err
		}
		select {
		case <-ctx.Done():
			return nil, nil, err
		case <-time.After(claimPoll):
		}
	}
}

// claimPoll is how often a call by hand tries again for a tenant another
// replica works.
const claimPoll = 100 * time.Millisecond

// pass is the tenants one ProcessDue call holds, at most max at a time.
type pass struct {
	claims *tenantClaims
	db     *store.DB
	max    int
	mine   map[string]passClaim
}

type passClaim struct {
	db      *store.DB
	release func()
}

func newPass(c *tenantClaims, db *store.DB, max int) *pass {
	if !db.Etcd() {
		max = 0 // one process: no claims, no limit
	}
	return &pass{claims: c, db: db, max: max, mine: map[string]passClaim{}}
}

// claim settles which of the tenants with due work this pass works now:
// it keeps those it holds, releases the ones with no due work left, and
// claims others, in random order, up to max. It returns the store to
// write each tenant's outcome through; a tenant not in it waits.
func (p *pass) claim(due []string) map[string]*store.DB {
	out := map[string]*store.DB{}
	if p.max == 0 {
		for _, t := range due {
			out[t] = p.db
		}
		return out
	}
	has := map[string]bool{}
	for _, t := range due {
		has[t] = true
	}
	for t, c := range p.mine {
		if !has[t] {
			c.release()
			delete(p.mine, t)
		}
	}
	fresh := make([]string, 0, len(has))
	for t := range has {
		if _, ok := p.mine[t]; !ok {
			fresh = append(fresh, t)
		}
	}
	rand.Shuffle(len(fresh), func(i, j int) { fresh[i], fresh[j] = fresh[j], fresh[i] })
	for _, t := range fresh {
		if len(p.mine) >= p.max {
			break
		}
		if db, release, err := p.claims.take(p.db, t); err == nil {
			p.mine[t] = passClaim{db: db, release: release}
		}
	}
	for t, c := range p.mine {
		out[t] = c.db
	}
	return out
}

// end releases every claim of the pass.
func (p *pass) end() {
	for t, c := range p.mine {
		c.release()
		delete(p.mine, t)
	}
}
