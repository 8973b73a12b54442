package admin

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/tenantdesk/tenantdesk/store"
	"github.com/tenantdesk/tenantdesk/tenant/api/apitest"
)

// billingFixture saves a tenant whose API is the fake, with n active groups.
func billingFixture(t *testing.T, f *apitest.AccountAPI, n int) *Service {
	t.Helper()
	s := newService(t)
	cfg := validConfig(t, "acme", f.URL())
	f.SetCredentials(cfg.API.ID, string(cfg.API.Key))
	cfg.Billing.PriceCents = 4900
	if _, err := s.SaveTenant(cfg, true); err != nil {
		t.Fatal(err)
	}
	err := s.db.Update(func(tx *store.Tx) error {
		for i := 0; i < n; i++ {
			if err := tx.PutGroup(store.Group{Tenant: "acme", UID: fmt.Sprintf("cld-%03d", i), Name: fmt.Sprintf("Group %d", i),
				CreatedAt: testNow.AddDate(0, -3, 0), UpdatedAt: testNow}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestBillingPreviewThenRunSubmitsEachGroupOnce(t *testing.T) {
	f := apitest.NewAccountAPI(t, nil)
	s := billingFixture(t, f, 12)
	period := PreviousPeriod(testNow)
	lines, err := s.BillingPreview(period, "")
	if err != nil || len(lines) != 12 {
		t.Fatalf("preview: %d lines, %v; want 12", len(lines), err)
	}
	var last BillingProgress
	var calls int
	sum, err := s.RunBilling(context.Background(), period, "", func(p BillingProgress) { calls++; last = p })
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	if posts, _, _ := f.Counts(); sum.Submitted != 12 || posts != 12 || calls != 12 || last.Done != last.Total || last.Total != 12 {
		t.Fatalf("submitted %d, posts %d, progress calls %d, last %d/%d; want 12 everywhere", sum.Submitted, posts, calls, last.Done, last.Total)
	}
	// A rerun sends nothing again.
	sum, err = s.RunBilling(context.Background(), period, "", nil)
	if posts, _, _ := f.Counts(); err != nil || sum.Skipped != 12 || posts != 12 {
		t.Fatalf("rerun: skipped %d, posts %d, %v", sum.Skipped, posts, err)
	}
	runs, err := s.BillingHistory(10)
	if err != nil || len(runs) != 2 {
		t.Fatalf("history: %d runs, %v", len(runs), err)
	}
}

func TestSecondRunWhileOneGoesIsRefused(t *testing.T) {
	release := make(chan struct{})
	f := apitest.NewAccountAPI(t, nil)
	f.HoldPosts(release)
	s := billingFixture(t, f, 3)
	period := PreviousPeriod(testNow)
	done := make(chan error, 1)
	go func() {
		_, err := s.RunBilling(context.Background(), period, "", nil)
		done <- err
	}()
	deadline := time.Now().Add(5 * time.Second)
	for !s.BillingRunning() && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if _, err := s.RunBilling(context.Background(), period, "", nil); !errors.Is(err, ErrRunInProgress) {
		t.Fatalf("second run: %v, want ErrRunInProgress", err)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if posts, _, _ := f.Counts(); posts != 3 {
		t.Fatalf("posts = %d, want 3", posts)
	}
	if s.BillingRunning() {
		t.Error("still running after the run returned")
	}
}
