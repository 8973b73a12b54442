package store

import "go.etcd.io/bbolt"

// The key-value layer under the typed transaction methods: buckets of
// ordered keys with a cursor, and a sequence per bucket. bbolt provides it
// directly (its buckets); etcd by key prefixes in an optimistic transaction
// (etcd.go). The typed methods see only these interfaces.

// kvTx is one transaction of a backend.
type kvTx interface {
	bucket(b *bucketDef) kvBucket
}

// kvBucket is one bucket inside a transaction. Get returns nil for a
// missing key; keys and values are valid only inside the transaction.
type kvBucket interface {
	Get(k []byte) []byte
	Put(k, v []byte) error
	Delete(k []byte) error
	Cursor() kvCursor
	// NextSequence hands out the bucket's next id. Ids only grow; on etcd
	// they come from blocks reserved per process, so they may skip.
	NextSequence() (uint64, error)
	// Sequence is the last id handed out (bbolt) or reserved (etcd).
	Sequence() uint64
	ForEach(fn func(k, v []byte) error) error
	// fill is a hint for keys appended in order (bbolt's FillPercent).
	fill(pct float64)
}

// kvCursor walks a bucket in key order; a nil key means the walk is over.
// Delete removes the key the cursor is on.
type kvCursor interface {
	First() (k, v []byte)
	Last() (k, v []byte)
	Seek(seek []byte) (k, v []byte)
	Next() (k, v []byte)
	Prev() (k, v []byte)
	Delete() error
}

// boltTx is a bbolt transaction as a kvTx. Both adapters are one pointer,
// so handing them out as interfaces allocates nothing.
type boltTx struct{ btx *bbolt.Tx }

func (t boltTx) bucket(b *bucketDef) kvBucket { return boltBucket{t.btx.Bucket(b.key())} }

type boltBucket struct{ b *bbolt.Bucket }

func (b boltBucket) Get(k []byte) []byte                      { return b.b.Get(k) }
func (b boltBucket) Put(k, v []byte) error                    { return b.b.Put(k, v) }
func (b boltBucket) Delete(k []byte) error                    { return b.b.Delete(k) }
func (b boltBucket) Cursor() kvCursor                         { return b.b.Cursor() }
func (b boltBucket) NextSequence() (uint64, error)            { return b.b.NextSequence() }
func (b boltBucket) Sequence() uint64                         { return b.b.Sequence() }
func (b boltBucket) ForEach(fn func(k, v []byte) error) error { return b.b.ForEach(fn) }
func (b boltBucket) fill(pct float64)                         { b.b.FillPercent = pct }
