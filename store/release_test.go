package store_test

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/tenantdesk/tenantdesk/store"
)

// rssFileKB is the file-backed part of this process's resident memory.
func rssFileKB(t *testing.T) int {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Skip("no /proc/self/status")
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "RssFile:" {
			n, _ := strconv.Atoi(f[1])
			return n
		}
	}
	t.Skip("no RssFile in /proc/self/status")
	return 0
}

// After a scan of every row, ReleaseMemory gives the file's pages back and
// the data still reads the same.
func TestReleaseMemoryDropsMappedPages(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the release is Linux-only")
	}
	db := openTemp(t)
	const rows = 20000
	err := db.Update(func(tx *store.Tx) error {
		for i := range rows {
			if _, err := tx.PutConnected(store.ConnectedObject{Tenant: "acme", GroupUID: "cld-1", LocalKind: store.KindRecord,
				LocalID: fmt.Sprint(i), Entity: "items", RemoteID: fmt.Sprint("r", i), Name: strings.Repeat("n", 400)}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	scan := func() int {
		n := 0
		q := store.IdmapQuery{Limit: 1000}
		for {
			var rows []store.ConnectedObject
			if err := db.View(func(tx *store.Tx) error {
				var err error
				rows, q.After, err = tx.QueryConnected(q)
				return err
			}); err != nil {
				t.Fatal(err)
			}
			n += len(rows)
			if q.After == "" {
				return n
			}
		}
	}
	base := rssFileKB(t) // the binary's own mapped pages, and what writing left
	scan()
	before := rssFileKB(t)
	if err := db.ReleaseMemory(); err != nil {
		t.Fatal(err)
	}
	after := rssFileKB(t)
	if db.Size() < 8<<20 {
		t.Fatalf("test file too small to measure: %d bytes", db.Size())
	}
	// Measured above base: RssFile counts the test binary's own mapped
	// text too, which the embedded etcd of the package's tests makes large.
	if before-after < 4<<10 || after-base > (before-base)/2 {
		t.Errorf("RssFile %d kB -> %d kB after release (%d kB before the scan); want the scanned pages (over 4 MiB) dropped", before, after, base)
	}
	if n := scan(); n != rows {
		t.Fatalf("after release the scan reads %d rows, want %d", n, rows)
	}
}
