package admin

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/tenantdesk/tenantdesk/store"
)

// A backup replaces the file under a running listener: the service reads
// the backup's tenants at once, the listener is still running and
// answering; a file that is not a Tenantdesk data file changes nothing.
func TestRestoreUnderTheRunningListener(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "td.db")
	db, err := store.Open(path, store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	s := New(db, Options{PublicURL: "http://127.0.0.1", Addr: "127.0.0.1:0"})
	if _, err := SeedDemo(db, testNow); err != nil {
		t.Fatal(err)
	}
	backup := filepath.Join(dir, "backup.db")
	if _, err := BackupToFile(context.Background(), s, backup); err != nil {
		t.Fatal(err)
	}
	if err := s.RemoveTenant("acme"); err != nil {
		t.Fatal(err)
	}
	if err := s.StartListener(); err != nil {
		t.Fatal(err)
	}
	defer s.StopListener(context.Background())
	healthz := func() int {
		resp, err := http.Get("http://" + s.ListenerStatus().Addr + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}

	bad := filepath.Join(dir, "notes.txt")
	os.WriteFile(bad, []byte("not a database"), 0o600)
	before, _ := os.ReadFile(path)
	if _, err := s.Restore(context.Background(), bad); !errors.Is(err, store.ErrSchema) {
		t.Fatalf("restore from a text file: %v", err)
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
		t.Fatal("a refused restore changed the data file")
	}
	if _, err := s.Restore(context.Background(), "backup.db"); err == nil {
		t.Fatal("a relative path was restored")
	}

	r, err := s.Restore(context.Background(), backup)
	if err != nil {
		t.Fatal(err)
	}
	if r.Previous != path+".before-restore" {
		t.Fatalf("previous file %q", r.Previous)
	}
	if _, err := s.Tenant("acme"); err != nil {
		t.Fatalf("after the restore the service lacks the backup's tenant: %v", err)
	}
	if st := s.ListenerStatus().State; st != ListenerRunning || healthz() != http.StatusOK {
		t.Fatalf("listener after the restore: %v", st)
	}
}
