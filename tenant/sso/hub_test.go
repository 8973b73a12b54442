package sso

import (
	"encoding/base64"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tenantdesk/tenantdesk/store"
	"github.com/tenantdesk/tenantdesk/tenant"
	"github.com/tenantdesk/tenantdesk/tenant/sso/hubtest"
)

// withHub adds tenant "hub" configured as a vendor would from the
// marketplaces document: sso.idp = the hub, no idp_issuer, no audience.
func withHub(t *testing.T, h *harness, edit func(*tenant.Config)) *hubtest.Hub {
	t.Helper()
	hub := hubtest.New(h.idp.Signer)
	t.Cleanup(hub.Close)
	hub.AddApp("app-hub", "secret-hub")
	hub.AddGroup(hubtest.Group{UID: "cld-9", Name: "Hub Co", AppID: "app-hub"})
	hub.AddUser(hubtest.User{UID: "usr-9", Email: "ann@hub.test", Name: "Ann", Surname: "Lee", Country: "AU",
		Groups: map[string]string{"cld-9": "Admin"}})
	hub.SignIn("usr-9")
	h.addTenant("hub", func(c *tenant.Config) {
		c.API = tenant.API{ID: "app-hub", Key: "secret-hub", Host: hub.URL()}
		c.SSO = tenant.SSO{IdP: hub.URL(), X509Certificate: hub.CertPEM()}
		if edit != nil {
			edit(c)
		}
	})
	return hub
}

func (h *harness) browser() *hubtest.Browser { return &hubtest.Browser{Client: h.client} }

// TestHubLoginAsTheSandboxSends signs in with exactly what the sandbox
// sends: Issuer = the request URL with its query, Audience = our origin
// with a slash, RSA-SHA1, Base64.encode64 lines posted as CRLF.
func TestHubLoginAsTheSandboxSends(t *testing.T) {
	h := newHarness(t)
	hub := withHub(t, h, nil)

	// What the hub puts in the form, before the browser posts it.
	loc, _ := h.initialize("hub", "")
	resp := h.get(loc.String())
	page := readBody(t, resp)
	value := regexp.MustCompile(`value="([^"]*)"`).FindStringSubmatch(page)
	if value == nil || !strings.Contains(value[1], "\n") || len(strings.SplitN(value[1], "\n", 2)[0]) != 60 {
		t.Fatalf("hub form is not Base64.encode64 lines of 60: %.200s", page)
	}
	doc, err := hubResponseXML(value[1])
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`<Issuer>` + hub.SSOURL() + `?SAMLRequest=`,
		`<Audience>` + tenant.Origin(h.srv.URL) + `/</Audience>`,
		`xmldsig#rsa-sha1`,
	} {
		if !strings.Contains(doc, want) {
			t.Errorf("hub response lacks %q", want)
		}
	}

	resp, err = h.browser().PostForm(page)
	if err != nil {
		t.Fatal(err)
	}
	if body := readBody(t, resp); resp.StatusCode != http.StatusFound {
		t.Fatalf("consume of the hub's response: %d %s", resp.StatusCode, body)
	}
	resp = h.get(tenant.RouteSession.URL(h.srv.URL, "hub"))
	if body := readBody(t, resp); resp.StatusCode != http.StatusOK || !strings.Contains(body, `"usr-9"`) {
		t.Fatalf("session after hub login: %d %s", resp.StatusCode, body)
	}
}

func hubResponseXML(encoded string) (string, error) {
	raw, err := io.ReadAll(base64.NewDecoder(base64.StdEncoding, strings.NewReader(encoded)))
	return string(raw), err
}

func TestHubLoginRefusedWhenTheIssuerIsAnotherURL(t *testing.T) {
	h := newHarness(t)
	withHub(t, h, nil)
	loc, _ := h.initialize("hub", "")
	resp := h.get(loc.String())
	page := readBody(t, resp)
	// The tenant now trusts an SSO URL the response's Issuer does not name.
	cfg := *h.tenant("hub")
	cfg.SSO.SSOURL = cfg.SSO.IdP + "/api/v2/auth/saml"
	h.setTenant(&cfg)
	resp, err := h.browser().PostForm(page)
	if err != nil {
		t.Fatal(err)
	}
	h.assertRefusedFor(resp, "hub", ReasonIssuer)
}

