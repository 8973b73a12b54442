package admin

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/tenantdesk/tenantdesk/store"
	"github.com/tenantdesk/tenantdesk/tenant"
)

// TenantListing is one tenant as `tenant list` shows it: the public
// configuration (secrets masked) and its one-line summary.
type TenantListing struct {
	Public tenant.PublicConfig `json:"public"`
	Line   string              `json:"line"`
}

// ListTenants lists every tenant, sorted by key, as `tenant list` prints it.
func (s *Service) ListTenants() ([]TenantListing, error) {
	cfgs, err := s.registry().List()
	if err != nil {
		return nil, err
	}
	now, pub := s.now(), s.PublicURL()
	out := make([]TenantListing, len(cfgs))
	for i := range cfgs {
		out[i] = TenantListing{Public: cfgs[i].Public(), Line: cfgs[i].ListLine(now, pub)}
	}
	return out, nil
}

// ExportDoc is `tenantdesk export`: every record, never a secret.
type ExportDoc struct {
	Tenants     []tenant.PublicConfig   `json:"tenants"`
	Users       []store.User            `json:"users"`
	Groups      []store.Group           `json:"groups"`
	Memberships []store.Membership      `json:"memberships"`
	IdentityMap []store.ConnectedObject `json:"identity_map"`
	Invoices    []store.Invoice         `json:"invoices"`
	Bills       []store.Bill            `json:"bills"`
}

// exportPage is how many identity-map rows one read of Export takes.
const exportPage = 500

// Export gathers every record of one tenant ("" = all) for `export`.
func (s *Service) Export(only string) (ExportDoc, error) {
	var doc ExportDoc
	err := s.view("export", func(tx *store.Tx) error {
		stored, err := tx.Tenants()
		if err != nil {
			return err
		}
		for _, t := range stored {
			if only != "" && t.Key != only {
				continue
			}
			c, err := tenant.FromStored(t)
			if err != nil {
				return err
			}
			doc.Tenants = append(doc.Tenants, c.Public())
		}
		if doc.Users, err = tx.Users(only); err != nil {
			return err
		}
		if doc.Groups, err = tx.Groups(only); err != nil {
			return err
		}
		if doc.Memberships, err = tx.Memberships(only); err != nil {
			return err
		}
		if doc.Invoices, err = tx.Invoices(only); err != nil {
			return err
		}
		doc.Bills, err = tx.Bills("", only)
		return err
	})
	if err != nil {
		return ExportDoc{}, err
	}
	after := ""
	for {
		rows, next, err := s.QueryConnected(IdmapFilter{Tenant: only}, after, exportPage)
		if err != nil {
			return ExportDoc{}, fmt.Errorf("export: %w", err)
		}
		doc.IdentityMap = append(doc.IdentityMap, rows...)
		if next == "" || len(rows) == 0 {
			return doc, nil
		}
		after = next
	}
}

// Backup writes a consistent copy of the data file to w (one read
// transaction) and returns its size. The GUI and `backup FILE` call it,
// also from another process through the owner of the file.
func (s *Service) Backup(ctx context.Context, w io.Writer) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	n, err := s.db.WriteTo(w)
	if err != nil {
		return n, fmt.Errorf("backup: %w", err)
	}
	return n, nil
}

// Compact purges expired logins and rewrites the data file without its
// free pages (store.DB.CompactInPlace), while the listener, the control
// socket and every other part of this process keep running on the same
// DB: `tenantdesk compact` calls it, also from another process through
// the owner of the file, so the GUI or serve need not stop for it.
func (s *Service) Compact(ctx context.Context) (store.Compacted, error) {
	if err := ctx.Err(); err != nil {
		return store.Compacted{}, err
	}
	res, err := s.db.CompactInPlace(s.now())
	if err != nil {
		s.log.Warn("compact", "err", err)
		return res, err
	}
	s.log.Info("data file compacted", "db", s.db.Path(), "before", res.Before, "after", res.After, "purged", res.Purged.Total())
	return res, nil
}

// Rekeyed says what a rekey did: the new master key's id and where it is
// kept, never the key itself.
type Rekeyed struct {
	KeyID string `json:"key_id"`
	Where string `json:"where"`
}

// Rekey seals every secret of the data file under a new data key wrapped
// by a new master key (store.DB.Rekey), while the listener keeps serving:
// `tenantdesk rekey` calls it, through the owner of the file when one runs.
func (s *Service) Rekey(ctx context.Context) (Rekeyed, error) {
	if err := ctx.Err(); err != nil {
		return Rekeyed{}, err
	}
	mk, err := s.db.Rekey()
	if err != nil {
		s.log.Warn("rekey", "err", err)
		return Rekeyed{}, err
	}
	s.log.Info("secrets sealed under a new key", "db", s.db.Path(), "key", mk.ID, "where", mk.Where)
	return Rekeyed{KeyID: mk.ID, Where: mk.Where}, nil
}

// BackupToFile writes api's consistent copy of the data file to path: into
// a hidden file beside it, synced, then renamed into place, so a crash or a
// failed copy never leaves a half-written backup under the chosen name.
// `backup FILE` and the GUI's File → Backup… both call it.
func BackupToFile(ctx context.Context, api API, path string) (int64, error) {
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".partial")
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return 0, err
	}
	n, err := api.Backup(ctx, f)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = store.ReplaceFile(tmp, path)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return 0, err
	}
	return n, nil
}

// SeedDemo fills the data file with demonstration tenants and records.
func (s *Service) SeedDemo() (DemoSummary, error) { return SeedDemo(s.db, s.now()) }
