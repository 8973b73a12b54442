package store

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"
	"net/url"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// The etcd backend (SPEC §14). A bucket is the key prefix
// <store prefix><bucket name>/, and a transaction is optimistic: reads come
// from one revision of the cluster, writes are buffered, and the commit is
// one etcd txn that applies them only if nothing read has changed since
// (the mod revision of every key read by Get, and of every key range a
// cursor walked, compared with that revision). A conflict re-runs the
// whole transaction function, which is why it must be safe to re-run.
//
// Limits of the engine shape the commit: etcd refuses a txn of more than
// 128 operations or 1.5 MiB. A transaction that writes more is written as a
// journal first (chunks under _journal/, then one guarded txn that marks it
// committed), then applied in chunks of at most TxBudget writes; Open
// finishes a journal that a dead process left committed.

// Keys outside the buckets, under the store prefix.
const (
	etcdSeqDir      = "_seq/"      // bucket name → be64 highest id reserved
	etcdJournalDir  = "_journal/"  // big transactions being applied
	etcdReplicasDir = "_replicas/" // lease-backed presence of each serve replica
	etcdLocksDir    = "_locks/"    // lease-backed locks (billing)
	etcdClaimsDir   = "_claims/"   // lease-backed claims of work (outbox, pulls)
)

// etcdMaxOps is etcd's limit of operations per txn (and of compares).
const etcdMaxOps = 128

// etcdSeqBlock is how many ids a process reserves at a time: one contended
// write per block instead of one per id (sequences are hot keys).
const etcdSeqBlock = 100

// etcdOpTimeout bounds one request; a leader election stalls writes for
// about 5 s, so this leaves room for one.
const etcdOpTimeout = 10 * time.Second

// etcdMaxAttempts bounds how often a conflicting transaction is re-run.
const etcdMaxAttempts = 200

// ErrConflict is returned when a transaction still conflicted with other
// writers after every attempt.
var ErrConflict = errors.New("transaction kept conflicting with other writers")

// TLSFiles are the PEM files of an etcds:// store: the CA that signs the
// members' certificates, and the client's own pair (optional both).
type TLSFiles struct {
	CA, Cert, Key string
}

// IsURL reports whether s names an etcd store rather than a bbolt file.
func IsURL(s string) bool {
	return strings.HasPrefix(s, "etcd://") || strings.HasPrefix(s, "etcds://")
}

// DefaultEtcdPrefix is the key prefix of a store URL that names none.
const DefaultEtcdPrefix = "/tenantdesk/"

// parseStoreURL splits etcd://HOST:PORT[,HOST:PORT…][/PREFIX].
func parseStoreURL(s string) (endpoints []string, prefix string, secure bool, err error) {
	u, err := url.Parse(s)
	if err != nil {
		return nil, "", false, fmt.Errorf("store URL %q: %w", s, err)
	}
	switch u.Scheme {
	case "etcd":
	case "etcds":
		secure = true
	default:
		return nil, "", false, fmt.Errorf("store URL %q: scheme must be etcd or etcds", s)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return nil, "", false, fmt.Errorf("store URL %q: only hosts and a prefix are allowed", s)
	}
	scheme := "http://"
	if secure {
		scheme = "https://"
	}
	for _, h := range strings.Split(u.Host, ",") {
		if h == "" || !strings.Contains(h, ":") {
			return nil, "", false, fmt.Errorf("store URL %q: each member is HOST:PORT", s)
		}
		endpoints = append(endpoints, scheme+h)
	}
	prefix = DefaultEtcdPrefix
	if p := strings.Trim(u.Path, "/"); p != "" {
		prefix = "/" + p + "/"
	}
	return endpoints, prefix, secure, nil
}

// etcdStore is an open store on an etcd cluster, under one key prefix.
type etcdStore struct {
	cli    *clientv3.Client
	prefix string

	seqMu sync.Mutex
	seqs  map[string]*seqBlock // bucket name → this process's reserved ids

	// gen is the newest revision of the store this process knows of: its
	// own commits, and every other writer's through the watch (watch.go).
	gen     atomic.Int64
	stop    context.CancelFunc
	watched sync.WaitGroup

	expiring expiryLeases // the shared leases of keys put with a TTL (etcd_lease.go)
}

