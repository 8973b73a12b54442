package api_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tenantdesk/tenantdesk/tenant"
	"github.com/tenantdesk/tenantdesk/tenant/api"
	"github.com/tenantdesk/tenantdesk/tenant/api/apitest"
)

// CancelBill against the sandbox's answers (mno-api-sandbox
// BillsController#destroy): the bill back with status cancelled, the same
// again for a bill already cancelled, 400 with errors.id for an unknown
// bill and errors.status for an invoiced one, 401 for a wrong key.
func TestCancelBillAnswers(t *testing.T) {
	const key = "s3cret-never-shown"
	f := apitest.NewAccountAPI(t, map[string]string{"app-acme": key})
	cfg := &tenant.Config{Key: "acme", API: tenant.API{ID: "app-acme", Key: key, Host: f.URL()}}
	c := api.New(cfg, nil)
	ctx := context.Background()
	start := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
	var ids []string
	for _, g := range []string{"cld-1", "cld-2"} {
		b, err := c.CreateBill(ctx, api.BillRequest{GroupID: g, PriceCents: 4900, Currency: "AUD", Description: "x",
			PeriodStartedAt: start, PeriodEndedAt: start.AddDate(0, 1, 0).Add(-time.Second)})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, b.ID)
	}

	for range 2 { // cancelling twice answers the cancelled bill both times
		b, err := c.CancelBill(ctx, ids[0])
		if err != nil || b.ID != ids[0] || b.Status != api.BillCancelled || b.GroupID != "cld-1" {
			t.Fatalf("cancel: %+v, %v", b, err)
		}
	}

	f.SetBillStatus(ids[1], api.BillInvoiced)
	_, err := c.CancelBill(ctx, ids[1])
	var ae *tenant.CallError
	if !errors.As(err, &ae) || ae.Status != 400 || !strings.Contains(err.Error(), "status has already been set to invoiced") {
		t.Errorf("invoiced: %v", err)
	}
	_, err = c.CancelBill(ctx, "bill-404")
	if !errors.As(err, &ae) || ae.Status != 400 || !strings.Contains(err.Error(), "id does not exist") {
		t.Errorf("unknown: %v", err)
	}
	for _, bad := range []string{"", "bill-1/../x", "bill?x=1"} {
		if _, err := c.CancelBill(ctx, bad); err == nil {
			t.Errorf("bill id %q was sent", bad)
		}
	}
	f.SetCredentials("app-acme", "another-key")
	_, err = c.CancelBill(ctx, ids[0])
	if !errors.Is(err, tenant.ErrUnauthorized) || strings.Contains(err.Error(), key) {
		t.Errorf("wrong key: %v", err)
	}
	if f.Deletes() != 4 {
		t.Errorf("%d DELETEs reached the API, want 4 (bad ids never leave; a wrong key is not counted)", f.Deletes())
	}
}
