package server

// Account webhooks (SPEC §6, maestrano-protocol §3). Each one is a single
// group-committed transaction (groupCommit), committed before the 2xx is
// written; the rules themselves are tenant/account's. Both are idempotent:
// an unknown group, user or membership, or a repeat, answers 200
// {"success":true}.

import (
	"fmt"
	"net/http"

	"github.com/tenantdesk/tenantdesk/store"
	"github.com/tenantdesk/tenantdesk/tenant"
	"github.com/tenantdesk/tenantdesk/tenant/account"
	"github.com/tenantdesk/tenantdesk/tenant/connec"
)

type successBody struct {
	Success bool `json:"success"`
}

// pathUID reads a group or user uid from the path.
func pathUID(r *http.Request, name string) (string, error) {
	v := r.PathValue(name)
	if !connec.ValidGroupUID(v) {
		return "", badRequest(fmt.Sprintf("invalid %s in path", name), nil)
	}
	return v, nil
}

func (s *Server) groupDeleted(w http.ResponseWriter, r *http.Request, t *tenantEntry) error {
	groupUID, err := pathUID(r, "id")
	if err != nil {
		return err
	}
	now := s.now().UTC()
	err = s.write(func(tx *store.Tx) error {
		msg, err := account.CancelGroup(tx, string(t.key), groupUID, now)
		if err != nil {
			return err
		}
		_, err = tx.AppendEvent(store.Event{
			At: now, Tenant: string(t.key), Kind: store.EventWebhook, Outcome: "ok",
			Reason: "group-cancelled", Message: msg,
		})
		return err
	})
	if err != nil {
		return fmt.Errorf("cancel group %s of %s: %w", groupUID, t.key, err)
	}
	writeJSON(w, http.StatusOK, successBody{Success: true})
	return nil
}

func (s *Server) memberRemoved(w http.ResponseWriter, r *http.Request, t *tenantEntry) error {
	groupUID, err := pathUID(r, "group_id")
	if err != nil {
		return err
	}
	userUID, err := pathUID(r, "id")
	if err != nil {
		return err
	}
	now := s.now().UTC()
	err = s.write(func(tx *store.Tx) error {
		msg, err := account.RemoveMember(tx, string(t.key), t.cfg.CreationMode() == tenant.ModeVirtual, groupUID, userUID, now)
		if err != nil {
			return err
		}
		_, err = tx.AppendEvent(store.Event{
			At: now, Tenant: string(t.key), Kind: store.EventWebhook, Outcome: "ok",
			Reason: "member-removed", Message: msg,
		})
		return err
	})
	if err != nil {
		return fmt.Errorf("remove %s from group %s of %s: %w", userUID, groupUID, t.key, err)
	}
	writeJSON(w, http.StatusOK, successBody{Success: true})
	return nil
}
