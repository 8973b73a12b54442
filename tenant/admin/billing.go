package admin

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tenantdesk/tenantdesk/store"
	"github.com/tenantdesk/tenantdesk/tenant"
	"github.com/tenantdesk/tenantdesk/tenant/billing"
)

// Billing types as tenant/billing defines them.
type (
	BillLine        = billing.Line
	BillingProgress = billing.Progress
	BillingSummary  = billing.Summary
)

// ErrRunInProgress is returned when a billing run is asked for while one
// is going: a second click never starts a second run.
var ErrRunInProgress = billing.ErrRunInProgress

// PreviousPeriod is the calendar month before now (UTC), as YYYY-MM: the
// period a billing run usually covers.
func PreviousPeriod(now time.Time) string {
	now = now.UTC()
	return time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC).AddDate(0, -1, 0).Format("2006-01")
}

// ParsePeriod checks a YYYY-MM period.
func ParsePeriod(s string) (string, error) {
	p, err := billing.ParsePeriod(s)
	if err != nil {
		return "", err
	}
	return p.Name, nil
}

// BillingRunning reports whether a run is going.
func (s *Service) BillingRunning() bool { return billing.InProgress() }

// BillingHistory lists past runs, newest first.
func (s *Service) BillingHistory(limit int) ([]store.BillingRun, error) {
	return read(s, "billing history", func(tx *store.Tx) ([]store.BillingRun, error) { return tx.BillingRuns(limit) })
}

// Bills lists the ledger of a period ("" tenant = every tenant).
func (s *Service) Bills(period, tenantKey string) ([]store.Bill, error) {
	return read(s, "billing ledger", func(tx *store.Tx) ([]store.Bill, error) { return tx.Bills(period, tenantKey) })
}

// BillingPreview lists what a run for period would do (nothing is sent).
func (s *Service) BillingPreview(period, tenantKey string, rebill ...string) ([]BillLine, error) {
	p, err := billing.ParsePeriod(period)
	if err != nil {
		return nil, err
	}
	lines, err := billing.Preview(s.db, p, tenantKey, rebill...)
	if err != nil {
		return nil, fmt.Errorf("billing preview %s: %w", period, err)
	}
	return lines, nil
}

// RunBilling runs billing for period, reporting progress as each bill is
// settled (from worker goroutines); cancelling ctx stops it. Only one run
// goes at a time: a second call while one runs returns ErrRunInProgress at
// once. A rerun skips submitted bills and retries failed ones; it leaves
// cancelled bills alone except those of the groups named in rebill, which
// are billed again once.
func (s *Service) RunBilling(ctx context.Context, period, tenantKey string, progress func(BillingProgress), rebill ...string) (BillingSummary, error) {
	p, err := billing.ParsePeriod(period)
	if err != nil {
		return BillingSummary{}, err
	}
	// One run at a time: billing.Run's own guard (the one place it lives).
	return billing.Run(ctx, s.db, billing.Options{
		Period: p, Tenant: tenantKey, Rebill: rebill, Progress: progress, Now: s.now, Logger: s.log, HTTPClient: s.billingClient,
	})
}

// Errors of CancelBill (errors.Is): no ledger row for the group and
// period, or a row that is not a submitted bill.
var (
	ErrNoBill       = billing.ErrNoBill
	ErrNotSubmitted = billing.ErrNotSubmitted
)

// CancelBill cancels the submitted bill of a group for a period at the
// tenant's account API, and marks its ledger row cancelled: later runs of
// the period leave the group alone unless RunBilling is asked to bill it
// again. An unknown group or period, a bill that is not submitted, or a
// refusal by the API (an invoiced bill) change nothing.
func (s *Service) CancelBill(ctx context.Context, period, tenantKey, groupUID string) (store.Bill, error) {
	p, err := billing.ParsePeriod(period)
	if err != nil {
		return store.Bill{}, err
	}
	if _, err := tenant.ParseKey(tenantKey); err != nil {
		return store.Bill{}, fmt.Errorf("cancel bill: tenant: %w", err)
	}
	if groupUID == "" {
		return store.Bill{}, errors.New("cancel bill: no group uid")
	}
	b, err := billing.Cancel(ctx, s.db, billing.CancelOptions{Period: p, Tenant: tenantKey, GroupUID: groupUID,
		HTTPClient: s.billingClient, Now: s.now})
	if err != nil {
		return store.Bill{}, err
	}
	s.log.Info("bill cancelled", "tenant", tenantKey, "group", groupUID, "period", period, "bill", b.RemoteID)
	return b, nil
}
