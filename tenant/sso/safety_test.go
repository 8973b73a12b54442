package sso

import (
	"net/http"
	"net/http/cookiejar"
	"strings"
	"testing"
	"time"

	"github.com/tenantdesk/tenantdesk/store"
	"github.com/tenantdesk/tenantdesk/tenant"
	"github.com/tenantdesk/tenantdesk/tenant/account"
	"github.com/tenantdesk/tenantdesk/tenant/sso/ssotest"
)

// Login CSRF: an attacker starts a login in their own browser, gets the
// IdP's response for their own account and makes the victim's browser post
// it. The victim's browser lacks the login cookie of that request.
func TestLoginBoundToTheBrowserThatStartedIt(t *testing.T) {
	h := newHarness(t)
	_, id := h.initialize("acme", "")
	samlResponse := h.response("acme", id, time.Time{}, attrs())

	victimJar, _ := cookiejar.New(nil)
	victim := &http.Client{Jar: victimJar, CheckRedirect: h.client.CheckRedirect}
	resp, err := victim.PostForm(tenant.RouteSAMLConsume.URL(h.srv.URL, "acme"), map[string][]string{"SAMLResponse": {samlResponse}})
	if err != nil {
		t.Fatal(err)
	}
	h.assertRefused(resp, ReasonOtherBrowser)
	h.assertNothingWritten("acme", "usr-1", "cld-1")

	// A wrong nonce under the right name is refused the same way.
	forged, _ := http.NewRequest(http.MethodPost, tenant.RouteSAMLConsume.URL(h.srv.URL, "acme"),
		strings.NewReader("SAMLResponse="+urlQueryEscape(samlResponse)))
	forged.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	forged.AddCookie(&http.Cookie{Name: LoginCookiePrefix + id, Value: strings.Repeat("0", 64)})
	resp, err = victim.Do(forged)
	if err != nil {
		t.Fatal(err)
	}
	h.assertRefused(resp, ReasonOtherBrowser)

	// The browser that started it still can: the refusals spent nothing.
	resp = h.consume("acme", samlResponse)
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("starting browser: %d %s", resp.StatusCode, readBody(t, resp))
	}
	var cleared bool
	for _, c := range resp.Cookies() {
		if c.Name == LoginCookiePrefix+id && c.Value == "" && c.MaxAge < 0 {
			cleared = true
		}
	}
	if !cleared {
		t.Errorf("consume did not clear the login cookie: %q", resp.Header.Values("Set-Cookie"))
	}
	if ev := h.lastEvent(); ev.Outcome != "ok" || ev.UserUID != "usr-1" || ev.GroupUID != "cld-1" || ev.Reason != "" {
		t.Errorf("login event %+v: want ok, user usr-1, group cld-1, SP-initiated", ev)
	}
}

func urlQueryEscape(s string) string {
	r := strings.NewReplacer("+", "%2B", "/", "%2F", "=", "%3D")
	return r.Replace(s)
}

// The login cookie crosses sites on https (SameSite=None needs Secure) and
// lives no longer than its request.
func TestLoginCookieAttributes(t *testing.T) {
	for _, c := range []struct {
		publicURL string
		secure    bool
		sameSite  http.SameSite
		path      string
	}{
		{"https://app.example.com", true, http.SameSiteNoneMode, "/"},
		{"https://app.example.com/td/", true, http.SameSiteNoneMode, "/td/"},
		{"http://127.0.0.1:8765", false, 0, "/"}, // the browser's default
	} {
		s := New(nil, c.publicURL, nil)
		ck := s.loginCookie("_abc", "nonce", int(RequestTTL.Seconds()))
		if ck.Secure != c.secure || ck.SameSite != c.sameSite || !ck.HttpOnly || ck.Path != c.path || ck.MaxAge != 600 {
			t.Errorf("%s: cookie %+v", c.publicURL, ck)
		}
		if c.secure && !strings.Contains(ck.String(), "SameSite=None") {
			t.Errorf("%s: %s lacks SameSite=None", c.publicURL, ck.String())
		}
	}
}

