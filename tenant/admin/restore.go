package admin

import (
	"context"
	"fmt"
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

// InspectBackup checks, without changing it, that path is a whole
// Tenantdesk data file of a schema this build reads (store.Inspect), so
// that the GUI refuses a bad one before it asks anything.
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

// Restored says what a restore did.
type Restored struct {
	From     string `json:"from"`
	Schema   uint64 `json:"schema"`   // of the backup, before any migration
	Size     int64  `json:"size"`     // bytes
	Previous string `json:"previous"` // where the replaced file is kept
}

// Restore replaces the data file with the backup at path, which must be
// absolute (a client's working folder is not the owner's), while the
// listener, the control socket and every other part of this process keep
// running on the same DB (store.Replace: checked whole first, the old file
// kept as <db>.before-restore). A damaged or foreign backup is refused and
// nothing changes. Settings that take effect at start (addr, TLS files)
// are read from the restored file at the next start.
func (s *Service) Restore(ctx context.Context, path string) (Restored, error) {
	if err := ctx.Err(); err != nil {
		return Restored{}, err
	}
	if !filepath.IsAbs(path) {
		return Restored{}, fmt.Errorf("restore from %q: want an absolute path", path)
	}
	r, err := s.db.Replace(path)
	if err != nil {
		s.log.Warn("restore refused", "from", path, "err", err)
		return Restored{}, err
	}
	s.log.Info("data file restored", "db", s.db.Path(), "from", path, "previous", r.Previous)
	return Restored{From: path, Schema: r.Schema, Size: r.Size, Previous: r.Previous}, nil
}
