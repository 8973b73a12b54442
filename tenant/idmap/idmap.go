// Package idmap reads the identity map for people and scripts: paging
// through the store's indexes and the one CSV/JSON shape of a row that the
// CLI and the GUI export.
package idmap

import (
	"encoding/json"
	"io"
	"strconv"
	"time"

	"github.com/tenantdesk/tenantdesk/store"
	"github.com/tenantdesk/tenantdesk/tenant/safecsv"
)

// PageSize is how many rows one store transaction reads while streaming.
const PageSize = 500

// Columns are the CSV header, in the order of Row.
var Columns = []string{
	"id", "tenant", "group", "local_kind", "local_id", "provider", "entity", "remote_id", "name",
	"created_at", "updated_at", "last_push_at", "last_pull_at", "push_disabled", "pull_disabled",
	"inactive", "last_error",
}

// Row is one identity-map row as CSV fields.
func Row(c store.ConnectedObject) []string {
	return []string{
		strconv.FormatUint(c.ID, 10), c.Tenant, c.GroupUID, c.LocalKind, c.LocalID, c.Provider, c.Entity,
		c.RemoteID, c.Name, Stamp(c.CreatedAt), Stamp(c.UpdatedAt), Stamp(c.LastPushAt), Stamp(c.LastPullAt),
		strconv.FormatBool(c.PushDisabled), strconv.FormatBool(c.PullDisabled), strconv.FormatBool(c.Inactive),
		c.LastError,
	}
}

// Stamp is how the identity map writes a time, in exports and tables
// alike: RFC 3339 in UTC; the zero time is empty.
func Stamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// Pages reads one page of rows after the cursor ("" = first page) and
// gives the cursor of the next ("" = last page): admin.API's
// QueryConnected, in process or through the owner of the data file.
type Pages func(after string, limit int) ([]store.ConnectedObject, string, error)

// StorePages pages through the rows of q in an open data file, one read
// transaction per page.
func StorePages(db *store.DB, q store.IdmapQuery) Pages {
	return func(after string, limit int) ([]store.ConnectedObject, string, error) {
		q.After, q.Limit = after, limit
		var rows []store.ConnectedObject
		var next string
		err := db.View(func(tx *store.Tx) error {
			var err error
			rows, next, err = tx.QueryConnected(q)
			return err
		})
		return rows, next, err
	}
}

// Each calls fn for every row, one page at a time, so memory does not
// grow with the map.
func Each(pages Pages, fn func(store.ConnectedObject) error) error {
	after := ""
	for {
		rows, next, err := pages(after, PageSize)
		if err != nil {
			return err
		}
		for _, r := range rows {
			if err := fn(r); err != nil {
				return err
			}
		}
		if next == "" || len(rows) == 0 {
			return nil
		}
		after = next
	}
}

// WriteCSV streams the rows as CSV with a header; a name or an error that
// a spreadsheet would run as a formula is written as text (safecsv).
func WriteCSV(w io.Writer, pages Pages) error {
	cw := safecsv.NewWriter(w)
	if err := cw.Write(Columns); err != nil {
		return err
	}
	err := Each(pages, func(c store.ConnectedObject) error { return cw.Write(Row(c)) })
	cw.Flush()
	if err != nil {
		return err
	}
	return cw.Error()
}

// WriteJSON streams the rows as one JSON array.
func WriteJSON(w io.Writer, pages Pages) error {
	if _, err := io.WriteString(w, "["); err != nil {
		return err
	}
	first := true
	err := Each(pages, func(c store.ConnectedObject) error {
		b, err := json.Marshal(c)
		if err != nil {
			return err
		}
		sep := ",\n"
		if first {
			sep, first = "\n", false
		}
		_, err = io.WriteString(w, sep+string(b))
		return err
	})
	if err != nil {
		return err
	}
	_, err = io.WriteString(w, "\n]\n")
	return err
}
