package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tenantdesk/tenantdesk/store"
	"github.com/tenantdesk/tenantdesk/tenant"
	"github.com/tenantdesk/tenantdesk/tenant/devpl"
	"github.com/tenantdesk/tenantdesk/tenant/devpl/devpltest"
)

// syncService is a service whose environment points at the fake platform,
// logging at debug level into the returned buffer.
func syncService(t *testing.T, p *devpltest.Platform, env map[string]string) (*Service, *lockedBuffer) {
	t.Helper()
	s := newService(t)
	logs := &lockedBuffer{}
	s.log = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	vars := p.Env()
	for k, v := range env {
		vars[k] = v
	}
	s.getenv = func(name string) (string, bool) { v, ok := vars[name]; return v, ok }
	return s, logs
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func keysOf(t *testing.T, s *Service) []string {
	t.Helper()
	list, err := s.Tenants()
	if err != nil {
		t.Fatal(err)
	}
	out := make([]string, len(list))
	for i, c := range list {
		out[i] = string(c.Key)
	}
	return out
}

func TestSyncImportsAndSaysWhatChanged(t *testing.T) {
	p := devpltest.New(t)
	s, logs := syncService(t, p, nil)
	uat := devpltest.Marketplace(t, "maestrano-uat", "https://api-hub-uat.maestrano.io", testNow)
	acme := devpltest.Marketplace(t, "acme", "https://api.acme.test", testNow)
	p.SetMarketplaces(t, uat, acme)

	res, err := s.SyncTenants(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got := res.Summary(); got != "2 added (acme, maestrano-uat), 0 updated, 0 unchanged" || res.Source != p.URL() {
		t.Fatalf("first sync: %q from %q", got, res.Source)
	}
	stored, err := s.registry().Get("maestrano-uat")
	if err != nil || stored.API.Key.Reveal() != "api-key-maestrano-uat" || stored.API.ID != "app-maestrano-uat" {
		t.Fatalf("imported tenant: %v %v", stored, err)
	}
	if c, _ := s.Tenant("maestrano-uat"); c.API.Key.Reveal() != tenant.Mask {
		t.Fatalf("the answer carries the api.key: %q", c.API.Key.Reveal())
	}

	res, err = s.SyncTenants(context.Background())
	if err != nil || res.Changed() || len(res.Unchanged) != 2 {
		t.Fatalf("second sync must change nothing: %s, %v", res.Summary(), err)
	}

	acme["api"].(map[string]any)["id"] = "app-acme-2"
	p.SetMarketplaces(t, uat, acme)
	res, err = s.SyncTenants(context.Background())
	if err != nil || res.Summary() != "0 added, 1 updated (acme), 1 unchanged (maestrano-uat)" {
		t.Fatalf("third sync: %s, %v", res.Summary(), err)
	}

	evs := devplEvents(t, s)
	if len(evs) != 2 {
		t.Errorf("%d activity events, want one per sync that changed something (2)", len(evs))
	}
	if !strings.Contains(logs.String(), "developer-platform sync") {
		t.Errorf("no log line of the sync:\n%s", logs)
	}
}

// Every refusal changes nothing, names the host, and never shows the
// secret: not in the error, not in the log, not in the activity log.
func TestSyncRefusalsChangeNothingAndHideTheSecret(t *testing.T) {
	p := devpltest.New(t)
	good := devpltest.Marketplace(t, "good", "https://api.good.test", testNow)
	cases := []struct {
		name  string
		env   map[string]string
		setup func()
		is    error
		says  string
	}{
		{"wrong secret", map[string]string{devpl.EnvSecret: "not-" + devpltest.EnvSecret}, func() { p.SetMarketplaces(t, good) },
			devpl.ErrUnauthorized, "HTTP 401"},
		{"error key", nil, func() { p.SetAnswer(200, `{"error":"environment not found"}`) }, devpl.ErrAnswer, "environment not found"},
		{"missing marketplaces", nil, func() { p.SetAnswer(200, `{"marketplace":"good"}`) }, devpl.ErrAnswer, `no "marketplaces"`},
		{"one invalid marketplace", nil, func() {
			p.SetDocument([]byte(`{"marketplaces":[` + mustJSON(t, good) + `,` +
				devpltest.JavaFixture[strings.Index(devpltest.JavaFixture, "{\n         \"marketplace\""):strings.LastIndex(devpltest.JavaFixture, "]")] + `]}`))
		}, nil, "marketplaces[1].api"},
		{"the Java SDK's fixture", nil, func() { p.SetDocument([]byte(devpltest.JavaFixture)) }, nil, "marketplaces[1].api.id: required"},
		{"unreachable", map[string]string{devpl.EnvHost: "http://127.0.0.1:1"}, func() {}, devpl.ErrUnreachable, "http://127.0.0.1:1"},
		{"not configured", map[string]string{devpl.EnvKey: ""}, func() {}, devpl.ErrNotConfigured, devpl.EnvKey},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, logs := syncService(t, p, tc.env)
			seed := validConfig(t, "existing", "https://api.existing.test")
			if _, err := s.SaveTenant(seed, true); err != nil {
				t.Fatal(err)
			}
			tc.setup()
			res, err := s.SyncTenants(context.Background())
			if err == nil {
				t.Fatalf("accepted: %s", res.Summary())
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("error %v, want %v", err, tc.is)
			}
			if !strings.Contains(err.Error(), tc.says) {
				t.Errorf("error %q must say %q", err, tc.says)
			}
			if tc.name != "not configured" && tc.name != "unreachable" && !strings.Contains(err.Error(), p.URL()) {
				t.Errorf("error %q must name the host %s", err, p.URL())
			}
			if got := keysOf(t, s); len(got) != 1 || got[0] != "existing" {
				t.Errorf("tenants after a refused sync: %v, want only the one there before", got)
			}
			evs := devplEvents(t, s)
			var events strings.Builder
			for _, e := range evs {
				events.WriteString(e.Message)
			}
			if len(evs) != 1 || evs[0].Outcome != "failed" {
				t.Errorf("activity: %+v, want one failed event", evs)
			}
			for where, text := range map[string]string{"error": err.Error(), "log": logs.String(), "activity": events.String()} {
				if strings.Contains(text, devpltest.EnvSecret) {
					t.Errorf("the environment secret shows in the %s: %s", where, text)
				}
			}
		})
	}
}

