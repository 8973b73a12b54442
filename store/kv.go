package store

import (
	"bytes"
	"fmt"
	"time"

	"go.etcd.io/bbolt"
)

// The key-value layer under the typed transaction methods: buckets of
// ordered keys with a cursor, and a sequence per bucket. bbolt provides it
// directly (its buckets); etcd by key prefixes in an optimistic transaction
// (etcd.go). The typed methods see only these types.
//
// The types are small structs that hold one backend or the other and
// dispatch on which, rather than interfaces: a key handed to an interface
// method escapes to the heap, and the identity map's pages pass a key per
// row (an 8-byte allocation each, 50 more per page, measured).

// kvTx is one transaction of a backend.
type kvTx struct {
	bolt  *bbolt.Tx
	etcd  *etcdTx
	spend *txSpend // bbolt's count against the budget; nil: none
}

// txSpend counts a bbolt transaction's writes against its budget (etcd
// counts its own, etcd.go).
type txSpend struct {
	budget        TxBudget
	writes, bytes int
}

func (s *txSpend) add(n int) error {
	s.writes++
	s.bytes += n
	return s.budget.check(s.writes, s.bytes)
}

func (t kvTx) bucket(b *bucketDef) kvBucket {
	if t.etcd != nil {
		return kvBucket{etcd: t.etcd.bucket(b)}
	}
	return kvBucket{bolt: t.bolt.Bucket(b.key()), spend: t.spend}
}

// kvBucket is one bucket inside a transaction. Get returns nil for a
// missing key; keys and values are valid only inside the transaction.
type kvBucket struct {
	bolt  *bbolt.Bucket
	etcd  *etcdBucket
	spend *txSpend
}

// exists is false for a bucket a read-only file from an older schema lacks.
func (b kvBucket) exists() bool { return b.bolt != nil || b.etcd != nil }

func (b kvBucket) Get(k []byte) []byte {
	if b.etcd != nil {
		return b.etcd.get(k)
	}
	return b.bolt.Get(k)
}

// getLatest is Get of a key that only this transaction writes now (a
// count shard it holds): on etcd read at the cluster's newest revision,
// which its last writer's commit may be past the transaction's.
func (b kvBucket) getLatest(k []byte) []byte {
	if b.etcd != nil {
		return b.etcd.getLatest(k)
	}
	return b.bolt.Get(k)
}

func (b kvBucket) Put(k, v []byte) error {
	if b.etcd != nil {
		return b.etcd.put(k, v)
	}
	if b.spend != nil {
		if err := b.spend.add(len(k) + len(v)); err != nil {
			return err
		}
	}
	return b.bolt.Put(k, v)
}

// PutTTL is Put for an entry no one needs after ttl: on etcd the key goes
// under a lease, shared with the keys that end about when it does
// (etcd_lease.go), and the cluster deletes it itself some time after ttl;
// a bbolt file keeps it for the purge.
func (b kvBucket) PutTTL(k, v []byte, ttl time.Duration) error {
	if b.etcd != nil {
		return b.etcd.putTTL(k, v, ttl)
	}
	return b.Put(k, v)
}

func (b kvBucket) Delete(k []byte) error {
	if b.etcd != nil {
		return b.etcd.delete(k)
	}
	if b.spend != nil {
		if err := b.spend.add(len(k)); err != nil {
			return err
		}
	}
	return b.bolt.Delete(k)
}

func (b kvBucket) Cursor() kvCursor {
	if b.etcd != nil {
		return kvCursor{etcd: b.etcd.cursor("")}
	}
	return kvCursor{bolt: b.bolt.Cursor(), spend: b.spend}
}

// boundedCursor is a cursor for a walk that stops before end ("": none):
// on etcd it reads (and so conflicts on) nothing from end on, and ends
// there as if the bucket did.
func (b kvBucket) boundedCursor(end string) kvCursor {
	if b.etcd != nil {
		return kvCursor{etcd: b.etcd.cursor(end)}
	}
	return b.Cursor()
}

func (b kvBucket) NextSequence() (uint64, error) {
	if b.etcd != nil {
		return b.etcd.nextSequence()
	}
	return b.bolt.NextSequence()
}

// Sequence is the last id handed out (bbolt) or reserved (etcd): an upper
// bound of the ids in use.
func (b kvBucket) Sequence() uint64 {
	if b.etcd != nil {
		return b.etcd.sequence()
	}
	return b.bolt.Sequence()
}

// raiseSequence makes the bucket's sequence at least n (store copy).
func (b kvBucket) raiseSequence(n uint64) error {
	if b.etcd != nil {
		return b.etcd.raiseSequence(n)
	}
	if n > b.bolt.Sequence() {
		return b.bolt.SetSequence(n)
	}
	return nil
}

func (b kvBucket) ForEach(fn func(k, v []byte) error) error {
	if b.etcd != nil {
		c := b.etcd.cursor("")
		for k, v := c.first(); k != nil; k, v = c.next() {
			if err := fn(k, v); err != nil {
				return err
			}
		}
		return c.err
	}
	return b.bolt.ForEach(fn)
}

// fill is a hint for keys appended in order (bbolt's FillPercent).
func (b kvBucket) fill(pct float64) {
	if b.bolt != nil {
		b.bolt.FillPercent = pct
	}
}

// kvCursor walks a bucket in key order; a nil key means the walk is over.
// Delete removes the key the cursor is on.
type kvCursor struct {
	bolt  *bbolt.Cursor
	etcd  *etcdCursor
	spend *txSpend
}

// within bounds a walk that stops at the first key without prefix p: on
// etcd the cursor reads (and so conflicts on) nothing past the prefix, and
// ends there as if the bucket did. A method of the cursor rather than a
// constructor of its own, so that the caller inlines Cursor and bbolt's
// cursor stays off the heap.
func (c kvCursor) within(p []byte) kvCursor {
	if c.etcd != nil {
		c.etcd.bound = prefixEnd(p)
	}
	return c
}

func (c kvCursor) First() (k, v []byte) {
	if c.etcd != nil {
		return c.etcd.first()
	}
	return c.bolt.First()
}

func (c kvCursor) Last() (k, v []byte) {
	if c.etcd != nil {
		return c.etcd.last()
	}
	return c.bolt.Last()
}

func (c kvCursor) Seek(seek []byte) (k, v []byte) {
	if c.etcd != nil {
		return c.etcd.seek(seek)
	}
	return c.bolt.Seek(seek)
}

func (c kvCursor) Next() (k, v []byte) {
	if c.etcd != nil {
		return c.etcd.next()
	}
	return c.bolt.Next()
}

func (c kvCursor) Prev() (k, v []byte) {
	if c.etcd != nil {
		return c.etcd.prev()
	}
	return c.bolt.Prev()
}

func (c kvCursor) Delete() error {
	if c.etcd != nil {
		return c.etcd.delete()
	}
	if c.spend != nil {
		if err := c.spend.add(0); err != nil {
			return err
		}
	}
	return c.bolt.Delete()
}

// ascending fails unless k comes after prev, as keys in a bucket do. In a
// damaged file they may not, and a walk in pages, each from where the last
// one ended, could then come back to the same keys for ever.
func ascending(b *bucketDef, prev, k []byte) error {
	if prev != nil && k != nil && bytes.Compare(k, prev) <= 0 {
		return fmt.Errorf("%w: %s out of order at %q", ErrCorrupt, b, k)
	}
	return nil
}
