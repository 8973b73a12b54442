package store

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
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
// committed), then applied in chunks of at most TxBudget writes. While
// they are applied, a gate key under _applying/ refuses every other
// commit (each one requires that no gate exists), so that no transaction
// commits on what it read before the journal's writes and is then
// overwritten by them. The writer owns its journal through a claim
// (claim.go, under the handle's lease); when the owner dies, the first
// process refused by the gate (or Open) claims the journal, applies it and
// lifts the gate (recoverJournal).

// Keys outside the buckets, under the store prefix.
const (
	etcdSeqDir      = "_seq/"      // bucket name → be64 highest id reserved
	etcdJournalDir  = "_journal/"  // big transactions being applied
	etcdApplyingDir = "_applying/" // journal name → the gate of a journal being applied
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

	// countID and slots name the count shards this process writes
	// (countShard): its own, so that no two transactions anywhere write
	// one at the same time.
	countID string
	slots   *countSlots

	reads readBatcher // reads of concurrent transactions, sent together (etcdbatch.go)

	claimMu sync.Mutex // guards claims
	claims  *liveLease // the lease this handle's claims (and journals) share (claim.go)

	// requests and runs count the round trips to the cluster and the
	// transaction functions run (a conflict runs one again), for
	// benchmarks of what a request costs (DB.EtcdStats).
	requests, runs atomic.Int64
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
	s := &etcdStore{cli: cli, prefix: prefix, seqs: map[string]*seqBlock{}, countID: newCountID(), slots: newCountSlots(etcdCountSlots)}
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
	s.endClaims()
	s.stop()
	s.watched.Wait()
	return s.cli.Close()
}

