package cli

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/tenantdesk/tenantdesk/store"
	"github.com/tenantdesk/tenantdesk/tenant/admin/remote"
	"github.com/tenantdesk/tenantdesk/tenant/settings"
)

// This file is the one place that decides where a command finds the data
// (SPEC §13) and the one place that opens the data file. Every verb, serve
// and the GUI go through it.

// dialOwner reaches the process that answers for the data: the server
// given by --server, else the process that owns the data file, through its
// control socket. remote.ErrNoOwner: no process has the file open, so this
// one may open it (openDB).
func dialOwner(ctx context.Context, g globals) (*remote.Client, error) {
	if g.server != "" {
		return dialServer(ctx, g)
	}
	if g.storeURL != "" {
		// No process owns a cluster: every verb works on it directly,
		// any number at once (SPEC §14).
		return nil, remote.ErrNoOwner
	}
	return remote.DialSocket(ctx, g.db)
}

// dialServer connects to `serve --admin-addr` at --server with --token,
// trusting --server-ca's certificate when given, else the system's roots.
func dialServer(ctx context.Context, g globals) (*remote.Client, error) {
	var tlsConfig *tls.Config
	if g.serverCA != "" {
		pem, err := os.ReadFile(g.serverCA)
		if err != nil {
			return nil, err
		}
		if tlsConfig, err = remote.CATLS(pem); err != nil {
			return nil, err
		}
	}
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	return remote.Dial(ctx, g.server, g.token, tlsConfig)
}

// reach finds the data for this process: a client of the process that
// answers for it (dialOwner), else the data file itself, opened here
// (openDB) and owned by this process until the caller closes it. Exactly
// one of client and db is set when err is nil; err is the line to print.
func reach(ctx context.Context, g *globals) (client *remote.Client, db *store.DB, err error) {
	if c, err := dialOwner(ctx, *g); !errors.Is(err, remote.ErrNoOwner) {
		return c, nil, err
	}
	db, err = openDB(g)
	if errors.Is(err, store.ErrInUse) {
		// The owner may have been starting: its socket is there now.
		if c, derr := remote.DialSocket(ctx, g.db); derr == nil {
			return c, nil, nil
		}
		return nil, nil, ownerSilent(g.db)
	}
	return nil, db, err
}

// ownerSilent is the error for a data file that another process holds
// without answering on its control socket.
func ownerSilent(path string) error {
	return inUse(fmt.Sprintf("%s is open in another Tenantdesk process that does not answer on %s; close it or use --db for another file",
		path, remote.SocketPath(path)))
}

// inUse is a line saying that another process holds the data file; it is
// store.ErrInUse to errors.Is, without repeating its words.
type inUse string

func (e inUse) Error() string { return string(e) }
func (inUse) Unwrap() error   { return store.ErrInUse }

// openDB opens the data file named by --db, creating its folder, and
// resolves the settings against what the file keeps (g.addr, g.publicURL,
// g.resolved; a bad value is in g.settingsErr for the commands that use
// it). The error is the line to print; it wraps store.ErrInUse when
// another process has the file open.
func openDB(g *globals) (*store.DB, error) {
	if g.storeURL != "" {
		db, err := store.OpenURL(g.storeURL, g.storeTLS, g.storeOptions())
		if err != nil {
			return nil, err
		}
		if err := g.resolveFrom(db); err != nil {
			_ = db.Close()
			return nil, err
		}
		return db, nil
	}
	if err := os.MkdirAll(filepath.Dir(g.db), 0o700); err != nil {
		return nil, fmt.Errorf("create data folder: %w", err)
	}
	db, err := store.Open(g.db, g.storeOptions())
	if err != nil {
		return nil, openFailed(g.db, err)
	}
	if err := g.resolveFrom(db); err != nil {
		_ = db.Close()
		return nil, err
	}
	return db, nil
}

// warnLocked says, once, that the file's secrets are sealed with a key
// this process does not have: the command goes on with what can be read.
func warnLocked(db *store.DB, stderr io.Writer) {
	if err := db.KeyErr(); err != nil {
		fmt.Fprintf(stderr, "tenantdesk: warning: %v\n", err)
	}
}

// resolveFrom resolves the settings against what db keeps; a bad value
// goes to g.settingsErr, only a read failure is returned.
func (g *globals) resolveFrom(db *store.DB) error {
	var stored map[settings.Key]string
	if err := db.View(func(tx *store.Tx) (err error) {
		stored, err = settings.Stored(tx)
		return err
	}); err != nil {
		return fmt.Errorf("read settings of %s: %w", g.where(), err)
	}
	g.settingsErr = g.resolve(stored)
	return nil
}

// openFailed says why the data file at path does not open. The store's
// own refusals name the file already; a damaged file says how it is
// mended.
func openFailed(path string, err error) error {
	switch {
	case errors.Is(err, store.ErrInUse):
		return inUse(path + " is open in another Tenantdesk process; close it or use --db for another file")
	case errors.Is(err, store.ErrDamaged):
		return fmt.Errorf("%w (restore a backup with `tenantdesk restore FILE`)", err)
	case errors.Is(err, store.ErrSchema):
		return err
	}
	return fmt.Errorf("open %s: %w", path, err)
}