type seqBlock struct{ next, end uint64 } // ids next..end-1 are ours

// OpenURL opens the etcd store that u names (etcd:// or etcds://),
// creating its schema version on a fresh prefix and refusing a newer one.
func OpenURL(u string, files TLSFiles, opt Options) (*DB, error) {
	endpoints, prefix, secure, err := parseStoreURL(u)
	if err != nil {
		return nil, err
	}
	cfg := clientv3.Config{
		Endpoints:   endpoints,
		DialTimeout: 5 * time.Second,
		Logger:      zap.NewNop(),
	}
	if secure {
		if cfg.TLS, err = storeTLS(files); err != nil {
			return nil, err
		}
	} else if files != (TLSFiles{}) {
		return nil, fmt.Errorf("store %s: --store-ca, --store-cert and --store-key need an etcds:// URL", u)
	}
	cli, err := clientv3.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("store %s: %w", u, err)
	}
	s := &etcdStore{cli: cli, prefix: prefix, seqs: map[string]*seqBlock{}}
	if err := s.init(); err != nil {
		cli.Close()
		return nil, fmt.Errorf("store %s: %w", u, err)
	}
	s.startWatch()
	vault, err := s.openVault(u, opt.Keys)
	if err != nil {
		s.close()
		return nil, fmt.Errorf("store %s: %w", u, err)
	}
	return &DB{etcd: s, path: u, opt: opt, vault: vault}, nil
}

// openVault is the keyring's load (vault.go) on etcd: the vault record
// under meta, created if absent by the first process to get there (the
// others unwrap that one), and the master key from keys. Every replica
// needs the same master key (the same key file).
func (s *etcdStore) openVault(u string, keys MasterKeys) (*keyring, error) {
	if keys == nil {
		keys = processKeys
	}
	r := &keyring{path: u, keys: keys}
	k := s.prefix + bucketMeta.name + "/" + string(metaVault)
	ctx, cancel := s.ctx()
	defer cancel()
	resp, err := s.cli.Get(ctx, k)
	if err != nil {
		return nil, err
	}
	if len(resp.Kvs) == 0 {
		dk, rec, err := newVault(keys)
		if err != nil {
			return nil, err
		}
		val, err := encodeValue(rec)
		if err != nil {
			return nil, err
		}
		tr, err := s.cli.Txn(ctx).If(clientv3.Compare(clientv3.CreateRevision(k), "=", 0)).
			Then(clientv3.OpPut(k, string(val))).Else(clientv3.OpGet(k)).Commit()
		if err != nil {
			return nil, err
		}
		if tr.Succeeded {
			r.add(dk)
			return r, nil
		}
		resp = (*clientv3.GetResponse)(tr.Responses[0].GetResponseRange())
	}
	var rec vaultRecord
	if err := decodeValue(resp.Kvs[0].Value, &rec); err != nil {
		return nil, fmt.Errorf("vault record: %w", err)
	}
	mk, err := keys.Find(rec.KeyID)
	if err != nil && !errors.Is(err, ErrKeyMissing) {
		return nil, err
	}
	if err != nil {
		r.locked = &KeyError{Path: u, KeyID: rec.KeyID, Made: rec.Made, Where: keys.Where(), Err: err}
		return r, nil
	}
	dk, err := unwrap(rec, mk)
	if err != nil {
		return nil, err
	}
	r.add(dk)
	return r, nil
}

func storeTLS(f TLSFiles) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if f.CA != "" {
		pem, err := os.ReadFile(f.CA)
		if err != nil {
			return nil, fmt.Errorf("store CA: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("store CA %s: no PEM certificate in it", f.CA)
		}
		cfg.RootCAs = pool
	}
	if (f.Cert == "") != (f.Key == "") {
		return nil, fmt.Errorf("store TLS: --store-cert and --store-key go together")
	}
	if f.Cert != "" {
		pair, err := tls.LoadX509KeyPair(f.Cert, f.Key)
		if err != nil {
			return nil, fmt.Errorf("store client certificate: %w", err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	return cfg, nil
}

func (s *etcdStore) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), etcdOpTimeout)
}

