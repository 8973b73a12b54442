package server

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/tenantdesk/tenantdesk/store"
	"github.com/tenantdesk/tenantdesk/tenant/connec"
)

// batchBody is the largest notification stored through group commit
// (see groupCommit); bigger ones get a transaction of their own.
const batchBody = 64 << 10

// connecReceive stores a Connec! notification (SPEC §7) in one transaction
// that commits before the 200. A small body is parsed first and joins the
// group commit; a big one gets a transaction of its own, written while it is
// parsed (connec.IngestConcurrently).
func (s *Server) connecReceive(w http.ResponseWriter, r *http.Request, t *tenantEntry) error {
	var buf bytes.Buffer
	if r.ContentLength > 0 {
		buf.Grow(int(r.ContentLength))
	}
	if _, err := io.Copy(&buf, r.Body); err != nil {
		return fmt.Errorf("read notification: %w", err)
	}
	body := buf.Bytes()
	now := s.now().UTC()
	var (
		counts connec.Counts
		err    error
	)
	event := func(tx *store.Tx) error {
		_, err := tx.AppendEvent(store.Event{
			At: now, Tenant: string(t.key), Kind: store.EventConnec, Outcome: "ok",
			Reason:  "notification",
			Message: fmt.Sprintf("Connec! notification: %d stored, %d skipped", counts.Stored, counts.Skipped),
		})
		return err
	}
	if len(body) <= batchBody {
		n, perr := connec.ParseNotification(t.cfg, body)
		if perr != nil {
			return perr
		}
		err = s.write(func(tx *store.Tx) error {
			var err error
			if counts, err = n.Apply(tx, t.cfg, now); err != nil {
				return err
			}
			return event(tx)
		})
	} else {
		err = s.db.Update(func(tx *store.Tx) error {
			var err error
			if counts, err = connec.IngestConcurrently(tx, t.cfg, body, now); err != nil {
				return err
			}
			return event(tx)
		})
	}
	switch {
	case errors.Is(err, connec.ErrMalformed):
		return err
	case err != nil:
		return fmt.Errorf("store notification of %s: %w", t.key, err)
	}
	writeJSON(w, http.StatusOK, counts)
	return nil
}
