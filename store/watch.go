package store

import (
	"context"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// Changes made by other replicas reach this one through a watch: every
// change to a tenant, to the settings or to meta (the vault's keys, which
// open the tenants' sealed secrets) moves the generation, and what is
// cached by generation (the listener's tenants, the listener's settings:
// admin.Service.followSettings) is read anew. A watch
// delivers in milliseconds, well inside the 2 s in which a change must be
// in force on every replica (SPEC §14).
//
// Only those buckets: a 10,000-invoice notification is 110,000 events that
// every replica would decode and drop (0.1 s of CPU per replica), and
// every webhook's write would make every replica read its tenant again.
// This process's own commits move the generation on the same terms
// (etcdTx.commit).

// generationBuckets are the buckets whose changes move the generation.
var generationBuckets = []*bucketDef{bucketTenants, bucketSettings, bucketMeta}

// seen moves the generation up to rev.
func (s *etcdStore) seen(rev int64) {
	for {
		cur := s.gen.Load()
		if rev <= cur || s.gen.CompareAndSwap(cur, rev) {
			return
		}
	}
}

// generation is the revision of the newest change to generationBuckets
// seen, by this process or another.
func (s *etcdStore) generation() uint64 { return uint64(s.gen.Load()) }

// startWatch watches generationBuckets until close, watching again after
// an error (a member lost, a compaction past where it was).
func (s *etcdStore) startWatch() {
	ctx, stop := context.WithCancel(context.Background())
	s.stop = stop
	for _, b := range generationBuckets {
		s.watched.Add(1)
		go func() {
			defer s.watched.Done()
			s.watch(ctx, s.prefix+b.name+"/")
		}()
	}
}

func (s *etcdStore) watch(ctx context.Context, prefix string) {
	last := s.gen.Load() // this watch has delivered everything up to last
	for ctx.Err() == nil {
		wctx := clientv3.WithRequireLeader(ctx)
		for resp := range s.cli.Watch(wctx, prefix, clientv3.WithPrefix(), clientv3.WithRev(last+1)) {
			if resp.CompactRevision != 0 {
				last = max(last, resp.CompactRevision)
			}
			last = max(last, resp.Header.Revision)
			s.seen(last)
		}
		select {
		case <-ctx.Done():
		case <-time.After(200 * time.Millisecond):
		}
	}
}
