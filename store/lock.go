package store

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// Named locks for work that one process at a time may do (SPEC §14: one
// billing run at a time). On a bbolt file the holder is this process; on
// etcd a key under _locks/ held with a lease that the holder keeps alive.
// The writes of a holder are fenced (Lock.Fenced): on etcd each commit
// also requires the lock key to be the one this holder created, so a
// replica whose lease expired (a long stall, a partition) cannot write
// after another has taken the lock.

// LockBilling is the lock of billing runs.
const LockBilling = "billing"

// LockBackground is the lock of the background work of a replica set:
// the outbox, Connec! pulls, re-syncs and purges run on its holder only,
// and another replica takes them over within the lock's lease when the
// holder dies.
const LockBackground = "background"

// ErrLocked is returned by TryLock while another holder has the lock.
var ErrLocked = errors.New("held by another process")

// ErrLockLost is returned by a fenced write whose lock has expired.
var ErrLockLost = errors.New("the lock was lost (its lease expired): another process may hold it now")

// lockTTL is how long a lock outlives its holder's last keep-alive.
const lockTTL = 15 // seconds

// Lock is a held lock; Unlock releases it.
type Lock struct {
	db     *DB
	name   string
	key    string // etcd: the lock key
	rev    int64  // etcd: its create revision, the fence
	lease  clientv3.LeaseID
	stop   context.CancelFunc
	local  *sync.Mutex // bbolt: this DB's mutex of the name
	claim  bool        // a claim of work (claim.go): its lease is the handle's
	closed bool
	lost   chan struct{} // closed when the lease is no longer kept alive
}

// Lost is closed when the lock can no longer be relied on: its lease was
// not kept alive (etcd unreachable, or Unlock; for a claim, the handle's
// lease, which Unlock does not end). Never closed on bbolt before Unlock.
func (l *Lock) Lost() <-chan struct{} { return l.lost }

// TryLock takes the named lock, or returns ErrLocked at once.
func (db *DB) TryLock(name string) (*Lock, error) {
	if db.etcd == nil {
		db.locksMu.Lock()
		if db.locks == nil {
			db.locks = map[string]*sync.Mutex{}
		}
		mu := db.locks[name]
		if mu == nil {
			mu = new(sync.Mutex)
			db.locks[name] = mu
		}
		db.locksMu.Unlock()
		if !mu.TryLock() {
			return nil, fmt.Errorf("lock %s: %w", name, ErrLocked)
		}
		return &Lock{db: db, name: name, local: mu, lost: make(chan struct{})}, nil
	}
	s := db.etcd
	lease, err := s.keepLease()
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", name, err)
	}
	k := s.prefix + etcdLocksDir + name
	rev, err := s.createUnder(k, lease.id)
	if err != nil {
		lease.stop()
		c, cancel := s.ctx()
		_, _ = s.cli.Revoke(c, lease.id)
		cancel()
		return nil, fmt.Errorf("lock %s: %w", name, err)
	}
	return &Lock{db: db, name: name, key: k, rev: rev, lease: lease.id, stop: lease.stop, lost: lease.lost}, nil
}

// Unlock releases the lock (on etcd, revokes its lease).
func (l *Lock) Unlock() {
	if l.closed {
		return
	}
	l.closed = true
	if l.claim {
		l.unclaim()
	}
	if l.local != nil {
		l.local.Unlock()
		close(l.lost)
		return
	}
	if l.claim {
		return
	}
	l.stop()
	c, cancel := l.db.etcd.ctx()
	defer cancel()
	_, _ = l.db.etcd.cli.Revoke(c, l.lease)
}

// Fenced is the store as the lock's holder writes it: every Update,
// UpdateLarge and Batch through it commits only while the lock is held,
// else fails with ErrLockLost. On a bbolt file, where the holder is this
// process, it is the store itself.
func (l *Lock) Fenced() *DB {
	if l.local != nil {
		return l.db
	}
	return &DB{etcd: l.db.etcd, path: l.db.path, opt: l.db.opt, vault: l.db.vault, fence: l}
}

// fenceCompare is the condition a fenced commit adds.
func (l *Lock) fenceCompare() clientv3.Cmp { return keyFence(l.key, l.rev) }

// held reports whether the lock key is still the one this holder made.
func (l *Lock) held() (bool, error) {
	c, cancel := l.db.etcd.ctx()
	defer cancel()
	resp, err := l.db.etcd.cli.Get(c, l.key)
	if err != nil {
		return false, err
	}
	return len(resp.Kvs) == 1 && resp.Kvs[0].CreateRevision == l.rev, nil
}

// expireForTest ends the lease as an expiry would, keeping the Lock.
func (l *Lock) expireForTest() {
	l.stop()
	c, cancel := l.db.etcd.ctx()
	defer cancel()
	_, _ = l.db.etcd.cli.Revoke(c, l.lease)
	time.Sleep(10 * time.Millisecond)
}
