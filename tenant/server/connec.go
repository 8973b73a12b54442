package server

import (
	"bytes"
	"fmt"
	"io"
	"net/http"

	"github.com/tenantdesk/tenantdesk/store"
	"github.com/tenantdesk/tenantdesk/tenant/connec"
)

// batchBody is the largest notification stored through group commit
// (see groupCommit); bigger ones get a transaction of their own.
const batchBody = 64 << 10

// connecReceive stores a Connec! notification (SPEC §7): parsed whole,
// then written in one transaction that commits before the 200.
func (s *Server) connecReceive(w http.ResponseWriter, r *http.Request, t *tenantEntry) error {
	var buf bytes.Buffer
	if r.ContentLength > 0 {
		buf.Grow(int(r.ContentLength))
	}
	if _, err := io.Copy(&buf, r.Body); err != nil {
		return fmt.Errorf("read notification: %w", err)
	}
	n, err := connec.ParseNotification(t.cfg, buf.Bytes())
	if err != nil {
		return err
	}
	now := s.now().UTC()
	var counts connec.Counts
	write := s.db.Update
	if buf.Len() <= batchBody {
		write = s.write
	}
	err = write(func(tx *store.Tx) error {
		var err error
		if counts, err = n.Apply(tx, t.cfg, now); err != nil {
			return err
		}
		_, err = tx.AppendEvent(store.Event{
			At: now, Tenant: string(t.key), Kind: store.EventConnec, Outcome: "ok",
			Reason:  "notification",
			Message: fmt.Sprintf("Connec! notification: %d stored, %d skipped", counts.Stored, counts.Skipped),
		})
		return err
	})
	if err != nil {
		return fmt.Errorf("store notification of %s: %w", t.key, err)
	}
	writeJSON(w, http.StatusOK, counts)
	return nil
}
