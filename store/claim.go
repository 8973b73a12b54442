package store

import (
	"context"
	"fmt"
	"strings"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// Claims of work (SPEC §14: outbox items and Connec! pulls are claimed
// per tenant with a lease, one worker each, taken over when a replica
// dies). A claim is a named Lock whose writes are fenced the same way
// (Lock.Fenced), but cheaper: on etcd every claim of one handle hangs on
// one lease, granted at its first claim and kept alive while the handle
// is open, so a worker that claims and releases a tenant every second
// costs two small writes, not a lease each. A replica that dies loses all
// its claims when that lease runs out (lockTTL), and the others take them
// over; a handle whose lease was lost (a stall, a partition) gets a new
// one at its next claim, while its old claims' fenced writes fail with
// ErrLockLost. On a bbolt file the holder is this process, as for locks.

// liveLease is a lease this process keeps alive: a lock's, or the one
// the claims of an etcd handle share.
type liveLease struct {
	id   clientv3.LeaseID
	stop context.CancelFunc
	lost chan struct{} // closed when the lease is no longer kept alive
}

func (l *liveLease) gone() bool {
	select {
	case <-l.lost:
		return true
	default:
		return false
	}
}

// TryClaim takes the named claim (e.g. "outbox/acme"), or returns
// ErrLocked at once while another holder has it: another handle, or this
// one, since a claim is not re-entrant. Unlock releases it; Lost is
// closed when the handle's lease is lost.
func (db *DB) TryClaim(name string) (*Lock, error) {
	if db.etcd == nil {
		l, err := db.TryLock(etcdClaimsDir + name)
		if err != nil {
			return nil, fmt.Errorf("claim %s: %w", name, ErrLocked)
		}
		db.locksMu.Lock()
		if db.claimed == nil {
			db.claimed = map[string]bool{}
		}
		db.claimed[name] = true
		db.locksMu.Unlock()
		l.name, l.claim = name, true
		return l, nil
	}
	key, rev, lease, err := db.etcd.tryClaim(name)
	if err != nil {
		return nil, err
	}
	return &Lock{db: db, name: name, key: key, rev: rev, lease: lease.id, claim: true, lost: lease.lost}, nil
}

// tryClaim puts the claim key of name under the handle's lease if no one
// holds it: its key and the revision that made it, which fences the
// holder's writes (keyFence).
func (s *etcdStore) tryClaim(name string) (string, int64, *liveLease, error) {
	lease, err := s.claimLease()
	if err != nil {
		return "", 0, nil, fmt.Errorf("claim %s: %w", name, err)
	}
	k := s.prefix + etcdClaimsDir + name
	rev, err := s.createUnder(k, lease.id)
	if err != nil {
		return "", 0, nil, fmt.Errorf("claim %s: %w", name, err)
	}
	return k, rev, lease, nil
}

// createUnder puts k, naming this process, under lease if k does not
// exist, and returns the revision that made it; ErrLocked when k exists.
// The holder of a lock or claim is the one that made its key.
func (s *etcdStore) createUnder(k string, lease clientv3.LeaseID) (int64, error) {
	c, cancel := s.ctx()
	defer cancel()
	resp, err := s.cli.Txn(c).If(clientv3.Compare(clientv3.CreateRevision(k), "=", 0)).
		Then(clientv3.OpPut(k, ReplicaID(), clientv3.WithLease(lease))).Commit()
	switch {
	case err != nil:
		return 0, err
	case !resp.Succeeded:
		return 0, ErrLocked
	}
	return resp.Header.Revision, nil
}

// keyFence is the compare that holds while the key made at rev is still
// there: the writes of a holder whose lease ran out fail.
func keyFence(key string, rev int64) clientv3.Cmp {
	return clientv3.Compare(clientv3.CreateRevision(key), "=", rev)
}

// unclaim deletes the claim key made at rev, if it is still that one.
func (s *etcdStore) unclaim(key string, rev int64) {
	c, cancel := s.ctx()
	defer cancel()
	_, _ = s.cli.Txn(c).If(keyFence(key, rev)).Then(clientv3.OpDelete(key)).Commit()
}

// Claimed lists the names under prefix claimed now, by any holder (this
// handle's included): a worker skips the work others hold without trying
// to claim it.
func (db *DB) Claimed(prefix string) (map[string]bool, error) {
	out := map[string]bool{}
	if db.etcd == nil {
		db.locksMu.Lock()
		defer db.locksMu.Unlock()
		for name := range db.claimed {
			if strings.HasPrefix(name, prefix) {
				out[name] = true
			}
		}
		return out, nil
	}
	s := db.etcd
	c, cancel := s.ctx()
	defer cancel()
	dir := s.prefix + etcdClaimsDir
	resp, err := s.cli.Get(c, dir+prefix, clientv3.WithPrefix(), clientv3.WithKeysOnly())
	if err != nil {
		return nil, fmt.Errorf("claims %s: %w", prefix, err)
	}
	for _, kv := range resp.Kvs {
		out[string(kv.Key[len(dir):])] = true
	}
	return out, nil
}

// claimLease is the handle's shared lease, granted anew when there is
// none or the last one was lost.
func (s *etcdStore) claimLease() (*liveLease, error) {
	s.claimMu.Lock()
	defer s.claimMu.Unlock()
	if l := s.claims; l != nil && !l.gone() {
		return l, nil
	}
	l, err := s.keepLease()
	if err != nil {
		return nil, err
	}
	s.claims = l
	return l, nil
}

// keepLease grants a lease of lockTTL and keeps it alive until its stop
// is called; lost is closed when it is no longer kept alive. Locks and
// each handle's claims hang on one.
func (s *etcdStore) keepLease() (*liveLease, error) {
	c, cancel := s.ctx()
	defer cancel()
	g, err := s.cli.Grant(c, lockTTL)
	if err != nil {
		return nil, err
	}
	ctx, stop := context.WithCancel(context.Background())
	alive, err := s.cli.KeepAlive(ctx, g.ID)
	if err != nil {
		stop()
		_, _ = s.cli.Revoke(c, g.ID)
		return nil, err
	}
	l := &liveLease{id: g.ID, stop: stop, lost: make(chan struct{})}
	go func() {
		for range alive { // drained until stop or the lease is gone
		}
		close(l.lost)
	}()
	return l, nil
}

// forgetClaimLease makes the next claim grant a new lease when l, found
// gone by a request, is still the handle's (its keep-alive may not have
// noticed yet).
func (s *etcdStore) forgetClaimLease(l *liveLease) {
	s.claimMu.Lock()
	defer s.claimMu.Unlock()
	if s.claims == l {
		s.claims = nil
		l.stop()
	}
}

// endClaims revokes the handle's lease at Close: its claims go at once,
// not when the lease would have run out.
func (s *etcdStore) endClaims() {
	s.claimMu.Lock()
	l := s.claims
	s.claims = nil
	s.claimMu.Unlock()
	if l == nil {
		return
	}
	l.stop()
	c, cancel := s.ctx()
	defer cancel()
	_, _ = s.cli.Revoke(c, l.id)
	<-l.lost
}

// unclaim releases a claim: on etcd its key goes, if it is still this
// claim's (the lease stays, for the handle's other claims).
func (l *Lock) unclaim() {
	if l.local != nil {
		l.db.locksMu.Lock()
		delete(l.db.claimed, l.name)
		l.db.locksMu.Unlock()
		return
	}
	l.db.etcd.unclaim(l.key, l.rev)
}

// expireClaimsForTest ends the handle's lease as an expiry would, and
// its keep-alive as the next refused renewal would (up to lockTTL/3 later).
func (db *DB) expireClaimsForTest() {
	s := db.etcd
	s.claimMu.Lock()
	l := s.claims
	s.claimMu.Unlock()
	c, cancel := s.ctx()
	defer cancel()
	_, _ = s.cli.Revoke(c, l.id)
	l.stop()
	<-l.lost
}
