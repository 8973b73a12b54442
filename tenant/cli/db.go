package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/tenantdesk/tenantdesk/store"
	"github.com/tenantdesk/tenantdesk/tenant/settings"
)

// openDB opens the data file named by --db, creating its folder, and
// resolves the settings against what the file keeps (g.addr, g.publicURL,
// g.resolved; a bad value is in g.settingsErr for the commands that use
// it). On failure it prints why and returns a nil DB and the exit code.
func openDB(g *globals, stderr io.Writer) (*store.DB, int) {
	if err := os.MkdirAll(filepath.Dir(g.db), 0o700); err != nil {
		return nil, exitf(stderr, "create data folder: %v", err)
	}
	db, err := store.Open(g.db, store.Options{})
	if errors.Is(err, store.ErrInUse) {
		return nil, exitf(stderr, "%s is open in another Tenantdesk process; close it or use --db for another file", g.db)
	}
	if err != nil {
		return nil, openFailed(stderr, g.db, err)
	}
	if err := g.resolveFrom(db); err != nil {
		_ = db.Close()
		return nil, exitf(stderr, "%v", err)
	}
	return db, 0
}

// resolveFrom resolves the settings against what db keeps; a bad value
// goes to g.settingsErr, only a read failure is returned.
func (g *globals) resolveFrom(db *store.DB) error {
	var stored map[settings.Key]string
	if err := db.View(func(tx *store.Tx) (err error) {
		stored, err = settings.Stored(tx)
		return err
	}); err != nil {
		return fmt.Errorf("read settings of %s: %w", g.db, err)
	}
	g.settingsErr = g.resolve(stored)
	return nil
}

// openFailed prints the one line for a data file that does not open. The
// store's own refusals name the file already; a damaged file says how it
// is mended.
func openFailed(stderr io.Writer, path string, err error) int {
	switch {
	case errors.Is(err, store.ErrDamaged):
		return exitf(stderr, "%v (restore a backup with `tenantdesk restore FILE`)", err)
	case errors.Is(err, store.ErrSchema):
		return exitf(stderr, "%v", err)
	}
	return exitf(stderr, "open %s: %v", path, err)
}
