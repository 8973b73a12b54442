//go:build !linux

package store

// releaseMapped is a no-op where the kernel hint is not wired up.
func releaseMapped(addr uintptr, n int64) error { return nil }
