package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tenantdesk/tenantdesk/tenant"
)

const (
	testID  = "app-acme"
	testKey = "s3cr3t-api-key-do-not-show"
)

func testConfig(host string) *tenant.Config {
	return &tenant.Config{Key: "acme", DisplayName: "Acme", Enabled: true,
		API: tenant.API{ID: testID, Key: testKey, Host: host}}
}

// fakeAccountAPI answers like the platform: Basic auth, JSON envelope.
func fakeAccountAPI(t *testing.T, handle func(w http.ResponseWriter, r *http.Request)) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, key, ok := r.BasicAuth()
		if !ok || id != testID || key != testKey {
			w.WriteHeader(http.StatusUnauthorized)
			w.Write([]byte(`{"success":false,"errors":{"authentication":["Invalid API token"]},"data":{}}`))
			return
		}
		handle(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func ok(w http.ResponseWriter, data any) {
	json.NewEncoder(w).Encode(map[string]any{"success": true, "errors": map[string]any{}, "data": data})
}

var novPeriod = BillRequest{GroupID: "cld-1", PriceCents: 4900, Currency: "AUD", Description: "Acme subscription 2026-11",
	PeriodStartedAt: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC),
	PeriodEndedAt:   time.Date(2026, 11, 30, 23, 59, 59, 0, time.UTC)}

func TestPingUsesBaseAndCredentials(t *testing.T) {
	var path string
	srv := fakeAccountAPI(t, func(w http.ResponseWriter, r *http.Request) {
		path = r.URL.Path
		ok(w, map[string]string{"msg": "Ping successful! (API Authentication successful)"})
	})
	if err := New(testConfig(srv.URL), srv.Client()).Ping(context.Background()); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	if path != "/api/v1/ping" {
		t.Errorf("path = %q, want /api/v1/ping", path)
	}
}

func TestWrongCredentialsAreUnauthorizedWithoutTheKey(t *testing.T) {
	srv := fakeAccountAPI(t, func(w http.ResponseWriter, r *http.Request) { t.Error("handler reached") })
	cfg := testConfig(srv.URL)
	cfg.API.Key = "wrong-key-value"
	err := New(cfg, srv.Client()).Ping(context.Background())
	if !errors.Is(err, tenant.ErrUnauthorized) {
		t.Fatalf("err = %v, want ErrUnauthorized", err)
	}
	var apiErr *tenant.CallError
	if !errors.As(err, &apiErr) || apiErr.Status != 401 || !slices.Contains(apiErr.Details, "authentication Invalid API token") {
		t.Fatalf("err = %#v", err)
	}
	if strings.Contains(err.Error(), "wrong-key-value") {
		t.Fatalf("error text shows api.key: %v", err)
	}
}

func TestCreateBillSendsJSONAndReadsTheBill(t *testing.T) {
	var got map[string]any
	srv := fakeAccountAPI(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/api/v1/account/bills" {
			t.Errorf("%s %s", r.Method, r.URL.Path)
		}
		if ct := r.Header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("Content-Type %q", ct)
		}
		json.NewDecoder(r.Body).Decode(&got)
		ok(w, map[string]any{"object": "account_bill", "id": "bill-520", "group_id": got["group_id"],
			"price_cents": got["price_cents"], "currency": "AUD", "status": "submitted",
			"description": got["description"], "units": nil, "period_started_at": nil, "period_ended_at": nil})
	})
	bill, err := New(testConfig(srv.URL+"/"), srv.Client()).CreateBill(context.Background(), novPeriod)
	if err != nil {
		t.Fatalf("CreateBill: %v", err)
	}
	if bill.ID != "bill-520" || bill.Status != "submitted" || bill.PeriodStartedAt != nil {
		t.Errorf("bill = %+v", bill)
	}
	want := map[string]any{"group_id": "cld-1", "price_cents": 4900.0, "currency": "AUD",
		"description": "Acme subscription 2026-11", "period_started_at": "2026-11-01T00:00:00Z",
		"period_ended_at": "2026-11-30T23:59:59Z"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("request %s = %v, want %v", k, got[k], v)
		}
	}
}

func TestListBillsFiltersByGroup(t *testing.T) {
	srv := fakeAccountAPI(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/v1/account/bills" || r.URL.Query().Get("group_id") != "cld-1&x" {
			t.Errorf("%s", r.URL)
		}
		ok(w, []map[string]any{{"id": "bill-1", "group_id": "cld-1&x", "price_cents": 10}})
	})
	bills, err := New(testConfig(srv.URL), srv.Client()).ListBills(context.Background(), "cld-1&x")
	if err != nil || len(bills) != 1 || bills[0].ID != "bill-1" {
		t.Fatalf("ListBills = %+v, %v", bills, err)
	}
}

