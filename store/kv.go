package store

import "go.etcd.io/bbolt"

// The key-value layer under the typed transaction methods: buckets of
// ordered keys with a cursor, and a sequence per bucket. bbolt provides it
// directly (its buckets). The typed methods see only these types.
//
// The types are small structs that hold the backend's own type, rather
// than interfaces: a key handed to an interface
// method escapes to the heap, and the identity map's pages pass a key per
// row (an 8-byte allocation each, 50 more per page, measured).

// kvTx is one transaction of a backend.
type kvTx struct {
	bolt *bbolt.Tx
}

func (t kvTx) bucket(b *bucketDef) kvBucket {
	return kvBucket{bolt: t.bolt.Bucket(b.key())}
}

// kvBucket is one bucket inside a transaction. Get returns nil for a
// missing key; keys and values are valid only inside the transaction.
type kvBucket struct {
	bolt *bbolt.Bucket
}

// exists is false for a bucket a read-only file from an older schema lacks.
func (b kvBucket) exists() bool { return b.bolt != nil }

func (b kvBucket) Get(k []byte) []byte {
	return b.bolt.Get(k)
}

func (b kvBucket) Put(k, v []byte) error {
	return b.bolt.Put(k, v)
}

func (b kvBucket) Delete(k []byte) error {
	return b.bolt.Delete(k)
}

func (b kvBucket) Cursor() kvCursor {
	return kvCursor{bolt: b.bolt.Cursor()}
}

// NextSequence hands out the bucket's next id. Ids only grow; on etcd
// they come from blocks reserved per process, so they may skip.
func (b kvBucket) NextSequence() (uint64, error) {
	return b.bolt.NextSequence()
}

// Sequence is the last id handed out (bbolt) or reserved (etcd): an upper
// bound of the ids in use.
func (b kvBucket) Sequence() uint64 {
	return b.bolt.Sequence()
}

func (b kvBucket) ForEach(fn func(k, v []byte) error) error {
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
	bolt *bbolt.Cursor
}

func (c kvCursor) First() (k, v []byte) {
	return c.bolt.First()
}

func (c kvCursor) Last() (k, v []byte) {
	return c.bolt.Last()
}

func (c kvCursor) Seek(seek []byte) (k, v []byte) {
	return c.bolt.Seek(seek)
}

func (c kvCursor) Next() (k, v []byte) {
	return c.bolt.Next()
}

func (c kvCursor) Prev() (k, v []byte) {
	return c.bolt.Prev()
}

func (c kvCursor) Delete() error {
	return c.bolt.Delete()
}
