package sso

import (
	"bytes"
	"compress/flate"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tenantdesk/tenantdesk/store"
	"github.com/tenantdesk/tenantdesk/tenant"
	"github.com/tenantdesk/tenantdesk/tenant/sso/ssotest"
)

// harness is a listener with only the SSO routes over real HTTP, on a real
// bbolt file, with two tenants (acme, globex) that share one marketplace
// IdP and its signing certificate, as tenants of one platform may.
type harness struct {
	t      testing.TB
	db     *store.DB
	svc    *Service
	srv    *httptest.Server
	client *http.Client
	idp    *ssotest.IdP
	other  *ssotest.Signer // a second key: rotation and wrong-key cases

	mu      sync.Mutex
	tenants map[tenant.Key]*tenant.Config
	spIDs   map[tenant.Key]string
}

// testWriter sends the service's log to the test's log.
type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func testLogger(t testing.TB) *slog.Logger {
	switch t.(type) {
	case *testing.B, *testing.F: // fuzz targets cannot log through F

		return slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return slog.New(slog.NewTextHandler(testWriter{t}, nil))
}

func newHarness(t testing.TB) *harness { return newHarnessWith(t, store.Options{}) }

func newHarnessWith(t testing.TB, opts store.Options) *harness {
	t.Helper()
	db, err := store.Open(filepath.Join(t.TempDir(), "tenantdesk.db"), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return newHarnessOn(t, db)
}

// newHarnessOn is the harness on an open store (an etcd one: replicas).
func newHarnessOn(t testing.TB, db *store.DB) *harness {
	t.Helper()
	main, other, err := ssotest.SharedSigners()
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, db: db, other: other, tenants: map[tenant.Key]*tenant.Config{}, spIDs: map[tenant.Key]string{}}
	mux := http.NewServeMux()
	mount := func(route tenant.Route, handle func(http.ResponseWriter, *http.Request, *tenant.Config)) {
		mux.HandleFunc(route.Pattern(), func(w http.ResponseWriter, r *http.Request) {
			cfg := h.tenant(tenant.Key(r.PathValue("tenant")))
			if cfg == nil {
				http.NotFound(w, r)
				return
			}
			handle(w, r, cfg)
		})
	}
	h.srv = httptest.NewServer(mux)
	t.Cleanup(h.srv.Close)
	h.svc = New(db, h.srv.URL, testLogger(t))
	mount(tenant.RouteSAMLInit, h.svc.Initialize)
	mount(tenant.RouteSAMLConsume, h.svc.Consume)
	mount(tenant.RouteSPMetadata, h.svc.SPMetadata)
	mount(tenant.RouteSession, h.svc.Session)
	mount(tenant.RouteLogout, h.svc.Logout)

	jar, _ := cookiejar.New(nil)
	h.client = &http.Client{
		Jar:           jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}

	h.idp, err = ssotest.NewIdP(main, "https://idp.marketplace.test/api/v1/auth/saml")
	if err != nil {
		t.Fatal(err)
	}
	h.addTenant("acme", nil)
	h.addTenant("globex", nil)
	// Maestrano's audience: the ACS URL cut after the host, slash included.
	h.idp.Audience = tenant.Origin(h.srv.URL) + "/"
	return h
}

// addTenant configures a tenant trusting the harness IdP, and registers the
// tenant's SP metadata (fetched over HTTP) with the IdP.
func (h *harness) addTenant(key tenant.Key, edit func(*tenant.Config)) *tenant.Config {
	h.t.Helper()
	cfg := &tenant.Config{
		Key:         key,
		DisplayName: strings.ToUpper(string(key)),
		Enabled:     true,
		API:         tenant.API{ID: "app-" + string(key), Key: "secret-" + tenant.Secret(key), Host: "https://api.marketplace.test"},
		SSO: tenant.SSO{
			IdP:             "https://idp.marketplace.test",
			IdPIssuer:       h.idp.Issuer(),
			X509Certificate: h.idp.Signer.CertPEM(),
		},
	}
	if edit != nil {
		edit(cfg)
	}
	h.setTenant(cfg)
	resp := h.get(tenant.RouteSPMetadata.URL(h.srv.URL, key))
	body := readBody(h.t, resp)
	if resp.StatusCode != http.StatusOK {
		h.t.Fatalf("sp metadata of %s: %d %s", key, resp.StatusCode, body)
	}
	id, err := h.idp.AddServiceProvider([]byte(body))
	if err != nil {
		h.t.Fatal(err)
	}
	h.mu.Lock()
	h.spIDs[key] = id
	h.mu.Unlock()
	return cfg
}

func (h *harness) setTenant(cfg *tenant.Config) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.tenants[cfg.Key] = cfg
}

