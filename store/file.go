package store

// Files are untrusted input (SPEC §15). A data file, a backup or a restore
// candidate may be cut short, bit-flipped, empty or not ours at all, and
// bbolt trusts its pages: a page past the end of a truncated file is a
// SIGBUS the moment it is read, a damaged page a panic. This file is the one
// place where a bbolt file is opened, and holds what keeps a caller safe from
// such a file: the meta pages read and checked before bbolt maps anything,
// faults and bbolt's panics turned into ErrDamaged, and the whole-file check
// a restore candidate passes before it replaces the data file.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"os"
	"runtime"
	"runtime/debug"
	"strings"

	"go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// ErrDamaged is returned for a data file whose pages cannot be trusted: cut
// short, or damaged so that bbolt cannot read it.
var ErrDamaged = errors.New("damaged data file")

// bbolt's on-disk meta page (go.etcd.io/bbolt/internal/common): a 16-byte
// page header, then magic, version, page size, flags, the root bucket (page
// id and sequence), the freelist page id, the high-water page id, the
// transaction id and an FNV-64a checksum of everything before it. Fields are
// in the machine's byte order, as bbolt writes them.
const (
	boltMagic      = 0xED0CDAED
	boltVersion    = 2
	pageHeaderSize = 16
	metaSumOffset  = 56 // bytes of the meta that the checksum covers
	metaSize       = metaSumOffset + 8
	noFreelist     = ^uint64(0)
)

type boltMeta struct {
	pageSize                 uint32
	root, freelist, pgid, tx uint64
}

// parseMeta reads the meta page at the start of page, or says why it is not
// one. errNotBolt means no bbolt magic at all.
func parseMeta(page []byte) (boltMeta, error) {
	if len(page) < pageHeaderSize+metaSize {
		return boltMeta{}, errNotBolt
	}
	d := page[pageHeaderSize : pageHeaderSize+metaSize]
	ne := binary.NativeEndian
	if ne.Uint32(d[0:]) != boltMagic {
		return boltMeta{}, errNotBolt
	}
	if v := ne.Uint32(d[4:]); v != boltVersion {
		return boltMeta{}, fmt.Errorf("bbolt format version %d, want %d", v, boltVersion)
	}
	h := fnv.New64a()
	_, _ = h.Write(d[:metaSumOffset])
	if h.Sum64() != ne.Uint64(d[metaSumOffset:]) {
		return boltMeta{}, errors.New("meta page checksum mismatch")
	}
	m := boltMeta{pageSize: ne.Uint32(d[8:]), root: ne.Uint64(d[16:]), freelist: ne.Uint64(d[32:]),
		pgid: ne.Uint64(d[40:]), tx: ne.Uint64(d[48:])}
	switch {
	case m.pageSize < 512 || m.pageSize > 1<<20 || m.pageSize&(m.pageSize-1) != 0:
		return boltMeta{}, fmt.Errorf("page size %d", m.pageSize)
	case m.root < 2 || m.root >= m.pgid:
		return boltMeta{}, fmt.Errorf("root page %d outside pages 2..%d", m.root, m.pgid)
	case m.freelist != noFreelist && (m.freelist < 2 || m.freelist >= m.pgid):
		return boltMeta{}, fmt.Errorf("freelist page %d outside pages 2..%d", m.freelist, m.pgid)
	}
	return m, nil
}

var errNotBolt = errors.New("no bbolt header")

