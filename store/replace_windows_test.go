package store_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/windows"

	"github.com/tenantdesk/tenantdesk/store"
	"github.com/tenantdesk/tenantdesk/store/storetest"
)

// holdOpen opens path as a scanner or an editor would on Windows:
// without FILE_SHARE_DELETE, so that the file cannot be replaced while
// the handle lives.
func holdOpen(t *testing.T, path string) windows.Handle {
	t.Helper()
	p, _ := windows.UTF16PtrFromString(path)
	h, err := windows.CreateFile(p, windows.GENERIC_READ, windows.FILE_SHARE_READ, nil, windows.OPEN_EXISTING, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func writeFile(t *testing.T, path, s string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// A file that another process holds open for a moment (antivirus, the
// indexer) is replaced once it lets go.
func TestWindowsReplaceFileWaitsOutAShortOpen(t *testing.T) {
	dir := storetest.TempDir(t)
	from, to := filepath.Join(dir, "new"), filepath.Join(dir, "db")
	writeFile(t, from, "new")
	writeFile(t, to, "old")
	h := holdOpen(t, to)
	time.AfterFunc(500*time.Millisecond, func() { windows.CloseHandle(h) })
	if err := store.ReplaceFile(from, to); err != nil {
		t.Fatalf("ReplaceFile: %v", err)
	}
	if got := readFile(t, to); got != "new" {
		t.Fatalf("replaced file holds %q", got)
	}
	if _, err := os.Stat(from); !os.IsNotExist(err) {
		t.Fatalf("the new file is still at its old name: %v", err)
	}
}

// A file held open for good is not replaced: a clear error, and both
// files as they were.
func TestWindowsReplaceFileGivesUpOnAFileHeldOpen(t *testing.T) {
	dir := storetest.TempDir(t)
	from, to := filepath.Join(dir, "new"), filepath.Join(dir, "db")
	writeFile(t, from, "new")
	writeFile(t, to, "old")
	h := holdOpen(t, to)
	defer windows.CloseHandle(h)
	err := store.ReplaceFile(from, to)
	if err == nil || !strings.Contains(err.Error(), "replace") {
		t.Fatalf("ReplaceFile over a file held open: %v, want an error", err)
	}
	if readFile(t, to) != "old" || readFile(t, from) != "new" {
		t.Fatal("a failed replacement changed a file")
	}
}

// Compact replaces the data file it has open and mapped: it closes it
// first, as Windows requires, and the compacted file holds every record.
func TestWindowsCompactReplacesTheMappedFile(t *testing.T) {
	path := filepath.Join(storetest.TempDir(t), "tenantdesk.db")
	db, err := store.Open(path, store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *store.Tx) error {
		for i := range 2000 {
			if _, err := tx.PutConnected(store.ConnectedObject{Tenant: "acme", GroupUID: "cld-1", LocalKind: store.KindRecord,
				LocalID: fmt.Sprint(i), Entity: "items", RemoteID: fmt.Sprint("r", i), Name: strings.Repeat("n", 200)}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	res, err := store.Compact(path, time.Time{}, store.Options{})
	if err != nil {
		t.Fatalf("Compact: %v", err)
	}
	if res.After == 0 {
		t.Fatalf("Compact: %+v", res)
	}
	db, err = store.Open(path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var rows []store.ConnectedObject
	if err := db.View(func(tx *store.Tx) error {
		rows, _, err = tx.QueryConnected(store.IdmapQuery{Limit: 5000})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2000 {
		t.Fatalf("after compact %d rows, want 2000", len(rows))
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Fatalf("compact left files behind: %v", entries)
	}
}
