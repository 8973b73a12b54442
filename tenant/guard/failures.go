package guard

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tenantdesk/tenantdesk/store"
)

// FlushInterval is how often Run writes the minutes that have ended.
const FlushInterval = 10 * time.Second

// Failures aggregates refused logins and bad credentials per tenant, kind,
// reason and minute, in memory, and writes each minute's counts as one
// event per bucket in one transaction: a flood costs no fsync per request
// and adds at most a handful of events a minute. The key space is bounded:
// tenant keys are the known tenants' (unknown ones count under ""), kinds
// and reasons are fixed codes, never what the request said.
type Failures struct {
	db  *store.DB
	now func() time.Time
	log *slog.Logger

	mu      sync.Mutex
	buckets map[failureKey]*failureCount

	flushes, written atomic.Int64
}

type failureKey struct {
	tenant, kind, reason string
	minute               int64 // Unix minute
}

type failureCount struct {
	n       int
	message string // what one failure of this bucket means, for people
}

// NewFailures returns an empty aggregator writing to db. now and logger may
// be nil.
func NewFailures(db *store.DB, now func() time.Time, logger *slog.Logger) *Failures {
	if now == nil {
		now = time.Now
	}
	if logger == nil {
		logger = slog.Default()
	}
	return &Failures{db: db, now: now, log: logger, buckets: map[failureKey]*failureCount{}}
}

// Add counts one failure. message describes one failure of this kind and
// reason (a fixed text, not the request's content).
func (f *Failures) Add(tenant, kind, reason, message string) {
	k := failureKey{tenant: tenant, kind: kind, reason: reason, minute: f.now().Unix() / 60}
	f.mu.Lock()
	c := f.buckets[k]
	if c == nil {
		c = &failureCount{message: message}
		f.buckets[k] = c
	}
	c.n++
	f.mu.Unlock()
}

// Pending is how many failures are counted and not written yet.
func (f *Failures) Pending() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, c := range f.buckets {
		n += c.n
	}
	return n
}

// Stats says how many flush transactions and events were written so far.
func (f *Failures) Stats() (flushes, events int64) { return f.flushes.Load(), f.written.Load() }

// Flush writes every counted bucket, the current minute's included (at
// shutdown, and in tests).
func (f *Failures) Flush() error { return f.flush(false) }

// FlushEnded writes the buckets of the minutes that have ended.
func (f *Failures) FlushEnded() error { return f.flush(true) }

func (f *Failures) flush(endedOnly bool) error {
	current := f.now().Unix() / 60
	f.mu.Lock()
	var keys []failureKey
	var counts []failureCount
	for k, c := range f.buckets {
		if endedOnly && k.minute >= current {
			continue
		}
		keys = append(keys, k)
		counts = append(counts, *c)
		delete(f.buckets, k)
	}
	f.mu.Unlock()
	if len(keys) == 0 {
		return nil
	}
	order := make([]int, len(keys))
	for i := range order {
		order[i] = i
	}
	sort.Slice(order, func(a, b int) bool {
		ka, kb := keys[order[a]], keys[order[b]]
		if ka.minute != kb.minute {
			return ka.minute < kb.minute
		}
		if ka.tenant != kb.tenant {
			return ka.tenant < kb.tenant
		}
		if ka.kind != kb.kind {
			return ka.kind < kb.kind
		}
		return ka.reason < kb.reason
	})
	err := f.db.Update(func(tx *store.Tx) error {
		for _, i := range order {
			k, c := keys[i], counts[i]
			at := time.Unix(k.minute*60, 0).UTC()
			msg := c.message
			if c.n > 1 {
				msg = fmt.Sprintf("%d× in the minute from %s: %s", c.n, at.Format("15:04"), c.message)
			}
			if _, err := tx.AppendEvent(store.Event{
				At: at, Tenant: k.tenant, Kind: k.kind, Outcome: "failed",
				Reason: k.reason, Count: c.n, Message: msg,
			}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		// Put the counts back: the next flush tries again.
		f.mu.Lock()
		for i, k := range keys {
			c := f.buckets[k]
			if c == nil {
				c = &failureCount{message: counts[i].message}
				f.buckets[k] = c
			}
			c.n += counts[i].n
		}
		f.mu.Unlock()
		return fmt.Errorf("record failures: %w", err)
	}
	f.flushes.Add(1)
	f.written.Add(int64(len(keys)))
	return nil
}

// Run writes ended minutes every FlushInterval until ctx ends, then writes
// everything left.
func (f *Failures) Run(ctx context.Context) {
	t := time.NewTicker(FlushInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			if err := f.Flush(); err != nil {
				f.log.Error("flush failure counts", "err", err)
			}
			return
		case <-t.C:
			if err := f.FlushEnded(); err != nil {
				f.log.Error("flush failure counts", "err", err)
			}
		}
	}
}
