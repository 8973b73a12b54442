package store

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// ErrBusy is returned by Replace when transactions in flight did not end
// in time (a long backup being streamed, say); nothing was changed.
var ErrBusy = errors.New("the data file is busy")

// swapTimeout is how long Replace waits for the transactions in flight.
const swapTimeout = 10 * time.Second

// swapGate lets Replace change the file under a DB in use: transactions
// hold it shared, Replace exclusively. While a swap waits, new
// transactions wait for it, so that a steady stream of them cannot starve
// it; and it waits with TryLock, never blocking them for good: a
// transaction that opens another inside it (which bbolt forbids anyway)
// makes the swap give up instead of deadlocking.
type swapGate struct {
	rw     sync.RWMutex
	paused atomic.Pointer[chan struct{}] // closed when the swap is over
}

func (g *swapGate) enter() {
	if ch := g.paused.Load(); ch != nil {
		<-*ch
	}
	g.rw.RLock()
}

func (g *swapGate) leave() { g.rw.RUnlock() }

// lock waits until no transaction runs, up to timeout.
func (g *swapGate) lock(timeout time.Duration) bool {
	ch := make(chan struct{})
	g.paused.Store(&ch)
	for deadline := time.Now().Add(timeout); !g.rw.TryLock(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			g.paused.Store(nil)
			close(ch)
			return false
		}
	}
	return true
}

func (g *swapGate) unlock() {
	ch := g.paused.Swap(nil)
	g.rw.Unlock()
	if ch != nil {
		close(*ch)
	}
}

// Replaced says what a restore did.
type Replaced struct {
	Schema   uint64 `json:"schema"`   // the restored file's schema version, before migration
	Size     int64  `json:"size"`     // its size in bytes
	Previous string `json:"previous"` // where the replaced file is kept ("" when there was none)
}

// BeforeRestore is where a restore keeps the file it replaced (the last
// one only).
func BeforeRestore(path string) string { return path + ".before-restore" }

// Replace restores the backup at from in place of the open data file, while
// the DB stays in use: the backup is copied beside the file, synced and
// checked whole (Inspect); then, once the transactions in flight have
// ended (new ones wait, for milliseconds), the file is closed, kept as
// BeforeRestore, the copy renamed into its place and opened as Open opens a
// file. Transactions that follow see the restored data. A damaged or
// foreign backup is refused before anything changes; if the restored copy
// fails to open, the old file is put back and reopened.
func (db *DB) Replace(from string) (Replaced, error) {
	if db.etcd != nil {
		return Replaced{}, fmt.Errorf("restore: %w", ErrFileOnly)
	}
	db.replacing.Lock()
	defer db.replacing.Unlock()
	if SameFile(from, db.path) {
		return Replaced{}, fmt.Errorf("restore from %s: that is the data file itself", from)
	}
	tmp, res, err := stage(db.path, from)
	if err != nil {
		return Replaced{}, err
	}
	defer os.Remove(tmp) // gone already once renamed
	if !db.gate.lock(swapTimeout) {
		return Replaced{}, fmt.Errorf("restore from %s: %w: transactions still running after %s; try again", from, ErrBusy, swapTimeout)
	}
	defer db.gate.unlock()
	if err := db.bolt.Close(); err != nil {
		return Replaced{}, fmt.Errorf("restore: close %s: %w", db.path, err)
	}
	res.Previous = BeforeRestore(db.path)
	if err := swapIn(db.path, tmp); err != nil {
		db.bolt, db.vault, _ = openDataFile(db.path, db.opt) // the old file, where it was
		return Replaced{}, err
	}
	bolt, vault, err := openDataFile(db.path, db.opt)
	if err != nil {
		// Put the old file back, and carry on with it.
		perr := errors.Join(ReplaceFile(db.path, tmp), ReplaceFile(res.Previous, db.path))
		old, oldVault, oerr := openDataFile(db.path, db.opt)
		if perr != nil || oerr != nil {
			return Replaced{}, fmt.Errorf("restore from %s: %w; putting the old file back failed too: %v", from, err, errors.Join(perr, oerr))
		}
		db.bolt, db.vault = old, oldVault
		db.swaps.Add(1)
		return Replaced{}, fmt.Errorf("restore from %s: %w (the old file is back)", from, err)
	}
	db.bolt, db.vault = bolt, vault
	db.swaps.Add(1)
	return res, nil
}

// Restore is Replace for a data file no process has open (`tenantdesk
// restore` with no owner running). A current file that is missing, or so
// damaged that it does not open, is replaced as it is: restoring is how
// such a file is mended. ErrInUse when another process has the file.
func Restore(path, from string, opt Options) (Replaced, error) {
	_, serr := os.Stat(path)
	if serr != nil && !errors.Is(serr, os.ErrNotExist) {
		return Replaced{}, serr
	}
	if serr == nil {
		db, err := Open(path, opt)
		switch {
		case err == nil:
			defer db.Close()
			return db.Replace(from)
		case errors.Is(err, ErrInUse):
			return Replaced{}, err
		}
	}
	if SameFile(from, path) {
		return Replaced{}, fmt.Errorf("restore from %s: that is the data file itself", from)
	}
	tmp, res, err := stage(path, from)
	if err != nil {
		return Replaced{}, err
	}
	defer os.Remove(tmp)
	if _, serr := os.Stat(path); serr == nil {
		res.Previous = BeforeRestore(path)
	}
	if err := swapIn(path, tmp); err != nil {
		return Replaced{}, err
	}
	return res, nil
}

// stage copies the backup at from into a hidden file beside path, syncs
// it and checks the copy whole: what is checked is what is swapped in,
// whatever happens to from meanwhile.
func stage(path, from string) (_ string, res Replaced, err error) {
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".restoring")
	defer func() {
		if err != nil {
			_ = os.Remove(tmp)
		}
	}()
	if err := copyFile(from, tmp); err != nil {
		return "", res, fmt.Errorf("restore from %s: %w", from, err)
	}
	if res.Schema, err = Inspect(tmp); err != nil {
		return "", res, fmt.Errorf("restore from %s: refused, nothing changed: %w", from, unnamed(err, tmp))
	}
	if st, err := os.Stat(tmp); err == nil {
		res.Size = st.Size()
	}
	return tmp, res, nil
}

// unnamed is err without the staged copy's name, which means nothing to
// the person who chose the backup.
func unnamed(err error, tmp string) error { return &renamedError{err: err, tmp: tmp} }

type renamedError struct {
	err error
	tmp string
}

func (e *renamedError) Error() string {
	msg := e.err.Error()
	after, _ := strings.CutPrefix(msg, e.tmp+": ")
	return after
}
func (e *renamedError) Unwrap() error { return e.err }

// swapIn keeps the file at path (if any) as BeforeRestore and renames tmp
// into its place, durably.
func swapIn(path, tmp string) error {
	prev := BeforeRestore(path)
	if _, err := os.Stat(path); err == nil {
		if err := ReplaceFile(path, prev); err != nil {
			return fmt.Errorf("restore: keep the current file as %s: %w", prev, err)
		}
	}
	if err := ReplaceFile(tmp, path); err != nil {
		_ = ReplaceFile(prev, path)
		return fmt.Errorf("restore: %w", err)
	}
	return nil
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	if st, err := in.Stat(); err != nil {
		return err
	} else if !st.Mode().IsRegular() {
		return fmt.Errorf("%w: not a regular file", ErrSchema)
	}
	out, err := os.OpenFile(to, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	_, err = io.Copy(out, in)
	if err == nil {
		err = out.Sync()
	}
	return errors.Join(err, out.Close())
}
