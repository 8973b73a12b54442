package server

import (
	"fmt"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/tenantdesk/tenantdesk/store"
)

// groupCommit runs the small writes of concurrent requests (webhooks, small
// notifications, activity events) in shared transactions: while one commit
// is in flight, the writes that arrive queue up, and the next commit takes
// all of them. Every caller returns only after the transaction holding its
// write has committed (or failed), so a 2xx is never sent for an
// uncommitted write.
//
// Unlike store.DB.Batch (bbolt's Batch, which waits up to 10 ms for a batch
// to fill), there is no timer: a lone request commits at once, and under
// load each fsync carries every request that arrived during the previous
// one. With 50 clients that is what lifts durable webhooks from ~3,000/s
// (one commit each) past 10,000/s; BenchmarkWebhookParallel measures both,
// and db.Batch too.
//
// As with Batch, a callback may run more than once (when another callback
// of its batch fails, the rest run again without it) and must therefore
// rewrite what it reads rather than accumulate.
type groupCommit struct {
	db    *store.DB
	mu    sync.Mutex
	queue []*commitCall
	busy  bool // a leader is committing; new calls queue for the next batch

	commits, writes atomic.Int64 // for the benchmark's writes-per-commit figure
}

type commitCall struct {
	fn   func(*store.Tx) error
	done chan commitOutcome // buffered: a lead signal or the result
}

type commitOutcome struct {
	lead bool // take over: run the next batch
	err  error
}

// do runs fn in a shared transaction and returns once it committed.
func (g *groupCommit) do(fn func(*store.Tx) error) error {
	c := &commitCall{fn: fn, done: make(chan commitOutcome, 1)}
	g.mu.Lock()
	g.queue = append(g.queue, c)
	lead := !g.busy
	g.busy = true
	g.mu.Unlock()
	if lead {
		g.runBatch()
	}
	for {
		o := <-c.done
		if !o.lead {
			return o.err
		}
		g.runBatch()
	}
}

// runBatch commits everything queued, then hands leadership to the first
// call that queued meanwhile, or goes idle.
func (g *groupCommit) runBatch() {
	g.mu.Lock()
	batch := g.queue
	g.queue = nil
	g.mu.Unlock()

	for len(batch) > 0 {
		failed, ferr := -1, error(nil)
		err := g.db.Update(func(tx *store.Tx) error {
			for i, c := range batch {
				if err := runSafely(c.fn, tx); err != nil {
					failed, ferr = i, err
					return err
				}
			}
			return nil
		})
		if failed >= 0 {
			batch[failed].done <- commitOutcome{err: ferr}
			batch = slices.Delete(batch, failed, failed+1)
			continue
		}
		g.commits.Add(1)
		g.writes.Add(int64(len(batch)))
		for _, c := range batch {
			c.done <- commitOutcome{err: err}
		}
		break
	}

	g.mu.Lock()
	if len(g.queue) > 0 {
		g.queue[0].done <- commitOutcome{lead: true}
	} else {
		g.busy = false
	}
	g.mu.Unlock()
}

// runSafely keeps a panicking callback from taking the batch's other
// callers down with it: the panic fails that call alone.
func runSafely(fn func(*store.Tx) error, tx *store.Tx) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic in write: %v", p)
		}
	}()
	return fn(tx)
}