// checkFile looks at the file at path before bbolt maps it. A missing file
// is fine (exists is false: Open creates it). An existing file must be a
// regular, non-empty bbolt file with a valid meta page whose pages all lie
// within the file: bbolt picks the valid meta of the newest transaction,
// and reading any page it names past the end of the file would be a SIGBUS.
func checkFile(path string) (exists bool, newest boltMeta, err error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return false, newest, nil
	}
	if err != nil {
		return true, newest, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return true, newest, err
	}
	if !st.Mode().IsRegular() {
		return true, newest, fmt.Errorf("%s: %w: not a regular file", path, ErrSchema)
	}
	size := st.Size()
	if size == 0 {
		return true, newest, fmt.Errorf("%s: %w: an empty file, not a Tenantdesk data file (Tenantdesk creates a missing file, never an existing one)", path, ErrSchema)
	}
	readPage := func(off int64) []byte {
		buf := make([]byte, pageHeaderSize+metaSize)
		n, _ := f.ReadAt(buf, off)
		return buf[:n]
	}
	m0, err0 := parseMeta(readPage(0))
	var m1 boltMeta
	err1 := errNotBolt
	if err0 == nil {
		m1, err1 = parseMeta(readPage(int64(m0.pageSize)))
	} else {
		// Page 0 is no help: look for page 1 at every page size bbolt
		// supports, as bbolt itself does.
		for shift := 0; shift <= 14 && int64(1024)<<shift < size; shift++ {
			if m, err := parseMeta(readPage(int64(1024) << shift)); err == nil || !errors.Is(err, errNotBolt) {
				m1, err1 = m, err
				if err == nil {
					break
				}
			}
		}
	}
	switch {
	case errors.Is(err0, errNotBolt) && errors.Is(err1, errNotBolt):
		return true, newest, fmt.Errorf("%s: %w: not a Tenantdesk data file (no bbolt header)", path, ErrSchema)
	case err0 != nil && err1 != nil:
		return true, newest, fmt.Errorf("%s: %w: both meta pages are damaged (%v; %v)", path, ErrDamaged, err0, err1)
	case err1 != nil || (err0 == nil && m0.tx >= m1.tx):
		newest = m0
	default:
		newest = m1
	}
	if need := newest.pgid * uint64(newest.pageSize); uint64(size) < need {
		return true, newest, fmt.Errorf("%s: %w: cut short: its pages end at %d bytes, the file has %d bytes", path, ErrDamaged, need, size)
	}
	return true, newest, nil
}

// openBolt opens the bbolt file at path once checkFile has passed it. A
// panic or fault inside bbolt.Open (a damaged freelist page) becomes
// ErrDamaged, and the file it had opened is closed again.
//
// A file written without a synced freelist (NoSync: tests and benchmarks)
// is opened only when unsynced allows it: bbolt rebuilds its freelist on a
// goroutine of its own that panics, past any recover, on the first damaged
// page. The app's own files and backups always carry one, so a restore
// candidate without one is refused; the data file itself is the user's.
func openBolt(path string, opts *bbolt.Options, unsynced bool) (_ *bbolt.DB, created bool, err error) {
	exists, meta, err := checkFile(path)
	if err != nil {
		return nil, false, err
	}
	if exists && meta.freelist == noFreelist && !unsynced {
		return nil, false, fmt.Errorf("%s: %w: written without a synced freelist (not a backup Tenantdesk made)", path, ErrDamaged)
	}
	var file *os.File
	opts.OpenFile = func(name string, flag int, mode os.FileMode) (*os.File, error) {
		f, err := os.OpenFile(name, flag, mode)
		file = f
		return f, err
	}
	defer func() {
		if err != nil && file != nil && errors.Is(err, ErrDamaged) {
			_ = file.Close() // bbolt did not get to close it: the panic left Open early
		}
	}()
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer catchDamage(&err, path)
	bolt, err := bbolt.Open(path, 0o600, opts)
	if err != nil {
		if errors.Is(err, berrors.ErrInvalid) || errors.Is(err, berrors.ErrChecksum) || errors.Is(err, berrors.ErrVersionMismatch) {
			err = fmt.Errorf("%s: %w (%v)", path, ErrDamaged, err)
		}
		return nil, false, err
	}
	return bolt, !exists, nil
}

// openDataFile is Open's bbolt part: the checks, bbolt.Open, the vault,
// and the migrations in one transaction, which a file at today's schema
// skips. A file whose master key is missing opens all the same, with its
// keyring locked (KeyError), and nothing is written to it.
func openDataFile(path string, opt Options) (*bbolt.DB, *keyring, error) {
	timeout := opt.LockTimeout
	if timeout <= 0 {
		timeout = DefaultLockTimeout
	}
	bolt, created, err := openBolt(path, &bbolt.Options{
		Timeout:      timeout,
		FreelistType: bbolt.FreelistMapType,
		NoSync:       opt.NoSync,
		// The freelist is always written, NoSync or not: a backup of any
		// file then passes Inspect (see openBolt).
		InitialMmapSize: initialMmapSize,
	}, true)
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, nil, fmt.Errorf("open %s: %w (still locked after %s; is another Tenantdesk running on it?)",
			path, ErrInUse, timeout)
	}
	if errors.Is(err, ErrDamaged) || errors.Is(err, ErrSchema) {
		return nil, nil, err // names the file already
	}
	if err != nil {
		return nil, nil, fmt.Errorf("open %s: %w", path, err)
	}
	keys := opt.Keys
	if keys == nil {
		keys = processKeys
	}
	vault := &keyring{path: path, keys: keys}
	// A file at today's schema is only read: opening it writes nothing,
	// so a verb that only reads leaves the file as it found it.
	var current bool
	var from uint64
	err = guarded(path, func() error {
		return bolt.View(func(btx *bbolt.Tx) error {
			if current = upToDate(btx); current {
				return vault.load(btx)
			}
			from, _ = schemaVersion(btx)
			return nil
		})
	})
	if err == nil && !current {
		err = guarded(path, func() error {
			return bolt.Update(func(btx *bbolt.Tx) error {
				if err := migrate(btx, path, created, vault); err != nil {
					return err
				}
				if vault.locked != nil {
					return errReadOnly // a file without its key is read, never rewritten
				}
				return nil
			})
		})
		if errors.Is(err, errReadOnly) {
			err = nil
		} else if err == nil && !created && from < sealedSchema {
			// The secrets were in plain text: bbolt leaves what it
			// rewrote in the file's free pages, and a backup copies
			// those too. The file is rewritten without them.
			if err = scrub(bolt, path); err == nil {
				return openDataFile(path, opt)
			}
			return nil, nil, err
		}
	}
	if err != nil {
		_ = bolt.Close()
		return nil, nil, err
	}
	return bolt, vault, nil
}

