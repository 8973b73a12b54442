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
