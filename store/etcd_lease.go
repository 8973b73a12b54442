package store

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// Keys that expire on their own (SPEC §14: replay entries expire with a
// lease). A lease costs the cluster a record and a timer, so keys do not
// get one each: every key whose end falls in the same expiryBucket shares
// one lease, granted on first use and cached, which ends one bucket after
// the last of them may end. A key so lives at least its TTL and at most
// two buckets longer; the purge removes, on a bbolt file, what the lease
// removes here.

// expiryBucket is the width of the time slots that share a lease (tests
// shorten it).
var expiryBucket = time.Minute

// expiryLeases is the cache of one store's shared leases.
type expiryLeases struct {
	mu     sync.Mutex // held while a lease is granted: one grant per slot
	leases map[time.Time]expiryLease
}

type expiryLease struct {
	id   clientv3.LeaseID
	ends time.Time
}

// lease is the shared lease of keys that end at at: it ends between one
// and two buckets after at, so it outlives every key that takes it, and
// is at least a bucket away from ending whenever it is handed out.
func (s *etcdStore) expiryLease(at time.Time) (clientv3.LeaseID, error) {
	now := time.Now()
	slot := at.Truncate(expiryBucket)
	if at.Before(now) {
		slot = now.Truncate(expiryBucket)
	}
	l := &s.expiring
	l.mu.Lock()
	defer l.mu.Unlock()
	for k, e := range l.leases {
		if now.After(e.ends.Add(-expiryBucket)) { // too close to its end to hand out
			delete(l.leases, k)
		}
	}
	if e, ok := l.leases[slot]; ok {
		return e.id, nil
	}
	ends := slot.Add(2 * expiryBucket)
	ttl := int64(ends.Sub(now)/time.Second) + 1
	ctx, cancel := s.ctx()
	defer cancel()
	g, err := s.cli.Grant(ctx, ttl)
	if err != nil {
		return 0, fmt.Errorf("lease of expiring keys: %w", err)
	}
	if l.leases == nil {
		l.leases = map[time.Time]expiryLease{}
	}
	l.leases[slot] = expiryLease{id: g.ID, ends: now.Add(time.Duration(ttl) * time.Second)}
	return g.ID, nil
}

// leaseGone reports whether a commit failed for a lease the cluster no
// longer has (revoked, or a clock far off): the cache is dropped and the
// transaction runs again with fresh leases.
func (s *etcdStore) leaseGone(err error) bool {
	if !errors.Is(err, rpctypes.ErrLeaseNotFound) {
		return false
	}
	s.expiring.mu.Lock()
	s.expiring.leases = nil
	s.expiring.mu.Unlock()
	return true
}

// putTTL is put for a key that may go after ttl.
func (b *etcdBucket) putTTL(k, v []byte, ttl time.Duration) error {
	if err := b.put(k, v); err != nil {
		return err
	}
	if b.ttls == nil {
		b.ttls = map[string]time.Time{}
	}
	b.ttls[string(k)] = time.Now().Add(ttl)
	return nil
}

// leaseOps are the options of the put of key k: its shared lease, if it
// was put with a TTL. Called only after grantLeases.
func (b *etcdBucket) leaseOps(k string) []clientv3.OpOption {
	if id, ok := b.leased[k]; ok {
		return []clientv3.OpOption{clientv3.WithLease(id)}
	}
	return nil
}

// grantLeases finds the shared lease of every key the transaction put
// with a TTL, before its commit is built. A transaction big enough for
// the journal writes them without: the purge removes those.
func (t *etcdTx) grantLeases() error {
	for _, b := range t.buckets {
		if b == nil || len(b.ttls) == 0 {
			continue
		}
		b.leased = make(map[string]clientv3.LeaseID, len(b.ttls))
		for k, at := range b.ttls {
			id, err := t.s.expiryLease(at)
			if err != nil {
				return err
			}
			b.leased[k] = id
		}
	}
	return nil
}
