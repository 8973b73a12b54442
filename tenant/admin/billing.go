package admin

import (
	"context"
	"fmt"
	"time"

	"github.com/tenantdesk/tenantdesk/store"
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
func (s *Service) BillingRunning() bool { return s.billingBusy.Load() || billing.InProgress() }

// BillingHistory lists past runs, newest first.
func (s *Service) BillingHistory(limit int) ([]store.BillingRun, error) {
	var runs []store.BillingRun
	err := s.view("billing history", func(tx *store.Tx) error {
		var err error
		runs, err = tx.BillingRuns(limit)
		return err
	})
	return runs, err
}

// Bills lists the ledger of a period ("" tenant = every tenant).
func (s *Service) Bills(period, tenantKey string) ([]store.Bill, error) {
	var bills []store.Bill
	err := s.view("billing ledger", func(tx *store.Tx) error {
		var err error
		bills, err = tx.Bills(period, tenantKey)
		return err
	})
	return bills, err
}

// BillingPreview lists what a run for period would do (nothing is sent).
func (s *Service) BillingPreview(period, tenantKey string) ([]BillLine, error) {
	p, err := billing.ParsePeriod(period)
	if err != nil {
		return nil, err
	}
	lines, err := billing.Preview(s.db, p, tenantKey)
	if err != nil {
		return nil, fmt.Errorf("billing preview %s: %w", period, err)
	}
	return lines, nil
}

// RunBilling runs billing for period, reporting progress as each bill is
// settled (from worker goroutines); cancelling ctx stops it. Only one run
// goes at a time: a second call while one runs returns ErrRunInProgress at
// once. A rerun skips submitted bills and retries failed ones.
func (s *Service) RunBilling(ctx context.Context, period, tenantKey string, progress func(BillingProgress)) (BillingSummary, error) {
	p, err := billing.ParsePeriod(period)
	if err != nil {
		return BillingSummary{}, err
	}
	if !s.billingBusy.CompareAndSwap(false, true) {
		return BillingSummary{}, ErrRunInProgress
	}
	defer s.billingBusy.Store(false)
	return billing.Run(ctx, s.db, billing.Options{
		Period: p, Tenant: tenantKey, Progress: progress, Now: s.now, Logger: s.log, HTTPClient: s.billingClient,
	})
}
