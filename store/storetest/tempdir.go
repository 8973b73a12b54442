package storetest

import (
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"testing"
)

// TempDir is t.TempDir for tests that also run under Wine: Go's RemoveAll
// on Windows deletes with FileDispositionInformationEx, which Wine 8 does
// not know ("Invalid function"), so t.TempDir's cleanup fails every test
// there. On Windows the folder is removed one entry at a time instead.
func TempDir(t testing.TB) string {
	t.Helper()
	if runtime.GOOS != "windows" {
		return t.TempDir()
	}
	dir, err := os.MkdirTemp("", "tenantdesk-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		var paths []string
		_ = filepath.WalkDir(dir, func(p string, _ fs.DirEntry, err error) error {
			paths = append(paths, p)
			return nil
		})
		slices.Reverse(paths) // children before their folder
		for _, p := range paths {
			_ = os.Remove(p)
		}
	})
	return dir
}
