// Package billing runs the manual monthly billing (SPEC §9): for a period it
// bills every active group of every enabled tenant once, through that
// tenant's account API, and keeps a local ledger (store.Bill) that makes the
// run exactly-once across reruns, failures, cancellations and crashes.
//
// Ledger protocol, per (tenant, group, period):
//
//	no row ──write pending (committed)──► POST account/bills ──► submitted (remote id)
//	                                                └─ error ──► failed
//
// A row is written pending before its POST leaves, so a row that is pending
// or failed with Attempts > 0 may have reached the API: before submitting it
// again, a run lists the group's bills (GET account/bills?group_id=) and
// adopts a bill with the same amount, currency, description and period.
// Submitted rows are never sent again.
package billing

import (
	"errors"
	"fmt"
	"regexp"
	"sort"
	"time"

	"github.com/tenantdesk/tenantdesk/store"
	"github.com/tenantdesk/tenantdesk/tenant"
	"github.com/tenantdesk/tenantdesk/tenant/api"
)

// Period is a calendar month in UTC: [Start, End).
type Period struct {
	Name  string // YYYY-MM
	Start time.Time
	End   time.Time // first instant of the next month
}

var periodPattern = regexp.MustCompile(`^(\d{4})-(\d{2})$`)

// ParsePeriod reads "YYYY-MM".
func ParsePeriod(s string) (Period, error) {
	m := periodPattern.FindStringSubmatch(s)
	if m == nil {
		return Period{}, fmt.Errorf("period %q: want YYYY-MM, e.g. 2026-11", s)
	}
	start, err := time.Parse("2006-01", s)
	if err != nil || start.Year() < 2000 {
		return Period{}, fmt.Errorf("period %q: want a month YYYY-MM from 2000-01 on", s)
	}
	return Period{Name: s, Start: start, End: start.AddDate(0, 1, 0)}, nil
}

func (p Period) String() string { return p.Name }

// LastSecond is the period's last second, sent as period_ended_at so the
// customer's invoice reads "1 Nov – 30 Nov".
func (p Period) LastSecond() time.Time { return p.End.Add(-time.Second) }

// Action is what a run does with a line.
type Action string

const (
	ActionSubmit  Action = "submit"            // no ledger row yet
	ActionRetry   Action = "retry"             // a failed or pending row: checked against the API, then submitted
	ActionSkip    Action = "already submitted" // a submitted row: never sent again
	ActionDirect  Action = "bill directly"     // group of a removed tenant: out of scope
	ActionNothing Action = "nothing to bill"   // price 0
	// ActionCancelled is a bill cancelled after it was submitted: runs
	// leave the group alone for the period unless asked to bill it again.
	ActionCancelled Action = "cancelled"
	// ActionRebill bills a cancelled group again (Options.Rebill).
	ActionRebill Action = "bill again"
)

// Line is one bill of a preview or a run.
type Line struct {
	Tenant      string
	GroupUID    string
	GroupName   string
	AmountCents int64
	Currency    string
	Description string
	Action      Action
	// After a run: the ledger status ("" when no row was written), the
	// remote bill id, whether it was adopted from the API rather than
	// submitted by this run, and the error of a failed line.
	Status   string
	RemoteID string
	Adopted  bool
	Attempts int
	Error    string

	problem string      // why the bill cannot be sent (bad configuration or amount)
	row     *store.Bill // the ledger row before the run
	cfg     *tenant.Config
	request api.BillRequest
}

// Due reports whether a run sends something for the line.
func (l Line) Due() bool {
	return l.Action == ActionSubmit || l.Action == ActionRetry || l.Action == ActionRebill
}

// Preview lists what a run for the period would do, for every tenant or
// only tenantKey; nothing is sent or written. rebill names cancelled groups
// to bill again, as Options.Rebill.
func Preview(db *store.DB, period Period, tenantKey string, rebill ...string) ([]Line, error) {
	var lines []Line
	err := db.View(func(tx *store.Tx) error {
		var err error
		lines, err = plan(tx, period, tenantKey, rebill)
		return err
	})
	return lines, err
}

// ErrRebill is wrapped by the error of a run or preview whose Rebill names
// a group that has no bill in the period's ledger.
var ErrRebill = errors.New("nothing to bill again")

// ErrUnknownTenant is returned for a tenant key that has neither a
// configuration nor groups.
var ErrUnknownTenant = errors.New("unknown tenant")

