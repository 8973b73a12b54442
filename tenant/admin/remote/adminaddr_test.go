package remote

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tenantdesk/tenantdesk/tenant/admin"
)

// 200 wrong tokens in a row from one address: the first few get 401, the
// rest 429 with a Retry-After of at most a minute, the right token too
// until the minute is over; the log has two lines, not 200.
func TestWrongTokensAreRateLimitedAndCounted(t *testing.T) {
	svc := demoService(t)
	token, err := svc.NewAdminToken()
	if err != nil {
		t.Fatal(err)
	}
	var logged bytes.Buffer
	now := time.Date(2026, 12, 7, 9, 0, 10, 0, time.UTC)
	s := &AdminServer{API: svc, CheckToken: svc.CheckAdminToken, Logger: slog.New(slog.NewTextHandler(&logged, nil)),
		Now: func() time.Time { return now }}
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	callWith := func(token string) *http.Response {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/v1/Tenants", strings.NewReader("{}"))
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	statuses := map[int]int{}
	for i := range 200 {
		resp := callWith("tdk_wrong")
		statuses[resp.StatusCode]++
		if resp.StatusCode == http.StatusTooManyRequests {
			wait, err := strconv.Atoi(resp.Header.Get("Retry-After"))
			if err != nil || wait < 1 || wait > 60 {
				t.Fatalf("try %d: Retry-After %q", i, resp.Header.Get("Retry-After"))
			}
		}
	}
	if statuses[http.StatusUnauthorized] != tokenTries || statuses[http.StatusTooManyRequests] != 200-tokenTries {
		t.Fatalf("statuses %v: want %d × 401 then 429", statuses, tokenTries)
	}
	if resp := callWith(token); resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("the right token during the back-off: %d, want 429", resp.StatusCode)
	}
	now = now.Add(time.Minute)
	if resp := callWith(token); resp.StatusCode != http.StatusOK {
		t.Fatalf("the right token after the back-off: %d", resp.StatusCode)
	}
	s.refusals.flush(s.Logger)
	lines := strings.Split(strings.TrimSpace(logged.String()), "\n")
	if len(lines) != 2 || !strings.Contains(lines[1], "wrong_token=5") || !strings.Contains(lines[1], "rate_limited=196") {
		t.Fatalf("log of 201 refusals: %d lines\n%s", len(lines), logged.String())
	}
	if strings.Contains(logged.String(), token) {
		t.Fatal("the log holds the token")
	}
}

// adminAddrClient serves svc's admin address, with a token, and gives a
// client that holds the right token.
func adminAddrClient(t *testing.T, svc *admin.Service) (c *Client, srv *httptest.Server, token string) {
	t.Helper()
	token, err := svc.NewAdminToken()
	if err != nil {
		t.Fatal(err)
	}
	s := &AdminServer{API: svc, CheckToken: svc.CheckAdminToken, Logger: slog.New(slog.DiscardHandler)}
	srv = httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	return &Client{Name: "test", base: srv.URL, http: srv.Client(), token: token}, srv, token
}

// A restore names a file on the owner's machine and replaces every
// setting, host-level ones too: the admin address refuses it with 403,
// even with the right token, and the data file is untouched.
func TestAdminAddrRefusesRestore(t *testing.T) {
	svc := demoService(t)
	c, _, _ := adminAddrClient(t, svc)
	backup := filepath.Join(t.TempDir(), "b.db")
	if _, err := admin.BackupToFile(t.Context(), svc, backup); err != nil {
		t.Fatal(err)
	}
	before := svc.DB().Generation()
	_, err := c.Restore(t.Context(), backup)
	if err == nil || !strings.Contains(err.Error(), "only on the machine itself") {
		t.Fatalf("restore over the admin address: %v", err)
	}
	if svc.DB().Generation() != before {
		t.Fatal("the refused restore wrote")
	}
	if _, err := os.Stat(svc.DB().Path() + ".before-restore"); !os.IsNotExist(err) {
		t.Fatal("the refused restore moved the data file")
	}
}

// A compact holds every transaction of the owner while it copies the
// file: the admin address refuses it with 403, even with the right token,
// and the data file is untouched.
func TestAdminAddrRefusesCompact(t *testing.T) {
	svc := demoService(t)
	c, srv, token := adminAddrClient(t, svc)
	before, err := os.Stat(svc.DB().Path())
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/v1/Compact", strings.NewReader("{}"))
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("compact over the admin address: %d, want 403", resp.StatusCode)
	}
	if _, err := c.Compact(t.Context()); err == nil || !strings.Contains(err.Error(), "only on the machine itself") {
		t.Fatalf("compact through the client: %v", err)
	}
	if after, err := os.Stat(svc.DB().Path()); err != nil || !os.SameFile(before, after) {
		t.Fatal("the refused compact replaced the data file")
	}
}
