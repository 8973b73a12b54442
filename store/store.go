// Package store owns the bbolt file: buckets, keys, encoding, indexes,
// migrations and transactions. No bbolt type leaves this package.
package store

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/bbolt"
)

// ErrNotFound is returned by lookups of a missing record.
var ErrNotFound = errors.New("not found")

// ErrInUse is returned by Open when another process holds the file.
var ErrInUse = errors.New("database is in use by another process")

var (
	// ErrSchema is returned by Open for a file whose schema this code cannot
	// read: newer than it knows, or not a Tenantdesk file at all.
	ErrSchema = errors.New("unsupported schema")
	// ErrCorrupt is returned when a stored value cannot be decoded.
	ErrCorrupt = errors.New("corrupt value")
	// ErrInvalid is returned for a record whose key fields are empty or
	// contain a NUL byte; nothing is written.
	ErrInvalid = errors.New("invalid record")
	// ErrDuplicate is returned when a write would give a unique index
	// (identity-map remote id or local id) two rows.
	ErrDuplicate = errors.New("duplicate")
)

// errReadOnly rolls back Open's transaction for a file opened without its
// key: not even the schema version is written again.
var errReadOnly = errors.New("read only")

// DefaultLockTimeout is how long Open waits for another process to let go.
const DefaultLockTimeout = time.Second

// DB is one open Tenantdesk store: a bbolt data file (Open), or a prefix
// of an etcd cluster (OpenURL, etcd.go).
type DB struct {
	gate    swapGate   // every transaction holds it shared; Replace, exclusive
	bolt    *bbolt.DB  // the open file; changed only by Replace, under gate
	etcd    *etcdStore // instead of bolt, for an etcd store
	path    string     // the file's path or the store's URL
	opt     Options
	commits atomic.Int64
	// swaps counts the files swapped in under this DB (Replace,
	// CompactInPlace): a swapped-in file's transaction ids start anew.
	swaps atomic.Uint64

	replacing sync.Mutex // one Replace, CompactInPlace or Rekey at a time

	locksMu sync.Mutex
	locks   map[string]*sync.Mutex // bbolt: the named locks (lock.go)
	fence   *Lock                  // etcd: every commit requires this lock (Lock.Fenced)
	claimed map[string]bool        // bbolt: the claims held (claim.go)
	vault   *keyring               // the open file's data keys; changed with bolt
}

// Options tune Open; the zero value is what the app uses.
type Options struct {
	LockTimeout time.Duration // default 1s
	NoSync      bool          // tests and benchmarks only
	// Keys keeps the master keys that seal the file's secrets (vault.go);
	// nil keeps them in this process's memory only, which is for tests.
	Keys MasterKeys
	// Budget, when set, makes Update and Batch refuse a transaction that
	// writes more (ErrTxBudget), on both backends: tests set it so that
	// code cannot pass on bbolt and fail on etcd. UpdateLarge is exempt.
	Budget *TxBudget
}

// ErrFileOnly is returned by what only a bbolt file can do (backup,
// restore, compaction) when the store is on etcd.
var ErrFileOnly = errors.New("only a bbolt data file can do this, not an etcd store")

// Etcd reports whether the store is on an etcd cluster.
func (db *DB) Etcd() bool { return db.etcd != nil }

// Open opens (creating with mode 0600) the file at path, runs migrations,
// and refuses a schema newer than this code knows (file.go: openDataFile).
func Open(path string, opt Options) (*DB, error) {
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("open %s: %w", path, err)
		}
	}
	bolt, vault, err := openDataFile(path, opt)
	if err != nil {
		return nil, err
	}
	return &DB{bolt: bolt, path: path, opt: opt, vault: vault}, nil
}

// Close releases the file and its lock, once the transactions in flight
// have ended.
func (db *DB) Close() error {
	if db.etcd != nil {
		return db.etcd.close()
	}
	db.gate.rw.Lock()
	defer db.gate.rw.Unlock()
	if err := db.bolt.Close(); err != nil {
		return fmt.Errorf("close %s: %w", db.path, err)
	}
	return nil
}

