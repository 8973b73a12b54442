package admin

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/tenantdesk/tenantdesk/store"
)

// A backup made while the file was in use replaces it; the replaced file
// is kept; a file that is not a Tenantdesk data file changes nothing.
func TestRestoreDataFileSwapsSafely(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "td.db")
	db, err := store.Open(path, store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	s := New(db, Options{})
	if _, err := SeedDemo(db, testNow); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := s.Backup(context.Background(), &buf); err != nil {
		t.Fatal(err)
	}
	backup := filepath.Join(dir, "backup.db")
	if err := os.WriteFile(backup, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := s.RemoveTenant("acme"); err != nil {
		t.Fatal(err)
	}
	db.Close()

	bad := filepath.Join(dir, "notes.txt")
	os.WriteFile(bad, []byte("not a database"), 0o600)
	before, _ := os.ReadFile(path)
	if err := RestoreDataFile(path, bad); !errors.Is(err, store.ErrSchema) {
		t.Fatalf("restore from a text file: %v", err)
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
		t.Fatal("a refused restore changed the data file")
	}

	if err := RestoreDataFile(path, backup); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path + ".before-restore"); err != nil {
		t.Fatalf("the replaced file was not kept: %v", err)
	}
	db, err = store.Open(path, store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := New(db, Options{}).Tenant("acme"); err != nil {
		t.Fatalf("the restored file lacks the tenant the backup had: %v", err)
	}
}
