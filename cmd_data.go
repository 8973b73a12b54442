package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/tenantdesk/tenantdesk/store"
	"github.com/tenantdesk/tenantdesk/tenant"
	"github.com/tenantdesk/tenantdesk/tenant/idmap"
)

func cmdIdmap(g globals, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "list" {
		return exitf(stderr, "idmap: want list")
	}
	fs := flag.NewFlagSet("idmap list", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var q store.IdmapQuery
	fs.StringVar(&q.Tenant, "tenant", "", "only this tenant")
	fs.StringVar(&q.Entity, "entity", "", "only this remote entity (users, groups, invoices, …)")
	fs.StringVar(&q.NamePrefix, "search", "", "names starting with this (case-insensitive)")
	asJSON := fs.Bool("json", false, "JSON output")
	asCSV := fs.Bool("csv", false, "CSV output")
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	if *asJSON && *asCSV {
		return exitf(stderr, "idmap list: --json and --csv exclude each other")
	}
	if q.Tenant != "" {
		if _, err := tenant.ParseKey(q.Tenant); err != nil {
			return exitf(stderr, "idmap list: --tenant: %v", err)
		}
	}
	db, code := openDB(g, stderr)
	if db == nil {
		return code
	}
	defer db.Close()
	var err error
	switch {
	case *asJSON:
		err = idmap.WriteJSON(stdout, db, q)
	case *asCSV:
		err = idmap.WriteCSV(stdout, db, q)
	default:
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "TENANT\tGROUP\tLOCAL\tENTITY\tREMOTE ID\tNAME\tSTATE")
		n := 0
		err = idmap.Each(db, q, func(c store.ConnectedObject) error {
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

// exportDoc is `tenantdesk export`: every record, never a secret.
type exportDoc struct {
	Tenants     []tenant.PublicConfig   `json:"tenants"`
	Users       []store.User            `json:"users"`
	Groups      []store.Group           `json:"groups"`
	Memberships []store.Membership      `json:"memberships"`
	IdentityMap []store.ConnectedObject `json:"identity_map"`
	Invoices    []store.Invoice         `json:"invoices"`
	Bills       []store.Bill            `json:"bills"`
}

func cmdExport(g globals, args []string, stdout, stderr io.Writer) int {
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
	db, code := openDB(g, stderr)
	if db == nil {
		return code
	}
	defer db.Close()
	doc := exportDoc{}
	err := db.View(func(tx *store.Tx) error {
		stored, err := tx.Tenants()
		if err != nil {
			return err
		}
		for _, t := range stored {
			if *only != "" && t.Key != *only {
				continue
			}
			c, err := tenant.FromStored(t)
			if err != nil {
				return err
			}
			doc.Tenants = append(doc.Tenants, c.Public())
		}
		if doc.Users, err = tx.Users(*only); err != nil {
			return err
		}
		if doc.Groups, err = tx.Groups(*only); err != nil {
			return err
		}
		if doc.Memberships, err = tx.Memberships(*only); err != nil {
			return err
		}
		if doc.Invoices, err = tx.Invoices(*only); err != nil {
			return err
		}
		if doc.Bills, err = tx.Bills("", *only); err != nil {
			return err
		}
		return nil
	})
	if err == nil {
		err = idmap.Each(db, store.IdmapQuery{Tenant: *only}, func(c store.ConnectedObject) error {
			doc.IdentityMap = append(doc.IdentityMap, c)
			return nil
		})
	}
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

func cmdBackup(g globals, args []string, stdout, stderr io.Writer) int {
	if len(args) != 1 {
		return exitf(stderr, "backup: want one FILE")
	}
	db, code := openDB(g, stderr)
	if db == nil {
		return code
	}
	defer db.Close()
	if err := db.Backup(args[0]); err != nil {
		return exitf(stderr, "backup: %v", err)
	}
	fmt.Fprintf(stdout, "backed up %s to %s\n", g.db, args[0])
	return 0
}