// scrub rewrites the file at path, which bolt has open, without its free
// pages, and closes bolt: the file then holds no byte of what was deleted
// or rewritten before.
func scrub(bolt *bbolt.DB, path string) error {
	st, err := os.Stat(path)
	if err != nil {
		_ = bolt.Close()
		return fmt.Errorf("%s: %w", path, err)
	}
	tmp, err := compactCopy(bolt, path, st.Mode().Perm())
	if cerr := bolt.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = ReplaceFile(tmp, path)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("%s: rewrite without the plain-text secrets: %w", path, err)
	}
	return nil // ReplaceFile is durable: it synced the rename (replace_unix.go) or wrote through (replace_windows.go)
}

// guarded runs fn, a read or write of the mapped file, with faults turned
// into panics for this goroutine and the file's panics into ErrDamaged.
func guarded(path string, fn func() error) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer catchDamage(&err, path)
	return fn()
}

// catchDamage, deferred, turns a panic that the file caused into ErrDamaged:
// one raised inside bbolt (an invalid page type, a freelist that is not
// one), or a memory fault (a page or value beyond the end of the mapping).
// Any other panic is a bug of ours and goes on.
func catchDamage(err *error, path string) {
	p := recover()
	if p == nil {
		return
	}
	if !fromFile(p) {
		panic(p)
	}
	*err = fmt.Errorf("%s: %w (%v)", path, ErrDamaged, p)
}

// fromFile reports whether the panic being recovered came from the file:
// the first frame below the panic that is not the runtime's is bbolt's, or
// the panic is a memory fault, which under SetPanicOnFault only reading the
// mapped file can cause in code that dereferences no nil pointer.
func fromFile(p any) bool {
	if e, ok := p.(runtime.Error); ok {
		var fault interface{ Addr() uintptr }
		if errors.As(e, &fault) && fault.Addr() >= 1<<16 {
			return true
		}
	}
	pcs := make([]uintptr, 32)
	frames := runtime.CallersFrames(pcs[:runtime.Callers(3, pcs)])
	for {
		f, more := frames.Next()
		if !strings.HasPrefix(f.Function, "runtime.") {
			return strings.HasPrefix(f.Function, "go.etcd.io/bbolt")
		}
		if !more {
			return false
		}
	}
}

// Inspect checks, without changing it, that the file at path is whole and a
// Tenantdesk data file this build can open: its meta pages and size (as Open
// checks them), every page reachable from the newest meta read and bounded
// (walkPages), bbolt's own check of the tree (tx.Check: nothing freed twice
// or lost, keys in order), every stored document decodable, and a schema
// version no newer than SchemaVersion with only this schema's buckets. It
// returns that version. A restore runs it on the candidate before the swap.
// What it cannot see is a flip inside a value that still decodes (a letter
// of a name), or an index entry that names a row that is not there.
func Inspect(path string) (uint64, error) {
	st, err := os.Stat(path)
	if err != nil {
		return 0, err
	}
	if !st.Mode().IsRegular() {
		return 0, fmt.Errorf("%s: %w: not a regular file", path, ErrSchema)
	}
	if err := walkPages(path); err != nil {
		return 0, err
	}
	bolt, _, err := openBolt(path, &bbolt.Options{ReadOnly: true, Timeout: DefaultLockTimeout, PreLoadFreelist: true}, false)
	if errors.Is(err, berrors.ErrTimeout) {
		return 0, fmt.Errorf("%s: %w", path, ErrInUse)
	}
	if err != nil {
		return 0, err
	}
	defer bolt.Close()
	var version uint64
	err = guarded(path, func() error {
		return bolt.View(func(btx *bbolt.Tx) error {
			var problems []error
			for err := range btx.Check() {
				problems = append(problems, err)
			}
			switch len(problems) {
			case 0:
			case 1:
				return fmt.Errorf("%s: %w: %v", path, ErrDamaged, problems[0])
			default:
				return fmt.Errorf("%s: %w: %v (and %d more problems)", path, ErrDamaged, problems[0], len(problems)-1)
			}
			var err error
			if version, err = checkSchema(btx); err != nil {
				return fmt.Errorf("%s: %w", path, err)
			}
			if err := checkDocuments(btx); err != nil {
				return fmt.Errorf("%s: %w: %v", path, ErrDamaged, err)
			}
			return nil
		})
	})
	if err != nil {
		return 0, err
	}
	return version, nil
}