func plan(tx *store.Tx, period Period, tenantKey string, rebill []string) ([]Line, error) {
	again := make(map[string]bool, len(rebill))
	for _, uid := range rebill {
		again[uid] = true
	}
	stored, err := tx.Tenants()
	if err != nil {
		return nil, fmt.Errorf("billing plan: %w", err)
	}
	cfgs := make(map[string]*tenant.Config, len(stored))
	cfgErrs := map[string]error{}
	for _, t := range stored {
		if cfg, err := tenant.FromStored(t); err != nil {
			cfgErrs[t.Key] = err
		} else {
			cfgs[t.Key] = cfg
		}
	}
	groups, err := tx.Groups(tenantKey)
	if err != nil {
		return nil, fmt.Errorf("billing plan: %w", err)
	}
	_, known := cfgs[tenantKey]
	if _, broken := cfgErrs[tenantKey]; tenantKey != "" && !known && !broken && len(groups) == 0 {
		return nil, fmt.Errorf("billing plan: tenant %q: %w", tenantKey, ErrUnknownTenant)
	}
	lines := make([]Line, 0, len(groups))
	for _, g := range groups {
		if g.Cancelled || (!g.CreatedAt.IsZero() && !g.CreatedAt.Before(period.End)) {
			continue // cancelled, or did not exist during the period
		}
		line := Line{Tenant: g.Tenant, GroupUID: g.UID, GroupName: g.Name}
		cfg, ok := cfgs[g.Tenant]
		cfgErr, broken := cfgErrs[g.Tenant]
		switch {
		case broken:
			line.Action, line.problem = ActionSubmit, cfgErr.Error()
		case !ok:
			line.Action = ActionDirect
			lines = append(lines, line)
			continue
		case !cfg.Enabled:
			continue
		default:
			line.cfg = cfg
			line.AmountCents = cfg.Billing.PriceCents
			if g.PriceCents != nil {
				line.AmountCents = *g.PriceCents
			}
			line.Currency = cfg.Currency()
			line.Description = cfg.BillDescription(period.Name)
			line.Action = ActionSubmit
			if line.AmountCents == 0 {
				line.Action = ActionNothing
			}
		}
		row, err := tx.Bill(g.Tenant, g.UID, period.Name)
		switch {
		case errors.Is(err, store.ErrNotFound):
		case err != nil:
			return nil, fmt.Errorf("billing plan: %w", err)
		default:
			line.row = &row
			line.Status, line.RemoteID, line.Attempts, line.Error = row.Status, row.RemoteID, row.Attempts, row.LastError
			switch row.Status {
			case store.BillSubmitted:
				line.Action = ActionSkip
				line.AmountCents, line.Currency, line.Description = row.AmountCents, row.Currency, row.Description
			case store.BillCancelled:
				if !again[g.UID] || line.Action != ActionSubmit {
					if line.Action != ActionDirect {
						line.Action = ActionCancelled
					}
					line.AmountCents, line.Currency, line.Description = row.AmountCents, row.Currency, row.Description
					break
				}
				// A new bill: its pending row starts from the cancelled one
				// with no attempt, so it is never matched to the cancelled
				// bill at the API.
				fresh := row
				fresh.Attempts, fresh.RemoteID, fresh.LastError = 0, "", ""
				line.row = &fresh
				line.Action, line.Attempts, line.RemoteID = ActionRebill, 0, ""
			default:
				if line.Action == ActionSubmit || line.Action == ActionNothing {
					// A row that may have reached the API is checked
					// even if the price has since dropped to 0.
					line.Action = ActionRetry
				}
			}
		}
		if line.Due() && line.cfg != nil {
			line.request = api.BillRequest{GroupID: g.UID, PriceCents: line.AmountCents, Currency: line.Currency,
				Description: line.Description, PeriodStartedAt: period.Start, PeriodEndedAt: period.LastSecond()}
			if err := line.request.Validate(); err != nil {
				line.problem = "invalid bill: " + err.Error()
			}
		}
		if line.problem != "" {
			line.Error = line.problem
		}
		lines = append(lines, line)
	}
	if len(again) > 0 {
		billed := map[string]bool{}
		for _, l := range lines {
			if l.row != nil {
				billed[l.GroupUID] = true
			}
		}
		for _, uid := range rebill {
			if !billed[uid] {
				return nil, fmt.Errorf("rebill %s: no bill of this group in the %s ledger%s: %w", uid, period.Name, forTenant(tenantKey), ErrRebill)
			}
		}
	}
	sort.SliceStable(lines, func(i, j int) bool {
		if lines[i].Tenant != lines[j].Tenant {
			return lines[i].Tenant < lines[j].Tenant
		}
		return lines[i].GroupUID < lines[j].GroupUID
	})
	return lines, nil
}

func forTenant(key string) string {
	if key == "" {
		return ""
	}
	return " of tenant " + key
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