func TestHubLoginRefusedWhenIdPIssuerIsSetAndDiffers(t *testing.T) {
	h := newHarness(t)
	hub := withHub(t, h, func(c *tenant.Config) { c.SSO.IdPIssuer = "https://hub.example/api/v1/auth/saml" })
	_ = hub
	resp, err := h.browser().SignIn(tenant.RouteSAMLInit.URL(h.srv.URL, "hub"))
	if err != nil {
		t.Fatal(err)
	}
	h.assertRefusedFor(resp, "hub", ReasonIssuer)
}

func TestHubLoginRefusedForAnotherAudience(t *testing.T) {
	h := newHarness(t)
	withHub(t, h, func(c *tenant.Config) { c.SSO.Audience = tenant.Audiences{"https://desk.other.example/"} })
	resp, err := h.browser().SignIn(tenant.RouteSAMLInit.URL(h.srv.URL, "hub"))
	if err != nil {
		t.Fatal(err)
	}
	h.assertRefusedFor(resp, "hub", ReasonAudience)
}

// TestAudienceIsTheEntityID: a standard IdP puts the SP entity ID (api.id,
// not a URI) in Audience; that is accepted by default, and another
// tenant's entity ID is refused.
func TestAudienceIsTheEntityID(t *testing.T) {
	h := newHarness(t)
	h.idp.Audience = "app-acme"
	_, id := h.initialize("acme", "")
	resp := h.consume("acme", h.response("acme", id, time.Time{}, attrs()))
	if body := readBody(t, resp); resp.StatusCode != http.StatusFound {
		t.Fatalf("audience = api.id: %d %s", resp.StatusCode, body)
	}

	h.idp.Audience = "app-globex"
	_, id = h.initialize("acme", "")
	h.assertRefused(h.consume("acme", h.response("acme", id, time.Time{}, attrs("uid", "usr-2"))), ReasonAudience)
}

// hubLogin signs usr-9 in through the hub and returns the session URL.
func hubLogin(t *testing.T, h *harness) string {
	t.Helper()
	resp, err := h.browser().SignIn(tenant.RouteSAMLInit.URL(h.srv.URL, "hub"))
	if err != nil {
		t.Fatal(err)
	}
	if body := readBody(t, resp); resp.StatusCode != http.StatusFound {
		t.Fatalf("hub login: %d %s", resp.StatusCode, body)
	}
	return tenant.RouteSession.URL(h.srv.URL, "hub")
}

func (h *harness) sessionStatus(u string) (int, string) {
	h.t.Helper()
	resp := h.get(u)
	return resp.StatusCode, readBody(h.t, resp)
}

// TestSessionCheck: once mno_session_recheck has passed, the next use of
// the session asks the hub (with the app's credentials); valid keeps it
// and stores the hub's recheck time, so the next use asks nothing.
func TestSessionCheck(t *testing.T) {
	h := newHarness(t)
	hub := withHub(t, h, nil)
	hub.Recheck = -time.Minute // the assertion's recheck time has passed
	sessURL := hubLogin(t, h)
	hub.Recheck = 3 * time.Minute

	if code, body := h.sessionStatus(sessURL); code != http.StatusOK {
		t.Fatalf("session with a due check the hub confirms: %d %s", code, body)
	}
	if all, authd := hub.SessionChecks(); all != 1 || authd != 1 {
		t.Fatalf("hub saw %d checks (%d with the app's credentials), want 1 (1)", all, authd)
	}
	if code, _ := h.sessionStatus(sessURL); code != http.StatusOK {
		t.Fatalf("second use: %d", code)
	}
	if all, _ := hub.SessionChecks(); all != 1 {
		t.Errorf("second use within the new recheck time asked the hub again (%d checks)", all)
	}
	u, _ := url.Parse(sessURL)
	var sess store.Session
	for _, c := range h.client.Jar.Cookies(u) {
		if c.Name == CookieName {
			_ = h.db.View(func(tx *store.Tx) error { sess, _ = tx.Session(c.Value); return nil })
		}
	}
	if sess.MnoRecheck.Before(time.Now().Add(2 * time.Minute)) {
		t.Errorf("stored recheck %s, want the hub's (about now+3m)", sess.MnoRecheck)
	}
}