func (h *harness) tenant(key tenant.Key) *tenant.Config {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.tenants[key]
}

func (h *harness) get(u string) *http.Response {
	h.t.Helper()
	resp, err := h.client.Get(u)
	if err != nil {
		h.t.Fatal(err)
	}
	return resp
}

// initialize runs GET …/saml/initialize and returns the redirect and the
// AuthnRequest ID it carries.
func (h *harness) initialize(key tenant.Key, query string) (*url.URL, string) {
	h.t.Helper()
	u := tenant.RouteSAMLInit.URL(h.srv.URL, key)
	if query != "" {
		u += "?" + query
	}
	resp := h.get(u)
	readBody(h.t, resp)
	if resp.StatusCode != http.StatusFound {
		h.t.Fatalf("initialize: status %d", resp.StatusCode)
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		h.t.Fatal(err)
	}
	req := decodeAuthnRequest(h.t, loc.Query().Get("SAMLRequest"))
	return loc, req.ID
}

type authnRequest struct {
	XMLName                     xml.Name `xml:"urn:oasis:names:tc:SAML:2.0:protocol AuthnRequest"`
	ID                          string   `xml:"ID,attr"`
	Destination                 string   `xml:"Destination,attr"`
	AssertionConsumerServiceURL string   `xml:"AssertionConsumerServiceURL,attr"`
	ProtocolBinding             string   `xml:"ProtocolBinding,attr"`
	Issuer                      string   `xml:"urn:oasis:names:tc:SAML:2.0:assertion Issuer"`
	NameIDPolicy                struct {
		Format      string `xml:"Format,attr"`
		AllowCreate string `xml:"AllowCreate,attr"`
	} `xml:"urn:oasis:names:tc:SAML:2.0:protocol NameIDPolicy"`
}

// decodeAuthnRequest undoes the HTTP-Redirect encoding: base64, raw DEFLATE.
func decodeAuthnRequest(t testing.TB, v string) authnRequest {
	t.Helper()
	deflated, err := base64.StdEncoding.DecodeString(v)
	if err != nil {
		t.Fatalf("SAMLRequest base64: %v", err)
	}
	raw, err := io.ReadAll(flate.NewReader(bytes.NewReader(deflated)))
	if err != nil {
		t.Fatalf("SAMLRequest inflate: %v", err)
	}
	var req authnRequest
	if err := xml.Unmarshal(raw, &req); err != nil {
		t.Fatalf("SAMLRequest XML: %v\n%s", err, raw)
	}
	return req
}

