package store

import (
	"context"
	"sync"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// Reads of concurrent transactions go to the cluster together. Every read
// is a gRPC round trip, and on a replica under load the round trips, not
// etcd's work, are most of what a request costs (a webhook's handful of
// reads: ~150 µs of CPU each on the client and the member). While one
// read is in flight, the reads that arrive queue; when it returns, they go
// as one etcd txn of range requests, each at its own transaction's
// revision, and the first of them takes over. A lone read goes at once,
// as a plain Get.

// readBatcher is the queue of a store's reads.
type readBatcher struct {
	mu    sync.Mutex
	queue []*batchedRead
	busy  bool // a read or batch is in flight; new reads queue for the next
}

type batchedRead struct {
	op   clientv3.Op
	resp *clientv3.GetResponse
	// gated asks for the journals' gate too, read at the same revision as
	// op (a view's first read): gate is what that read found.
	gated bool
	gate  *clientv3.GetResponse
	err   error
	lead  bool          // set instead of the answer: send the next batch
	done  chan struct{} // closed when resp/err or lead is set
}

// read is Get of key with opts, sent with the other reads of this process
// that arrive while one is in flight; with gated, also the journals' gate
// at the same revision.
func (s *etcdStore) read(key string, gated bool, opts ...clientv3.OpOption) (resp, gate *clientv3.GetResponse, err error) {
	r := &batchedRead{op: clientv3.OpGet(key, opts...), gated: gated, done: make(chan struct{})}
	q := &s.reads
	q.mu.Lock()
	if q.busy {
		q.queue = append(q.queue, r)
		q.mu.Unlock()
		<-r.done
		if !r.lead {
			return r.resp, r.gate, r.err
		}
		q.mu.Lock()
	}
	q.busy = true
	batch := []*batchedRead{r}
	if r.lead {
		// r is the first of the queue: take it and those behind it (two
		// operations each at most).
		n := min(len(q.queue), etcdMaxOps/2)
		batch = append([]*batchedRead(nil), q.queue[:n]...)
		q.queue = q.queue[n:]
	}
	q.mu.Unlock()
	s.sendReads(batch)
	q.mu.Lock()
	if len(q.queue) > 0 {
		next := q.queue[0]
		next.lead = true
		close(next.done)
	} else {
		q.busy = false
	}
	q.mu.Unlock()
	return r.resp, r.gate, r.err
}

// sendReads sends batch (one read: a Get; more: one txn) and answers each
// read but the caller's own, batch[0]'s, through its done.
func (s *etcdStore) sendReads(batch []*batchedRead) {
	defer func() {
		for _, r := range batch[1:] {
			close(r.done)
		}
	}()
	ctx, cancel := s.ctx()
	defer cancel()
	s.requests.Add(1)
	if len(batch) == 1 {
		batch[0].get(ctx, s)
		return
	}
	if err := s.readTogether(ctx, batch); err != nil {
		// One read may have failed them all (a revision compacted away):
		// each goes again alone, and fails alone.
		for _, r := range batch {
			s.requests.Add(1)
			r.get(ctx, s)
		}
	}
}

// readTogether sends the reads of batch as one txn and answers each.
func (s *etcdStore) readTogether(ctx context.Context, batch []*batchedRead) error {
	var ops []clientv3.Op
	for _, r := range batch {
		ops = append(ops, r.op)
		if r.gated {
			ops = append(ops, s.gateGet())
		}
	}
	resp, err := s.cli.Txn(ctx).Then(ops...).Commit()
	if err != nil {
		return err
	}
	answer := func(i int) *clientv3.GetResponse {
		gr := (*clientv3.GetResponse)(resp.Responses[i].GetResponseRange())
		if gr.Header == nil || gr.Header.Revision == 0 {
			gr.Header = resp.Header
		}
		return gr
	}
	i := 0
	for _, r := range batch {
		r.resp = answer(i)
		i++
		if r.gated {
			r.gate = answer(i)
			i++
		}
	}
	return nil
}

// get sends r alone: a Get, or a txn with the gate's read.
func (r *batchedRead) get(ctx context.Context, s *etcdStore) {
	if r.gated {
		r.err = s.readTogether(ctx, []*batchedRead{r})
		return
	}
	resp, err := s.cli.Do(ctx, r.op)
	r.resp, r.err = resp.Get(), err
}
