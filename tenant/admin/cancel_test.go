package admin

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/tenantdesk/tenantdesk/store"
	"github.com/tenantdesk/tenantdesk/tenant/api"
	"github.com/tenantdesk/tenantdesk/tenant/api/apitest"
	"github.com/tenantdesk/tenantdesk/tenant/billing"
)

func submittedAt(f *apitest.AccountAPI, group string) (submitted, cancelled int) {
	for _, b := range f.Bills()[group] {
		switch b.Status {
		case api.BillSubmitted:
			submitted++
		case api.BillCancelled:
			cancelled++
		}
	}
	return
}

// A cancelled bill stays cancelled through reruns; --rebill bills the group
// again exactly once.
func TestCancelBillThenRerunSkipsAndRebillBillsOnce(t *testing.T) {
	f := apitest.NewAccountAPI(t, nil)
	s := billingFixture(t, f, 3)
	ctx := context.Background()
	period := PreviousPeriod(testNow)
	if _, err := s.RunBilling(ctx, period, "", nil); err != nil {
		t.Fatal(err)
	}
	before, _ := s.Bills(period, "acme")
	remote := before[1].RemoteID

	b, err := s.CancelBill(ctx, period, "acme", "cld-001")
	if err != nil {
		t.Fatalf("cancel: %v", err)
	}
	if b.Status != store.BillCancelled || b.RemoteID != remote || b.CancelledID != remote || b.CancelledAt.IsZero() {
		t.Fatalf("ledger row after cancel: %+v", b)
	}
	if sub, can := submittedAt(f, "cld-001"); sub != 0 || can != 1 || f.Deletes() != 1 {
		t.Fatalf("API: %d submitted, %d cancelled, %d deletes; want 0, 1, 1", sub, can, f.Deletes())
	}

	// Reruns leave the group alone.
	for range 2 {
		sum, err := s.RunBilling(ctx, period, "", nil)
		if err != nil || sum.Due != 0 || sum.CancelledBills != 1 || sum.Skipped != 2 {
			t.Fatalf("rerun: due %d cancelled %d skipped %d, %v; want 0, 1, 2", sum.Due, sum.CancelledBills, sum.Skipped, err)
		}
	}
	if posts, _, _ := f.Counts(); posts != 3 {
		t.Fatalf("%d POSTs after reruns, want the first run's 3", posts)
	}
	lines, _ := s.BillingPreview(period, "")
	for _, l := range lines {
		if l.GroupUID == "cld-001" && (l.Action != billing.ActionCancelled || l.RemoteID != remote) {
			t.Errorf("preview line of the cancelled group: %s %s", l.Action, l.RemoteID)
		}
	}

	// --rebill bills it again, once, however often it is repeated.
	for i := range 3 {
		sum, err := s.RunBilling(ctx, period, "", nil, "cld-001")
		if err != nil {
			t.Fatalf("rebill %d: %v", i, err)
		}
		if want := map[bool]int{true: 1, false: 0}[i == 0]; sum.Submitted != want {
			t.Fatalf("rebill %d submitted %d, want %d", i, sum.Submitted, want)
		}
	}
	if sub, can := submittedAt(f, "cld-001"); sub != 1 || can != 1 {
		t.Fatalf("API after rebill: %d submitted, %d cancelled; want 1 and 1", sub, can)
	}
	rows, _ := s.Bills(period, "acme")
	row := rows[1]
	if row.Status != store.BillSubmitted || row.RemoteID == remote || row.CancelledID != remote {
		t.Fatalf("ledger after rebill: %+v", row)
	}
	if posts, _, _ := f.Counts(); posts != 4 {
		t.Fatalf("%d POSTs in all, want 4", posts)
	}
}

// Unknown group or period, a bill that is not submitted, or an API that
// refuses: a clear error and nothing changed.
func TestCancelBillRefusalsChangeNothing(t *testing.T) {
	f := apitest.NewAccountAPI(t, nil)
	s := billingFixture(t, f, 2)
	ctx := context.Background()
	period := PreviousPeriod(testNow)
	if _, err := s.RunBilling(ctx, period, "", nil); err != nil {
		t.Fatal(err)
	}
	rows, _ := s.Bills(period, "acme")
	if !f.SetBillStatus(rows[1].RemoteID, api.BillInvoiced) {
		t.Fatal("no such bill at the fake")
	}
	// A failed row: the API refuses the next POST of group cld-002.
	if err := s.db.Update(func(tx *store.Tx) error {
		return tx.PutBill(store.Bill{Tenant: "acme", GroupUID: "cld-009", Period: period, Status: store.BillFailed, AmountCents: 1, Currency: "AUD"})
	}); err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		name, period, tenant, group string
		is                          error
		says                        string
	}{
		{"unknown group", period, "acme", "cld-nope", ErrNoBill, "has no group cld-nope"},
		{"unknown period", "2020-01", "acme", "cld-000", ErrNoBill, "was not billed for 2020-01"},
		{"unknown tenant", period, "globex", "cld-000", ErrNoBill, "tenant globex has no group"},
		{"failed bill", period, "acme", "cld-009", ErrNotSubmitted, "it is failed"},
		{"invoiced at the API", period, "acme", "cld-001", nil, "has already been set to invoiced"},
		{"bad period", "2026-13", "acme", "cld-000", nil, "YYYY-MM"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before, _ := s.Bills("", "")
			_, err := s.CancelBill(ctx, tc.period, tc.tenant, tc.group)
			if err == nil || !strings.Contains(err.Error(), tc.says) || (tc.is != nil && !errors.Is(err, tc.is)) {
				t.Fatalf("got %v, want an error saying %q", err, tc.says)
			}
			after, _ := s.Bills("", "")
			if len(before) != len(after) {
				t.Fatalf("ledger rows %d → %d", len(before), len(after))
			}
			for i := range before {
				if before[i] != after[i] {
					t.Errorf("ledger row changed: %+v → %+v", before[i], after[i])
				}
			}
		})
	}
	// Cancelling twice: the second is refused, the API asked once.
	if _, err := s.CancelBill(ctx, period, "acme", "cld-000"); err != nil {
		t.Fatal(err)
	}
	deletes := f.Deletes()
	if _, err := s.CancelBill(ctx, period, "acme", "cld-000"); !errors.Is(err, ErrNotSubmitted) || !strings.Contains(err.Error(), "cancelled") {
		t.Fatalf("second cancel: %v", err)
	}
	if f.Deletes() != deletes {
		t.Errorf("a second cancel called the API")
	}
	// --rebill of a group with no bill in the period is refused before anything is sent.
	posts, _, _ := f.Counts()
	if _, err := s.RunBilling(ctx, period, "", nil, "cld-typo"); !errors.Is(err, billing.ErrRebill) {
		t.Fatalf("rebill of an unknown group: %v", err)
	}
	if p, _, _ := f.Counts(); p != posts {
		t.Errorf("a refused rebill sent %d bills", p-posts)
	}
}
