package store

// ReplaceFile puts the file at from in place of the file at to (which
// may not exist), durably: a crash leaves one or the other, never a mix.
// Compact, restore and backup all swap files through it, so that each
// follows the platform's rules in one place. On Unix a rename replaces
// even an open file; on Windows no process may hold to open, so the
// callers close the data file first, and a scanner or indexer that opened
// it for a moment is waited out (replace_windows.go).
func ReplaceFile(from, to string) error { return replaceFile(from, to) }
