package admin

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/tenantdesk/tenantdesk/store"
)

// BackupInfo describes a file offered for restore.
type BackupInfo struct {
	Path     string
	Schema   uint64
	Size     int64
	Modified time.Time
}

// InspectBackup checks, without changing it, that path is a Tenantdesk
// data file of a schema this build reads.
func InspectBackup(path string) (BackupInfo, error) {
	v, err := store.Inspect(path)
	if err != nil {
		return BackupInfo{}, err
	}
	st, err := os.Stat(path)
	if err != nil {
		return BackupInfo{}, err
	}
	return BackupInfo{Path: path, Schema: v, Size: st.Size(), Modified: st.ModTime()}, nil
}

// RestoreDataFile puts the backup at from in place of the data file at db,
// which no process may have open: the backup is checked again, copied
// beside db and synced; db is renamed to db.before-restore (the last one
// kept), and the copy renamed to db. A failure before the last rename
// leaves db as it was.
func RestoreDataFile(db, from string) error {
	if _, err := InspectBackup(from); err != nil {
		return fmt.Errorf("restore from %s: %w", from, err)
	}
	tmp := filepath.Join(filepath.Dir(db), "."+filepath.Base(db)+".restoring")
	if err := copyFile(from, tmp); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("restore from %s: %w", from, err)
	}
	if _, err := os.Stat(db); err == nil {
		if err := os.Rename(db, db+".before-restore"); err != nil {
			_ = os.Remove(tmp)
			return fmt.Errorf("restore: keep the current file: %w", err)
		}
	}
	if err := os.Rename(tmp, db); err != nil {
		return fmt.Errorf("restore: %w (the previous file is %s)", err, db+".before-restore")
	}
	return nil
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	_, err = io.Copy(out, in)
	if err == nil {
		err = out.Sync()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	return err
}
