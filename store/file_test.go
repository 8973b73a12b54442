package store_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tenantdesk/tenantdesk/store"
	"github.com/tenantdesk/tenantdesk/store/storetest"
	"go.etcd.io/bbolt"
)

// backupWithData is an exact copy (WriteTo: its size is its pages) of a
// data file holding tenants, users, identity-map rows and an invoice.
func backupWithData(t *testing.T) string {
	t.Helper()
	// Synced, as the app writes: a file without a synced freelist is
	// opened only by test builds.
	db, err := store.Open(filepath.Join(t.TempDir(), "tenantdesk.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	update(t, db, func(tx *store.Tx) error {
		for i := range 3 {
			key := fmt.Sprintf("tenant-%d", i)
			if err := tx.PutTenant(store.Tenant{Key: key, CreatedAt: t0}); err != nil {
				return err
			}
			if err := tx.PutUser(store.User{Tenant: key, UID: "usr-1", Email: "a@example.com"}); err != nil {
				return err
			}
		}
		for i := range 300 {
			if _, err := tx.PutConnected(store.ConnectedObject{Tenant: "tenant-0", Entity: "invoices", LocalKind: store.KindRecord,
				LocalID: fmt.Sprint(i), RemoteID: fmt.Sprint("r-", i), Name: strings.Repeat("n", 60)}); err != nil {
				return err
			}
		}
		return tx.PutInvoice(store.Invoice{ID: "inv-000001", Tenant: "tenant-0", GroupUID: "cld-1", Currency: "EUR"})
	})
	path := filepath.Join(t.TempDir(), "backup.db")
	if err := db.Backup(path); err != nil {
		t.Fatal(err)
	}
	return path
}

func digest(t *testing.T, path string) [32]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(b)
}

// readEverything is what the verbs read: every tenant, user, group,
// membership, invoice, bill, event and identity-map row.
func readEverything(db *store.DB) error {
	return db.View(func(tx *store.Tx) error {
		if _, err := tx.Tenants(); err != nil {
			return err
		}
		if _, err := tx.Users(""); err != nil {
			return err
		}
		if _, err := tx.Groups(""); err != nil {
			return err
		}
		if _, err := tx.Memberships(""); err != nil {
			return err
		}
		if _, err := tx.Invoices(""); err != nil {
			return err
		}
		if _, err := tx.Bills("", ""); err != nil {
			return err
		}
		if _, err := tx.RecentEvents(100); err != nil {
			return err
		}
		q := store.IdmapQuery{Limit: 100}
		for {
			rows, next, err := tx.QueryConnected(q)
			if err != nil || next == "" || len(rows) == 0 {
				return err
			}
			q.After = next
		}
	})
}

// Open and Inspect refuse each kind of bad file with one line that says
// what is wrong with it, and leave it as it was: a 0-byte file is not
// grown into a database, a foreign one is not initialized.
func TestOpenAndInspectRefuseBadFilesAndChangeNothing(t *testing.T) {
	cases := []struct {
		name string
		make func(t *testing.T) string
		want error
		says string
	}{
		{"cut short", func(t *testing.T) string {
			p := backupWithData(t)
			storetest.CutShort(t, p)
			return p
		}, store.ErrDamaged, "cut short"},
		{"root page bit flipped", func(t *testing.T) string {
			p := backupWithData(t)
			storetest.FlipRootPageBit(t, p)
			return p
		}, store.ErrDamaged, "damaged data file"},
		{"both meta pages bit flipped", func(t *testing.T) string {
			p := backupWithData(t)
			storetest.FlipBit(t, p, 16+20, 3)      // meta 0's root page id
			storetest.FlipBit(t, p, 4096+16+20, 3) // meta 1's
			return p
		}, store.ErrDamaged, "both meta pages"},
		{"empty", func(t *testing.T) string {
			p := filepath.Join(t.TempDir(), "empty.db")
			os.WriteFile(p, nil, 0o600)
			return p
		}, store.ErrSchema, "empty file"},
		{"text", func(t *testing.T) string {
			p := filepath.Join(t.TempDir(), "notes.db")
			os.WriteFile(p, bytes.Repeat([]byte("not a database\n"), 1000), 0o600)
			return p
		}, store.ErrSchema, "not a Tenantdesk data file"},
		{"bbolt of no schema", func(t *testing.T) string {
			p := filepath.Join(t.TempDir(), "bare.db")
			b, err := bbolt.Open(p, 0o600, nil)
			if err != nil {
				t.Fatal(err)
			}
			b.Close()
			return p
		}, store.ErrSchema, "no schema version"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := c.make(t)
			before := digest(t, path)
			db, err := store.Open(path, store.Options{})
			if err == nil {
				err = readEverything(db)
				db.Close()
			}
			for what, err := range map[string]error{"Open": err, "Inspect": inspectErr(path)} {
				if !errors.Is(err, c.want) {
					t.Fatalf("%s: %v, want %v", what, err, c.want)
				}
				if msg := err.Error(); !strings.Contains(msg, c.says) || strings.Contains(msg, "\n") || !strings.Contains(msg, path) {
					t.Errorf("%s: %q: want one line naming the file and saying %q", what, msg, c.says)
				}
			}
			if digest(t, path) != before {
				t.Error("the refused file was changed")
			}
		})
	}
}

