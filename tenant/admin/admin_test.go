package admin

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tenantdesk/tenantdesk/store"
	"github.com/tenantdesk/tenantdesk/tenant"
)

var testNow = time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)

// newService opens a real bbolt file in a temp dir.
func newService(t *testing.T) *Service {
	t.Helper()
	db, err := store.Open(filepath.Join(t.TempDir(), "td.db"), store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return New(db, Options{PublicURL: "https://td.example.com", Addr: "127.0.0.1:0", Now: func() time.Time { return testNow }})
}

func seeded(t *testing.T) *Service {
	t.Helper()
	s := newService(t)
	if _, err := SeedDemo(s.db, testNow); err != nil {
		t.Fatal(err)
	}
	return s
}

// validConfig is a tenant configuration that passes Validate.
func validConfig(t *testing.T, key, apiHost string) tenant.Config {
	t.Helper()
	pemText, err := demoCertificate(key, testNow, 365)
	if err != nil {
		t.Fatal(err)
	}
	return tenant.Config{
		Key: tenant.Key(key), DisplayName: "Test " + key, Enabled: true,
		API: tenant.API{ID: "app-" + key, Key: tenant.Secret("s3cret-" + key), Host: apiHost},
		SSO: tenant.SSO{IdP: "https://idp.example.com", X509Certificate: pemText},
	}
}

func TestSeedDemoGivesTheTenantListItsWarnings(t *testing.T) {
	s := seeded(t)
	list, err := s.Tenants()
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 3 {
		t.Fatalf("got %d tenants, want 3", len(list))
	}
	byKey := map[tenant.Key]TenantSummary{}
	for _, ts := range list {
		byKey[ts.Key] = ts
	}
	if byKey["initech"].Enabled || !byKey["acme"].Enabled {
		t.Errorf("enabled flags: acme %v initech %v", byKey["acme"].Enabled, byKey["initech"].Enabled)
	}
	if w := byKey["globex"].Warnings; len(w) != 1 || !strings.Contains(w[0], "in 10 days") {
		t.Errorf("globex warnings = %q, want one certificate warning in 10 days", w)
	}
	if w := byKey["acme"].Warnings; len(w) != 0 {
		t.Errorf("acme warnings = %q, want none", w)
	}
	if g := byKey["acme"].Groups; g != 3 {
		t.Errorf("acme active groups = %d, want 3 (one of four is cancelled)", g)
	}
	if byKey["acme"].LastActivity.IsZero() {
		t.Error("acme has no last activity")
	}
	if _, err := SeedDemo(s.db, testNow); err == nil {
		t.Error("second SeedDemo into a non-empty database succeeded")
	}
}

func TestSaveTenantReportsEveryFieldAndWritesNothing(t *testing.T) {
	s := newService(t)
	bad := tenant.Config{Key: "Bad Key!", API: tenant.API{Host: "ftp://nope"}}
	p, err := s.SaveTenant(bad, true)
	if err == nil {
		t.Fatal("invalid tenant saved")
	}
	for _, field := range []string{"key", "api.id", "api.key", "api.host", "sso.idp", "sso.x509_certificate"} {
		if p.Field(field) == "" {
			t.Errorf("no problem reported for %s (got %v)", field, p.Errors)
		}
	}
	if list, _ := s.Tenants(); len(list) != 0 {
		t.Fatalf("invalid save wrote %d tenants", len(list))
	}

	good := validConfig(t, "acme", "https://api.acme.example")
	if _, err := s.SaveTenant(good, true); err != nil {
		t.Fatalf("valid tenant: %v", err)
	}
	got, err := s.registry().Get("acme")
	if err != nil || got.API.Key.Reveal() != "s3cret-acme" {
		t.Fatalf("saved tenant = %+v, %v; want the secret kept", got, err)
	}
	if answer, _ := s.Tenant("acme"); answer.API.Key.Reveal() != tenant.Mask {
		t.Fatalf("the answer carries the api.key: %q", answer.API.Key.Reveal())
	}
	p, err = s.SaveTenant(good, true)
	if !errors.Is(err, ErrTenantExists) || p.Field("key") == "" {
		t.Fatalf("second new tenant with the same key: %v, key problem %q", err, p.Field("key"))
	}
	if err := s.SetTenantEnabled("acme", false); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Tenant("acme"); got.Enabled {
		t.Error("tenant still enabled after SetTenantEnabled(false)")
	}
	if err := s.RemoveTenant("acme"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Tenant("acme"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("removed tenant still readable: %v", err)
	}
}

func TestImportIsAllOrNothingWithEveryError(t *testing.T) {
	s := newService(t)
	good := validConfig(t, "good", "https://api.good.example")
	doc := fmt.Sprintf(`{"marketplaces":[
	  {"marketplace":"good","api":{"id":"app-good","key":"k","host":"https://api.good.example"},
	   "sso":{"idp":"https://idp.example.com","x509_certificate":%q}},
	  {"marketplace":"BAD KEY","api":{"host":"nope"},"sso":{}}]}`, good.SSO.X509Certificate)
	_, err := s.ImportTenants([]byte(doc))
	var ie *tenant.ImportError
	if !errors.As(err, &ie) || len(ie.Problems) < 3 {
		t.Fatalf("import error = %v, want an ImportError listing several problems", err)
	}
	if list, _ := s.Tenants(); len(list) != 0 {
		t.Fatalf("rejected import wrote %d tenants", len(list))
	}
}

func TestTestConnectionCallsThePingWithTheTenantsCredentials(t *testing.T) {
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, key, ok := r.BasicAuth()
		if !ok || id != "app-acme" || key != "s3cret-acme" || r.URL.Path != "/api/v1/ping" {
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `{"errors":["Invalid credentials"]}`)
			return
		}
		fmt.Fprint(w, `{"success":true,"errors":{},"data":{"msg":"pong"}}`)
	}))
	defer api.Close()
	s := newService(t)
	s.client = api.Client()
	cfg := validConfig(t, "acme", api.URL)
	msg, err := s.TestConnection(context.Background(), cfg)
	if err != nil || !strings.Contains(msg, "Connected") {
		t.Fatalf("good credentials: %q, %v", msg, err)
	}
	cfg.API.Key = "wrong"
	if _, err := s.TestConnection(context.Background(), cfg); err == nil {
		t.Fatal("wrong credentials passed the connection test")
	} else if strings.Contains(err.Error(), "wrong") {
		t.Errorf("error shows the secret: %v", err)
	}
}