func mustJSON(t *testing.T, v map[string]any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func devplEvents(t *testing.T, s *Service) []store.Event {
	t.Helper()
	all, err := s.RecentEvents(100)
	if err != nil {
		t.Fatal(err)
	}
	var out []store.Event
	for _, e := range all {
		if e.Kind == store.EventDevPlatform {
			out = append(out, e)
		}
	}
	return out
}

// The periodic re-sync picks up a marketplace linked after it started.
func TestPeriodicResyncPicksUpANewMarketplace(t *testing.T) {
	p := devpltest.New(t)
	s, _ := syncService(t, p, map[string]string{devpl.EnvRefresh: "20ms"})
	s.minRefresh = 10 * time.Millisecond
	p.SetMarketplaces(t, devpltest.Marketplace(t, "first", "https://api.first.test", testNow))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.runDevPlatformSync(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("re-sync loop: %v", err)
		}
	}()

	waitFor := func(key string) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for time.Now().Before(deadline) {
			if _, err := s.Tenant(tenant.Key(key)); err == nil {
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
		t.Fatalf("tenant %s never appeared (%d requests)", key, func() int { n, _ := p.Counts(); return n }())
	}
	waitFor("first")
	p.SetMarketplaces(t, devpltest.Marketplace(t, "first", "https://api.first.test", testNow),
		devpltest.Marketplace(t, "second", "https://api.second.test", testNow))
	waitFor("second")
}

func TestPeriodicResyncIsOffWithoutRefreshAndFollowsTheSetting(t *testing.T) {
	p := devpltest.New(t)
	p.SetMarketplaces(t, devpltest.Marketplace(t, "later", "https://api.later.test", testNow))
	s, _ := syncService(t, p, nil)
	s.minRefresh = 20 * time.Millisecond
	var mu sync.Mutex
	stored := map[string]string{}
	s.settings = func(name string) (string, bool) {
		mu.Lock()
		defer mu.Unlock()
		v, ok := stored[name]
		return v, ok
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.runDevPlatformSync(ctx) }()
	time.Sleep(200 * time.Millisecond)
	if n, _ := p.Counts(); n != 0 {
		t.Errorf("%d requests with re-sync off", n)
	}
	// Turned on in the settings while it runs: no restart needed. (The
	// settings store refuses less than a minute; the lookup stands in.)
	mu.Lock()
	stored["devpl-refresh"] = "30ms"
	mu.Unlock()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := s.Tenant("later"); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the re-sync never started after devpl-refresh was set")
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	s, _ = syncService(t, p, map[string]string{devpl.EnvRefresh: "soon"})
	if err := s.runDevPlatformSync(context.Background()); err == nil {
		t.Error("a refresh that does not parse must be an error")
	}
}

// A re-sync keeps what the vendor set here and the platform never sends
// (billing, enabled, display name), and takes everything of the
// platform's own vocabulary from the document, a dropped field included.
func TestResyncKeepsTheVendorsOwnSettings(t *testing.T) {
	p := devpltest.New(t)
	s, _ := syncService(t, p, nil)
	acme := devpltest.Marketplace(t, "acme", "https://api.acme.test", testNow)
	p.SetMarketplaces(t, acme)
	if _, err := s.SyncTenants(context.Background()); err != nil {
		t.Fatal(err)
	}
	c, _ := s.Tenant("acme")
	c.DisplayName, c.Billing.PriceCents, c.Billing.Currency = "Acme Marketplace", 4900, "USD"
	if _, err := s.SaveTenant(c, false); err != nil {
		t.Fatal(err)
	}
	if err := s.SetTenantEnabled("acme", false); err != nil {
		t.Fatal(err)
	}

	res, err := s.SyncTenants(context.Background())
	if err != nil || res.Changed() {
		t.Fatalf("a re-sync of the same document: %s, %v; want nothing changed", res.Summary(), err)
	}
	delete(acme, "connec")
	p.SetMarketplaces(t, acme)
	if res, err := s.SyncTenants(context.Background()); err != nil || len(res.Updated) != 1 {
		t.Fatalf("a document without connec: %s, %v", res.Summary(), err)
	}
	c, _ = s.Tenant("acme")
	if c.DisplayName != "Acme Marketplace" || c.Billing.PriceCents != 4900 || c.Billing.Currency != "USD" || c.Enabled {
		t.Errorf("the vendor's settings were reset: %q %d %s enabled=%v", c.DisplayName, c.Billing.PriceCents, c.Billing.Currency, c.Enabled)
	}
	if c.Connec.Host != "" {
		t.Errorf("connec.host %q kept although the platform dropped it", c.Connec.Host)
	}
	acme["billing"] = map[string]any{"price_cents": 1500}
	p.SetMarketplaces(t, acme)
	if _, err := s.SyncTenants(context.Background()); err != nil {
		t.Fatal(err)
	}
	if c, _ = s.Tenant("acme"); c.Billing.PriceCents != 1500 || c.Billing.Currency != "USD" {
		t.Errorf("a price in the document must win: %d %s", c.Billing.PriceCents, c.Billing.Currency)
	}
}

// The devpl-* settings kept in the data file configure the sync; the
// environment variables win over them.
func TestSyncFromStoredSettingsAndEnvWins(t *testing.T) {
	p := devpltest.New(t)
	p.SetMarketplaces(t, devpltest.Marketplace(t, "stored", "https://api.stored.test", testNow))
	s := newService(t)
	env := map[string]string{}
	s.getenv = func(name string) (string, bool) { v, ok := env[name]; return v, ok }
	// The host first: a later change of devpl-host drops the stored secret
	// (SPEC §15, a secret is bound to its host).
	for _, kv := range [][2]string{{"devpl-host", p.URL()}, {"devpl-api-path", devpltest.APIPath},
		{"devpl-env-key", devpltest.EnvKey}, {"devpl-env-secret", devpltest.EnvSecret}} {
		if err := s.SetSetting(kv[0], kv[1]); err != nil {
			t.Fatalf("set %s: %v", kv[0], err)
		}
	}
	if res, err := s.SyncTenants(context.Background()); err != nil || len(res.Added) != 1 {
		t.Fatalf("sync from stored settings: %s, %v", res.Summary(), err)
	}
	env[devpl.EnvSecret] = "wrong"
	if _, err := s.SyncTenants(context.Background()); !errors.Is(err, devpl.ErrUnauthorized) {
		t.Fatalf("the environment's secret must win over the stored one: %v", err)
	}
}
