package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tenantdesk/tenantdesk/store"
	"github.com/tenantdesk/tenantdesk/tenant/connec"
)

// fakeConnec accepts invoice POSTs and answers with a Connec! id; fail
// makes every call answer 422.
func fakeConnec(t *testing.T, fail *bool) *httptest.Server {
	t.Helper()
	n := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/vnd.api+json")
		if *fail {
			w.WriteHeader(http.StatusUnprocessableEntity)
			fmt.Fprint(w, `{"errors":[{"status":"422","title":"Invalid","detail":"currency not enabled"}]}`)
			return
		}
		var body map[string]map[string]any
		_ = json.NewDecoder(r.Body).Decode(&body)
		rec := body["invoices"]
		n++
		ids := []map[string]any{{"id": fmt.Sprintf("c0ffee00-0000-0000-0000-%012d", n), "provider": "connec", "realm": "org-1"}}
		if ours, ok := rec["id"].([]any); ok {
			for _, o := range ours {
				ids = append(ids, o.(map[string]any))
			}
		}
		rec["id"] = ids
		w.WriteHeader(http.StatusCreated)
		_ = json.NewEncoder(w).Encode(map[string]any{"invoices": rec})
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestInvoiceSaveQueuesAndPushNowSyncs(t *testing.T) {
	fail := false
	cx := fakeConnec(t, &fail)
	s := newService(t)
	cfg := validConfig(t, "acme", "https://api.acme.example")
	cfg.Connec.Host = cx.URL
	if _, err := s.SaveTenant(cfg, true); err != nil {
		t.Fatal(err)
	}
	if err := s.db.Update(func(tx *store.Tx) error {
		return tx.PutGroup(store.Group{Tenant: "acme", UID: "cld-1", Name: "Bluegum Bakery", CreatedAt: testNow, UpdatedAt: testNow})
	}); err != nil {
		t.Fatal(err)
	}

	_, err := s.SaveInvoice(store.Invoice{Tenant: "acme", GroupUID: "cld-1", Currency: "aud!", Lines: []store.InvoiceLine{{Description: "x", Quantity: 1, UnitPriceCents: 100}}})
	var bad *connec.InvalidInvoiceError
	if !errors.As(err, &bad) {
		t.Fatalf("bad currency: %v, want InvalidInvoiceError", err)
	}
	if rows, _ := s.Invoices(""); len(rows) != 0 {
		t.Fatalf("invalid invoice stored (%d rows)", len(rows))
	}

	inv, err := s.SaveInvoice(store.Invoice{Tenant: "acme", GroupUID: "cld-1", Number: "INV-1", Title: "Bread", Status: "AUTHORISED",
		Currency: "AUD", Lines: []store.InvoiceLine{{Description: "Loaves", Quantity: 3, UnitPriceCents: 450}}})
	if err != nil {
		t.Fatal(err)
	}
	rows, _ := s.Invoices("acme")
	if len(rows) != 1 || rows[0].Sync != SyncQueued || rows[0].TotalCents != 1350 {
		t.Fatalf("after save: %+v, want one queued invoice of 13.50", rows)
	}

	fail = true
	if err := s.PushNow(context.Background(), inv.ID); err == nil {
		t.Fatal("push against a refusing Connec! succeeded")
	}
	fail = false
	if err := s.PushNow(context.Background(), inv.ID); err != nil {
		t.Fatalf("push now: %v", err)
	}
	rows, _ = s.Invoices("acme")
	if rows[0].Sync != SyncSynced || !strings.HasPrefix(rows[0].RemoteID, "c0ffee00") {
		t.Fatalf("after push: sync %q remote %q", rows[0].Sync, rows[0].RemoteID)
	}
}

func TestRetryPutsAParkedPushBackInTheQueue(t *testing.T) {
	s := seeded(t)
	failed, err := s.FailedPushes()
	if err != nil || len(failed) == 0 {
		t.Fatalf("demo data has %d failed pushes (%v)", len(failed), err)
	}
	if err := s.RetryPush(context.Background(), failed[0].ID); err != nil {
		t.Fatal(err)
	}
	after, _ := s.FailedPushes()
	if len(after) != len(failed)-1 {
		t.Fatalf("failed pushes %d → %d, want one fewer", len(failed), len(after))
	}
	rows, _ := s.Invoices("")
	for _, r := range rows {
		if r.ID == failed[0].LocalID && r.Sync != SyncQueued {
			t.Errorf("retried invoice is %q, want queued", r.Sync)
		}
	}
}