func TestRegistrationURLsComeFromTheRoutes(t *testing.T) {
	s := newService(t)
	urls := s.RegistrationURLs("acme")
	if len(urls) != len(tenant.Routes()) {
		t.Fatalf("got %d URLs, want one per route (%d)", len(urls), len(tenant.Routes()))
	}
	want := tenant.RouteSAMLConsume.URL("https://td.example.com", "acme")
	found := false
	for _, u := range urls {
		found = found || (u.URL == want && u.Method == http.MethodPost)
	}
	if !found {
		t.Errorf("consume URL %s missing from %+v", want, urls)
	}
}

// TestRegistrationURLsShowRegisteredPathsFirst: what the hub will call
// (sso.idm + init/consume paths, app.host + webhook paths) comes first, our
// /mno-enterprise/ URLs follow as alternatives.
func TestRegistrationURLsShowRegisteredPathsFirst(t *testing.T) {
	s := newService(t)
	cfg := validConfig(t, "acme", "https://api.acme.test")
	cfg.App.Host = "https://app.example.com"
	cfg.SSO.IdM = "https://sso.example.com"
	cfg.SSO.ConsumePath = "/maestrano/auth/saml/consume?marketplace=acme"
	cfg.Hooks.Account.GroupPath = "/maestrano/account/groups/:id/acme"
	if _, err := s.SaveTenant(cfg, true); err != nil {
		t.Fatal(err)
	}
	urls := s.RegistrationURLs("acme")
	if len(urls) != len(tenant.Routes())+2 {
		t.Fatalf("got %d URLs, want every route plus the 2 registered: %+v", len(urls), urls)
	}
	if u := urls[0]; !u.Registered || u.URL != "https://sso.example.com/maestrano/auth/saml/consume?marketplace=acme" || u.Method != http.MethodPost {
		t.Errorf("first URL %+v, want the registered consume URL", u)
	}
	if u := urls[1]; !u.Registered || u.URL != "https://app.example.com/maestrano/account/groups/:id/acme" {
		t.Errorf("second URL %+v, want the registered group URL", u)
	}
	for _, u := range urls[2:] {
		wantAlt := u.Label == tenant.RouteSAMLConsume.Label() || u.Label == tenant.RouteGroup.Label()
		if u.Registered || u.Alternative != wantAlt || !strings.Contains(u.URL, "/mno-enterprise/acme/") {
			t.Errorf("own URL %+v: alternative should be %v", u, wantAlt)
		}
	}
}

