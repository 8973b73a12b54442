package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tenantdesk/tenantdesk/store"
)

// accountAPI is an httptest fake of a tenant's account API that bills and
// counts, failing POSTs while failing is set.
type accountAPI struct {
	mu      sync.Mutex
	posts   map[string]int // group → bills created
	failing bool
}

func (a *accountAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	answer := func(status int, data any, errs map[string][]string) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(map[string]any{"success": errs == nil, "errors": errs, "data": data})
	}
	if id, key, _ := r.BasicAuth(); id != "app-acme" || key != secretKey+"-acme" {
		answer(401, map[string]any{}, map[string][]string{"authentication": {"Invalid API token"}})
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/api/v1/account/bills":
		answer(200, []any{}, nil)
	case r.Method == http.MethodPost && r.URL.Path == "/api/v1/account/bills" && a.failing:
		answer(503, map[string]any{}, map[string][]string{"system": {"try later"}})
	case r.Method == http.MethodPost && r.URL.Path == "/api/v1/account/bills":
		var req map[string]any
		_ = json.NewDecoder(r.Body).Decode(&req)
		g, _ := req["group_id"].(string)
		a.posts[g]++
		req["id"] = "bill-" + g
		answer(201, req, nil)
	default:
		answer(404, map[string]any{}, map[string][]string{"id": {"does not exist"}})
	}
}

func TestBillRunExitCodesAndNoDoubleBilling(t *testing.T) {
	fake := &accountAPI{posts: map[string]int{}, failing: true}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	db := filepath.Join(t.TempDir(), "td.db")
	doc := strings.ReplaceAll(marketplaces(t, "acme"), "https://hub.acme.test", srv.URL)
	doc = strings.Replace(doc, `"marketplace":"acme"`, `"marketplace":"acme","billing":{"price_cents":4900,"currency":"AUD"}`, 1)
	file := filepath.Join(t.TempDir(), "m.json")
	if err := os.WriteFile(file, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := cli(t, "", "--db", db, "tenant", "import", file); code != 0 {
		t.Fatalf("import: %s", errOut)
	}
	s, err := store.Open(db, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	err = s.Update(func(tx *store.Tx) error {
		for _, g := range []string{"cld-1", "cld-2"} {
			if err := tx.PutGroup(store.Group{Tenant: "acme", UID: g, Name: g, CreatedAt: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}); err != nil {
				return err
			}
		}
		return nil
	})
	s.Close()
	if err != nil {
		t.Fatal(err)
	}

	code, out, _ := cli(t, "", "--db", db, "bill", "preview", "--period", "2026-10")
	if code != 0 || strings.Count(out, "acme") != 2 || !strings.Contains(out, "49.00") {
		t.Fatalf("preview: code %d\n%s", code, out)
	}
	code, out, _ = cli(t, "", "--db", db, "bill", "run", "--period", "2026-10")
	if code == 0 {
		t.Fatalf("a run whose bills all failed exited 0:\n%s", out)
	}
	fake.mu.Lock()
	fake.failing = false
	fake.mu.Unlock()
	for range 2 { // the retry, then a rerun that must send nothing
		if code, out, errOut := cli(t, "", "--db", db, "bill", "run", "--period", "2026-10"); code != 0 {
			t.Fatalf("run: code %d\n%s\n%s", code, out, errOut)
		}
	}
	fake.mu.Lock()
	defer fake.mu.Unlock()
	if fake.posts["cld-1"] != 1 || fake.posts["cld-2"] != 1 || len(fake.posts) != 2 {
		t.Fatalf("bills created per group: %v, want exactly one each", fake.posts)
	}
}