// TestSessionEndsWhenTheHubSaysSo: signing out at the marketplace ends the
// session here at its next use: 401 naming the init URL, the session gone.
func TestSessionEndsWhenTheHubSaysSo(t *testing.T) {
	h := newHarness(t)
	hub := withHub(t, h, nil)
	hub.Recheck = -time.Minute
	sessURL := hubLogin(t, h)
	if code, _ := h.sessionStatus(sessURL); code != http.StatusOK {
		t.Fatalf("before sign-out at the hub: %d", code)
	}
	hub.Logout("usr-9")
	code, body := h.sessionStatus(sessURL)
	if code != http.StatusUnauthorized || !strings.Contains(body, `"init_url":"`+tenant.RouteSAMLInit.URL(h.srv.URL, "hub")+`"`) {
		t.Fatalf("after sign-out at the hub: %d %s; want 401 naming the init URL", code, body)
	}
	checks, _ := hub.SessionChecks()
	if code, _ := h.sessionStatus(sessURL); code != http.StatusUnauthorized {
		t.Errorf("ended session answered %d", code)
	}
	if again, _ := hub.SessionChecks(); again != checks {
		t.Errorf("an ended session asked the hub again")
	}
	if ev := h.lastEvent(); ev.Reason != "session_check" || ev.Tenant != "hub" {
		t.Errorf("last event %+v, want the session's end", ev)
	}
}

// TestSessionEndsWhenTheHubIsSilent: no answer within the timeout ends the
// session (the SDKs treat any failure as invalid).
func TestSessionEndsWhenTheHubIsSilent(t *testing.T) {
	h := newHarness(t)
	hub := withHub(t, h, nil)
	hub.Recheck = -time.Minute
	sessURL := hubLogin(t, h)
	h.svc.checks.timeout = 100 * time.Millisecond // SessionCheckTimeout is 5 s
	hub.CheckDelay.Store(int64(2 * time.Second))
	start := time.Now()
	code, body := h.sessionStatus(sessURL)
	if code != http.StatusUnauthorized {
		t.Fatalf("silent hub: %d %s, want 401", code, body)
	}
	if took := time.Since(start); took > time.Second {
		t.Errorf("the check waited %s for a silent hub", took)
	}
}

// TestSessionCheckOneCallForConcurrentUses: 100 concurrent uses of one
// session whose recheck has passed make exactly one call to the hub, and
// all of them get the hub's answer.
func TestSessionCheckOneCallForConcurrentUses(t *testing.T) {
	h := newHarness(t)
	hub := withHub(t, h, nil)
	hub.Recheck = -time.Minute
	sessURL := hubLogin(t, h)
	hub.Recheck = 3 * time.Minute
	hub.CheckDelay.Store(int64(200 * time.Millisecond)) // all 100 arrive while it runs

	const n = 100
	var wg sync.WaitGroup
	codes := make([]int, n)
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			resp, err := h.client.Get(sessURL)
			if err != nil {
				t.Error(err)
				return
			}
			codes[i] = resp.StatusCode
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}()
	}
	close(start)
	wg.Wait()
	ok := 0
	for _, c := range codes {
		if c == http.StatusOK {
			ok++
		}
	}
	all, _ := hub.SessionChecks()
	t.Logf("%d concurrent uses of a session with a passed recheck: %d answered 200, %d call(s) to the hub", n, ok, all)
	if all != 1 || ok != n {
		t.Fatalf("%d calls to the hub and %d of %d answers 200; want exactly 1 call and all 200", all, ok, n)
	}
}

// TestLogoutEndsTheSessionAndGoesToTheHub: GET …/logout ends the session
// here and sends the browser to {api.host}/app_logout?user_uid=….
func TestLogoutEndsTheSessionAndGoesToTheHub(t *testing.T) {
	h := newHarness(t)
	hub := withHub(t, h, nil)
	sessURL := hubLogin(t, h)
	resp := h.get(tenant.RouteLogout.URL(h.srv.URL, "hub"))
	readBody(t, resp)
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusFound || loc != hub.URL()+"/app_logout?user_uid=usr-9" {
		t.Fatalf("logout: %d to %q", resp.StatusCode, loc)
	}
	if code, _ := h.sessionStatus(sessURL); code != http.StatusUnauthorized {
		t.Errorf("session after logout: %d, want 401", code)
	}
}
