package store

import (
	"errors"
	"fmt"
	"os"

	"go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// Inspect checks, without changing it, that the file at path is a
// Tenantdesk data file this build can open: a bbolt file with a schema
// version no newer than SchemaVersion. It returns that version. Restore
// calls it before a file replaces the one in use.
func Inspect(path string) (uint64, error) {
	st, err := os.Stat(path)
	if err != nil {
		return 0, err
	}
	if !st.Mode().IsRegular() {
		return 0, fmt.Errorf("%s is not a regular file", path)
	}
	bolt, err := bbolt.Open(path, 0o400, &bbolt.Options{ReadOnly: true, Timeout: DefaultLockTimeout})
	if errors.Is(err, berrors.ErrTimeout) {
		return 0, fmt.Errorf("%s: %w", path, ErrInUse)
	}
	if err != nil {
		return 0, fmt.Errorf("%s: %w: not a Tenantdesk data file (%v)", path, ErrSchema, err)
	}
	defer bolt.Close()
	var version uint64
	err = bolt.View(func(btx *bbolt.Tx) error {
		var err error
		if version, err = schemaVersion(btx); err != nil {
			return err
		}
		if version == 0 {
			return fmt.Errorf("%w: no schema version (not a Tenantdesk data file?)", ErrSchema)
		}
		if version > SchemaVersion {
			return fmt.Errorf("%w: file has schema version %d, this build knows up to %d", ErrSchema, version, SchemaVersion)
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("%s: %w", path, err)
	}
	return version, nil
}
