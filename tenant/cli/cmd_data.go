package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"text/tabwriter"

	"github.com/tenantdesk/tenantdesk/store"
	"github.com/tenantdesk/tenantdesk/tenant"
	"github.com/tenantdesk/tenantdesk/tenant/admin"
	"github.com/tenantdesk/tenantdesk/tenant/admin/remote"
	"github.com/tenantdesk/tenantdesk/tenant/idmap"
)

func cmdIdmap(ctx context.Context, g globals, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "list" {
		return exitf(stderr, "idmap: want list")
	}
	fs := flag.NewFlagSet("idmap list", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var f admin.IdmapFilter
	fs.StringVar(&f.Tenant, "tenant", "", "only this tenant")
	fs.StringVar(&f.Entity, "entity", "", "only this remote entity (users, groups, invoices, …)")
	fs.StringVar(&f.NamePrefix, "search", "", "names starting with this (case-insensitive)")
	asJSON := fs.Bool("json", false, "JSON output")
	asCSV := fs.Bool("csv", false, "CSV output")
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	if *asJSON && *asCSV {
		return exitf(stderr, "idmap list: --json and --csv exclude each other")
	}
	if f.Tenant != "" {
		if _, err := tenant.ParseKey(f.Tenant); err != nil {
			return exitf(stderr, "idmap list: --tenant: %v", err)
		}
	}
	api, done, code := openAdmin(ctx, g, stderr)
	if api == nil {
		return code
	}
	defer done()
	pages := func(after string, limit int) ([]store.ConnectedObject, string, error) {
		return api.QueryConnected(f, after, limit)
	}
	var err error
	switch {
	case *asJSON:
		err = idmap.WriteJSON(stdout, pages)
	case *asCSV:
		err = idmap.WriteCSV(stdout, pages)
	default:
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "TENANT\tGROUP\tLOCAL\tENTITY\tREMOTE ID\tNAME\tSTATE")
		n := 0
		err = idmap.Each(pages, func(c store.ConnectedObject) error {
			n++
			state := "active"
			if c.Inactive {
				state = "inactive"
			}
			_, err := fmt.Fprintf(tw, "%s\t%s\t%s:%s\t%s\t%s\t%s\t%s\n", c.Tenant, c.GroupUID, c.LocalKind, c.LocalID, c.Entity, c.RemoteID, c.Name, state)
			return err
		})
		tw.Flush()
		if err == nil && n == 0 {
			fmt.Fprintln(stdout, "no identity-map rows match")
		}
	}
	if err != nil {
		return exitf(stderr, "idmap list: %v", err)
	}
	return 0
}

func cmdExport(ctx context.Context, g globals, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("export", flag.ContinueOnError)
	fs.SetOutput(stderr)
	only := fs.String("tenant", "", "only this tenant")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *only != "" {
		if _, err := tenant.ParseKey(*only); err != nil {
			return exitf(stderr, "export: --tenant: %v", err)
		}
	}
	api, done, code := openAdmin(ctx, g, stderr)
	if api == nil {
		return code
	}
	defer done()
	doc, err := api.Export(*only)
	if err != nil {
		return exitf(stderr, "export: %v", err)
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return exitf(stderr, "export: %v", err)
	}
	return 0
}

// cmdCompact purges expired logins and rewrites the data file without its
// free pages: by the owner of the file when one runs (the GUI or serve
// carry on serving), else here (admin.Service.Compact either way).
func cmdCompact(ctx context.Context, g globals, args []string, stdout, stderr io.Writer) int {
	if len(args) != 0 {
		return exitf(stderr, "compact: takes no arguments (global flags go before it)")
	}
	api, done, code := openAdmin(ctx, g, stderr)
	if api == nil {
		return code
	}
	defer done()
	res, err := api.Compact(ctx)
	if err != nil {
		return exitf(stderr, "compact: %v", err)
	}
	fmt.Fprintf(stdout, "compacted %s: %d -> %d bytes (%d expired logins purged)\n", g.db, res.Before, res.After, res.Purged.Total())
	return 0
}

// cmdRekey seals every secret of the data file under a new key (SPEC
// §15): by the owner of the file when one runs, else here.
func cmdRekey(ctx context.Context, g globals, args []string, stdout, stderr io.Writer) int {
	if len(args) != 0 {
		return exitf(stderr, "rekey: takes no arguments (global flags go before it)")
	}
	api, done, code := openAdmin(ctx, g, stderr)
	if api == nil {
		return code
	}
	defer done()
	res, err := api.Rekey(ctx)
	if err != nil {
		return exitf(stderr, "rekey: %v", err)
	}
	fmt.Fprintf(stdout, "the secrets of %s are sealed under the new key %s, kept in %s; the old key stays where it was, for backups made before (remove it once they are gone)\n",
		g.where(), res.KeyID, res.Where)
	return 0
}

// cmdBackup writes a consistent copy of the data file to FILE: made by
// the owner of the file when one runs (its read transaction), else here.
// The copy is written beside FILE and renamed into place, so a failed
// backup never leaves a truncated file under the name asked for.
func cmdBackup(ctx context.Context, g globals, args []string, stdout, stderr io.Writer) int {
	if len(args) != 1 {
		return exitf(stderr, "backup: want one FILE")
	}
	path := args[0]
	if store.SameFile(g.db, path) {
		return exitf(stderr, "backup: backup to %s: that is the open database itself", path)
	}
	api, done, code := openAdmin(ctx, g, stderr)
	if api == nil {
		return code
	}
	defer done()
	if _, err := admin.BackupToFile(ctx, api, path); err != nil {
		return exitf(stderr, "backup: backup to %s: %v", path, err)
	}
	fmt.Fprintf(stdout, "backed up %s to %s\n", g.db, path)
	return 0
}

// cmdRestore replaces the data file with the backup FILE: through the
// owner of the file when one runs (it checks the backup whole, keeps the
// old file as <db>.before-restore and carries on serving), else here, where
// a current file too damaged to open is replaced as well. A damaged or
// foreign backup is refused and nothing changes.
func cmdRestore(ctx context.Context, g globals, args []string, stdout, stderr io.Writer) int {
	if len(args) != 1 {
		return exitf(stderr, "restore: want one FILE (a backup made by `tenantdesk backup`)")
	}
	from, err := filepath.Abs(args[0]) // the owner's working folder is not ours
	if err != nil {
		return exitf(stderr, "restore: %v", err)
	}
	var r admin.Restored
	c, err := dialOwner(ctx, g)
	switch {
	case err == nil:
		defer c.Close()
		r, err = c.Restore(ctx, from)
	case errors.Is(err, remote.ErrNoOwner):
		// No process has the file: restore it here, where a file too
		// damaged to open is replaced as well.
		var res store.Replaced
		res, err = store.Restore(g.db, from, g.storeOptions())
		if errors.Is(err, store.ErrInUse) {
			err = ownerSilent(g.db)
		}
		r = admin.Restored{From: from, Schema: res.Schema, Size: res.Size, Previous: res.Previous}
	}
	if err != nil {
		return exitf(stderr, "%v", err)
	}
	fmt.Fprintf(stdout, "restored %s from %s (%d bytes)\n", g.db, r.From, r.Size)
	if r.Previous != "" {
		fmt.Fprintf(stdout, "the previous file is kept as %s\n", r.Previous)
	}
	return 0
}
