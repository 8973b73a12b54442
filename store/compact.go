package store

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"go.etcd.io/bbolt"
)

// compactTxMaxSize bounds each write transaction of the copy, so that a
// large file is compacted without holding all of it in memory at once.
const compactTxMaxSize = 64 << 20

// Compacted reports what Compact did.
type Compacted struct {
	Before, After int64 // file size in bytes
	Purged        Purged
}

// Compact rewrites the data file at path without its free pages: bbolt
// never gives pages back to the file system, so a file that once held a
// flood of requests keeps its size after the purge has emptied them. It
// opens the file (ErrInUse when another process has it open: that process
// compacts it, CompactInPlace) and compacts it in place.
func Compact(path string, now time.Time, opt Options) (Compacted, error) {
	db, err := Open(path, opt)
	if err != nil {
		return Compacted{}, err
	}
	res, err := db.CompactInPlace(now)
	return res, errors.Join(err, db.Close())
}

// CompactInPlace compacts the open DB (`tenantdesk compact`, through the
// process that owns the file when one runs): it purges what expired at now (unless
// now is zero), copies every bucket into a new file beside it while
// transactions wait (new ones for as long as the copy takes; ErrBusy when
// those in flight do not end in time), renames the copy over the file and
// carries on with it. On any failure the old file is left as it was and
// stays open.
func (db *DB) CompactInPlace(now time.Time) (Compacted, error) {
	if db.etcd != nil {
		return Compacted{}, fmt.Errorf("compact: %w", ErrFileOnly)
	}
	var res Compacted
	info, err := os.Stat(db.path)
	if err != nil {
		return res, fmt.Errorf("compact %s: %w", db.path, err)
	}
	res.Before = info.Size()
	if !now.IsZero() {
		if res.Purged, err = db.PurgeExpired(now); err != nil {
			return res, fmt.Errorf("compact %s: %w", db.path, err)
		}
	}
	db.replacing.Lock()
	defer db.replacing.Unlock()
	if !db.gate.lock(swapTimeout) {
		return res, fmt.Errorf("compact %s: %w: transactions still running after %s; try again", db.path, ErrBusy, swapTimeout)
	}
	defer db.gate.unlock()
	tmp, err := compactCopy(db.bolt, db.path, info.Mode().Perm())
	if err != nil {
		_ = os.Remove(tmp)
		return res, fmt.Errorf("compact %s: %w", db.path, err)
	}
	// bbolt keeps the file locked and mapped while it is open, and Windows
	// replaces no open file: close it, move the copy over it (ReplaceFile),
	// open the copy.
	if err := db.bolt.Close(); err != nil {
		_ = os.Remove(tmp)
		return res, fmt.Errorf("compact: close %s: %w", db.path, err)
	}
	if err := ReplaceFile(tmp, db.path); err != nil {
		_ = os.Remove(tmp)
		db.bolt, db.vault, _ = openDataFile(db.path, db.opt) // the old file, where it was
		return res, fmt.Errorf("compact %s: %w", db.path, err)
	}
	bolt, vault, err := openDataFile(db.path, db.opt)
	if err != nil {
		return res, fmt.Errorf("compact %s: reopen the compacted file: %w", db.path, err)
	}
	db.bolt, db.vault = bolt, vault
	db.swaps.Add(1)
	if info, err := os.Stat(db.path); err == nil {
		res.After = info.Size()
	}
	return res, nil
}

// compactCopy copies every bucket of src into a new, synced file beside
// path and returns its name; on failure the caller removes it.
func compactCopy(src *bbolt.DB, path string, mode os.FileMode) (string, error) {
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".compact")
	_ = os.Remove(tmp) // a leftover of an interrupted run
	dst, err := bbolt.Open(tmp, mode, &bbolt.Options{Timeout: time.Second, FreelistType: bbolt.FreelistMapType})
	if err != nil {
		return tmp, err
	}
	err = bbolt.Compact(dst, src, compactTxMaxSize)
	if err == nil {
		err = dst.Sync()
	}
	if cerr := dst.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = syncFile(tmp)
	}
	return tmp, err
}

func syncFile(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	return errors.Join(f.Sync(), f.Close())
}
