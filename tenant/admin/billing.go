package admin

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tenantdesk/tenantdesk/store"
)

// ErrRunInProgress is returned when a billing run is asked for while one
// is going: a second click never starts a second run.
var ErrRunInProgress = errors.New("a billing run is already in progress")

// BillLine is one line of a preview or of a run's results.
type BillLine struct {
	Tenant      string
	GroupUID    string
	GroupName   string
	AmountCents int64
	Currency    string
	Description string
	Status      string // ledger status after the run; in a preview, the status already held ("" = new)
	RemoteID    string
	Error       string
}

// BillingProgress is reported while a run goes: Done of Total bills
// handled, with the line just finished.
type BillingProgress struct {
	Done, Total int
	Line        BillLine
}

// PreviousPeriod is the calendar month before now (UTC), as YYYY-MM: the
// period a billing run usually covers.
func PreviousPeriod(now time.Time) string {
	now = now.UTC()
	return time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC).AddDate(0, -1, 0).Format("2006-01")
}

// ParsePeriod checks a YYYY-MM period.
func ParsePeriod(s string) (string, error) {
	t, err := time.Parse("2006-01", s)
	if err != nil || t.Format("2006-01") != s {
		return "", fmt.Errorf("period %q: want YYYY-MM, e.g. 2026-10", s)
	}
	return s, nil
}

// BillingRunning reports whether a run is going.
func (s *Service) BillingRunning() bool { return s.billingBusy.Load() }

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

// BillingPreview lists what a run for period would submit (nothing is sent).
//
// TODO(admin): wire tenant/billing Preview once it is committed.
func (s *Service) BillingPreview(ctx context.Context, period, tenantKey string) ([]BillLine, error) {
	if _, err := ParsePeriod(period); err != nil {
		return nil, err
	}
	return nil, fmt.Errorf("billing preview: %w", ErrNotAvailable)
}

// RunBilling runs billing for period, reporting progress as each bill is
// handled; cancelling ctx stops it between bills. Only one run goes at a
// time: a second call while one runs returns ErrRunInProgress at once.
//
// TODO(admin): wire tenant/billing Run once it is committed.
func (s *Service) RunBilling(ctx context.Context, period, tenantKey string, progress func(BillingProgress)) (store.BillingRun, error) {
	if _, err := ParsePeriod(period); err != nil {
		return store.BillingRun{}, err
	}
	if !s.billingBusy.CompareAndSwap(false, true) {
		return store.BillingRun{}, ErrRunInProgress
	}
	defer s.billingBusy.Store(false)
	return store.BillingRun{}, fmt.Errorf("billing run: %w", ErrNotAvailable)
}
