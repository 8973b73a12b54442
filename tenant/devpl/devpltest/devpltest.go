// Package devpltest owns the fake Maestrano developer platform that tests
// of the sync (devpl, admin, the CLI and the GUI) run against: an httptest
// server answering GET {api_path} with the marketplaces document, written
// from the SDKs' side of the wire (maestrano-java DevPlatformClient and its
// dev-platform-marketplaces.json fixture, maestrano-ruby auto_configure.rb):
// HTTP Basic with the environment key and secret, a JSON answer holding
// "marketplaces", or an "error" key. It is for tests only.
package devpltest

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/tenantdesk/tenantdesk/tenant/tenanttest"
)

// Environment credentials the fake accepts unless told otherwise.
const (
	EnvKey    = "env-key-7f3a"
	EnvSecret = "env-secret-Zq81-never-print-me"
	APIPath   = "/api/config/v1/marketplaces"
)

// JavaFixture is maestrano-java's dev-platform-marketplaces.json: two
// marketplaces with only app.host (and one consume_path). The SDK loads it;
// Tenantdesk must refuse it, because neither has api credentials or an IdP.
const JavaFixture = `{
   "marketplaces":[
      {
         "marketplace":"first_market_place",
         "environment":"uat",
         "app":{ "host":"host" },
         "sso":{ "consume_path": "anotherValue" }
      },
      {
         "marketplace":"second_market_place",
         "environment":"prod",
         "app":{ "host":"host2" }
      }
   ]
}`

// Platform is a running fake developer platform.
type Platform struct {
	Server *httptest.Server

	mu       sync.Mutex
	key      string
	secret   string
	path     string
	status   int    // answer status; 0 = 200
	body     []byte // answer body
	requests int    // GETs of the path, any credentials
	accepted int    // GETs with good credentials
	accept   string // Accept header of the last request
	gate     <-chan struct{}
}

// Hold makes every answer wait until gate is closed (nil: no wait).
func (p *Platform) Hold(gate <-chan struct{}) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.gate = gate
}

// New starts a fake serving no marketplace yet and closes it when the test
// ends.
func New(t testing.TB) *Platform {
	p := &Platform{key: EnvKey, secret: EnvSecret, path: APIPath, body: []byte(`{"marketplaces":[]}`)}
	p.Server = httptest.NewServer(http.HandlerFunc(p.serve))
	t.Cleanup(p.Server.Close)
	return p
}

// URL is the host to configure (MNO_DEVPL_HOST).
func (p *Platform) URL() string { return p.Server.URL }

// Env is the environment the SDKs would be given for this fake.
func (p *Platform) Env() map[string]string {
	return map[string]string{
		"MNO_DEVPL_HOST":       p.URL(),
		"MNO_DEVPL_API_PATH":   APIPath,
		"MNO_DEVPL_ENV_NAME":   "tenantdesk-test",
		"MNO_DEVPL_ENV_KEY":    EnvKey,
		"MNO_DEVPL_ENV_SECRET": EnvSecret,
	}
}

// SetDocument makes the fake answer 200 with body.
func (p *Platform) SetDocument(body []byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.status, p.body = 0, body
}

// SetMarketplaces answers {"marketplaces": ms}.
func (p *Platform) SetMarketplaces(t testing.TB, ms ...map[string]any) {
	t.Helper()
	if ms == nil {
		ms = []map[string]any{}
	}
	b, err := json.Marshal(map[string]any{"marketplaces": ms})
	if err != nil {
		t.Fatal(err)
	}
	p.SetDocument(b)
}

// SetAnswer makes the fake answer status with body, whatever is asked.
func (p *Platform) SetAnswer(status int, body string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.status, p.body = status, []byte(body)
}

// Counts reports the GETs received and those with good credentials.
func (p *Platform) Counts() (requests, accepted int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.requests, p.accepted
}

// LastAccept is the Accept header of the last request.
func (p *Platform) LastAccept() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.accept
}

func (p *Platform) serve(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	gate := p.gate
	p.mu.Unlock()
	if gate != nil {
		<-gate
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	if r.Method != http.MethodGet || r.URL.Path != p.path {
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(`{"error":"Not found"}`))
		return
	}
	p.requests++
	p.accept = r.Header.Get("Accept")
	key, secret, ok := r.BasicAuth()
	if !ok || key != p.key || secret != p.secret {
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte(`{"error":"Invalid environment credentials"}`))
		return
	}
	p.accepted++
	if p.status != 0 {
		w.WriteHeader(p.status)
	}
	_, _ = w.Write(p.body)
}

// Marketplace is one valid marketplace object, as the developer platform
// lists it (maestrano-protocol §1.4), for key with its API at apiHost
// and an IdP certificate valid around now.
func Marketplace(t testing.TB, key, apiHost string, now time.Time) map[string]any {
	t.Helper()
	return map[string]any{
		"marketplace": key,
		"environment": key,
		"app":         map[string]any{"host": "https://app.example.com"},
		"api":         map[string]any{"id": "app-" + key, "key": "api-key-" + key, "host": apiHost, "base": "/api/v1/"},
		"sso": map[string]any{
			"idm":              "https://app.example.com",
			"idp":              apiHost,
			"x509_certificate": tenanttest.Certificate(t, now.Add(-24*time.Hour), now.Add(365*24*time.Hour)),
		},
		"connec": map[string]any{"host": "https://api-connec.example.com", "base_path": "/api/v2", "timeout": 300},
	}
}
