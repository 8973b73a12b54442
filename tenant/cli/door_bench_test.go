package cli

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// BenchmarkTenantList is SPEC §11's "a CLI verb through the running
// instance": the whole `tenant list` verb (flags, door, call, output) on
// a closed file, and through the control socket of an owner of the same
// file, in the same run. Target: socket ≤ 2 × closed.
func BenchmarkTenantList(b *testing.B) {
	dir := b.TempDir()
	db := filepath.Join(dir, "td.db")
	keys := make([]string, 20)
	for i := range keys {
		keys[i] = "tenant-" + string(rune('a'+i))
	}
	file := filepath.Join(dir, "m.json")
	if err := os.WriteFile(file, []byte(marketplaces(b, keys...)), 0o600); err != nil {
		b.Fatal(err)
	}
	if code := run(context.Background(), []string{"--db", db, "tenant", "import", file}, strings.NewReader(""), io.Discard, io.Discard); code != 0 {
		b.Fatal("import failed")
	}
	list := func(b *testing.B) {
		for b.Loop() {
			if code := run(context.Background(), []string{"--db", db, "tenant", "list"}, strings.NewReader(""), io.Discard, io.Discard); code != 0 {
				b.Fatal("tenant list failed")
			}
		}
	}
	b.Run("closed-file", list)
	b.Run("through-socket", func(b *testing.B) {
		owner(b, db)
		list(b)
	})
}
