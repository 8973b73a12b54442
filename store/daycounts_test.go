package store_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/tenantdesk/tenantdesk/store"
)

// Appending an event counts it for its tenant, day, kind and outcome in the
// same transaction: a rolled-back append leaves no count, and the counts of
// another tenant or day are their own.
func TestDayCountsFollowAppendedEvents(t *testing.T) {
	db := openTemp(t)
	day := time.Date(2026, 12, 3, 23, 59, 0, 0, time.UTC)
	next := day.Add(2 * time.Minute) // the next UTC day
	events := []store.Event{
		{At: day, Tenant: "acme", Kind: store.EventLogin, Outcome: "ok"},
		{At: day, Tenant: "acme", Kind: store.EventLogin, Outcome: "ok"},
		{At: day, Tenant: "acme", Kind: store.EventLogin, Outcome: "failed", Reason: "audience_mismatch"},
		{At: day, Tenant: "acme", Kind: store.EventAuth, Outcome: "failed", Count: 7}, // one per minute, standing for 7
		{At: next, Tenant: "acme", Kind: store.EventLogin, Outcome: "ok"},
		{At: day, Tenant: "acme-2", Kind: store.EventLogin, Outcome: "ok"}, // "acme" must not see it
		{At: day, Kind: store.EventDevPlatform, Outcome: "ok"},             // no tenant: not counted
	}
	update(t, db, func(tx *store.Tx) error {
		for _, e := range events {
			if _, err := tx.AppendEvent(e); err != nil {
				return err
			}
		}
		return nil
	})
	errRollback := errors.New("roll back")
	err := db.Update(func(tx *store.Tx) error {
		if _, err := tx.AppendEvent(store.Event{At: day, Tenant: "acme", Kind: store.EventLogin, Outcome: "ok"}); err != nil {
			return err
		}
		return errRollback
	})
	if !errors.Is(err, errRollback) {
		t.Fatal(err)
	}

	var got []store.DayCount
	view(t, db, func(tx *store.Tx) (err error) {
		got, err = tx.DayCounts("acme", day.AddDate(0, 0, -29), next)
		return err
	})
	want := []string{
		"2026-12-03 auth/failed/ 7", "2026-12-03 login/failed/audience_mismatch 1", "2026-12-03 login/ok/ 2",
		"2026-12-04 login/ok/ 1",
	}
	if len(got) != len(want) {
		t.Fatalf("got %d counts %v, want %v", len(got), got, want)
	}
	for i, c := range got {
		if s := fmt.Sprintf("%s %s/%s/%s %d", c.Day.Format(time.DateOnly), c.Kind, c.Outcome, c.Reason, c.N); s != want[i] || c.Tenant != "acme" {
			t.Errorf("count %d: %s (tenant %q), want %s", i, s, c.Tenant, want[i])
		}
	}
	// The range is inclusive at both ends and excludes days outside it.
	view(t, db, func(tx *store.Tx) (err error) {
		got, err = tx.DayCounts("acme", next, next)
		return err
	})
	if len(got) != 1 || got[0].N != 1 {
		t.Fatalf("one day's counts: %v", got)
	}
}

// Days older than DayCountDays are dropped when a tenant's next new day is
// counted, so the bucket does not grow for ever.
func TestDayCountsDropOldDays(t *testing.T) {
	db := openTemp(t)
	old := time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)
	later := old.AddDate(0, 0, store.DayCountDays+1)
	update(t, db, func(tx *store.Tx) error {
		for _, at := range []time.Time{old, old.AddDate(0, 0, 1), later} {
			if _, err := tx.AppendEvent(store.Event{At: at, Tenant: "acme", Kind: store.EventWebhook, Outcome: "ok"}); err != nil {
				return err
			}
		}
		_, err := tx.AppendEvent(store.Event{At: old, Tenant: "globex", Kind: store.EventWebhook, Outcome: "ok"})
		return err
	})
	var acme, globex []store.DayCount
	view(t, db, func(tx *store.Tx) (err error) {
		if acme, err = tx.DayCounts("acme", old.AddDate(-1, 0, 0), later); err != nil {
			return err
		}
		globex, err = tx.DayCounts("globex", old, old)
		return err
	})
	if len(acme) != 2 || !acme[0].Day.Equal(old.AddDate(0, 0, 1).Truncate(24*time.Hour)) || !acme[1].Day.Equal(later.Truncate(24*time.Hour)) {
		t.Fatalf("acme kept %v; want the day after the first (within %d days of the last) and the last", acme, store.DayCountDays)
	}
	if len(globex) != 1 {
		t.Fatalf("another tenant's old day was dropped: %v", globex)
	}
}