// documents are the buckets whose values are whole records, each with the
// type it decodes into (nil: a JSON document of no one type).
var documents = map[string]func() any{
	bucketTenants.name:        func() any { return new(Tenant) },
	bucketUsers.name:          func() any { return new(User) },
	bucketGroups.name:         func() any { return new(Group) },
	bucketMemberships.name:    func() any { return new(Membership) },
	bucketSessions.name:       func() any { return new(Session) },
	bucketInvoices.name:       func() any { return new(Invoice) },
	bucketRecords.name:        func() any { return new(Record) },
	bucketIdmap.name:          func() any { return new(ConnectedObject) },
	bucketBills.name:          func() any { return new(Bill) },
	bucketBillingRuns.name:    func() any { return new(BillingRun) },
	bucketOutbox.name:         func() any { return new(OutboxItem) },
	bucketEvents.name:         func() any { return new(Event) },
	bucketSecurityEvents.name: func() any { return new(Event) },
	bucketPulls.name:          func() any { return new(Pull) },
	bucketSettings.name:       func() any { return new(Setting) },
}

// checkDocuments decodes every record of the document buckets.
func checkDocuments(btx *bbolt.Tx) error {
	for name, fresh := range documents {
		b := btx.Bucket([]byte(name))
		if b == nil {
			continue
		}
		err := b.ForEach(func(k, v []byte) error {
			if v == nil {
				return nil
			}
			if err := decodeValue(v, fresh()); err != nil {
				return fmt.Errorf("bucket %s, key %q: %w", name, clip(k), err)
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// checkSchema is the schema part of Inspect: a known version, and no
// bucket this schema does not name.
func checkSchema(btx *bbolt.Tx) (uint64, error) {
	version, err := schemaVersion(btx)
	if err != nil {
		return 0, err
	}
	if version == 0 {
		return 0, fmt.Errorf("%w: no schema version (not a Tenantdesk data file?)", ErrSchema)
	}
	if version > SchemaVersion {
		return 0, fmt.Errorf("%w: file has schema version %d, this build knows up to %d", ErrSchema, version, SchemaVersion)
	}
	known := map[string]bool{}
	for _, name := range allBuckets {
		known[name.name] = true
	}
	return version, btx.ForEach(func(name []byte, _ *bbolt.Bucket) error {
		if !known[string(name)] {
			return fmt.Errorf("%w: bucket %q is not part of a Tenantdesk data file", ErrSchema, clip(name))
		}
		return nil
	})
}

// walkPages reads, with bounds-checked reads of the file rather than
// through bbolt's mapping, every page reachable from the newest meta: the
// freelist, and the tree of buckets with their inline buckets. Every page id
// must lie below the high-water mark and name itself, every page be a
// branch or a leaf with its elements, keys and values inside it, and no
// page be reached twice. Only then does bbolt's check, which runs on a
// goroutine of its own where a fault could not be caught, walk the file.
func walkPages(path string) error {
	_, meta, err := checkFile(path)
	if err != nil {
		return err
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	w := pageWalker{f: f, ps: uint64(meta.pageSize), hwm: meta.pgid, seen: map[uint64]bool{}}
	if meta.freelist != noFreelist {
		err = w.freelist(meta.freelist)
	}
	if err == nil {
		err = w.tree(meta.root, 0)
	}
	if err != nil {
		return fmt.Errorf("%s: %w: %v", path, ErrDamaged, err)
	}
	return nil
}

type pageWalker struct {
	f    *os.File
	ps   uint64 // page size
	hwm  uint64 // pages 0..hwm-1 exist
	seen map[uint64]bool
}

const (
	branchPage, leafPage, freelistPage = 0x01, 0x02, 0x10
	bucketLeaf                         = 0x01
	elementSize                        = 16 // branch and leaf elements alike
	maxTreeDepth                       = 64
)

// page reads page id with its overflow pages.
func (w *pageWalker) page(id uint64) ([]byte, error) {
	if id < 2 || id >= w.hwm {
		return nil, fmt.Errorf("page %d outside pages 2..%d", id, w.hwm-1)
	}
	if w.seen[id] {
		return nil, fmt.Errorf("page %d reached twice", id)
	}
	w.seen[id] = true
	hdr := make([]byte, pageHeaderSize)
	if _, err := w.f.ReadAt(hdr, int64(id*w.ps)); err != nil {
		return nil, fmt.Errorf("page %d: %v", id, err)
	}
	ne := binary.NativeEndian
	if self := ne.Uint64(hdr); self != id {
		return nil, fmt.Errorf("page %d calls itself page %d", id, self)
	}
	span := uint64(ne.Uint32(hdr[12:])) + 1
	if id+span > w.hwm {
		return nil, fmt.Errorf("page %d runs past the last page", id)
	}
	p := make([]byte, span*w.ps)
	if _, err := w.f.ReadAt(p, int64(id*w.ps)); err != nil {
		return nil, fmt.Errorf("page %d: %v", id, err)
	}
	return p, nil
}

func (w *pageWalker) freelist(id uint64) error {
	p, err := w.page(id)
	if err != nil {
		return err
	}
	ne := binary.NativeEndian
	if flags := ne.Uint16(p[8:]); flags != freelistPage {
		return fmt.Errorf("freelist page %d has type %#x", id, flags)
	}
	start, count := uint64(pageHeaderSize), uint64(ne.Uint16(p[10:]))
	if count == 0xFFFF { // the real count is the first element
		if len(p) < pageHeaderSize+8 {
			return fmt.Errorf("freelist page %d cut short", id)
		}
		start, count = pageHeaderSize+8, ne.Uint64(p[pageHeaderSize:])
	}
	if count > uint64(len(p)) || start+count*8 > uint64(len(p)) {
		return fmt.Errorf("freelist page %d: %d ids do not fit", id, count)
	}
	return nil
}

func (w *pageWalker) tree(id uint64, depth int) error {
	if depth > maxTreeDepth {
		return fmt.Errorf("page %d: tree deeper than %d", id, maxTreeDepth)
	}
	p, err := w.page(id)
	if err != nil {
		return err
	}
	return w.elements(p, id, depth)
}

// elements checks the elements of page p (a page of the file, or an inline
// bucket's page inside a value) and walks what they point to.
func (w *pageWalker) elements(p []byte, id uint64, depth int) error {
	if len(p) < pageHeaderSize {
		return fmt.Errorf("page %d cut short", id)
	}
	ne := binary.NativeEndian
	flags, count := ne.Uint16(p[8:]), uint64(ne.Uint16(p[10:]))
	if pageHeaderSize+count*elementSize > uint64(len(p)) {
		return fmt.Errorf("page %d: %d elements do not fit", id, count)
	}
	for i := range count {
		at := pageHeaderSize + i*elementSize
		e := p[at : at+elementSize]
		switch flags {
		case branchPage:
			pos, ksize := uint64(ne.Uint32(e[0:])), uint64(ne.Uint32(e[4:]))
			if at+pos+ksize > uint64(len(p)) {
				return fmt.Errorf("page %d: key %d lies outside the page", id, i)
			}
			if err := w.tree(ne.Uint64(e[8:]), depth+1); err != nil {
				return err
			}
		case leafPage:
			eflags, pos := ne.Uint32(e[0:]), uint64(ne.Uint32(e[4:]))
			ksize, vsize := uint64(ne.Uint32(e[8:])), uint64(ne.Uint32(e[12:]))
			end := at + pos + ksize + vsize
			if end > uint64(len(p)) {
				return fmt.Errorf("page %d: element %d lies outside the page", id, i)
			}
			if eflags&bucketLeaf == 0 {
				continue
			}
			v := p[at+pos+ksize : end]
			if len(v) < 16 {
				return fmt.Errorf("page %d: bucket %d has a header of %d bytes", id, i, len(v))
			}
			if root := ne.Uint64(v); root != 0 {
				if err := w.tree(root, depth+1); err != nil {
					return err
				}
			} else if err := w.elements(v[16:], id, depth+1); err != nil { // inline bucket
				return err
			}
		default:
			return fmt.Errorf("page %d has type %#x", id, flags)
		}
	}
	return nil
}

func clip(b []byte) string {
	if len(b) > 40 {
		return string(b[:40]) + "…"
	}
	return string(b)
}
