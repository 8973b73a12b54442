// Package apitest owns the fake tenant account API that tests of billing,
// the admin service, the GUI and the CLI run against: an httptest server
// answering GET and POST /api/v1/account/bills and DELETE
// /api/v1/account/bills/{id} with the `{success, errors, data}` envelope, as
// the Maestrano API sandbox does (mno-api-sandbox BillsController: errors
// `{}` on success; 400 with `data {}` for an unknown or invoiced bill). It is for tests only; no production code imports it.
package apitest

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tenantdesk/tenantdesk/tenant/api"
)

// AccountAPI is a tenant account API: it checks Basic auth, keeps the bills
// it created per group, and counts what it receives. Hooks let a test hold,
// fail or slow down calls, or stop the caller.
type AccountAPI struct {
	// Server is the running fake; tests may swap its handler to serve
	// something else from the same URL.
	Server  *httptest.Server
	latency atomic.Int64 // nanoseconds before each answer

	mu          sync.Mutex
	creds       map[string]string     // api.id → api.key
	bills       map[string][]api.Bill // group uid → bills created
	posts       int                   // POSTs received with good credentials
	lists       int                   // GETs of a group's bills
	deletes     int                   // DELETEs received with good credentials
	created     int
	gate        <-chan struct{}
	failPost    func(n int) int
	afterCreate func(created int)
}

// NewAccountAPI starts a fake that accepts the given api.id → api.key
// credentials (nil: none yet) and closes it when the test ends.
func NewAccountAPI(t testing.TB, creds map[string]string) *AccountAPI {
	f := &AccountAPI{creds: map[string]string{}, bills: map[string][]api.Bill{}}
	maps.Copy(f.creds, creds)
	f.Server = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.Server.Close)
	return f
}

// URL is the fake's base URL, the tenant's api.host.
func (f *AccountAPI) URL() string { return f.Server.URL }

// SetCredentials makes key the one accepted for id.
func (f *AccountAPI) SetCredentials(id, key string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.creds[id] = key
}

// SetLatency makes every answer wait d; a created bill exists before its
// slow answer, so a client timeout loses only the answer.
func (f *AccountAPI) SetLatency(d time.Duration) { f.latency.Store(int64(d)) }

// HoldPosts makes every POST wait, before it is counted, until gate is
// closed (nil: no wait).
func (f *AccountAPI) HoldPosts(gate <-chan struct{}) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.gate = gate
}

// FailPosts asks fail about each POST (n counts POSTs from 0): a non-zero
// HTTP status refuses it without creating a bill. nil fails none.
func (f *AccountAPI) FailPosts(fail func(n int) int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failPost = fail
}

// AfterCreate runs hook once each bill is created, before the answer is sent.
func (f *AccountAPI) AfterCreate(hook func(created int)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.afterCreate = hook
}

// Counts reports the POSTs and bill lists received with good credentials,
// and the bills created.
func (f *AccountAPI) Counts() (posts, lists, created int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.posts, f.lists, f.created
}

// Deletes counts the DELETEs (bill cancels) received with good credentials.
func (f *AccountAPI) Deletes() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.deletes
}

// SetBillStatus changes a bill's status at the API, as the hub does when it
// invoices a bill; it reports whether the bill exists.
func (f *AccountAPI) SetBillStatus(id, status string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if b := f.findLocked(id); b != nil {
		b.Status = status
		return true
	}
	return false
}

func (f *AccountAPI) findLocked(id string) *api.Bill {
	for g := range f.bills {
		for i := range f.bills[g] {
			if f.bills[g][i].ID == id {
				return &f.bills[g][i]
			}
		}
	}
	return nil
}

// Bills is a copy of the bills created for each group.
func (f *AccountAPI) Bills() map[string][]api.Bill {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make(map[string][]api.Bill, len(f.bills))
	for g, b := range f.bills {
		out[g] = append([]api.Bill(nil), b...)
	}
	return out
}

// ExactlyOne fails the test unless every group has exactly one bill at the
// API, and nothing else was billed.
func (f *AccountAPI) ExactlyOne(t testing.TB, groups []string) {
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

func answer(w http.ResponseWriter, status int, data any, errs map[string][]string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	success := errs == nil
	if success {
		errs = map[string][]string{} // the sandbox sends errors {} on success
	}
	_ = json.NewEncoder(w).Encode(map[string]any{"success": success, "errors": errs, "data": data})
}

func (f *AccountAPI) serve(w http.ResponseWriter, r *http.Request) {
	id, key, ok := r.BasicAuth()
	f.mu.Lock()
	want, known := f.creds[id]
	f.mu.Unlock()
	if !ok || !known || key != want {
		answer(w, 401, map[string]any{}, map[string][]string{"authentication": {"Invalid API token"}})
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
		answer(w, 200, list, nil)
	case r.Method == http.MethodPost && r.URL.Path == "/api/v1/account/bills":
		f.mu.Lock()
		gate := f.gate
		f.mu.Unlock()
		if gate != nil {
			<-gate
		}
		var req api.BillRequest
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			answer(w, 400, map[string]any{}, map[string][]string{"base": {err.Error()}})
			return
		}
		f.mu.Lock()
		n := f.posts
		f.posts++
		if f.failPost != nil {
			if status := f.failPost(n); status != 0 {
				f.mu.Unlock()
				answer(w, status, map[string]any{}, map[string][]string{"system": {"A system error occured. Please retry later"}})
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
		answer(w, 201, bill, nil)
	case r.Method == http.MethodDelete && strings.HasPrefix(r.URL.Path, "/api/v1/account/bills/"):
		wait()
		id := strings.TrimPrefix(r.URL.Path, "/api/v1/account/bills/")
		f.mu.Lock()
		f.deletes++
		b := f.findLocked(id)
		switch {
		case b == nil:
			f.mu.Unlock()
			answer(w, 400, map[string]any{}, map[string][]string{"id": {"does not exist"}})
			return
		case b.Status == api.BillInvoiced:
			f.mu.Unlock()
			answer(w, 400, map[string]any{}, map[string][]string{"status": {"has already been set to invoiced and cannot be changed"}})
			return
		}
		b.Status = api.BillCancelled
		bill := *b
		f.mu.Unlock()
		answer(w, 200, bill, nil)
	default:
		answer(w, 404, map[string]any{}, map[string][]string{"id": {"does not exist"}})
	}
}