// init writes the schema version on a fresh prefix, refuses a newer one,
// and finishes the journals of big transactions a dead process left.
func (s *etcdStore) init() error {
	ctx, cancel := s.ctx()
	defer cancel()
	k := s.prefix + bucketMeta.name + "/" + string(metaSchemaVersion)
	resp, err := s.cli.Txn(ctx).
		If(clientv3.Compare(clientv3.CreateRevision(k), "=", 0)).
		Then(clientv3.OpPut(k, string(be64(SchemaVersion)))).
		Else(clientv3.OpGet(k)).Commit()
	if err != nil {
		return err
	}
	s.seen(resp.Header.Revision)
	if !resp.Succeeded {
		kvs := resp.Responses[0].GetResponseRange().Kvs
		if len(kvs) != 1 || len(kvs[0].Value) != 8 {
			return fmt.Errorf("%w: malformed schema version", ErrSchema)
		}
		if v := binary.BigEndian.Uint64(kvs[0].Value); v != SchemaVersion {
			return fmt.Errorf("%w: schema version %d, this code knows %d", ErrSchema, v, SchemaVersion)
		}
	}
	return s.recoverJournals()
}

func (s *etcdStore) close() error {
	s.stop()
	s.watched.Wait()
	return s.cli.Close()
}

// run runs fn as an etcd transaction, re-running it on conflict.
func (s *etcdStore) run(fn func(*Tx) error, writable bool, budget *TxBudget, vault *keyring, fence *Lock) error {
	for attempt := 0; ; attempt++ {
		t := &etcdTx{s: s, writable: writable, reads: map[string]int64{}, fence: fence}
		tx := &Tx{kv: kvTx{etcd: t}, vault: vault}
		err := fn(tx)
		if err == nil && t.err == nil && writable {
			err = tx.flushCounts()
		}
		if t.err != nil {
			return t.err
		}
		if err != nil || !writable {
			return err
		}
		if budget != nil {
			if err := budget.check(t.writes, t.bytes); err != nil {
				return err
			}
		}
		err = t.commit()
		if errors.Is(err, errRetry) && fence != nil {
			if held, herr := fence.held(); herr == nil && !held {
				return ErrLockLost
			}
		}
		if !errors.Is(err, errRetry) {
			return err
		}
		if attempt == etcdMaxAttempts {
			return ErrConflict
		}
		time.Sleep(time.Duration(min(attempt, 20)) * time.Millisecond)
	}
}

// errRetry is a commit whose compares failed: something read has changed.
var errRetry = errors.New("etcd transaction conflict")

// etcdTx is one optimistic transaction.
type etcdTx struct {
	s        *etcdStore
	writable bool
	rev      int64            // the revision every read sees; 0 until the first read
	reads    map[string]int64 // key → mod revision seen (0: absent)
	ranges   []keyRange       // key ranges walked by cursors
	buckets  []*etcdBucket    // by bucketDef.id, made on first use
	writes   int
	bytes    int
	err      error // the first failed request: the transaction fails with it
	fence    *Lock // the commit requires this lock to be held
}

type keyRange struct{ from, to string }

func (t *etcdTx) fail(err error) {
	if t.err == nil {
		t.err = fmt.Errorf("etcd: %w", err)
	}
}

func (t *etcdTx) bucket(b *bucketDef) *etcdBucket {
	if t.buckets == nil {
		t.buckets = make([]*etcdBucket, len(registry))
	}
	if eb := t.buckets[b.id]; eb != nil {
		return eb
	}
	pfx := t.s.prefix + b.name + "/"
	eb := &etcdBucket{tx: t, def: b, pfx: pfx, end: pfx[:len(pfx)-1] + "0"} // '/'+1
	t.buckets[b.id] = eb
	return eb
}

// get reads opts at the transaction's revision, fixing it at the first read.
func (t *etcdTx) get(key string, opts ...clientv3.OpOption) *clientv3.GetResponse {
	if t.err != nil {
		return nil
	}
	ctx, cancel := t.s.ctx()
	defer cancel()
	if t.rev != 0 {
		opts = append(opts, clientv3.WithRev(t.rev))
	}
	resp, err := t.s.cli.Get(ctx, key, opts...)
	if err != nil {
		t.fail(err)
		return nil
	}
	if t.rev == 0 {
		t.rev = resp.Header.Revision
	}
	return resp
}