// Path is the file's path as given to Open.
func (db *DB) Path() string { return db.path }

// Size is the size of the data file in bytes.
func (db *DB) Size() int64 {
	var size int64
	_ = db.view(func(btx *bbolt.Tx) error {
		size = btx.Size()
		return nil
	})
	return size
}

// View runs fn in a read-only transaction.
func (db *DB) View(fn func(*Tx) error) error {
	// Small enough to inline, so that a caller's literal fn is inlined
	// with it and the *Tx of a bbolt read stays off the heap: the etcd
	// branch is in read.
	return db.read(fn, func(btx *bbolt.Tx) error { return fn(&Tx{kv: kvTx{bolt: btx}, vault: db.vault}) })
}

// read runs fn on etcd, or bfn (fn on a bbolt Tx) on the file.
func (db *DB) read(fn func(*Tx) error, bfn func(*bbolt.Tx) error) error {
	if db.etcd != nil {
		return db.etcd.run(fn, false, nil, db.vault, nil)
	}
	return db.view(bfn)
}

// view is bbolt's View with the file's damage turned into ErrDamaged.
func (db *DB) view(fn func(*bbolt.Tx) error) error {
	if db.etcd != nil {
		return ErrFileOnly
	}
	db.gate.enter()
	defer db.gate.leave()
	return guarded(db.path, func() error { return db.bolt.View(fn) })
}

// Update runs fn in a read-write transaction, committed when fn returns
// nil. On etcd fn is re-run when another writer changed what it read, so
// it must be safe to re-run; and its writes must stay within TxBudget.
func (db *DB) Update(fn func(*Tx) error) error { return db.update(fn, db.opt.Budget) }

// UpdateLarge is Update for a big body (a 10,000-invoice notification),
// exempt from the budget. On bbolt it is one transaction. On etcd fn runs
// whole before anything is written, so a body that fails validation
// writes nothing; its writes are then journaled and applied in chunks,
// every chunk committed before UpdateLarge returns (etcd.go).
func (db *DB) UpdateLarge(fn func(*Tx) error) error { return db.update(fn, nil) }

func (db *DB) update(fn func(*Tx) error, budget *TxBudget) error {
	if db.etcd != nil {
		if err := db.vault.readOnly(); err != nil {
			return err
		}
		err := db.etcd.run(fn, true, budget, db.vault, db.fence)
		if err == nil {
			db.commits.Add(1)
		}
		return err
	}
	db.gate.enter()
	defer db.gate.leave()
	if err := db.vault.readOnly(); err != nil {
		return err
	}
	return guarded(db.path, func() error {
		return db.bolt.Update(func(btx *bbolt.Tx) error {
			btx.OnCommit(func() { db.commits.Add(1) })
			return runWrite(btx, db.vault, budget, fn)
		})
	})
}

// Commits is how many transactions Update has committed since Open: each
// one is an fsync (benchmarks and tests of what traffic costs).
func (db *DB) Commits() int64 { return db.commits.Load() }

// EtcdStats is how many requests this handle sent to the etcd cluster
// from transactions (reads and commits) and how many times it ran a
// transaction function (a conflict runs it again), for benchmarks of what
// a request costs; zero on a bbolt file.
func (db *DB) EtcdStats() (requests, runs int64) {
	if db.etcd == nil {
		return 0, 0
	}
	return db.etcd.requests.Load(), db.etcd.runs.Load()
}

// Batch is Update with group commit for concurrent small writes; fn may be
// called more than once and must be idempotent.
func (db *DB) Batch(fn func(*Tx) error) error {
	if db.etcd != nil {
		// etcd batches concurrent proposals itself.
		return db.Update(fn)
	}
	db.gate.enter()
	defer db.gate.leave()
	if err := db.vault.readOnly(); err != nil {
		return err
	}
	// bbolt may run fn on another goroutine: it guards itself there.
	return guarded(db.path, func() error {
		return db.bolt.Batch(func(btx *bbolt.Tx) error {
			return guarded(db.path, func() error { return runWrite(btx, db.vault, db.opt.Budget, fn) })
		})
	})
}

