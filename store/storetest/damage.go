// Package storetest damages data files the way disks, copies and people do,
// for the tests that show every reader of a file refuses such a file with a
// clear error instead of crashing (SPEC §15: files are untrusted input).
package storetest

import (
	"encoding/binary"
	"os"
	"testing"
)

// CutShort truncates the file at path to half its size: a backup whose copy
// was interrupted.
func CutShort(t testing.TB, path string) {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(path, st.Size()/2); err != nil {
		t.Fatal(err)
	}
}

// FlipRootPageBit flips one bit in the page-type flags of the page holding
// the root bucket of the newest transaction: every read of the file goes
// through that page, and bbolt panics on it ("invalid page type").
func FlipRootPageBit(t testing.TB, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// The meta pages (go.etcd.io/bbolt/internal/common.Meta), after a
	// 16-byte page header: page size at 8, root page id at 16, txid at 48.
	ne := binary.NativeEndian
	pageSize := int(ne.Uint32(b[16+8:]))
	meta := func(page int) (root, txid uint64) {
		m := b[page*pageSize+16:]
		return ne.Uint64(m[16:]), ne.Uint64(m[48:])
	}
	root, tx0 := meta(0)
	if r1, tx1 := meta(1); tx1 > tx0 {
		root = r1
	}
	flags := int(root)*pageSize + 8 // the page header's flags field
	b[flags] ^= 0x04
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// FlipBit flips bit (0-7) of the byte at offset of the file at path.
func FlipBit(t testing.TB, path string, offset int64, bit uint) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var one [1]byte
	if _, err := f.ReadAt(one[:], offset); err != nil {
		t.Fatal(err)
	}
	one[0] ^= 1 << bit
	if _, err := f.WriteAt(one[:], offset); err != nil {
		t.Fatal(err)
	}
}