// attrs is a Maestrano attribute set for user usr-1 in group cld-1.
func attrs(overrides ...string) map[string]string {
	m := map[string]string{
		"mno_session":           "mno-sess-token",
		"mno_session_recheck":   "2030-01-02T03:04:05Z",
		"group_uid":             "cld-1",
		"group_name":            "Acme Pty",
		"group_role":            "Admin",
		"group_email":           "boss@acme.test",
		"group_currency":        "AUD",
		"group_timezone":        "Australia/Sydney",
		"group_city":            "Sydney",
		"group_end_free_trial":  "2030-01-31T00:00:00Z",
		"group_has_credit_card": "true",
		"group_org_uid":         "org-48",
		"uid":                   "usr-1",
		"virtual_uid":           "usr-1.cld-1",
		"email":                 "jane@acme.test",
		"virtual_email":         "usr-1.cld-1@mail.maestrano.test",
		"name":                  "Jane",
		"surname":               "Doe",
		"country":               "AU",
		"company_name":          "Jane Co",
	}
	for i := 0; i+1 < len(overrides); i += 2 {
		if overrides[i+1] == "" {
			delete(m, overrides[i])
		} else {
			m[overrides[i]] = overrides[i+1]
		}
	}
	return m
}

// response issues a signed response of the harness IdP to tenant key.
func (h *harness) response(key tenant.Key, inResponseTo string, at time.Time, a map[string]string) string {
	h.t.Helper()
	h.mu.Lock()
	sp := h.spIDs[key]
	h.mu.Unlock()
	encoded, err := h.idp.Response(ssotest.Login{SP: sp, InResponseTo: inResponseTo, At: at, Attributes: a})
	if err != nil {
		h.t.Fatal(err)
	}
	return encoded
}

// consume posts a SAMLResponse to a tenant's consume URL.
func (h *harness) consume(key tenant.Key, samlResponse string) *http.Response {
	h.t.Helper()
	form := url.Values{"SAMLResponse": {samlResponse}}
	resp, err := h.client.PostForm(tenant.RouteSAMLConsume.URL(h.srv.URL, key), form)
	if err != nil {
		h.t.Fatal(err)
	}
	return resp
}

// postConsume posts a SAMLResponse with client, carrying the login cookies
// the harness browser holds (as the same browser in another connection).
func (h *harness) postConsume(client *http.Client, key tenant.Key, samlResponse string) (*http.Response, error) {
	u := tenant.RouteSAMLConsume.URL(h.srv.URL, key)
	req, err := http.NewRequest(http.MethodPost, u, strings.NewReader(url.Values{"SAMLResponse": {samlResponse}}.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for _, c := range h.client.Jar.Cookies(req.URL) {
		req.AddCookie(c)
	}
	return client.Do(req)
}

func readBody(t testing.TB, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// lastEvent is the newest activity-log entry.
func (h *harness) lastEvent() store.Event {
	h.t.Helper()
	if err := h.svc.Failures().Flush(); err != nil {
		h.t.Fatal(err)
	}
	var ev store.Event
	err := h.db.View(func(tx *store.Tx) error {
		evs, err := tx.RecentEvents(1)
		if err != nil {
			return err
		}
		if len(evs) == 0 {
			return errors.New("no events")
		}
		ev = evs[0]
		return nil
	})
	if err != nil {
		h.t.Fatal(err)
	}
	return ev
}

// assertNothingWritten checks that no group, user, membership or
// identity-map row exists for tenant key.
func (h *harness) assertNothingWritten(key tenant.Key, userUID, groupUID string) {
	h.t.Helper()
	k := string(key)
	err := h.db.View(func(tx *store.Tx) error {
		groups, err := tx.Groups(k)
		if err != nil {
			return err
		}
		if len(groups) != 0 {
			h.t.Errorf("groups written: %+v", groups)
		}
		if _, err := tx.User(k, userUID); !errors.Is(err, store.ErrNotFound) {
			h.t.Errorf("user %s: err = %v, want not found", userUID, err)
		}
		if _, err := tx.Membership(k, groupUID, userUID); !errors.Is(err, store.ErrNotFound) {
			h.t.Errorf("membership: err = %v, want not found", err)
		}
		if n, err := tx.CountConnected(k, ""); err != nil || n != 0 {
			h.t.Errorf("identity map rows = %d, %v; want 0", n, err)
		}
		return nil
	})
	if err != nil {
		h.t.Fatal(err)
	}
}