// etcdBucket is one bucket inside an etcd transaction: the keys read and
// written so far, over the cluster's keys at the transaction's revision.
type etcdBucket struct {
	tx       *etcdTx
	def      *bucketDef
	pfx, end string              // the bucket's key range in etcd
	cache    map[string]*[]byte  // keys read or written: value, nil if absent or deleted
	dirty    map[string]struct{} // keys written
	order    sortedKeys          // dirty keys in order, for cursors

	ttls   map[string]time.Time        // keys put with a TTL: when they may go (etcd_lease.go)
	leased map[string]clientv3.LeaseID // their shared leases, found at commit
}

func (b *etcdBucket) get(k []byte) []byte {
	if v, ok := b.cache[string(k)]; ok {
		return *v
	}
	full := b.pfx + string(k)
	resp := b.tx.get(full)
	if resp == nil {
		return nil
	}
	var v []byte
	var mod int64
	if len(resp.Kvs) == 1 {
		v, mod = present(resp.Kvs[0].Value), resp.Kvs[0].ModRevision
	}
	b.tx.reads[full] = mod
	b.remember(string(k), v)
	return v
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

func (b *etcdBucket) put(k, v []byte) error {
	if !b.tx.writable {
		return errors.New("put in a read-only transaction")
	}
	if len(k) == 0 {
		return errors.New("put: empty key")
	}
	b.write(string(k), append(make([]byte, 0, len(v)), v...))
	b.tx.bytes += len(b.pfx) + len(k) + len(v)
	return nil
}

func (b *etcdBucket) delete(k []byte) error {
	if !b.tx.writable {
		return errors.New("delete in a read-only transaction")
	}
	b.write(string(k), nil)
	b.tx.bytes += len(b.pfx) + len(k)
	return nil
}

func (b *etcdBucket) write(k string, v []byte) {
	if b.dirty == nil {
		b.dirty = map[string]struct{}{}
	}
	if _, ok := b.dirty[k]; !ok {
		b.dirty[k] = struct{}{}
		b.order.insert(k)
		b.tx.writes++
	}
	delete(b.ttls, k) // putTTL sets it again after this
	b.remember(k, v)
}

func (b *etcdBucket) cursor() *etcdCursor { return &etcdCursor{b: b} }

// nextSequence hands out an id from this process's block of the bucket,
// reserving a new block when it is used up. The reservation is its own
// write, outside the transaction: an id is never handed out twice, and
// the ids of a transaction that fails are skipped.
func (b *etcdBucket) nextSequence() (uint64, error) {
	s := b.tx.s
	s.seqMu.Lock()
	defer s.seqMu.Unlock()
	blk := s.seqs[b.def.name]
	if blk == nil || blk.next >= blk.end {
		hi, err := s.reserve(b.def.name, etcdSeqBlock)
		if err != nil {
			return 0, err
		}
		blk = &seqBlock{next: hi - etcdSeqBlock + 1, end: hi + 1}
		s.seqs[b.def.name] = blk
	}
	id := blk.next
	blk.next++
	return id, nil
}

// reserve moves the bucket's stored sequence up by n and returns the new top.
func (s *etcdStore) reserve(name string, n uint64) (uint64, error) {
	k := s.prefix + etcdSeqDir + name
	for {
		ctx, cancel := s.ctx()
		resp, err := s.cli.Get(ctx, k)
		cancel()
		if err != nil {
			return 0, fmt.Errorf("reserve ids of %s: %w", name, err)
		}
		var cur uint64
		var mod int64
		if len(resp.Kvs) == 1 {
			cur, mod = binary.BigEndian.Uint64(resp.Kvs[0].Value), resp.Kvs[0].ModRevision
		}
		ctx, cancel = s.ctx()
		tr, err := s.cli.Txn(ctx).If(clientv3.Compare(clientv3.ModRevision(k), "=", mod)).
			Then(clientv3.OpPut(k, string(be64(cur+n)))).Commit()
		cancel()
		if err != nil {
			return 0, fmt.Errorf("reserve ids of %s: %w", name, err)
		}
		if tr.Succeeded {
			return cur + n, nil
		}
	}
}

// raiseSequence makes the stored sequence at least n, at once (outside
// the transaction, as reservations are).
func (b *etcdBucket) raiseSequence(n uint64) error {
	if cur := b.sequence(); cur < n {
		_, err := b.tx.s.reserve(b.def.name, n-cur)
		return err
	}
	return nil
}

// sequence is the highest id reserved by any process: at least every id in use.
func (b *etcdBucket) sequence() uint64 {
	ctx, cancel := b.tx.s.ctx()
	defer cancel()
	resp, err := b.tx.s.cli.Get(ctx, b.tx.s.prefix+etcdSeqDir+b.def.name)
	if err != nil {
		b.tx.fail(err)
		return 0
	}
	if len(resp.Kvs) != 1 || len(resp.Kvs[0].Value) != 8 {
		return 0
	}
	return binary.BigEndian.Uint64(resp.Kvs[0].Value)
}

// sortedKeys keeps keys in order under inserts in any order: a sorted main
// slice and a small sorted tail merged into it when it grows, so that n
// inserts cost O(n²/tailMax) moves instead of O(n²).
type sortedKeys struct {
	main, tail []string
}

const tailMax = 256

func (s *sortedKeys) insert(k string) {
	i := sort.SearchStrings(s.tail, k)
	s.tail = append(s.tail, "")
	copy(s.tail[i+1:], s.tail[i:])
	s.tail[i] = k
	if len(s.tail) > tailMax {
		merged := make([]string, 0, len(s.main)+len(s.tail))
		i, j := 0, 0
		for i < len(s.main) || j < len(s.tail) {
			if j == len(s.tail) || (i < len(s.main) && s.main[i] < s.tail[j]) {
				merged = append(merged, s.main[i])
				i++
			} else {
				merged = append(merged, s.tail[j])
				j++
			}
		}
		s.main, s.tail = merged, nil
	}
}

// after is the first key > k (≥ k when inclusive), ok false if none.
func (s *sortedKeys) after(k string, inclusive bool) (string, bool) {
	var best string
	found := false
	for _, l := range [2][]string{s.main, s.tail} {
		i := sort.SearchStrings(l, k)
		if !inclusive && i < len(l) && l[i] == k {
			i++
		}
		if i < len(l) && (!found || l[i] < best) {
			best, found = l[i], true
		}
	}
	return best, found
}

// before is the last key < k (≤ k when inclusive); k == "" with
// inclusive false means past the end.
func (s *sortedKeys) before(k string, inclusive, fromEnd bool) (string, bool) {
	var best string
	found := false
	for _, l := range [2][]string{s.main, s.tail} {
		i := len(l)
		if !fromEnd {
			i = sort.SearchStrings(l, k) // first ≥ k
			if inclusive && i < len(l) && l[i] == k {
				i++
			}
		}
		if i > 0 && (!found || l[i-1] > best) {
			best, found = l[i-1], true
		}
	}
	return best, found
}

// etcdCursor walks the merged view of a bucket: the cluster's keys at the
// transaction's revision, with the transaction's own writes over them.
// It reads the cluster a page at a time and remembers each range it read,
// so that the commit can check that no key appeared or changed in it.
type etcdCursor struct {
	b   *etcdBucket
	key string // the current key
	on  bool   // the cursor is on key
	err error

	page     []remoteKV // cluster keys from pageFrom on, in order
	pageFrom string
	pageAll  bool // page reaches the end of the bucket
}

type remoteKV struct {
	k string
	v []byte
}

const etcdPage = 64

// remoteAfter is the first cluster key ≥ k.
func (c *etcdCursor) remoteAfter(k string) (remoteKV, bool) {
	for {
		if c.page != nil && k >= c.pageFrom {
			i := sort.Search(len(c.page), func(i int) bool { return c.page[i].k >= k })
			if i < len(c.page) {
				return c.page[i], true
			}
			if c.pageAll {
				return remoteKV{}, false
			}
			if last := c.page[len(c.page)-1].k; k <= last {
				k = last + "\x00"
			}
		}
		if !c.fetchFrom(k) {
			return remoteKV{}, false
		}
	}
}

func (c *etcdCursor) fetchFrom(k string) bool {
	b := c.b
	resp := b.tx.get(b.pfx+k, clientv3.WithRange(b.end), clientv3.WithLimit(etcdPage))
	if resp == nil {
		return false
	}
	c.page, c.pageFrom, c.pageAll = c.page[:0], k, !resp.More
	for _, kv := range resp.Kvs {
		c.page = append(c.page, remoteKV{k: string(kv.Key[len(b.pfx):]), v: present(kv.Value)})
	}
	to := b.end
	if resp.More {
		to = b.pfx + c.page[len(c.page)-1].k + "\x00"
	}
	b.tx.ranges = append(b.tx.ranges, keyRange{from: b.pfx + k, to: to})
	if c.page == nil {
		c.page = []remoteKV{}
	}
	return true
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

// settle returns the visible entry at or after k going up (the
// transaction's own writes win; deleted keys are skipped).
func (c *etcdCursor) up(k string, inclusive bool) ([]byte, []byte) {
	b := c.b
	for c.b.tx.err == nil {
		r, rok := c.remoteAfter(k)
		if rok && !inclusive && r.k == k {
			r, rok = c.remoteAfter(k + "\x00")
		}
		l, lok := b.order.after(k, inclusive)
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

// commit writes the transaction if nothing it read has changed: errRetry
// when something has.
func (t *etcdTx) commit() error {
	if err := t.grantLeases(); err != nil {
		return err
	}
	var ops []clientv3.Op
	for _, b := range t.buckets {
		if b == nil {
			continue
		}
		for _, l := range [2][]string{b.order.main, b.order.tail} {
			for _, k := range l {
				if v := *b.cache[k]; v != nil {
					ops = append(ops, clientv3.OpPut(b.pfx+k, string(v), b.leaseOps(k)...))
				} else {
					ops = append(ops, clientv3.OpDelete(b.pfx+k))
				}
			}
		}
	}
	if len(ops) == 0 {
		return nil
	}
	cmps := t.compares()
	if len(ops) <= DefaultTxBudget.Writes && t.bytes <= DefaultTxBudget.Bytes {
		ctx, cancel := t.s.ctx()
		defer cancel()
		resp, err := t.s.cli.Txn(ctx).If(cmps...).Then(ops...).Commit()
		if err != nil && t.s.leaseGone(err) {
			return errRetry
		}
		if err != nil {
			return fmt.Errorf("etcd commit: %w", err)
		}
		if !resp.Succeeded {
			return errRetry
		}
		t.s.seen(resp.Header.Revision)
		return nil
	}
	return t.s.commitJournaled(cmps, ops)
}

// compares are the conditions of the commit: every key read unchanged,
// and no key changed or added in a range a cursor walked. When there are
// more than etcd allows in one txn, one compare over the whole store
// stands for them (coarser: any write anywhere since then is a conflict).
func (t *etcdTx) compares() []clientv3.Cmp {
	var fence []clientv3.Cmp
	if t.fence != nil {
		fence = append(fence, t.fence.fenceCompare())
	}
	if t.rev == 0 {
		return fence
	}
	seen := map[keyRange]bool{}
	var cmps []clientv3.Cmp
	for k, mod := range t.reads {
		cmps = append(cmps, clientv3.Compare(clientv3.ModRevision(k), "=", mod))
	}
	for _, r := range t.ranges {
		if seen[r] {
			continue
		}
		seen[r] = true
		cmps = append(cmps, clientv3.Compare(clientv3.ModRevision(r.from).WithRange(r.to), "<", t.rev+1))
	}
	if len(cmps)+len(fence) > etcdMaxOps {
		p := t.s.prefix + "a" // every bucket; _locks/, _seq/, _replicas/ … sort before "a"
		cmps = []clientv3.Cmp{clientv3.Compare(clientv3.ModRevision(p).WithRange(clientv3.GetPrefixRangeEnd(t.s.prefix)), "<", t.rev+1)}
	}
	return append(cmps, fence...)
}

// commitJournaled writes a transaction too big for one etcd txn: the
// writes go to a journal in chunks no reader looks at, one guarded txn
// marks the journal committed (so the transaction is decided, all or
// nothing, at that point), then the writes are applied in chunks and the
// journal is deleted. A process that dies after the mark leaves a journal
// that the next Open applies: the writes are absolute, so applying them
// twice is harmless.
func (s *etcdStore) commitJournaled(cmps []clientv3.Cmp, ops []clientv3.Op) error {
	dir := fmt.Sprintf("%s%s%016x-%08x/", s.prefix, etcdJournalDir, time.Now().UnixNano(), os.Getpid())
	chunks := chunkOps(ops)
	for i, c := range chunks {
		ctx, cancel := s.ctx()
		_, err := s.cli.Put(ctx, fmt.Sprintf("%schunk-%08d", dir, i), string(encodeOps(c)))
		cancel()
		if err != nil {
			s.dropJournal(dir)
			return fmt.Errorf("etcd journal: %w", err)
		}
	}
	ctx, cancel := s.ctx()
	resp, err := s.cli.Txn(ctx).If(cmps...).Then(clientv3.OpPut(dir+"commit", fmt.Sprint(len(chunks)))).Commit()
	cancel()
	if err != nil {
		// The mark may have been written: leave the journal to recovery.
		return fmt.Errorf("etcd journal commit: %w", err)
	}
	if !resp.Succeeded {
		s.dropJournal(dir)
		return errRetry
	}
	if err := s.applyChunks(chunks); err != nil {
		return fmt.Errorf("etcd journal apply (Open finishes it): %w", err)
	}
	s.dropJournal(dir)
	s.seen(resp.Header.Revision)
	return nil
}

func (s *etcdStore) applyChunks(chunks [][]clientv3.Op) error {
	for _, c := range chunks {
		ctx, cancel := s.ctx()
		_, err := s.cli.Txn(ctx).Then(c...).Commit()
		cancel()
		if err != nil {
			return err
		}
	}
	return nil
}

func (s *etcdStore) dropJournal(dir string) {
	ctx, cancel := s.ctx()
	defer cancel()
	_, _ = s.cli.Delete(ctx, dir, clientv3.WithPrefix())
}

// chunkOps splits ops into txns within the budget of writes and bytes.
func chunkOps(ops []clientv3.Op) [][]clientv3.Op {
	var out [][]clientv3.Op
	var cur []clientv3.Op
	size := 0
	for _, op := range ops {
		n := len(op.KeyBytes()) + len(op.ValueBytes())
		if len(cur) == DefaultTxBudget.Writes || (len(cur) > 0 && size+n > DefaultTxBudget.Bytes) {
			out, cur, size = append(out, cur), nil, 0
		}
		cur = append(cur, op)
		size += n
	}
	return append(out, cur)
}

// encodeOps and decodeOps are the journal's chunk format: per write, the
// key's length and bytes, 1 for a put (then the value's) or 0 for a delete.
func encodeOps(ops []clientv3.Op) []byte {
	var out []byte
	for _, op := range ops {
		out = binary.AppendUvarint(out, uint64(len(op.KeyBytes())))
		out = append(out, op.KeyBytes()...)
		if op.IsDelete() {
			out = append(out, 0)
			continue
		}
		out = append(out, 1)
		out = binary.AppendUvarint(out, uint64(len(op.ValueBytes())))
		out = append(out, op.ValueBytes()...)
	}
	return out
}

func decodeOps(b []byte) ([]clientv3.Op, error) {
	var ops []clientv3.Op
	field := func() ([]byte, error) {
		n, w := binary.Uvarint(b)
		if w <= 0 || uint64(len(b)-w) < n {
			return nil, fmt.Errorf("%w: journal chunk", ErrCorrupt)
		}
		f := b[w : w+int(n)]
		b = b[w+int(n):]
		return f, nil
	}
	for len(b) > 0 {
		k, err := field()
		if err != nil || len(b) == 0 {
			return nil, fmt.Errorf("%w: journal chunk", ErrCorrupt)
		}
		kind := b[0]
		b = b[1:]
		if kind == 0 {
			ops = append(ops, clientv3.OpDelete(string(k)))
			continue
		}
		v, err := field()
		if err != nil {
			return nil, err
		}
		ops = append(ops, clientv3.OpPut(string(k), string(v)))
	}
	return ops, nil
}

// journalAbandonAfter is how old an unmarked journal must be before
// recovery deletes it: its writer is then surely gone.
const journalAbandonAfter = 10 * time.Minute

// recoverJournals applies every committed journal and deletes abandoned
// unmarked ones.
func (s *etcdStore) recoverJournals() error {
	ctx, cancel := s.ctx()
	resp, err := s.cli.Get(ctx, s.prefix+etcdJournalDir, clientv3.WithPrefix(), clientv3.WithKeysOnly())
	cancel()
	if err != nil {
		return err
	}
	dirs := map[string]bool{} // dir → committed
	for _, kv := range resp.Kvs {
		k := string(kv.Key)
		i := strings.LastIndexByte(k, '/')
		dirs[k[:i+1]] = dirs[k[:i+1]] || k[i+1:] == "commit"
	}
	for dir, committed := range dirs {
		if !committed {
			var nanos int64
			name := strings.TrimSuffix(strings.TrimPrefix(dir, s.prefix+etcdJournalDir), "/")
			if _, err := fmt.Sscanf(name, "%016x", &nanos); err == nil && time.Since(time.Unix(0, nanos)) > journalAbandonAfter {
				s.dropJournal(dir)
			}
			continue
		}
		ctx, cancel := s.ctx()
		resp, err := s.cli.Get(ctx, dir+"chunk-", clientv3.WithPrefix())
		cancel()
		if err != nil {
			return err
		}
		var chunks [][]clientv3.Op
		for _, kv := range resp.Kvs {
			ops, err := decodeOps(kv.Value)
			if err != nil {
				return fmt.Errorf("journal %s: %w", dir, err)
			}
			chunks = append(chunks, ops)
		}
		if err := s.applyChunks(chunks); err != nil {
			return fmt.Errorf("journal %s: %w", dir, err)
		}
		s.dropJournal(dir)
	}
	return nil
}

// TxBudget bounds what one transaction may write, so that code cannot pass
// on bbolt and fail on etcd (SPEC §14): within it, a transaction is one
// etcd txn. Bigger bodies go through UpdateLarge.
type TxBudget struct {
	Writes int // puts and deletes
	Bytes  int // keys and values written
}

// DefaultTxBudget leaves etcd's 128 operations per txn room for compares
// of their own, and its 1.5 MiB per request room for overhead.
var DefaultTxBudget = TxBudget{Writes: 100, Bytes: 1 << 20}

// ErrTxBudget is returned by a transaction that writes more than its budget.
var ErrTxBudget = errors.New("transaction over budget")

func (b *TxBudget) check(writes, size int) error {
	if writes > b.Writes || size > b.Bytes {
		return fmt.Errorf("%w: %d writes, %d bytes (budget %d, %d): use UpdateLarge", ErrTxBudget, writes, size, b.Writes, b.Bytes)
	}
	return nil
}

func (s *etcdStore) healthy() error {
	ctx, cancel := s.ctx()
	defer cancel()
	resp, err := s.cli.Get(ctx, s.prefix+bucketMeta.name+"/"+string(metaSchemaVersion))
	if err != nil {
		return fmt.Errorf("health check of the etcd store: %w", err)
	}
	if len(resp.Kvs) != 1 || len(resp.Kvs[0].Value) != 8 || binary.BigEndian.Uint64(resp.Kvs[0].Value) != SchemaVersion {
		return fmt.Errorf("health check of the etcd store: %w", ErrSchema)
	}
	return nil
}

// trimLog deletes the oldest keys of b (be64 sequence keys, in order)
// beyond keep, in one delete of their range.
func (s *etcdStore) trimLog(b *bucketDef, keep int) error {
	pfx := s.prefix + b.name + "/"
	end := pfx[:len(pfx)-1] + "0"
	ctx, cancel := s.ctx()
	defer cancel()
	resp, err := s.cli.Get(ctx, pfx, clientv3.WithRange(end), clientv3.WithCountOnly())
	if err != nil || resp.Count <= int64(keep) {
		return err
	}
	excess := resp.Count - int64(keep)
	old, err := s.cli.Get(ctx, pfx, clientv3.WithRange(end), clientv3.WithKeysOnly(), clientv3.WithLimit(excess))
	if err != nil || len(old.Kvs) == 0 {
		return err
	}
	last := string(old.Kvs[len(old.Kvs)-1].Key)
	_, err = s.cli.Delete(ctx, pfx, clientv3.WithRange(last+"\x00"))
	return err
}
