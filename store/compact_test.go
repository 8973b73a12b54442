package store_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tenantdesk/tenantdesk/store"
)

// A file grown by a flood of requests shrinks back when compacted; the
// records survive, nothing is left beside it, and a file that another
// holder has open is refused with ErrInUse and left as it was.
func TestCompact(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tenantdesk.db")
	db, err := store.Open(path, store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	update(t, db, func(tx *store.Tx) error {
		if err := tx.PutGroup(store.Group{Tenant: "acme", UID: "cld-1", Name: "Acme"}); err != nil {
			return err
		}
		for i := range 5000 {
			r := store.AuthnRequest{Tenant: "acme", ID: fmt.Sprintf("_%05d", i), GroupID: strings.Repeat("g", 256), ExpiresAt: t0}
			if err := tx.PutAuthnRequest(r); err != nil {
				return err
			}
		}
		return nil
	})
	if p, err := db.PurgeExpired(t0); err != nil || p.AuthnRequests != 5000 {
		t.Fatalf("purge: %+v %v", p, err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}

	// In use: refused, file untouched.
	holder, err := store.Open(path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = store.Compact(path, time.Time{}, store.Options{LockTimeout: 50 * time.Millisecond})
	if !errors.Is(err, store.ErrInUse) {
		t.Errorf("compact of a file in use: %v, want ErrInUse", err)
	}
	holder.Close()
	if after, _ := os.Stat(path); after.Size() != info.Size() {
		t.Errorf("refused compact changed the file: %d -> %d bytes", info.Size(), after.Size())
	}

	res, err := store.Compact(path, t0, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Before != info.Size() || res.After >= res.Before/4 {
		t.Errorf("compact: %d -> %d bytes, want well under a quarter", res.Before, res.After)
	}
	t.Logf("compact: %d -> %d bytes", res.Before, res.After)
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("files beside the data file after compact: %v", entries)
	}
	db, err = store.Open(path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Healthy(); err != nil {
		t.Error(err)
	}
	view(t, db, func(tx *store.Tx) error {
		if g, err := tx.Group("acme", "cld-1"); err != nil || g.Name != "Acme" {
			t.Errorf("group after compact: %+v %v", g, err)
		}
		return nil
	})
}

// The process that owns the file compacts it without closing it: the
// file shrinks, the records are there, the DB goes on writing, and its
// Generation moves, so that a cache keyed on it (the listener's tenants)
// reads the compacted file anew although its transaction ids start over.
func TestCompactInPlaceKeepsTheDBInUse(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tenantdesk.db")
	db, err := store.Open(path, store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	update(t, db, func(tx *store.Tx) error {
		if err := tx.PutTenant(store.Tenant{Key: "acme", CreatedAt: t0}); err != nil {
			return err
		}
		for i := range 5000 {
			r := store.AuthnRequest{Tenant: "acme", ID: fmt.Sprintf("_%05d", i), GroupID: strings.Repeat("g", 256), ExpiresAt: t0}
			if err := tx.PutAuthnRequest(r); err != nil {
				return err
			}
		}
		return nil
	})
	gen := db.Generation()
	res, err := db.CompactInPlace(t0.Add(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if res.Purged.AuthnRequests != 5000 || res.After >= res.Before/4 {
		t.Errorf("compact in place: %+v, want 5000 purged and well under a quarter of the size", res)
	}
	if db.Generation() == gen {
		t.Error("Generation did not move when the compacted file was swapped in")
	}
	if got := tenantKeys(t, db); len(got) != 1 || got[0] != "acme" {
		t.Errorf("tenants after compact: %v", got)
	}
	update(t, db, func(tx *store.Tx) error { return tx.PutTenant(store.Tenant{Key: "later", CreatedAt: t0}) })
	if got := tenantKeys(t, db); len(got) != 2 {
		t.Errorf("tenants after a write that followed the compact: %v", got)
	}
	if entries, _ := os.ReadDir(filepath.Dir(path)); len(entries) != 1 {
		t.Errorf("files beside the data file after compact: %v", entries)
	}
}

// A backup taken now carries the file's last transaction id; restored at
// once, the DB's Generation must still move.
func TestGenerationMovesWhenABackupOfTheSameMomentIsRestored(t *testing.T) {
	dir := t.TempDir()
	db, err := store.Open(filepath.Join(dir, "td.db"), store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	update(t, db, func(tx *store.Tx) error { return tx.PutTenant(store.Tenant{Key: "acme", CreatedAt: t0}) })
	backup := filepath.Join(dir, "backup.db")
	if err := db.Backup(backup); err != nil {
		t.Fatal(err)
	}
	gen := db.Generation()
	if _, err := db.Replace(backup); err != nil {
		t.Fatal(err)
	}
	if db.Generation() == gen {
		t.Errorf("Generation %d unchanged across a restore", gen)
	}
}
