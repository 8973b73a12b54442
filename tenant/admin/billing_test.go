package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/tenantdesk/tenantdesk/store"
)

// fakeBillsAPI is a tenant account API that creates bills; release gates
// every POST until it is closed (nil: no gate).
type fakeBillsAPI struct {
	mu      sync.Mutex
	posts   int
	release chan struct{}
}

func (f *fakeBillsAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	switch {
	case r.Method == http.MethodPost && r.URL.Path == "/api/v1/account/bills":
		if f.release != nil {
			<-f.release
		}
		var req map[string]any
		_ = json.NewDecoder(r.Body).Decode(&req)
		f.mu.Lock()
		f.posts++
		n := f.posts
		f.mu.Unlock()
		fmt.Fprintf(w, `{"success":true,"errors":{},"data":{"id":"bill-%d","group_id":%q,"status":"submitted"}}`, n, req["group_id"])
	case r.Method == http.MethodGet && r.URL.Path == "/api/v1/account/bills":
		fmt.Fprint(w, `{"success":true,"errors":{},"data":[]}`)
	default:
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprint(w, `{"success":false,"errors":{"id":["does not exist"]},"data":{}}`)
	}
}

// billingFixture saves a tenant whose API is the fake, with n active groups.
func billingFixture(t *testing.T, f *fakeBillsAPI, n int) *Service {
	t.Helper()
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	s := newService(t)
	cfg := validConfig(t, "acme", srv.URL)
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
	f := &fakeBillsAPI{}
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
	if sum.Submitted != 12 || f.posts != 12 || calls != 12 || last.Done != last.Total || last.Total != 12 {
		t.Fatalf("submitted %d, posts %d, progress calls %d, last %d/%d; want 12 everywhere", sum.Submitted, f.posts, calls, last.Done, last.Total)
	}
	// A rerun sends nothing again.
	if sum, err = s.RunBilling(context.Background(), period, "", nil); err != nil || sum.Skipped != 12 || f.posts != 12 {
		t.Fatalf("rerun: skipped %d, posts %d, %v", sum.Skipped, f.posts, err)
	}
	runs, err := s.BillingHistory(10)
	if err != nil || len(runs) != 2 {
		t.Fatalf("history: %d runs, %v", len(runs), err)
	}
}

func TestSecondRunWhileOneGoesIsRefused(t *testing.T) {
	f := &fakeBillsAPI{release: make(chan struct{})}
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
	close(f.release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if f.posts != 3 {
		t.Fatalf("posts = %d, want 3", f.posts)
	}
	if s.BillingRunning() {
		t.Error("still running after the run returned")
	}
}
