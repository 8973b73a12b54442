package admin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/tenantdesk/tenantdesk/store"
	"github.com/tenantdesk/tenantdesk/tenant/idmap"
	"github.com/tenantdesk/tenantdesk/tenant/money"
)

// IdmapFilter narrows the identity map; empty fields do not filter.
type IdmapFilter struct {
	Tenant     string
	Entity     string
	NamePrefix string // case-insensitive prefix of the display name
}

// idmapCountStep is how many index keys a name-search count walks per read
// transaction, between checks for cancellation.
const idmapCountStep = 100_000

// CountConnected counts the rows a filter selects. Tenant and entity
// counts come from the store's counters without a scan; a name search
// walks the keys of the name index (never the rows), a step at a time.
func (s *Service) CountConnected(ctx context.Context, f IdmapFilter) (int, error) {
	if f.NamePrefix == "" {
		return read(s, "count identity map", func(tx *store.Tx) (int, error) { return tx.CountConnected(f.Tenant, f.Entity) })
	}
	q := f.query()
	total := 0
	for {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		var skipped int
		err := s.view("count identity map", func(tx *store.Tx) error {
			var err error
			q.After, skipped, err = tx.SkipConnected(q, idmapCountStep)
			return err
		})
		if err != nil {
			return 0, err
		}
		total += skipped
		if skipped < idmapCountStep {
			return total, nil
		}
	}
}

func (f IdmapFilter) query() store.IdmapQuery {
	return store.IdmapQuery{Tenant: f.Tenant, Entity: f.Entity, NamePrefix: f.NamePrefix}
}

// QueryConnected returns one page of rows after the cursor ("" = first
// page) and the cursor of the next page ("" = last page).
func (s *Service) QueryConnected(f IdmapFilter, after string, limit int) ([]store.ConnectedObject, string, error) {
	return s.QueryConnectedAt(f, after, 0, limit)
}

// SkipConnected passes over n rows of the filter after the cursor, on the
// index keys only, and returns the cursor after them and how many it
// passed (fewer than n at the end): a bookmark to page on from.
func (s *Service) SkipConnected(f IdmapFilter, after string, n int) (string, int, error) {
	var skipped int
	err := s.view("skip identity map", func(tx *store.Tx) error {
		q := f.query()
		q.After = after
		var err error
		after, skipped, err = tx.SkipConnected(q, n)
		return err
	})
	return after, skipped, err
}

// QueryConnectedAt is QueryConnected for the page that starts offset rows
// after the cursor: what a scrollbar jump asks for. The rows skipped are
// passed over on the index keys only (store.SkipConnected), so a jump reads
// the rows of one page, however far it goes. An offset past the end gives
// no rows.
func (s *Service) QueryConnectedAt(f IdmapFilter, after string, offset, limit int) ([]store.ConnectedObject, string, error) {
	var (
		rows []store.ConnectedObject
		next string
	)
	err := s.view("query identity map", func(tx *store.Tx) error {
		q := f.query()
		q.After, q.Limit = after, limit
		if offset > 0 {
			var skipped int
			var err error
			if q.After, skipped, err = tx.SkipConnected(q, offset); err != nil || skipped < offset {
				return err
			}
		}
		var err error
		rows, next, err = tx.QueryConnected(q)
		return err
	})
	// The rows are copies now: give back the file pages the walk mapped,
	// so the GUI's memory does not grow with how far it has scrolled.
	if rerr := s.db.ReleaseMemory(); rerr != nil {
		s.log.Warn("release data file pages", "err", rerr)
	}
	return rows, next, err
}

// Field is one labelled value of a detail pane.
type Field struct {
	Label, Value string
}

// ConnectedDetail is an identity-map row with the local record it points at.
type ConnectedDetail struct {
	Row   store.ConnectedObject
	Local []Field // the local record, summarised; empty when it is gone
	// LocalMissing says the local record no longer exists (or the kind
	// has no local record, e.g. an unmodelled Connec! collection).
	LocalMissing bool
}

// Connected looks a row up by its id, with its local record.
func (s *Service) Connected(id uint64) (ConnectedDetail, error) {
	var d ConnectedDetail
	err := s.view(fmt.Sprintf("identity map row %d", id), func(tx *store.Tx) error {
		row, err := tx.Connected(id)
		if err != nil {
			return err
		}
		d.Row = row
		d.Local, err = localRecord(tx, row)
		if errors.Is(err, store.ErrNotFound) || (err == nil && len(d.Local) == 0) {
			d.LocalMissing = true
			return nil
		}
		return err
	})
	return d, err
}

// ConnectedByRemote finds a row by the tenant's id for it.
func (s *Service) ConnectedByRemote(tenantKey, remoteID string) (store.ConnectedObject, error) {
	return read(s, "identity map lookup", func(tx *store.Tx) (store.ConnectedObject, error) { return tx.ConnectedByRemote(tenantKey, remoteID) })
}

func localRecord(tx *store.Tx, row store.ConnectedObject) ([]Field, error) {
	switch row.LocalKind {
	case store.KindUser:
		u, err := tx.User(row.Tenant, row.LocalID)
		if err != nil {
			return nil, err
		}
		return []Field{
			{"Name", u.FirstName + " " + u.LastName}, {"Email", u.Email},
			{"Virtual", yesNo(u.Virtual)}, {"Blocked", yesNo(u.Blocked)},
			{"Updated", idmap.Stamp(u.UpdatedAt)},
		}, nil
	case store.KindGroup:
		g, err := tx.Group(row.Tenant, row.LocalID)
		if err != nil {
			return nil, err
		}
		return []Field{
			{"Name", g.Name}, {"Currency", g.Currency}, {"Country", g.Country},
			{"Cancelled", yesNo(g.Cancelled)}, {"Updated", idmap.Stamp(g.UpdatedAt)},
		}, nil
	case store.KindInvoice:
		inv, err := tx.Invoice(row.LocalID)
		if err != nil {
			return nil, err
		}
		return []Field{
			{"Number", inv.Number}, {"Title", inv.Title}, {"Status", inv.Status},
			{"Total", money.Format(inv.TotalCents, inv.Currency)}, {"Updated", idmap.Stamp(inv.UpdatedAt)},
		}, nil
	case store.KindRecord:
		r, err := tx.Record(row.Tenant, row.Entity, row.RemoteID)
		if err != nil {
			return nil, err
		}
		return []Field{
			{"Entity", r.Entity}, {"Size", strconv.Itoa(len(r.Data)) + " bytes"}, {"Updated", idmap.Stamp(r.UpdatedAt)},
		}, nil
	}
	return nil, nil
}

// ExportConnectedCSV streams the rows a filter selects to w as CSV, one
// page at a time, and returns how many rows it wrote. The header and rows
// are idmap.WriteCSV's, the same as `tenantdesk idmap list --csv` (a
// public contract: its header says "group").
func (s *Service) ExportConnectedCSV(ctx context.Context, f IdmapFilter, w io.Writer) (int, error) {
	n := 0
	pages := func(after string, limit int) ([]store.ConnectedObject, string, error) {
		if err := ctx.Err(); err != nil {
			return nil, "", err
		}
		rows, next, err := s.QueryConnected(f, after, limit)
		n += len(rows)
		return rows, next, err
	}
	if err := idmap.WriteCSV(w, pages); err != nil {
		return n, fmt.Errorf("export identity map: %w", err)
	}
	return n, nil
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
