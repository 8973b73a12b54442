//go:build linux

package store

import (
	"fmt"
	"syscall"
)

// releaseMapped advises the kernel that the mapped range [addr, addr+n) is
// not needed (MADV_DONTNEED). On a shared, read-only file mapping this only
// unmaps the pages from this process; a later read faults them back in
// from the page cache.
func releaseMapped(addr uintptr, n int64) error {
	if addr == 0 || n <= 0 {
		return nil
	}
	if _, _, errno := syscall.Syscall(syscall.SYS_MADVISE, addr, uintptr(n), syscall.MADV_DONTNEED); errno != 0 {
		return fmt.Errorf("release mapped data file: %w", errno)
	}
	return nil
}
