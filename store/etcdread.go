package store

import (
	"errors"
	"sort"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// Reads of an etcd transaction (etcd.go). Every read is a round trip, so
// what the cluster answered is kept per bucket: the keys read one by one,
// and spans, key ranges read whole, in which every cluster key at the
// transaction's revision is known. A cursor walks spans, fetching the next
// one when it leaves what is known; a Get inside a span needs no round
// trip. A transaction that has made many reads (a 10,000-invoice
// notification makes ~40,000, most of keys that do not exist yet) reads
// ahead: each further Get fetches the span from its key on, so that the
// new keys after it, in the same gap, are known absent at once.
//
// What was read is what the commit compares (etcdTx.compares): each key
// read by Get at its mod revision, each span as a range unchanged since.
// A cursor bounded to a prefix (kvCursor.within) reads, and so
// compares, nothing past the prefix (until the transaction reads ahead):
// two requests scanning neighbouring prefixes do not conflict.

// etcdBucket is one bucket inside an etcd transaction: the keys read and
// written so far, over the cluster's keys at the transaction's revision.
type etcdBucket struct {
	tx       *etcdTx
	def      *bucketDef
	pfx, end string              // the bucket's key range in etcd
	cache    map[string]*[]byte  // keys read or written: value, nil if absent or deleted
	dirty    map[string]struct{} // keys written
	order    sortedKeys          // dirty keys in order, for cursors
	spans    []*span             // ranges read whole, in key order, disjoint

	ttls   map[string]time.Time        // keys put with a TTL: when they may go (etcd_lease.go)
	leased map[string]clientv3.LeaseID // their shared leases, found at commit
}

// span is a range of a bucket read whole at the transaction's revision:
// kvs are all the cluster's keys in [from, to), or from the end of the
// bucket when toEnd; bucket-relative keys.
type span struct {
	from, to string
	toEnd    bool
	kvs      []remoteKV
}

type remoteKV struct {
	k string
	v []byte
}

func (s *span) holds(k string) bool { return k >= s.from && (s.toEnd || k < s.to) }

// first is the first key of s ≥ k, ok false if none.
func (s *span) first(k string) (remoteKV, bool) {
	i := sort.Search(len(s.kvs), func(i int) bool { return s.kvs[i].k >= k })
	if i == len(s.kvs) {
		return remoteKV{}, false
	}
	return s.kvs[i], true
}

// etcdPage is how many keys one span read fetches at most.
const etcdPage = 64

// readAheadAfter is how many reads a transaction makes before its Gets
// read spans, and its prefix cursors read past their prefix: small
// transactions keep exact compares and small answers.
const readAheadAfter = 32

func (t *etcdTx) readAhead() bool { return t.trips >= readAheadAfter }

func (b *etcdBucket) get(k []byte) []byte {
	if v, ok := b.cache[string(k)]; ok {
		return *v
	}
	ks := string(k)
	sp := b.spanAt(ks)
	if sp == nil && b.tx.readAhead() {
		sp = b.fetchSpan(ks, "")
	}
	if sp != nil {
		// The span's keys are cached: k is there if the cluster has it.
		if v, ok := b.cache[ks]; ok {
			return *v
		}
		b.remember(ks, nil)
		return nil
	}
	return b.pointGet(ks, false)
}

// getLatest is get of a key read at the cluster's newest revision rather
// than the transaction's: for a key that no other transaction writes
// meanwhile (a count shard this transaction holds, countShard), whose
// value at the transaction's revision may be older than the last commit
// of this process. The commit compares it as any key read: reads at
// different revisions are still one consistent view when every one of
// them is unchanged at the commit.
func (b *etcdBucket) getLatest(k []byte) []byte {
	if v, ok := b.cache[string(k)]; ok {
		return *v
	}
	return b.pointGet(string(k), true)
}

// pointGet reads one key, at the transaction's revision or the newest.
func (b *etcdBucket) pointGet(ks string, latest bool) []byte {
	if b.tx.err != nil {
		return nil
	}
	full := b.pfx + ks
	var resp *clientv3.GetResponse
	if latest {
		resp = b.tx.getLatest(full)
	} else {
		resp = b.tx.get(full)
	}
	if resp == nil {
		return nil
	}
	var v []byte
	var mod int64
	if len(resp.Kvs) == 1 {
		v, mod = present(resp.Kvs[0].Value), resp.Kvs[0].ModRevision
	}
	b.tx.reads[full] = mod
	b.remember(ks, v)
	return v
}

// spanAt is the span that holds k, or nil.
func (b *etcdBucket) spanAt(k string) *span {
	i := sort.Search(len(b.spans), func(i int) bool { return b.spans[i].from > k }) - 1
	if i >= 0 && b.spans[i].holds(k) {
		return b.spans[i]
	}
	return nil
}

// fetchSpan reads the cluster's keys from k (which no span holds) on, up
// to etcdPage of them, stopping at bound (when not "") and at the next
// span; it records the range for the commit's compares, caches the values
// and returns the span that now holds k (nil after a failed read).
func (b *etcdBucket) fetchSpan(k, bound string) *span {
	i := sort.Search(len(b.spans), func(i int) bool { return b.spans[i].from > k })
	sp := &span{from: k, toEnd: true}
	if bound != "" && !b.tx.readAhead() {
		sp.to, sp.toEnd = bound, false
	}
	if i < len(b.spans) && (sp.toEnd || b.spans[i].from < sp.to) {
		sp.to, sp.toEnd = b.spans[i].from, false
	}
	end := b.end
	if !sp.toEnd {
		end = b.pfx + sp.to
	}
	resp := b.tx.get(b.pfx+k, clientv3.WithRange(end), clientv3.WithLimit(etcdPage))
	if resp == nil {
		return nil
	}
	sp.kvs = make([]remoteKV, 0, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		r := remoteKV{k: string(kv.Key[len(b.pfx):]), v: present(kv.Value)}
		sp.kvs = append(sp.kvs, r)
		if _, ok := b.cache[r.k]; !ok {
			b.remember(r.k, r.v)
		}
	}
	if resp.More {
		sp.to, sp.toEnd = sp.kvs[len(sp.kvs)-1].k+"\x00", false
		end = b.pfx + sp.to
	}
	b.tx.ranges = append(b.tx.ranges, keyRange{from: b.pfx + k, to: end})
	return b.insertSpan(i, sp)
}

// insertSpan puts sp at i, merged with the spans it touches, and returns
// the span that holds sp's range.
func (b *etcdBucket) insertSpan(i int, sp *span) *span {
	if i < len(b.spans) && !sp.toEnd && b.spans[i].from == sp.to {
		next := b.spans[i]
		sp.kvs, sp.to, sp.toEnd = append(sp.kvs, next.kvs...), next.to, next.toEnd
		b.spans = append(b.spans[:i], b.spans[i+1:]...)
	}
	if i > 0 && !b.spans[i-1].toEnd && b.spans[i-1].to == sp.from {
		prev := b.spans[i-1]
		prev.kvs, prev.to, prev.toEnd = append(prev.kvs, sp.kvs...), sp.to, sp.toEnd
		return prev
	}
	b.spans = append(b.spans, nil)
	copy(b.spans[i+1:], b.spans[i:])
	b.spans[i] = sp
	return sp
}

// present is v as bbolt gives a key that exists: never nil, even when
// empty (index keys carry empty values; nil means absent).
func present(v []byte) []byte {
	if v == nil {
		return []byte{}
	}
	return v
}

func (b *etcdBucket) remember(k string, v []byte) {
	if b.cache == nil {
		b.cache = map[string]*[]byte{}
	}
	b.cache[k] = &v
}

func (b *etcdBucket) cursor(bound string) *etcdCursor { return &etcdCursor{b: b, bound: bound} }

// etcdCursor walks the merged view of a bucket: the cluster's keys at the
// transaction's revision (through the bucket's spans), with the
// transaction's own writes over them. A bound ("" for none) is where a
// prefix cursor's walk ends: keys from it on are not there for it.
type etcdCursor struct {
	b     *etcdBucket
	bound string
	key   string // the current key
	on    bool   // the cursor is on key
	err   error
}

func (c *etcdCursor) beyond(k string) bool { return c.bound != "" && k >= c.bound }

// remoteAfter is the first cluster key ≥ k before the bound.
func (c *etcdCursor) remoteAfter(k string) (remoteKV, bool) {
	b := c.b
	for !c.beyond(k) {
		sp := b.spanAt(k)
		if sp == nil {
			if sp = b.fetchSpan(k, c.bound); sp == nil {
				break
			}
		}
		if r, ok := sp.first(k); ok {
			return r, !c.beyond(r.k)
		}
		if sp.toEnd {
			break
		}
		k = sp.to
	}
	return remoteKV{}, false
}

// remoteBefore is the last cluster key < k (or the last of all, fromEnd).
func (c *etcdCursor) remoteBefore(k string, fromEnd bool) (remoteKV, bool) {
	b := c.b
	end := b.end
	if !fromEnd {
		end = b.pfx + k
	}
	resp := b.tx.get(b.pfx, clientv3.WithRange(end), clientv3.WithLimit(1),
		clientv3.WithSort(clientv3.SortByKey, clientv3.SortDescend))
	if resp == nil {
		return remoteKV{}, false
	}
	from := b.pfx
	var out remoteKV
	ok := len(resp.Kvs) == 1
	if ok {
		out = remoteKV{k: string(resp.Kvs[0].Key[len(b.pfx):]), v: present(resp.Kvs[0].Value)}
		from = string(resp.Kvs[0].Key)
	}
	b.tx.ranges = append(b.tx.ranges, keyRange{from: from, to: end})
	return out, ok
}

// up returns the visible entry at or after k going up (the transaction's
// own writes win; deleted keys are skipped).
func (c *etcdCursor) up(k string, inclusive bool) ([]byte, []byte) {
	b := c.b
	for c.b.tx.err == nil {
		r, rok := c.remoteAfter(k)
		if rok && !inclusive && r.k == k {
			r, rok = c.remoteAfter(k + "\x00")
		}
		l, lok := b.order.after(k, inclusive)
		lok = lok && !c.beyond(l)
		var cand string
		switch {
		case !rok && !lok:
			c.on = false
			return nil, nil
		case !lok || (rok && r.k < l):
			cand = r.k
			if _, mine := b.dirty[cand]; !mine {
				return c.land(cand, r.v)
			}
		default:
			cand = l
		}
		if v := *b.cache[cand]; v != nil {
			return c.land(cand, v)
		}
		k, inclusive = cand, false // deleted here: look further
	}
	c.err = c.b.tx.err
	return nil, nil
}

func (c *etcdCursor) down(k string, inclusive, fromEnd bool) ([]byte, []byte) {
	b := c.b
	if fromEnd && c.bound != "" {
		k, inclusive, fromEnd = c.bound, false, false
	}
	for c.b.tx.err == nil {
		var r remoteKV
		var rok bool
		if inclusive && !fromEnd {
			r, rok = c.remoteBefore(k+"\x00", false)
		} else {
			r, rok = c.remoteBefore(k, fromEnd)
		}
		l, lok := b.order.before(k, inclusive, fromEnd)
		var cand string
		switch {
		case !rok && !lok:
			c.on = false
			return nil, nil
		case !lok || (rok && r.k > l):
			cand = r.k
			if _, mine := b.dirty[cand]; !mine {
				return c.land(cand, r.v)
			}
		default:
			cand = l
		}
		if v := *b.cache[cand]; v != nil {
			return c.land(cand, v)
		}
		k, inclusive, fromEnd = cand, false, false
	}
	c.err = c.b.tx.err
	return nil, nil
}

func (c *etcdCursor) land(k string, v []byte) ([]byte, []byte) {
	c.key, c.on = k, true
	return []byte(k), v
}

func (c *etcdCursor) first() ([]byte, []byte)        { return c.up("", true) }
func (c *etcdCursor) last() ([]byte, []byte)         { return c.down("", false, true) }
func (c *etcdCursor) seek(k []byte) ([]byte, []byte) { return c.up(string(k), true) }

func (c *etcdCursor) next() ([]byte, []byte) {
	if !c.on {
		return nil, nil
	}
	return c.up(c.key, false)
}

func (c *etcdCursor) prev() ([]byte, []byte) {
	if !c.on {
		return nil, nil
	}
	return c.down(c.key, false, false)
}

// delete removes the key the cursor is on; the cursor stays there, as
// bbolt's does, so that Next moves to the key after it.
func (c *etcdCursor) delete() error {
	if !c.on {
		return errors.New("cursor delete: not on a key")
	}
	return c.b.delete([]byte(c.key))
}

// prefixEnd is the first key after every key that starts with p, "" if
// there is none (p is all 0xff bytes).
func prefixEnd(p []byte) string {
	for i := len(p) - 1; i >= 0; i-- {
		if p[i] < 0xff {
			end := append([]byte(nil), p[:i+1]...)
			end[i]++
			return string(end)
		}
	}
	return ""
}
