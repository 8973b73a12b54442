//go:build !unix

package guard

// openFileLimit: Windows has no per-process descriptor limit of this kind;
// its handle table holds about 16 million, and this is a cap worth having.
func openFileLimit() int { return 8192 }
