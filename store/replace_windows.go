package store

import (
	"errors"
	"os"
	"time"

	"golang.org/x/sys/windows"
)

// replaceWait is how long a replacement waits out a sharing violation:
// antivirus scanners, the search indexer and backup agents open a file
// that has just been written for a moment, and the move fails meanwhile.
const replaceWait = 3 * time.Second

// replaceFile moves from over to with MoveFileEx: REPLACE_EXISTING for
// the swap, WRITE_THROUGH so that it is on disk when this returns (NTFS
// has no directory fsync to call instead).
func replaceFile(from, to string) error {
	f, err := windows.UTF16PtrFromString(from)
	if err != nil {
		return err
	}
	t, err := windows.UTF16PtrFromString(to)
	if err != nil {
		return err
	}
	deadline := time.Now().Add(replaceWait)
	for {
		err = windows.MoveFileEx(f, t, windows.MOVEFILE_REPLACE_EXISTING|windows.MOVEFILE_WRITE_THROUGH)
		if err == nil || !isSharingViolation(err) || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		return &os.LinkError{Op: "replace", Old: from, New: to, Err: err}
	}
	return nil
}

// isSharingViolation: another process holds the file open. A file
// opened without FILE_SHARE_DELETE shows as a sharing violation, or as
// access denied for a file mapped or pending deletion.
func isSharingViolation(err error) bool {
	return errors.Is(err, windows.ERROR_SHARING_VIOLATION) ||
		errors.Is(err, windows.ERROR_LOCK_VIOLATION) ||
		errors.Is(err, windows.ERROR_ACCESS_DENIED)
}