// Backup writes a consistent copy of the database to path. The copy is
// written beside path and renamed into place, so a failed backup never
// leaves a truncated file under the name asked for.
func (db *DB) Backup(path string) error {
	if same, _ := sameFile(db.path, path); same {
		return fmt.Errorf("backup to %s: that is the open database itself", path)
	}
	tmp := path + ".partial"
	err := db.view(func(btx *bbolt.Tx) error { return btx.CopyFile(tmp, 0o600) })
	if err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("backup to %s: %w", path, err)
	}
	if err := ReplaceFile(tmp, path); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("backup to %s: %w", path, err)
	}
	return nil
}

// WriteTo writes a consistent copy of the database to w, in one read
// transaction, and returns how many bytes it wrote.
func (db *DB) WriteTo(w io.Writer) (int64, error) {
	var n int64
	err := db.view(func(btx *bbolt.Tx) error {
		var err error
		n, err = btx.WriteTo(w)
		return err
	})
	return n, err
}

// SameFile reports whether a and b name the same existing file.
func SameFile(a, b string) bool {
	same, _ := sameFile(a, b)
	return same
}

func sameFile(a, b string) (bool, error) {
	fa, err := os.Stat(a)
	if err != nil {
		return false, err
	}
	fb, err := os.Stat(b)
	if err != nil {
		return false, err
	}
	return os.SameFile(fa, fb), nil
}

// Healthy reports whether the file is open and readable: it reads the
// schema version in a read transaction and writes nothing, so a probe
// costs no fsync and cannot grow the file (SPEC §4, §11).
func (db *DB) Healthy() error {
	if db.etcd != nil {
		return db.etcd.healthy()
	}
	err := db.view(func(btx *bbolt.Tx) error {
		v, err := schemaVersion(btx)
		if err == nil && v != SchemaVersion {
			err = fmt.Errorf("%w: schema version %d", ErrSchema, v)
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("health check of %s: %w", db.path, err)
	}
	return nil
}

// Generation moves whenever anything is written, and only then: the id of
// the last committed write transaction, and the number of files swapped
// in under this DB (a restored or compacted file counts its transactions
// anew, so its id alone could equal the one before the swap). On etcd it
// moves with every change to the tenants, the settings or meta, by any
// process, and only then (watch.go): what is cached by generation is the
// tenants and the settings.
func (db *DB) Generation() uint64 {
	if db.etcd != nil {
		return db.etcd.generation()
	}
	var id int
	var swaps uint64
	_ = db.view(func(btx *bbolt.Tx) error {
		id = btx.ID()
		swaps = db.swaps.Load() // read under the gate: no swap runs now
		return nil
	})
	return swaps<<40 | uint64(id)
}

// Tx is a read or read-write transaction. It is only valid inside the
// View, Update or Batch callback that received it.
type Tx struct {
	kv kvTx // the backend's transaction (kv.go)
	// counts holds identity-map counter deltas until the transaction
	// commits: a notification of 10,000 rows writes each counter once.
	counts map[string]int64
	vault  *keyring
}

func (tx *Tx) bucket(b *bucketDef) kvBucket { return tx.kv.bucket(b) }

// initialMmapSize maps this much of the file from the start, so a growing
// file (a big Connec! notification, a million-row identity map) is not
// remapped again and again; the mapping is address space, not memory.
const initialMmapSize = 1 << 30

// runWrite runs fn in a write transaction and then writes what fn left
// pending (the identity-map counters), so the commit holds both.
func runWrite(btx *bbolt.Tx, vault *keyring, budget *TxBudget, fn func(*Tx) error) error {
	tx := &Tx{kv: kvTx{bolt: btx}, vault: vault}
	if budget != nil {
		tx.kv.spend = &txSpend{budget: *budget}
	}
	if err := fn(tx); err != nil {
		return err
	}
	return tx.flushCounts()
}
