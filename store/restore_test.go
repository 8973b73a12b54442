package store_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/tenantdesk/tenantdesk/store"
	"github.com/tenantdesk/tenantdesk/store/storetest"
)

func tenantKeys(t *testing.T, db *store.DB) []string {
	t.Helper()
	var keys []string
	view(t, db, func(tx *store.Tx) error {
		list, err := tx.Tenants()
		for _, x := range list {
			keys = append(keys, x.Key)
		}
		return err
	})
	return keys
}

// A backup replaces the open file while readers and writers keep going:
// none of them fails, the ones after the swap see the backup's data, and
// the old file is kept beside it.
func TestReplaceUnderTraffic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "td.db")
	db, err := store.Open(path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	update(t, db, func(tx *store.Tx) error { return tx.PutTenant(store.Tenant{Key: "acme", CreatedAt: t0}) })
	backup := filepath.Join(dir, "backup.db")
	if err := db.Backup(backup); err != nil {
		t.Fatal(err)
	}
	update(t, db, func(tx *store.Tx) error { return tx.PutTenant(store.Tenant{Key: "later", CreatedAt: t0}) })

	var stop atomic.Bool
	var failures atomic.Int64
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			for n := 0; !stop.Load(); n++ {
				var err error
				if i%2 == 0 {
					err = db.View(func(tx *store.Tx) error { _, err := tx.Tenants(); return err })
				} else {
					err = db.Batch(func(tx *store.Tx) error {
						return tx.PutUser(store.User{Tenant: "acme", UID: fmt.Sprint("usr-", i, "-", n)})
					})
				}
				if err != nil {
					failures.Add(1)
					t.Log(err)
				}
			}
		})
	}
	res, err := db.Replace(backup)
	stop.Store(true)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if failures.Load() != 0 {
		t.Fatalf("%d transactions failed during the swap", failures.Load())
	}
	if keys := tenantKeys(t, db); len(keys) != 1 || keys[0] != "acme" {
		t.Fatalf("after the restore: tenants %v, want the backup's [acme]", keys)
	}
	if res.Previous != store.BeforeRestore(path) || res.Schema != store.SchemaVersion {
		t.Fatalf("result %+v", res)
	}
	old, err := store.Open(res.Previous, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	if keys := tenantKeys(t, old); len(keys) != 2 {
		t.Fatalf("the kept file holds %v, want acme and later", keys)
	}
}

// A damaged, foreign or empty backup is refused before anything changes:
// the file in use is the same bytes, still open and writable, and no
// before-restore file appears.
func TestReplaceRefusesBadBackupsAndChangesNothing(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "td.db")
	db, err := store.Open(path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	update(t, db, func(tx *store.Tx) error { return tx.PutTenant(store.Tenant{Key: "acme", CreatedAt: t0}) })
	cut := backupWithData(t)
	storetest.CutShort(t, cut)
	flipped := backupWithData(t)
	storetest.FlipRootPageBit(t, flipped)
	text := filepath.Join(dir, "notes.txt")
	os.WriteFile(text, []byte("hello"), 0o600)
	empty := filepath.Join(dir, "empty.db")
	os.WriteFile(empty, nil, 0o600)
	before := digest(t, path)
	for _, bad := range []string{cut, flipped, text, empty, filepath.Join(dir, "missing.db"), path} {
		if _, err := db.Replace(bad); err == nil {
			t.Fatalf("%s: restored", bad)
		} else if bad == cut && !errors.Is(err, store.ErrDamaged) {
			t.Errorf("cut short: %v, want ErrDamaged", err)
		}
		if digest(t, path) != before {
			t.Fatalf("%s: the data file changed", bad)
		}
	}
	if _, err := os.Stat(store.BeforeRestore(path)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a refused restore left %s", store.BeforeRestore(path))
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 3 { // td.db, notes.txt, empty.db
		t.Errorf("files left behind: %v", entries)
	}
	update(t, db, func(tx *store.Tx) error { return tx.PutTenant(store.Tenant{Key: "still-open", CreatedAt: t0}) })
}

// With no process on it, a data file too damaged to open is mended by a
// restore; a missing one is made from the backup.
func TestRestoreOfAClosedDamagedOrMissingFile(t *testing.T) {
	backup := backupWithData(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "td.db")
	copyBytes(t, backup, path)
	storetest.CutShort(t, path)
	if _, err := store.Open(path, store.Options{}); !errors.Is(err, store.ErrDamaged) {
		t.Fatalf("the damaged file: %v", err)
	}
	res, err := store.Restore(path, backup, store.Options{})
	if err != nil || res.Previous == "" {
		t.Fatalf("restore over a damaged file: %+v %v", res, err)
	}
	db, err := store.Open(path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if keys := tenantKeys(t, db); len(keys) != 3 {
		t.Fatalf("restored tenants %v", keys)
	}
	db.Close()

	missing := filepath.Join(dir, "new.db")
	if res, err := store.Restore(missing, backup, store.Options{}); err != nil || res.Previous != "" {
		t.Fatalf("restore to a missing file: %+v %v", res, err)
	}
}

func copyBytes(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o600); err != nil {
		t.Fatal(err)
	}
}