// IdP-initiated logins, where allowed, say so in the audit log.
func TestIdPInitiatedLoginMarked(t *testing.T) {
	h := newHarness(t)
	h.addTenant("initech", func(c *tenant.Config) { c.SSO.AllowIdPInitiated = true })
	mustFound(t, h.consume("initech", h.response("initech", "", time.Time{}, attrs())))
	ev := h.lastEvent()
	if ev.Outcome != "ok" || ev.Reason != "idp_initiated" || !strings.Contains(ev.Message, "IdP-initiated") {
		t.Errorf("event %+v: want an ok login marked IdP-initiated", ev)
	}
}

// A member removal that arrives after the IdP issued an assertion wins: the
// older assertion does not sign the member back in. A newer one (the
// marketplace added the user again) does.
func TestAssertionIssuedBeforeRemovalDoesNotRevive(t *testing.T) {
	h := newHarness(t)
	base := time.Now().Truncate(time.Second)
	h.svc.SetClock(func() time.Time { return base })
	mustFound(t, h.login("acme", attrs()))

	// The IdP issues a response; before it is posted, the marketplace's
	// member-removal webhook is applied (the rule the webhook runs).
	_, id := h.initialize("acme", "")
	stale := h.response("acme", id, base, attrs())
	removedAt := base.Add(time.Second)
	if err := h.db.Update(func(tx *store.Tx) error {
		_, err := account.RemoveMember(tx, "acme", false, "cld-1", "usr-1", removedAt)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	h.svc.SetClock(func() time.Time { return base.Add(30 * time.Second) })
	h.assertRefused(h.consume("acme", stale), ReasonRemovedLater)
	err := h.db.View(func(tx *store.Tx) error {
		m, err := tx.Membership("acme", "cld-1", "usr-1")
		if err == nil && !m.Ended {
			t.Error("stale assertion reactivated the membership")
		}
		u, err2 := tx.User("acme", "usr-1")
		if err2 == nil && !u.Blocked {
			t.Error("stale assertion unblocked the user")
		}
		if err != nil {
			return err
		}
		return err2
	})
	if err != nil {
		t.Fatal(err)
	}

	_, id = h.initialize("acme", "")
	mustFound(t, h.consume("acme", h.response("acme", id, base.Add(20*time.Second), attrs())))
}

// The IdP certificate's validity is judged on the real clock: one issued
// 20 s ago works (the 3-minute skew is for the assertion's times only).
func TestFreshIdPCertificateWorks(t *testing.T) {
	h := newHarness(t)
	signer, err := ssotest.NewSignerValidFrom("fresh idp", time.Now().Add(-20*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	idp, err := ssotest.NewIdP(signer, h.idp.Issuer())
	if err != nil {
		t.Fatal(err)
	}
	idp.Audience = h.idp.Audience
	h.idp = idp
	h.addTenant("fresh", nil)
	_, id := h.initialize("fresh", "")
	resp := h.consume("fresh", h.response("fresh", id, time.Time{}, attrs()))
	if body := readBody(t, resp); resp.StatusCode != http.StatusFound {
		t.Fatalf("login signed with a certificate issued 20 s ago: %d %s", resp.StatusCode, body)
	}

	// A certificate not valid yet (issued a minute from now) is refused.
	future, err := ssotest.NewSignerValidFrom("future idp", time.Now().Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if h.idp, err = ssotest.NewIdP(future, idp.Issuer()); err != nil {
		t.Fatal(err)
	}
	h.idp.Audience = idp.Audience
	h.addTenant("future", nil)
	_, id = h.initialize("future", "")
	resp = h.consume("future", h.response("future", id, time.Time{}, attrs()))
	if body := readBody(t, resp); resp.StatusCode != http.StatusForbidden || !strings.Contains(body, string(ReasonSignature)) {
		t.Fatalf("certificate valid from a minute ahead: %d %s", resp.StatusCode, body)
	}
}