func TestFailedAnswersAreClearErrors(t *testing.T) {
	cases := []struct {
		name   string
		status int
		body   string
		want   string
		is     error
	}{
		{"field error", 400, `{"success":false,"errors":{"group_id":["does not exist or cannot be charged by your service"]},"data":{}}`,
			"HTTP 400: group_id does not exist", nil},
		{"system error", 500, `{"success":false,"errors":{"system":["A system error occured"]},"data":{}}`, "HTTP 500: system A system error", nil},
		{"html page", 502, `<html>Bad gateway</html>`, "HTTP 502: <html>Bad gateway", nil},
		{"not json", 200, `hello`, "malformed answer", ErrMalformed},
		{"no envelope", 200, `{"id":"bill-1"}`, "not an account API envelope", ErrMalformed},
		{"wrong data shape", 200, `{"success":true,"errors":{},"data":"bill-1"}`, "malformed answer: data", ErrMalformed},
		{"no id", 200, `{"success":true,"errors":{},"data":{}}`, "no bill id", ErrMalformed},
		{"success false with 200", 200, `{"success":false,"errors":{"id":["does not exist"]},"data":{}}`, "id does not exist", nil},
		{"errors as a string", 400, `{"success":false,"errors":"nope","data":{}}`, "base nope", nil},
		{"empty body", 500, ``, "(empty body)", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := fakeAccountAPI(t, func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(tc.status)
				w.Write([]byte(tc.body))
			})
			_, err := New(testConfig(srv.URL), srv.Client()).CreateBill(context.Background(), novPeriod)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.want)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Fatalf("err = %v, want errors.Is %v", err, tc.is)
			}
			if !strings.HasPrefix(err.Error(), "tenant acme: create bill") {
				t.Errorf("err = %v, want tenant and operation first", err)
			}
		})
	}
}

func TestOversizedAnswerIsRefused(t *testing.T) {
	srv := fakeAccountAPI(t, func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"success":true,"errors":{},"data":{"id":"` + strings.Repeat("x", maxBodySize) + `"}}`))
	})
	_, err := New(testConfig(srv.URL), srv.Client()).CreateBill(context.Background(), novPeriod)
	if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "larger than") {
		t.Fatalf("err = %v", err)
	}
}

func TestTimeoutIsAnErrorNotAHang(t *testing.T) {
	release := make(chan struct{})
	srv := fakeAccountAPI(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	defer close(release)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := New(testConfig(srv.URL), srv.Client()).Ping(ctx)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want a deadline error", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Fatalf("Ping took %v", time.Since(start))
	}
}

func TestUnusableHostAndRequestAreRefusedBeforeSending(t *testing.T) {
	_, err := New(testConfig("ftp://"+testID+":"+testKey+"@example.test"), nil).CreateBill(context.Background(), novPeriod)
	if err == nil || strings.Contains(err.Error(), testKey) || !strings.Contains(err.Error(), "not an http(s) URL") {
		t.Fatalf("err = %v", err)
	}
	bad := novPeriod
	bad.PriceCents, bad.Currency = 0, "dollars"
	_, err = New(testConfig("http://127.0.0.1:1"), nil).CreateBill(context.Background(), bad)
	if err == nil || !strings.Contains(err.Error(), "price_cents 0 is not positive") || !strings.Contains(err.Error(), "currency") {
		t.Fatalf("err = %v", err)
	}
}

func TestHostCredentialsNeverReachErrors(t *testing.T) {
	c := New(testConfig("http://user:"+testKey+"@127.0.0.1:1"), nil)
	err := c.Ping(context.Background())
	if err == nil || strings.Contains(err.Error(), testKey) {
		t.Fatalf("err = %v", err)
	}
}

func TestBillMatches(t *testing.T) {
	start := novPeriod.PeriodStartedAt
	other := start.AddDate(0, -1, 0)
	base := Bill{ID: "bill-1", GroupID: "cld-1", PriceCents: 4900, Currency: "AUD", Description: novPeriod.Description}
	cases := []struct {
		name string
		edit func(*Bill)
		want bool
	}{
		{"same, no period shown", func(*Bill) {}, true},
		{"same period", func(b *Bill) { b.PeriodStartedAt = &start }, true},
		{"other period", func(b *Bill) { b.PeriodStartedAt = &other }, false},
		{"other amount", func(b *Bill) { b.PriceCents = 100 }, false},
		{"other group", func(b *Bill) { b.GroupID = "cld-2" }, false},
		{"other description", func(b *Bill) { b.Description = "x" }, false},
		{"other currency", func(b *Bill) { b.Currency = "USD" }, false},
	}
	for _, tc := range cases {
		b := base
		tc.edit(&b)
		if got := b.Matches(novPeriod); got != tc.want {
			t.Errorf("%s: Matches = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// FuzzDecode feeds arbitrary answers to the envelope decoder: it must
// return an error or a value, never panic, and never leak the key.
func FuzzDecode(f *testing.F) {
	f.Add(200, []byte(`{"success":true,"errors":{},"data":{"id":"bill-1"}}`))
	f.Add(401, []byte(`{"success":false,"errors":{"authentication":["Invalid API token"]},"data":{}}`))
	f.Add(400, []byte(`{"success":false,"errors":["`+testKey+`"],"data":{}}`))
	f.Add(200, []byte(`{"success":true,"data":[{"id":1}]}`))
	f.Add(500, []byte(`null`))
	c := New(testConfig("http://127.0.0.1"), nil)
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		var b Bill
		if err := c.decode("create bill", status, body, &b); err != nil {
			if strings.Contains(err.Error(), testKey) {
				t.Fatalf("key in error: %v", err)
			}
		}
		var list []Bill
		_ = c.decode("list bills", status, body, &list)
	})
}
