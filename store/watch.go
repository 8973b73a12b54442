package store

import (
	"context"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// Changes made by other replicas reach this one through a watch of the
// whole store prefix: every event moves the generation, and what is cached
// by generation (the listener's tenants, the settings) is read anew on the
// next request. A watch delivers in milliseconds, well inside the 2 s in
// which a change must be in force on every replica (SPEC §14).

// seen moves the generation up to rev.
func (s *etcdStore) seen(rev int64) {
	for {
		cur := s.gen.Load()
		if rev <= cur || s.gen.CompareAndSwap(cur, rev) {
			return
		}
	}
}

// generation is the newest revision seen; it moves whenever anything is
// written, by this process or another.
func (s *etcdStore) generation() uint64 { return uint64(s.gen.Load()) }

// startWatch watches the prefix until close, watching again after an
// error (a member lost, a compaction past where it was).
func (s *etcdStore) startWatch() {
	ctx, stop := context.WithCancel(context.Background())
	s.stop = stop
	s.watched.Add(1)
	go func() {
		defer s.watched.Done()
		for ctx.Err() == nil {
			from := s.gen.Load() + 1
			wctx := clientv3.WithRequireLeader(ctx)
			for resp := range s.cli.Watch(wctx, s.prefix, clientv3.WithPrefix(), clientv3.WithRev(from)) {
				if resp.CompactRevision != 0 {
					s.seen(resp.CompactRevision)
				}
				s.seen(resp.Header.Revision)
			}
			select {
			case <-ctx.Done():
			case <-time.After(200 * time.Millisecond):
			}
		}
	}()
}
