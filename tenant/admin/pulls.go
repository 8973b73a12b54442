package admin

import (
	"context"
	"errors"
	"sort"

	"github.com/tenantdesk/tenantdesk/store"
	"github.com/tenantdesk/tenantdesk/tenant/connec"
)

// PullRow is the outcome of one pull of (tenant, group, collection).
type PullRow struct {
	Tenant     string           `json:"tenant"`
	GroupUID   string           `json:"group_uid"`
	Collection string           `json:"collection"`
	Counts     store.PullCounts `json:"counts"`
	Complete   bool             `json:"complete"` // every page was read
	Error      string           `json:"error,omitempty"`
}

// SyncState is where one (tenant, group, collection) stands with Connec!
// pulls, for the GUI's sync table.
type SyncState struct {
	store.Pull
	// Stopped is set when Connec! refused the tenant's credentials: its
	// pulls wait for a pull by hand.
	Stopped string `json:"stopped,omitempty"`
}

// PullConnec pulls from Connec! now (`connec pull`, the GUI's Pull now):
// every tenant with Connec! unless req.Tenant, every active group unless
// req.Group, delta unless req.Full. progress, when set, is called after
// each page. The rows say per collection what was stored; a row with
// Complete false did not read every page.
func (s *Service) PullConnec(ctx context.Context, req connec.PullRequest, progress func(connec.PullProgress)) ([]PullRow, error) {
	res, err := s.puller.PullNow(ctx, req, progress)
	if err != nil {
		return nil, err
	}
	rows := make([]PullRow, len(res))
	for i, r := range res {
		rows[i] = PullRow{Tenant: r.Tenant, GroupUID: r.GroupUID, Collection: r.Collection, Counts: r.Counts, Complete: r.Complete}
		if r.Err != nil {
			rows[i].Error = r.Err.Error()
		}
	}
	return rows, nil
}

// SyncStates lists the pull state of every (group, collection) of a
// tenant ("" = every tenant), by tenant, group and collection.
func (s *Service) SyncStates(tenantKey string) ([]SyncState, error) {
	var out []SyncState
	err := s.view("list sync states", func(tx *store.Tx) error {
		pulls, err := tx.Pulls(tenantKey)
		if err != nil {
			return err
		}
		stops := map[string]string{}
		for _, p := range pulls {
			if _, seen := stops[p.Tenant]; seen {
				continue
			}
			stop, err := tx.PullStopped(p.Tenant)
			switch {
			case err == nil:
				stops[p.Tenant] = stop.Reason
			case errors.Is(err, store.ErrNotFound):
				stops[p.Tenant] = ""
			default:
				return err
			}
		}
		out = make([]SyncState, len(pulls))
		for i, p := range pulls {
			out[i] = SyncState{Pull: p, Stopped: stops[p.Tenant]}
		}
		return nil
	})
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Tenant != b.Tenant {
			return a.Tenant < b.Tenant
		}
		if a.GroupUID != b.GroupUID {
			return a.GroupUID < b.GroupUID
		}
		return a.Collection < b.Collection
	})
	return out, err
}
