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
// opens the file exclusively (ErrInUse when another process has it open:
// the GUI or serve must be stopped first), purges what expired at now
// (unless now is zero), copies every bucket into a new file beside it,
// syncs that file, and renames it over the old one while still holding
// the old one's lock, so no process ever opens a half-made file. On any
// failure the old file is left as it was.
func Compact(path string, now time.Time, opt Options) (Compacted, error) {
	var res Compacted
	info, err := os.Stat(path)
	if err != nil {
		return res, fmt.Errorf("compact %s: %w", path, err)
	}
	res.Before = info.Size()
	src, err := Open(path, opt)
	if err != nil {
		return res, err
	}
	defer src.Close()
	if !now.IsZero() {
		if res.Purged, err = src.PurgeExpired(now); err != nil {
			return res, fmt.Errorf("compact %s: %w", path, err)
		}
	}

	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".compact")
	_ = os.Remove(tmp) // a leftover of an interrupted run
	dst, err := bbolt.Open(tmp, info.Mode().Perm(), &bbolt.Options{Timeout: time.Second, FreelistType: bbolt.FreelistMapType})
	if err != nil {
		return res, fmt.Errorf("compact %s: %w", path, err)
	}
	err = bbolt.Compact(dst, src.bolt, compactTxMaxSize)
	if err == nil {
		err = dst.Sync()
	}
	if cerr := dst.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = syncFile(tmp)
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return res, fmt.Errorf("compact %s: %w", path, err)
	}
	if err := syncDir(filepath.Dir(path)); err != nil {
		return res, fmt.Errorf("compact %s: %w", path, err)
	}
	if info, err = os.Stat(path); err == nil {
		res.After = info.Size()
	}
	return res, nil
}

func syncFile(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	return errors.Join(f.Sync(), f.Close())
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	return errors.Join(d.Sync(), d.Close())
}