func inspectErr(path string) error {
	_, err := store.Inspect(path)
	return err
}

// Opening a healthy file of today's schema and reading it writes nothing.
func TestOpenOfACurrentFileWritesNothing(t *testing.T) {
	path := backupWithData(t)
	before := digest(t, path)
	db, err := store.Open(path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := readEverything(db); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if digest(t, path) != before {
		t.Error("open and read changed the file")
	}
	if v, err := store.Inspect(path); err != nil || v != store.SchemaVersion {
		t.Errorf("Inspect of a healthy backup: %d, %v", v, err)
	}
}

// Single bit flips anywhere in a file never crash a reader: every flip
// either reads (a byte no check covers, such as a name) or is an error.
// A file Inspect accepts also opens.
func TestBitFlipsNeverCrash(t *testing.T) {
	good := backupWithData(t)
	orig, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	dir := t.TempDir()
	refused := 0
	const flips = 200
	for i := range flips {
		// Half the flips land in page headers and meta pages, where
		// bbolt looks first; the rest anywhere.
		off := rng.Int64N(int64(len(orig)))
		if i%2 == 0 {
			off = int64(rng.IntN(len(orig)/4096))*4096 + rng.Int64N(80)
		}
		b := bytes.Clone(orig)
		b[off] ^= 1 << rng.UintN(8)
		path := filepath.Join(dir, fmt.Sprintf("flip-%d.db", i))
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		_, ierr := store.Inspect(path)
		db, err := store.Open(path, store.Options{NoSync: true})
		if err == nil {
			_ = readEverything(db) // an error or not, but no crash
			db.Close()
		}
		if ierr == nil && err != nil {
			t.Errorf("flip at %d: Inspect accepted the file, but Open: %v", off, err)
		}
		if ierr != nil {
			refused++
		}
		os.Remove(path)
	}
	t.Logf("%d of %d flipped files refused by Inspect", refused, flips)
}

// damaged writes a data file with fill, closes it, changes its bytes with
// edit (which keeps their length) and opens it again.
func damaged(t *testing.T, fill func(*store.Tx) error, edit func(t *testing.T, b []byte) []byte) *store.DB {
	t.Helper()
	path := filepath.Join(t.TempDir(), "tenantdesk.db")
	db, err := store.Open(path, store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	update(t, db, fill)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, edit(t, b), 0o600); err != nil {
		t.Fatal(err)
	}
	db, err = store.Open(path, store.Options{NoSync: true})
	if err != nil {
		t.Fatalf("open the damaged file: %v", err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// pagesEndInCorrupt pages through a damaged file as the GUI and the CLI
// do, each page from the last one's end, and fails unless the walk stops
// with ErrCorrupt (instead of serving the same page for ever).
func pagesEndInCorrupt(t *testing.T, db *store.DB, what string, page func(tx *store.Tx) (more bool, err error)) {
	t.Helper()
	var err error
	for range 10 {
		more := false
		err = db.View(func(tx *store.Tx) (err error) {
			more, err = page(tx)
			return err
		})
		if err == nil && !more {
			t.Errorf("%s: the walk ended without an error", what)
			return
		}
		if err != nil {
			break
		}
	}
	if !errors.Is(err, store.ErrCorrupt) {
		t.Errorf("%s: %v after 10 pages, want ErrCorrupt", what, err)
	}
}

// An identity-map index with two keys out of order (a flipped bit, a
// disk fault): a seek to one of them lands on the other.
func TestIdmapPagesEndOnAnIndexOutOfOrder(t *testing.T) {
	key := func(id uint64) []byte { return binary.BigEndian.AppendUint64([]byte("acme\x00items\x00"), id) }
	db := damaged(t, func(tx *store.Tx) error {
		for i := range 5 {
			if _, err := tx.PutConnected(store.ConnectedObject{Tenant: "acme", Entity: "items", RemoteID: fmt.Sprint("r-", i)}); err != nil {
				return err
			}
		}
		return nil
	}, func(t *testing.T, b []byte) []byte {
		if !bytes.Contains(b, key(3)) || !bytes.Contains(b, key(4)) {
			t.Fatal("the index keys of rows 3 and 4 are not in the file")
		}
		hold := bytes.Repeat([]byte{0xff}, len(key(3)))
		b = bytes.ReplaceAll(b, key(3), hold)
		b = bytes.ReplaceAll(b, key(4), key(3))
		return bytes.ReplaceAll(b, hold, key(4)) // the index page: rows 1, 2, 4, 3, 5
	})
	for _, limit := range []int{1, 2, 100} {
		q := store.IdmapQuery{Tenant: "acme", Entity: "items", Limit: limit}
		pagesEndInCorrupt(t, db, fmt.Sprintf("identity map, pages of %d", limit), func(tx *store.Tx) (bool, error) {
			_, next, err := tx.QueryConnected(q)
			q.After = next
			return next != "", err
		})
	}
}

// An event whose record says another sequence than its key: the activity
// screen reads on from the last sequence it got.
func TestActivityPagesEndOnAnEventOutOfOrder(t *testing.T) {
	db := damaged(t, func(tx *store.Tx) error {
		for i := range 3 {
			if _, err := tx.AppendEvent(store.Event{Kind: "webhook", Message: fmt.Sprint("event ", i)}); err != nil {
				return err
			}
		}
		return nil
	}, func(t *testing.T, b []byte) []byte {
		if !bytes.Contains(b, []byte(`"seq":2,`)) {
			t.Fatal("event 2's record is not in the file")
		}
		return bytes.ReplaceAll(b, []byte(`"seq":2,`), []byte(`"seq":1,`)) // event 2 says it is 1
	})
	var last uint64
	pagesEndInCorrupt(t, db, "activity", func(tx *store.Tx) (bool, error) {
		evs, err := tx.EventsAfter(last, 1)
		if len(evs) > 0 {
			last = evs[len(evs)-1].Seq
		}
		return len(evs) > 0, err
	})
}

// Sessions whose keys are out of order: the purge's batches, each from
// the first key the one before did not look at, must end (with
// ErrCorrupt), not start over at the same keys for ever. The purge runs
// on a timer in `serve` and the GUI.
func TestPurgeEndsOnSessionsOutOfOrder(t *testing.T) {
	n := store.PurgeBatch + 10
	id := func(i int) []byte { return fmt.Appendf(nil, "s%05d", i) }
	db := damaged(t, func(tx *store.Tx) error {
		for i := range n {
			if err := tx.PutSession(store.Session{ID: string(id(i)), Tenant: "acme", ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
				return err
			}
		}
		return nil
	}, func(t *testing.T, b []byte) []byte {
		// The first session and the first of the second batch change
		// places: the second batch would start at the first key again.
		first, second := id(0), id(store.PurgeBatch)
		if !bytes.Contains(b, first) || !bytes.Contains(b, second) {
			t.Fatal("the session keys are not in the file")
		}
		hold := bytes.Repeat([]byte{0xff}, len(first))
		b = bytes.ReplaceAll(b, first, hold)
		b = bytes.ReplaceAll(b, second, first)
		return bytes.ReplaceAll(b, hold, second)
	})
	done := make(chan error, 1)
	go func() {
		_, err := db.PurgeExpired(time.Now())
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, store.ErrCorrupt) {
			t.Errorf("purge of sessions out of order: %v, want ErrCorrupt", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the purge of sessions out of order still runs after 20 s")
	}
}
