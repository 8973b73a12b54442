package billing

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tenantdesk/tenantdesk/store"
	"github.com/tenantdesk/tenantdesk/tenant"
	"github.com/tenantdesk/tenantdesk/tenant/api"
)

// fakeAccountAPI is the platform's account API for billing tests: it checks
// Basic auth, keeps the bills it created per group, and counts what it
// receives. Hooks let a test fail calls or stop the caller.
type fakeAccountAPI struct {
	srv     *httptest.Server
	creds   map[string]string // api.id → api.key
	latency atomic.Int64      // nanoseconds before each answer

	mu      sync.Mutex
	bills   map[string][]api.Bill // group uid → bills created
	posts   int                   // POSTs received with good credentials
	lists   int                   // GETs of a group's bills
	created int
	// failPost, when set, is asked for each POST (n from 0): a non-zero
	// HTTP status refuses it without creating a bill.
	failPost func(n int) int
	// afterCreate runs once a bill is created, before the answer is sent.
	afterCreate func(created int)
}

func newFakeAccountAPI(t testing.TB) *fakeAccountAPI {
	f := &fakeAccountAPI{creds: map[string]string{}, bills: map[string][]api.Bill{}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeAccountAPI) answer(w http.ResponseWriter, status int, data any, errs map[string][]string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{"success": errs == nil, "errors": errs, "data": data})
}

func (f *fakeAccountAPI) serve(w http.ResponseWriter, r *http.Request) {
	id, key, ok := r.BasicAuth()
	if want, known := f.creds[id]; !ok || !known || key != want {
		f.answer(w, 401, map[string]any{}, map[string][]string{"authentication": {"Invalid API token"}})
		return
	}
	wait := func() { time.Sleep(time.Duration(f.latency.Load())) }
	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/api/v1/account/bills":
		wait()
		group := r.URL.Query().Get("group_id")
		f.mu.Lock()
		f.lists++
		list := append([]api.Bill{}, f.bills[group]...)
		f.mu.Unlock()
		f.answer(w, 200, list, nil)
	case r.Method == http.MethodPost && r.URL.Path == "/api/v1/account/bills":
		var req api.BillRequest
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			f.answer(w, 400, map[string]any{}, map[string][]string{"base": {err.Error()}})
			return
		}
		f.mu.Lock()
		n := f.posts
		f.posts++
		if f.failPost != nil {
			if status := f.failPost(n); status != 0 {
				f.mu.Unlock()
				f.answer(w, status, map[string]any{}, map[string][]string{"system": {"A system error occured. Please retry later"}})
				return
			}
		}
		f.created++
		start, end := req.PeriodStartedAt, req.PeriodEndedAt
		bill := api.Bill{Object: "account_bill", ID: fmt.Sprintf("bill-%d", f.created), GroupID: req.GroupID,
			PriceCents: req.PriceCents, Currency: req.Currency, Description: req.Description, Status: "submitted",
			PeriodStartedAt: &start, PeriodEndedAt: &end}
		f.bills[req.GroupID] = append(f.bills[req.GroupID], bill)
		created, after := f.created, f.afterCreate
		f.mu.Unlock()
		if after != nil {
			after(created)
		}
		wait() // the bill exists before a slow answer: a timeout loses only the answer
		f.answer(w, 201, bill, nil)
	default:
		f.answer(w, 404, map[string]any{}, map[string][]string{"id": {"does not exist"}})
	}
}

// exactlyOne fails the test unless every group has exactly one bill at the
// API, and nothing else was billed.
func (f *fakeAccountAPI) exactlyOne(t testing.TB, groups []string) {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, g := range groups {
		if n := len(f.bills[g]); n != 1 {
			t.Errorf("group %s has %d bills at the API, want exactly 1", g, n)
		}
	}
	if len(f.bills) != len(groups) {
		t.Errorf("the API billed %d groups, want %d", len(f.bills), len(groups))
	}
}

func (f *fakeAccountAPI) counts() (posts, lists, created int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.posts, f.lists, f.created
}

func openDB(t testing.TB, path string, noSync bool) *store.DB {
	t.Helper()
	db, err := store.Open(path, store.Options{NoSync: noSync})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	return db
}

func tempDB(t testing.TB) (*store.DB, string) {
	path := filepath.Join(t.TempDir(), "tenantdesk.db")
	db := openDB(t, path, false)
	t.Cleanup(func() { db.Close() })
	return db, path
}

// addTenant stores a tenant whose account API is the fake, registered
// with the fake unless badKey is set.
func addTenant(t testing.TB, db *store.DB, f *fakeAccountAPI, key string, enabled bool, priceCents int64) *tenant.Config {
	t.Helper()
	cfg := addTenantConfig(f, key)
	cfg.Enabled, cfg.Billing.PriceCents = enabled, priceCents
	putTenant(t, db, cfg)
	return cfg
}

// addTenantConfig is a tenant whose account API is the fake, and registers
// its credentials there.
func addTenantConfig(f *fakeAccountAPI, key string) *tenant.Config {
	cfg := &tenant.Config{Key: tenant.Key(key), DisplayName: strings.ToUpper(key[:1]) + key[1:], Enabled: true,
		API: tenant.API{ID: "app-" + key, Key: tenant.Secret("key-" + key), Host: f.srv.URL}}
	f.creds[cfg.API.ID] = string(cfg.API.Key)
	return cfg
}

func putTenant(t testing.TB, db *store.DB, cfg *tenant.Config) {
	t.Helper()
	doc, err := cfg.MarshalStored()
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *store.Tx) error {
		return tx.PutTenant(store.Tenant{Key: string(cfg.Key), Config: doc, CreatedAt: time.Now(), UpdatedAt: time.Now()})
	})
	if err != nil {
		t.Fatalf("put tenant: %v", err)
	}
}

// addGroups stores n groups of a tenant, uid cld-<tenant>-<i>, and returns their uids.
func addGroups(t testing.TB, db *store.DB, tenantKey string, n int) []string {
	t.Helper()
	uids := make([]string, n)
	err := db.Update(func(tx *store.Tx) error {
		for i := range n {
			uids[i] = fmt.Sprintf("cld-%s-%05d", tenantKey, i)
			g := store.Group{Tenant: tenantKey, UID: uids[i], Name: fmt.Sprintf("Customer %d", i),
				CreatedAt: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
			if err := tx.PutGroup(g); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("put groups: %v", err)
	}
	return uids
}

func ledgerRows(t testing.TB, db *store.DB, period string) map[string]store.Bill {
	t.Helper()
	rows := map[string]store.Bill{}
	err := db.View(func(tx *store.Tx) error {
		bills, err := tx.Bills(period, "")
		for _, b := range bills {
			rows[b.GroupUID] = b
		}
		return err
	})
	if err != nil {
		t.Fatalf("read ledger: %v", err)
	}
	return rows
}

func mustPeriod(t testing.TB, s string) Period {
	t.Helper()
	p, err := ParsePeriod(s)
	if err != nil {
		t.Fatal(err)
	}
	return p
}