func TestIdmapCountsPagesAndExports(t *testing.T) {
	s := seeded(t)
	all, err := s.CountConnected(context.Background(), IdmapFilter{})
	if err != nil {
		t.Fatal(err)
	}
	acme, _ := s.CountConnected(context.Background(), IdmapFilter{Tenant: "acme"})
	acmeUsers, _ := s.CountConnected(context.Background(), IdmapFilter{Tenant: "acme", Entity: "users"})
	if !(all > acme && acme > acmeUsers && acmeUsers == 8) {
		t.Fatalf("counts all=%d acme=%d acme users=%d; want narrowing to 8 users", all, acme, acmeUsers)
	}
	olivia, err := s.CountConnected(context.Background(), IdmapFilter{NamePrefix: "oli"})
	if err != nil || olivia == 0 || olivia >= all {
		t.Fatalf("name search count = %d, %v", olivia, err)
	}
	// Paging visits every row once.
	seen, after := map[uint64]bool{}, ""
	for {
		rows, next, err := s.QueryConnected(IdmapFilter{Tenant: "acme"}, after, 5)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rows {
			if seen[r.ID] {
				t.Fatalf("row %d twice", r.ID)
			}
			seen[r.ID] = true
		}
		if next == "" {
			break
		}
		after = next
	}
	if len(seen) != acme {
		t.Fatalf("paged %d rows, count said %d", len(seen), acme)
	}
	var buf bytes.Buffer
	n, err := s.ExportConnectedCSV(context.Background(), IdmapFilter{Tenant: "acme", Entity: "users"}, &buf)
	if err != nil || n != acmeUsers {
		t.Fatalf("export wrote %d rows (%v), want %d", n, err, acmeUsers)
	}
	recs, err := csv.NewReader(&buf).ReadAll()
	if err != nil || len(recs) != n+1 || recs[0][0] != "id" {
		t.Fatalf("CSV has %d records (%v), want header + %d", len(recs), err, n)
	}
	var id uint64
	fmt.Sscan(recs[1][0], &id)
	d, err := s.Connected(id)
	if err != nil || d.LocalMissing || len(d.Local) == 0 || d.Row.Entity != "users" {
		t.Fatalf("detail of row %d = %+v, %v; want the local user", id, d, err)
	}
}

func TestDetailOfARowWhoseLocalRecordIsGone(t *testing.T) {
	s := newService(t)
	var id uint64
	err := s.db.Update(func(tx *store.Tx) error {
		var err error
		id, err = tx.PutConnected(store.ConnectedObject{Tenant: "acme", LocalKind: store.KindRecord, LocalID: "x",
			Provider: "connec", Entity: "items", RemoteID: "r-1", Name: "Widget"})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	d, err := s.Connected(id)
	if err != nil || !d.LocalMissing || d.Row.Name != "Widget" {
		t.Fatalf("detail = %+v, %v; want the row with its local record marked missing", d, err)
	}
}

func TestInvoicesShowEverySyncState(t *testing.T) {
	s := seeded(t)
	rows, err := s.Invoices("")
	if err != nil {
		t.Fatal(err)
	}
	states := map[string]int{}
	for _, r := range rows {
		states[r.Sync]++
		if r.Sync == SyncFailed && r.LastError == "" {
			t.Errorf("failed invoice %s has no error", r.Number)
		}
	}
	for _, want := range []string{SyncSynced, SyncQueued, SyncFailed, SyncPulled} {
		if states[want] == 0 {
			t.Errorf("no invoice in state %q (states %v)", want, states)
		}
	}
	failed, err := s.FailedPushes()
	if err != nil || len(failed) != states[SyncFailed] {
		t.Errorf("failed pushes = %d (%v), want %d", len(failed), err, states[SyncFailed])
	}
}

func TestListenerStartsOnAFreePortAndStops(t *testing.T) {
	s := newService(t)
	if err := s.StartListener(); err != nil {
		t.Fatal(err)
	}
	st := s.ListenerStatus()
	if st.State != ListenerRunning || strings.HasSuffix(st.Addr, ":0") {
		t.Fatalf("status = %+v, want running on a real port", st)
	}
	resp, err := http.Get("http://" + st.Addr + "/healthz")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("healthz: %v %v", resp, err)
	}
	resp.Body.Close()
	if err := s.SetListenerAddress("127.0.0.1:9999", ""); !errors.Is(err, ErrListenerRunning) {
		t.Errorf("address change while running: %v", err)
	}
	if err := s.StopListener(context.Background()); err != nil {
		t.Fatal(err)
	}
	if st := s.ListenerStatus(); st.State != ListenerStopped {
		t.Fatalf("after stop: %+v", st)
	}
	if err := s.SetListenerAddress("127.0.0.1:9999", "https://td.example.org/"); err != nil {
		t.Fatal(err)
	}
	if s.PublicURL() != "https://td.example.org" {
		t.Errorf("public URL = %q", s.PublicURL())
	}
	if err := s.SetListenerAddress("no-port", ""); err == nil {
		t.Error("address without a port accepted")
	}
}

func TestPeriods(t *testing.T) {
	if got := PreviousPeriod(time.Date(2026, 1, 15, 0, 0, 0, 0, time.UTC)); got != "2025-12" {
		t.Errorf("PreviousPeriod(Jan 2026) = %s", got)
	}
	for _, bad := range []string{"2026-13", "2026-1", "26-01", "", "2026-01-01"} {
		if _, err := ParsePeriod(bad); err == nil {
			t.Errorf("ParsePeriod(%q) accepted", bad)
		}
	}
}
