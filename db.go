package main

import (
	"errors"
	"io"
	"os"
	"path/filepath"

	"github.com/tenantdesk/tenantdesk/store"
)

// openDB opens the data file named by --db, creating its folder. On failure
// it prints why and returns a nil DB and the exit code.
func openDB(g globals, stderr io.Writer) (*store.DB, int) {
	if err := os.MkdirAll(filepath.Dir(g.db), 0o700); err != nil {
		return nil, exitf(stderr, "create data folder: %v", err)
	}
	db, err := store.Open(g.db, store.Options{})
	if errors.Is(err, store.ErrInUse) {
		return nil, exitf(stderr, "%s is open in another Tenantdesk process; close it or use --db for another file", g.db)
	}
	if err != nil {
		return nil, exitf(stderr, "open %s: %v", g.db, err)
	}
	return db, 0
}