// run runs fn as an etcd transaction, re-running it on conflict, and
// after the journal whose gate refused it was applied (awaitJournal).
func (s *etcdStore) run(fn func(*Tx) error, writable bool, budget *TxBudget, vault *keyring, fence *Lock) error {
	var gated time.Time // since when commits are refused by a gate
	waits := 0
	for attempt := 0; ; attempt++ {
		err := s.runOnce(fn, writable, budget, vault, fence)
		var g *gatedError
		if errors.As(err, &g) {
			if gated.IsZero() {
				gated = time.Now()
			}
			if time.Since(gated) > journalWaitMax {
				return fmt.Errorf("%w: journal %s still being applied after %v", ErrConflict, g.journal, journalWaitMax)
			}
			if err := s.awaitJournal(g.journal, waits); err != nil {
				return err
			}
			waits++
			attempt-- // waiting for a gate is not a conflict
			continue
		}
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

// runOnce runs fn and commits what it wrote: errRetry on a conflict.
func (s *etcdStore) runOnce(fn func(*Tx) error, writable bool, budget *TxBudget, vault *keyring, fence *Lock) error {
	s.runs.Add(1)
	t := &etcdTx{s: s, writable: writable, reads: map[string]int64{}, fence: fence, slot: -1}
	defer t.releaseSlot()
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
	return t.commit()
}

// etcdCountSlots is how many count shards of its own a process writes:
// as many of its transactions as this count at once without conflicting.
const etcdCountSlots = 32

// newCountID names a process's count shards: random, so that processes
// (and restarts) never share one.
func newCountID() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// countSlots are a process's count shards not held by a transaction.
type countSlots struct {
	mu   sync.Mutex
	cond sync.Cond
	free []int // a stack: light load keeps to the first few (fewer keys to add up)
}

func newCountSlots(n int) *countSlots {
	c := &countSlots{}
	c.cond.L = &c.mu
	for i := n - 1; i >= 0; i-- {
		c.free = append(c.free, i)
	}
	return c
}

func (c *countSlots) take() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	for len(c.free) == 0 {
		c.cond.Wait()
	}
	i := c.free[len(c.free)-1]
	c.free = c.free[:len(c.free)-1]
	return i
}

func (c *countSlots) give(i int) {
	c.mu.Lock()
	c.free = append(c.free, i)
	c.mu.Unlock()
	c.cond.Signal()
}

// countShard is the shard of a count (day counts, daycounts.go) that the
// transaction adds to: one of this process's slots, held by no other
// transaction until this one has committed or failed (a transaction
// waits for one when all are held). A counter that every request adds
// to is a hot key under optimistic transactions; a shard written by one
// transaction at a time is not.
func (t *etcdTx) countShard() string {
	if t.slot < 0 {
		t.slot = t.s.slots.take()
	}
	return fmt.Sprintf("%s-%02d", t.s.countID, t.slot)
}

func (t *etcdTx) releaseSlot() {
	if t.slot >= 0 {
		t.s.slots.give(t.slot)
		t.slot = -1
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
	// trips counts the reads sent; past readAheadAfter the transaction
	// reads ahead (etcdread.go).
	trips int
	slot  int   // this process's count slot the transaction holds; -1: none
	err   error // the first failed request: the transaction fails with it
	fence *Lock // the commit requires this lock to be held
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
	if t.rev != 0 {
		opts = append(opts, clientv3.WithRev(t.rev))
	}
	return t.getLatest(key, opts...)
}

// getLatest reads opts at the cluster's newest revision (unless opts name
// one), fixing the transaction's at the first read.
func (t *etcdTx) getLatest(key string, opts ...clientv3.OpOption) *clientv3.GetResponse {
	if t.err != nil {
		return nil
	}
	t.trips++
	// A view's first read reads the journals' gate with it: while a
	// journal is being applied the view sees the store as it was before
	// the journal's mark, not half of it (a writer's commit is refused by
	// the gate instead). Nothing but chunks commits while the gate is up.
	gated := t.rev == 0 && !t.writable
	resp, gate, err := t.s.read(key, gated, opts...)
	if err == nil && gated && len(gate.Kvs) > 0 {
		t.rev = gate.Kvs[0].CreateRevision - 1
		resp, _, err = t.s.read(key, false, append(opts, clientv3.WithRev(t.rev))...)
	}
	if err != nil {
		t.fail(err)
		return nil
	}
	if t.rev == 0 {
		t.rev = resp.Header.Revision
	}
	return resp
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

// commit writes the transaction if nothing it read has changed: errRetry
// when something has.
func (t *etcdTx) commit() error {
	if err := t.grantLeases(); err != nil {
		return err
	}
	ops := make([]clientv3.Op, 0, t.writes)
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
	if len(ops) <= etcdMaxOps && t.bytes <= etcdChunkBytes {
		ctx, cancel := t.s.ctx()
		defer cancel()
		t.s.requests.Add(1)
		resp, err := t.s.cli.Txn(ctx).If(cmps...).Then(ops...).Else(t.s.gateGet()).Commit()
		if err != nil && t.s.leaseGone(err) {
			return errRetry
		}
		if err != nil {
			return fmt.Errorf("etcd commit: %w", err)
		}
		if !resp.Succeeded {
			return t.s.refused(resp)
		}
		if t.movesGeneration() {
			t.s.seen(resp.Header.Revision)
		}
		return nil
	}
	return t.s.commitJournaled(cmps, ops, t.movesGeneration())
}

// movesGeneration reports whether the transaction writes a bucket whose
// changes move the generation (watch.go).
func (t *etcdTx) movesGeneration() bool {
	for _, b := range generationBuckets {
		if t.buckets != nil && t.buckets[b.id] != nil && len(t.buckets[b.id].dirty) > 0 {
			return true
		}
	}
	return false
}

// compares are the conditions of the commit: no journal being applied
// (its gate), every key read unchanged, and no key changed or added in a
// range a cursor walked. When there are more than etcd allows in one txn,
// one compare over the whole store stands for them (coarser: any write
// anywhere since then is a conflict).
func (t *etcdTx) compares() []clientv3.Cmp {
	always := []clientv3.Cmp{t.s.gateCompare()}
	if t.fence != nil {
		always = append(always, t.fence.fenceCompare())
	}
	if t.rev == 0 {
		return always
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
	if len(cmps)+len(always) > etcdMaxOps {
		cmps = t.coarseCompares(etcdMaxOps - len(always))
	}
	return append(cmps, always...)
}

// coarseCompares stand for more compares than one txn takes, at most max
// of them: each key read kept exact, and each bucket's ranges merged into
// one from the first to the last; if that is still too many, one range
// per bucket over everything read in it; if that is, one over the whole
// store. A coarser compare fails on writes the transaction did not read
// (more re-runs), never misses one that it did.
func (t *etcdTx) coarseCompares(max int) []clientv3.Cmp {
	hulls := map[string]keyRange{} // bucket prefix → from the first to the last range read
	widen := func(r keyRange) {
		rest := r.from[len(t.s.prefix):]
		b := t.s.prefix + rest[:strings.IndexByte(rest, '/')+1]
		h, ok := hulls[b]
		if !ok || r.from < h.from {
			h.from = r.from
		}
		if !ok || r.to > h.to {
			h.to = r.to
		}
		hulls[b] = h
	}
	for _, r := range t.ranges {
		widen(r)
	}
	var cmps []clientv3.Cmp
	if len(t.reads)+len(hulls) <= max {
		for k, mod := range t.reads {
			cmps = append(cmps, clientv3.Compare(clientv3.ModRevision(k), "=", mod))
		}
	} else {
		for k := range t.reads {
			widen(keyRange{from: k, to: k + "\x00"})
		}
	}
	if len(cmps)+len(hulls) > max {
		p := t.s.prefix + "a" // every bucket; _locks/, _seq/, _replicas/ … sort before "a"
		return []clientv3.Cmp{clientv3.Compare(clientv3.ModRevision(p).WithRange(clientv3.GetPrefixRangeEnd(t.s.prefix)), "<", t.rev+1)}
	}
	for _, h := range hulls {
		cmps = append(cmps, clientv3.Compare(clientv3.ModRevision(h.from).WithRange(h.to), "<", t.rev+1))
	}
	return cmps
}

// commitJournaled writes a transaction too big for one etcd txn: the
// writes go to a journal in records no reader looks at, one guarded txn
// marks the journal committed (so the transaction is decided, all or
// nothing, at that point), puts its gate and claims it for this handle,
// then the writes are applied in chunks and the journal, its gate and its
// claim are deleted together. The gate makes every other commit wait for
// the whole journal (gateCompare). A process that dies after the mark
// leaves its journal to the first process its gate refuses once its claim
// has run out (recoverJournal): the writes are absolute, so applying them
// twice is harmless, and the chunks are fenced by the claim, so that a
// writer that lost its claim cannot apply any after the one that took it
// over has lifted the gate. The records, and then the chunks, are sent
// etcdPipeline at a time: each key is written once, so no chunk depends
// on another, and etcd commits concurrent requests in one log write.
func (s *etcdStore) commitJournaled(cmps []clientv3.Cmp, ops []clientv3.Op, movesGeneration bool) error {
	name := fmt.Sprintf("%016x-%08x", time.Now().UnixNano(), os.Getpid())
	dir := s.prefix + etcdJournalDir + name + "/"
	records := chunkOps(ops, len(ops), etcdChunkBytes)
	_, err := s.pipeline(len(records), func(ctx context.Context, i int) (int64, error) {
		resp, err := s.cli.Put(ctx, fmt.Sprintf("%schunk-%08d", dir, i), string(encodeOps(records[i])))
		if err != nil {
			return 0, err
		}
		return resp.Header.Revision, nil
	})
	if err != nil {
		s.dropJournal(dir)
		return fmt.Errorf("etcd journal: %w", err)
	}
	lease, err := s.claimLease()
	if err != nil {
		s.dropJournal(dir)
		return fmt.Errorf("etcd journal: %w", err)
	}
	owner := s.journalOwner(name)
	ctx, cancel := s.ctx()
	s.requests.Add(1)
	resp, err := s.cli.Txn(ctx).If(cmps...).Then(
		clientv3.OpPut(dir+"commit", fmt.Sprint(len(records))),
		clientv3.OpPut(s.prefix+etcdApplyingDir+name, ""),
		clientv3.OpPut(owner, ReplicaID(), clientv3.WithLease(lease.id)),
	).Else(s.gateGet()).Commit()
	cancel()
	if errors.Is(err, rpctypes.ErrLeaseNotFound) { // the claim lease ran out: nothing written
		s.dropJournal(dir)
		s.forgetClaimLease(lease)
		return errRetry
	}
	if err != nil {
		// The mark may have been written: leave the journal to recovery.
		return fmt.Errorf("etcd journal commit: %w", err)
	}
	if !resp.Succeeded {
		s.dropJournal(dir)
		return s.refused(resp)
	}
	if journalMarked != nil {
		journalMarked(name)
	}
	claim := keyFence(owner, resp.Header.Revision)
	rev, err := s.applyChunks(ops, claim)
	if err != nil {
		s.unclaim(owner, resp.Header.Revision) // the next writer the gate refuses finishes it
		return fmt.Errorf("etcd journal apply (the next writer finishes it): %w", err)
	}
	if movesGeneration {
		s.seen(rev)
	}
	s.finishJournal(name, claim)
	return nil
}

// journalMarked, when set (by tests only), is called between a journal's
// mark and its apply.
var journalMarked func(name string)

// journalWaitMax bounds how long a transaction waits for gates: a writer
// that dies mid-apply is taken over once its lease has run out (lockTTL).
const journalWaitMax = time.Minute

// gatedError is a commit refused because a journal is being applied.
type gatedError struct{ journal string }

func (e *gatedError) Error() string { return "etcd: journal " + e.journal + " is being applied" }

// gateCompare holds while no journal is being applied: no key under
// _applying/.
func (s *etcdStore) gateCompare() clientv3.Cmp {
	return clientv3.Compare(clientv3.CreateRevision(s.prefix+etcdApplyingDir), "=", 0).WithPrefix()
}

// gateGet is the Else of a guarded commit: a gate, if one refused it.
func (s *etcdStore) gateGet() clientv3.Op {
	return clientv3.OpGet(s.prefix+etcdApplyingDir, clientv3.WithPrefix(), clientv3.WithKeysOnly(), clientv3.WithLimit(1))
}

// refused is the error of a commit whose compares failed: a gatedError
// when a journal is being applied, errRetry when something read changed.
func (s *etcdStore) refused(resp *clientv3.TxnResponse) error {
	if kvs := resp.Responses[0].GetResponseRange().GetKvs(); len(kvs) > 0 {
		return &gatedError{journal: string(kvs[0].Key[len(s.prefix+etcdApplyingDir):])}
	}
	return errRetry
}

// journalOwner is the key of the claim on journal name: its writer's
// while it applies it, then that of the process that recovers it.
func (s *etcdStore) journalOwner(name string) string {
	return s.prefix + etcdClaimsDir + "journal/" + name
}

// awaitJournal is what a transaction refused by the gate of journal name
// does before it runs again: the journal's recovery when its owner is
// gone, else a pause that grows from 1 ms to 50 ms with waits.
func (s *etcdStore) awaitJournal(name string, waits int) error {
	time.Sleep(min(time.Millisecond<<min(waits, 6), 50*time.Millisecond))
	if waits%4 != 3 { // the owner's key is looked at every fourth wait
		return nil
	}
	return s.recoverJournal(name)
}

// finishJournal deletes journal name, its gate and its claim at once, if
// claim (the compare of the owner's claim) still holds.
func (s *etcdStore) finishJournal(name string, claim clientv3.Cmp) {
	ctx, cancel := s.ctx()
	defer cancel()
	s.requests.Add(1)
	_, _ = s.cli.Txn(ctx).If(claim).Then(
		clientv3.OpDelete(s.prefix+etcdJournalDir+name+"/", clientv3.WithPrefix()),
		clientv3.OpDelete(s.prefix+etcdApplyingDir+name),
		clientv3.OpDelete(s.journalOwner(name)),
	).Commit()
}

// opOverhead is what a write costs in a request besides its key and value
// (a journal record's lengths and kind, at most 2 × 4 + 1 bytes below
// 256 MiB; a txn's protobuf framing, less), so that a record of many small
// writes stays inside etcd's limit too.
const opOverhead = 9

// etcdChunkBytes bounds the keys and values of one request of a journaled
// commit (a journal record, an applied chunk): etcd takes 1.5 MiB.
const etcdChunkBytes = 1 << 20

// etcdPipeline is how many requests of a journaled commit are in flight
// at once. On 2 cores shared with etcd, a 10,000-invoice notification took
// 1.8 s with 8, 1.9 s with 4 and 2.7 s with 16 (one run each).
const etcdPipeline = 8

// applyChunks writes ops in txns of etcd's most operations, etcdPipeline
// at a time, each only while claim holds, and returns the newest revision
// they made.
func (s *etcdStore) applyChunks(ops []clientv3.Op, claim clientv3.Cmp) (int64, error) {
	chunks := chunkOps(ops, etcdMaxOps, etcdChunkBytes)
	return s.pipeline(len(chunks), func(ctx context.Context, i int) (int64, error) {
		resp, err := s.cli.Txn(ctx).If(claim).Then(chunks[i]...).Commit()
		if err != nil {
			return 0, err
		}
		if !resp.Succeeded {
			return 0, ErrLockLost
		}
		return resp.Header.Revision, nil
	})
}

// pipeline runs send(0…n-1), etcdPipeline at a time, and returns the
// newest revision they returned, or the first error; after one, nothing
// more is sent.
func (s *etcdStore) pipeline(n int, send func(ctx context.Context, i int) (int64, error)) (int64, error) {
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		newest int64
		first  error
	)
	slots := make(chan struct{}, etcdPipeline)
	for i := range n {
		slots <- struct{}{}
		mu.Lock()
		failed := first != nil
		mu.Unlock()
		if failed {
			break
		}
		wg.Add(1)
		go func() {
			defer func() { <-slots; wg.Done() }()
			ctx, cancel := s.ctx()
			defer cancel()
			s.requests.Add(1)
			rev, err := send(ctx, i)
			mu.Lock()
			defer mu.Unlock()
			if err != nil && first == nil {
				first = err
			}
			newest = max(newest, rev)
		}()
	}
	wg.Wait()
	return newest, first
}

func (s *etcdStore) dropJournal(dir string) {
	ctx, cancel := s.ctx()
	defer cancel()
	s.requests.Add(1)
	_, _ = s.cli.Delete(ctx, dir, clientv3.WithPrefix())
}

// chunkOps splits ops into pieces of at most maxOps writes and (but for a
// single bigger write) maxBytes of keys, values and opOverhead each; the
// pieces share ops' array.
func chunkOps(ops []clientv3.Op, maxOps, maxBytes int) [][]clientv3.Op {
	var out [][]clientv3.Op
	start, size := 0, 0
	for i, op := range ops {
		n := len(op.KeyBytes()) + len(op.ValueBytes()) + opOverhead
		if i-start == maxOps || (i > start && size+n > maxBytes) {
			out, start, size = append(out, ops[start:i:i]), i, 0
		}
		size += n
	}
	return append(out, ops[start:len(ops):len(ops)])
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

// recoverJournals applies every committed journal whose owner is gone
// and deletes abandoned unmarked ones.
func (s *etcdStore) recoverJournals() error {
	ctx, cancel := s.ctx()
	resp, err := s.cli.Get(ctx, s.prefix+etcdJournalDir, clientv3.WithPrefix(), clientv3.WithKeysOnly())
	cancel()
	if err != nil {
		return err
	}
	names := map[string]bool{} // journal name → committed
	for _, kv := range resp.Kvs {
		k := string(kv.Key[len(s.prefix+etcdJournalDir):])
		i := strings.IndexByte(k, '/')
		names[k[:i]] = names[k[:i]] || k[i+1:] == "commit"
	}
	for name, committed := range names {
		if committed {
			if err := s.recoverJournal(name); err != nil {
				return err
			}
			continue
		}
		var nanos int64
		if _, err := fmt.Sscanf(name, "%016x", &nanos); err == nil && time.Since(time.Unix(0, nanos)) > journalAbandonAfter {
			s.dropJournal(s.prefix + etcdJournalDir + name + "/")
		}
	}
	return nil
}

// recoverJournal applies journal name and lifts its gate if its owner is
// gone, under a claim of its own, so that one process does it; it leaves
// alone a journal whose owner (its writer, or another process recovering
// it) holds its claim.
func (s *etcdStore) recoverJournal(name string) error {
	owner, claimRev, _, err := s.tryClaim("journal/" + name)
	if errors.Is(err, ErrLocked) {
		return nil
	}
	if err != nil {
		return err
	}
	claim := keyFence(owner, claimRev)
	dir := s.prefix + etcdJournalDir + name + "/"
	ctx, cancel := s.ctx()
	resp, err := s.cli.Get(ctx, dir, clientv3.WithPrefix())
	cancel()
	if err != nil {
		s.unclaim(owner, claimRev)
		return err
	}
	var ops []clientv3.Op
	committed := false
	for _, kv := range resp.Kvs {
		switch k := string(kv.Key[len(dir):]); {
		case k == "commit":
			committed = true
		case strings.HasPrefix(k, "chunk-"):
			rec, err := decodeOps(kv.Value)
			if err != nil {
				s.unclaim(owner, claimRev)
				return fmt.Errorf("journal %s: %w", dir, err)
			}
			ops = append(ops, rec...)
		}
	}
	if committed {
		rev, err := s.applyChunks(ops, claim)
		if err != nil {
			s.unclaim(owner, claimRev)
			return fmt.Errorf("journal %s: %w", dir, err)
		}
		s.seen(rev) // what it wrote is not known: every cache reads again
	}
	// Not committed: its owner finished it meanwhile, and a gate left
	// without its journal is lifted all the same.
	s.finishJournal(name, claim)
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
