package store

import (
	"bytes"
	"fmt"
	"time"
)

// PurgeBatch is how many entries one purge transaction looks at: a file
// that grew to millions of expired entries is cleaned in many short write
// transactions, each holding the write lock for a few milliseconds, not in
// one that blocks logins and webhooks for seconds.
const PurgeBatch = 1000

// Purged counts what DB.PurgeExpired removed.
type Purged struct {
	Sessions, AuthnRequests, Assertions int
}

// Total is the number of entries removed.
func (p Purged) Total() int { return p.Sessions + p.AuthnRequests + p.Assertions }

// expiring are the buckets whose entries end at a time, with how to read
// it. ok is false for a key that is not an entry (a tenant's pending
// count); an entry that does not decode reads as expired: it can never be
// used.
var expiring = []struct {
	bucket  *bucketDef
	expires func(k, v []byte) (at time.Time, ok bool)
}{
	{bucketSessions, func(_, v []byte) (time.Time, bool) {
		var s Session
		_ = decodeValue(v, &s)
		return s.ExpiresAt, true
	}},
	{bucketAuthnRequests, func(k, v []byte) (time.Time, bool) {
		if isPendingCount(k) {
			return time.Time{}, false
		}
		var r AuthnRequest
		_ = decodeValue(v, &r)
		return r.ExpiresAt, true
	}},
	{bucketAssertions, func(_, v []byte) (time.Time, bool) {
		var a seenAssertion
		_ = decodeValue(v, &a)
		return a.ExpiresAt, true
	}},
}

// PurgeExpired drops sessions, requests and replay entries past their
// time, in this one transaction.
func (tx *Tx) PurgeExpired(now time.Time) error {
	for i := range expiring {
		if _, _, err := tx.purgeFrom(i, nil, -1, now); err != nil {
			return fmt.Errorf("purge %s: %w", expiring[i].bucket, err)
		}
	}
	return nil
}

// PurgeExpired removes the sessions, pending AuthnRequests and replay-cache
// entries whose time has passed at now, PurgeBatch entries looked at per
// write transaction. Each bucket is walked once, front to back, each batch
// resuming after the last key the one before looked at, so the whole purge
// is linear in the entries. Entries written meanwhile go at the next call.
func (db *DB) PurgeExpired(now time.Time) (Purged, error) {
	var counts [3]int
	for i := range expiring {
		var from []byte
		for {
			var next []byte
			var removed int
			err := db.Update(func(tx *Tx) error {
				var err error
				next, removed, err = tx.purgeFrom(i, from, PurgeBatch, now)
				return err
			})
			if err != nil {
				return Purged{counts[0], counts[1], counts[2]}, fmt.Errorf("purge %s: %w", expiring[i].bucket, err)
			}
			counts[i] += removed
			if next == nil {
				break
			}
			from = next
		}
	}
	res := Purged{Sessions: counts[0], AuthnRequests: counts[1], Assertions: counts[2]}
	if db.etcd != nil {
		for _, b := range []*bucketDef{bucketEvents, bucketSecurityEvents} {
			if err := db.etcd.trimLog(b, EventLogLimit); err != nil {
				return res, fmt.Errorf("trim %s: %w", b, err)
			}
		}
		if err := db.foldDayCounts(now); err != nil {
			return res, err
		}
	}
	return res, nil
}

// purgeFrom deletes the expired entries among the first limit keys (all
// when limit < 0) of expiring[i]'s bucket from key from (nil: the first).
// next is the first key not looked at, nil at the end.
func (tx *Tx) purgeFrom(i int, from []byte, limit int, now time.Time) (next []byte, removed int, err error) {
	e := expiring[i]
	b := tx.bucket(e.bucket)
	c := b.Cursor()
	var k, v, prev []byte
	if from == nil {
		k, v = c.First()
	} else if k, v = c.Seek(from); !bytes.Equal(k, from) {
		prev = from // then what the seek found must come after it
	}
	var stale [][]byte
	for seen := 0; k != nil; k, v = c.Next() {
		if err := ascending(e.bucket, prev, k); err != nil {
			return nil, 0, err
		}
		prev = k
		if seen == limit {
			next = clone(k)
			break
		}
		seen++
		if at, ok := e.expires(k, v); ok && !now.Before(at) {
			stale = append(stale, clone(k))
		}
	}
	for _, k := range stale {
		if err := b.Delete(k); err != nil {
			return nil, 0, err
		}
		if i == 1 { // a pending AuthnRequest: its tenant has one less
			if err := tx.addPending(tenantOfRequestKey(k), -1); err != nil {
				return nil, 0, err
			}
		}
	}
	return next, len(stale), nil
}
