package admin

import (
	"fmt"
	"time"

	"github.com/tenantdesk/tenantdesk/store"
	"github.com/tenantdesk/tenantdesk/tenant"
)

// OverviewDays is how many days (today included) the Overview charts.
const OverviewDays = 30

// Overview is every tenant's health at a glance: the GUI's first screen.
type Overview struct {
	Generated time.Time // when it was read; Days end on its UTC day
	Tenants   []TenantOverview
}

// TenantOverview is one tenant's last OverviewDays, from the store's day
// counts, with its billing this month and its certificate.
type TenantOverview struct {
	Key         tenant.Key
	DisplayName string
	Enabled     bool
	CertExpiry  time.Time // zero when no certificate parses
	Warnings    []string  // certificate close to expiry, expired or unreadable
	// Days holds OverviewDays entries, oldest first, the last one today.
	Days []DayActivity
	// FailedPushes are the pushes parked now, waiting for a retry by hand.
	FailedPushes int
	// Billed is what bills submitted this calendar month (UTC) came to,
	// per currency in minor units; BillsFailed counts those failed.
	Billed      map[string]int64
	BillsSent   int
	BillsFailed int
}

// DayActivity is what one tenant's activity log counted on one UTC day.
type DayActivity struct {
	Day           time.Time
	SignIns       int // logins that worked
	SignInsFailed int // logins refused (bad or replayed assertion, …)
	Webhooks      int // group and member webhooks from the marketplace
	Notifications int // Connec! notifications received
	PushesFailed  int // Connec! pushes that failed (retried or parked)
	PullsFailed   int // Connec! pulls that failed
}

// DaysToExpiry is how many whole days are left on the tenant's IdP
// certificate at now (negative once expired); ok is false without one.
func (t TenantOverview) DaysToExpiry(now time.Time) (days int, ok bool) {
	if t.CertExpiry.IsZero() {
		return 0, false
	}
	return int(t.CertExpiry.Sub(now).Hours() / 24), true
}

// Overview reads every tenant's last OverviewDays of day counts, its
// parked pushes and this month's bills. Its cost grows with tenants and
// days, never with the size of the activity log.
func (s *Service) Overview() (Overview, error) {
	cfgs, err := s.registry().List()
	if err != nil {
		return Overview{}, fmt.Errorf("overview: %w", err)
	}
	now := s.now().UTC()
	today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	first := today.AddDate(0, 0, 1-OverviewDays)
	month := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC)
	ov := Overview{Generated: now, Tenants: make([]TenantOverview, len(cfgs))}
	for i := range cfgs {
		c := &cfgs[i]
		t := TenantOverview{Key: c.Key, DisplayName: c.DisplayName, Enabled: c.Enabled, Billed: map[string]int64{}}
		t.CertExpiry, t.Warnings = certificateWarnings(c, now)
		t.Days = make([]DayActivity, OverviewDays)
		for d := range t.Days {
			t.Days[d].Day = first.AddDate(0, 0, d)
		}
		ov.Tenants[i] = t
	}
	err = s.view("overview", func(tx *store.Tx) error {
		parked, err := tx.OutboxByStatus(store.OutboxFailed)
		if err != nil {
			return err
		}
		byKey := map[string]*TenantOverview{}
		for i := range ov.Tenants {
			byKey[string(ov.Tenants[i].Key)] = &ov.Tenants[i]
		}
		for _, it := range parked {
			if t := byKey[it.Tenant]; t != nil {
				t.FailedPushes++
			}
		}
		for i := range ov.Tenants {
			t := &ov.Tenants[i]
			counts, err := tx.DayCounts(string(t.Key), first, today)
			if err != nil {
				return err
			}
			for _, c := range counts {
				d := int(c.Day.Sub(first).Hours() / 24)
				if d < 0 || d >= len(t.Days) {
					continue
				}
				t.Days[d].add(c)
			}
			// This month's bills are of this period or the last one
			// (a run early in the month bills the month before).
			for _, period := range []string{month.AddDate(0, -1, 0).Format("2006-01"), month.Format("2006-01")} {
				bills, err := tx.Bills(period, string(t.Key))
				if err != nil {
					return err
				}
				for _, b := range bills {
					if b.UpdatedAt.Before(month) {
						continue
					}
					switch b.Status {
					case store.BillSubmitted:
						t.Billed[b.Currency] += b.AmountCents
						t.BillsSent++
					case store.BillFailed:
						t.BillsFailed++
					}
				}
			}
		}
		return nil
	})
	if err != nil {
		return Overview{}, err
	}
	return ov, nil
}

// add counts c into the day's figures.
func (d *DayActivity) add(c store.DayCount) {
	switch {
	case c.Kind == store.EventLogin && c.Outcome == "ok":
		d.SignIns += c.N
	case c.Kind == store.EventLogin && c.Outcome == "failed":
		d.SignInsFailed += c.N
	case c.Kind == store.EventWebhook:
		d.Webhooks += c.N
	case c.Kind == store.EventConnec && c.Reason == "notification":
		d.Notifications += c.N
	case c.Kind == store.EventConnec && c.Reason == "pull" && c.Outcome == "failed":
		d.PullsFailed += c.N
	case c.Kind == store.EventOutbox && c.Outcome == "failed":
		d.PushesFailed += c.N
	}
}
