package sso

import (
	"encoding/xml"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/russellhaering/gosaml2/types"

	"github.com/tenantdesk/tenantdesk/store"
	"github.com/tenantdesk/tenantdesk/tenant"
	"github.com/tenantdesk/tenantdesk/tenant/sso/ssotest"
)

// login runs initialize → IdP → consume for tenant key and returns the
// consume answer.
func (h *harness) login(key tenant.Key, a map[string]string) *http.Response {
	h.t.Helper()
	_, id := h.initialize(key, "")
	return h.consume(key, h.response(key, id, time.Time{}, a))
}

func mustFound(t testing.TB, resp *http.Response) {
	t.Helper()
	if body := readBody(t, resp); resp.StatusCode != http.StatusFound {
		t.Fatalf("consume: %d %s", resp.StatusCode, body)
	}
}

func TestReplayedAssertionRefused(t *testing.T) {
	h := newHarness(t)
	base := time.Now()
	h.svc.SetClock(func() time.Time { return base })
	_, id := h.initialize("acme", "")
	samlResponse := h.response("acme", id, base, attrs())
	mustFound(t, h.consume("acme", samlResponse))

	h.svc.SetClock(func() time.Time { return base.Add(time.Minute) })
	h.assertRefused(h.consume("acme", samlResponse), ReasonReplay)
	err := h.db.View(func(tx *store.Tx) error {
		u, err := tx.User("acme", "usr-1")
		if err == nil && !u.UpdatedAt.Equal(base) {
			t.Errorf("replay refreshed the user: updated %s, want %s", u.UpdatedAt, base)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestIdPInitiatedLoginWhenAllowed(t *testing.T) {
	h := newHarness(t)
	h.addTenant("initech", func(c *tenant.Config) { c.SSO.AllowIdPInitiated = true })
	resp := h.consume("initech", h.response("initech", "", time.Time{}, attrs()))
	mustFound(t, resp)
	// Still one use per assertion, and a made-up InResponseTo is refused.
	h.assertRefusedTenant("initech", h.consume("initech", h.response("initech", "_made-up", time.Time{}, attrs())), ReasonInResponseTo)
}

func (h *harness) assertRefusedTenant(key tenant.Key, resp *http.Response, reason Reason) {
	h.t.Helper()
	body := readBody(h.t, resp)
	if resp.StatusCode != reason.HTTPStatus() || !strings.Contains(body, ">"+reason.String()+"<") {
		h.t.Errorf("%s: status %d body %s; want reason %s", key, resp.StatusCode, body, reason)
	}
}

// TestClockSkew: crewjam issues NotBefore = t-3m, NotOnOrAfter = t+90s
// (Conditions and SubjectConfirmationData) and IssueInstant = t.
func TestClockSkew(t *testing.T) {
	issued := time.Now().Truncate(time.Second)
	cases := []struct {
		name   string
		spNow  time.Time
		reason Reason // "" = accepted
	}{
		{"on time", issued.Add(time.Second), ""},
		{"issued 2 min in our future", issued.Add(-2 * time.Minute), ""},
		{"issued 4 min in our future", issued.Add(-4 * time.Minute), ReasonNotYetValid},
		{"expired 2 min ago", issued.Add(90*time.Second + 2*time.Minute), ""},
		{"expired 4 min ago", issued.Add(90*time.Second + 4*time.Minute), ReasonExpired},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t)
			h.svc.SetClock(func() time.Time { return c.spNow })
			_, id := h.initialize("acme", "")
			resp := h.consume("acme", h.response("acme", id, issued, attrs()))
			if c.reason == "" {
				mustFound(t, resp)
				return
			}
			h.assertRefused(resp, c.reason)
			h.assertNothingWritten("acme", "usr-1", "cld-1")
		})
	}
}

func TestVirtualModeCreatesOneUserPerGroup(t *testing.T) {
	h := newHarness(t)
	h.addTenant("hub", func(c *tenant.Config) { c.SSO.CreationMode = tenant.ModeVirtual })
	mustFound(t, h.login("hub", attrs()))
	// Without virtual_uid the uid is masked the way the SDKs do.
	mustFound(t, h.login("hub", attrs("group_uid", "cld-2", "virtual_uid", "", "virtual_email", "")))
	err := h.db.View(func(tx *store.Tx) error {
		for _, want := range []struct{ uid, group, email string }{
			{"usr-1.cld-1", "cld-1", "usr-1.cld-1@mail.maestrano.test"},
			{"usr-1.cld-2", "cld-2", ""},
		} {
			u, err := tx.User("hub", want.uid)
			if err != nil {
				t.Errorf("virtual user %s: %v", want.uid, err)
				continue
			}
			if !u.Virtual || u.RealUID != "usr-1" || u.Email != want.email {
				t.Errorf("user = %+v", u)
			}
			if _, err := tx.Membership("hub", want.group, want.uid); err != nil {
				t.Errorf("membership %s/%s: %v", want.group, want.uid, err)
			}
			if _, err := tx.ConnectedByLocal("hub", store.KindUser, want.uid); err != nil {
				t.Errorf("identity map of %s: %v", want.uid, err)
			}
		}
		if _, err := tx.User("hub", "usr-1"); err == nil {
			t.Error("virtual mode created the real user")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestCertificateRotation(t *testing.T) {
	h := newHarness(t)
	main, next, _ := ssotest.SharedSigners()
	h.addTenant("acme", func(c *tenant.Config) {
		c.SSO.X509Certificate = main.CertPEM() + next.CertPEM()
	})
	rotated, err := ssotest.NewIdP(next, h.idp.Issuer())
	if err != nil {
		t.Fatal(err)
	}
	rotated.Audience = h.idp.Audience
	if _, err := rotated.AddServiceProvider([]byte(readBody(t, h.get(tenant.RouteSPMetadata.URL(h.srv.URL, "acme"))))); err != nil {
		t.Fatal(err)
	}
	for _, idp := range []*ssotest.IdP{h.idp, rotated} {
		_, id := h.initialize("acme", "")
		s, err := idp.Response(ssotest.Login{SP: "app-acme", InResponseTo: id, Attributes: attrs()})
		if err != nil {
			t.Fatal(err)
		}
		mustFound(t, h.consume("acme", s))
	}

	// Edited configuration: the old certificate is dropped, and the cached
	// SP must not keep trusting it.
	h.addTenant("acme", func(c *tenant.Config) { c.SSO.X509Certificate = next.CertPEM() })
	_, id := h.initialize("acme", "")
	h.assertRefused(h.consume("acme", h.response("acme", id, time.Time{}, attrs())), ReasonSignature)
}

func TestLoginReactivates(t *testing.T) {
	h := newHarness(t)
	mustFound(t, h.login("acme", attrs()))
	ended := time.Now().Add(-time.Hour)
	err := h.db.Update(func(tx *store.Tx) error {
		g, _ := tx.Group("acme", "cld-1")
		g.Cancelled, g.CancelledAt = true, ended
		u, _ := tx.User("acme", "usr-1")
		u.Blocked = true
		m, _ := tx.Membership("acme", "cld-1", "usr-1")
		m.Ended, m.EndedAt = true, ended
		co, _ := tx.ConnectedByLocal("acme", store.KindGroup, "cld-1")
		co.Inactive = true
		_, err := tx.PutConnected(co)
		return firstErr(err, tx.PutGroup(g), tx.PutUser(u), tx.PutMembership(m))
	})
	if err != nil {
		t.Fatal(err)
	}
	// The session of the ended membership no longer works.
	if resp := h.get(tenant.RouteSession.URL(h.srv.URL, "acme")); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("session after cancellation: %d", resp.StatusCode)
	}

	mustFound(t, h.login("acme", attrs("group_role", "Member")))
	err = h.db.View(func(tx *store.Tx) error {
		g, _ := tx.Group("acme", "cld-1")
		u, _ := tx.User("acme", "usr-1")
		m, _ := tx.Membership("acme", "cld-1", "usr-1")
		co, _ := tx.ConnectedByLocal("acme", store.KindGroup, "cld-1")
		if g.Cancelled || u.Blocked || m.Ended || m.Role != "Member" || co.Inactive {
			t.Errorf("not reactivated: group %+v user %+v membership %+v idmap %+v", g, u, m, co)
		}
		if n, _ := tx.CountConnected("acme", ""); n != 2 {
			t.Errorf("%d identity-map rows, want 2 (no duplicates)", n)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if resp := h.get(tenant.RouteSession.URL(h.srv.URL, "acme")); resp.StatusCode != http.StatusOK {
		t.Errorf("session after reactivation: %d", resp.StatusCode)
	}
}

func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

func TestSessionExpires(t *testing.T) {
	h := newHarness(t)
	base := time.Now()
	h.svc.SetClock(func() time.Time { return base })
	_, id := h.initialize("acme", "")
	mustFound(t, h.consume("acme", h.response("acme", id, base, attrs())))
	// The jar would drop the expired cookie itself; send it by hand to
	// test the server's own check.
	cookies := h.client.Jar.Cookies(mustURL(t, tenant.RouteSession.URL(h.srv.URL, "acme")))
	for _, c := range []struct {
		at   time.Time
		want int
	}{{base.Add(SessionTTL - time.Second), http.StatusOK}, {base.Add(SessionTTL), http.StatusUnauthorized}} {
		h.svc.SetClock(func() time.Time { return c.at })
		r, _ := http.NewRequest(http.MethodGet, tenant.RouteSession.URL(h.srv.URL, "acme"), nil)
		for _, ck := range cookies {
			r.AddCookie(ck)
		}
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.want {
			t.Errorf("at +%s: %d, want %d", c.at.Sub(base), resp.StatusCode, c.want)
		}
	}
}

func TestSPMetadata(t *testing.T) {
	h := newHarness(t)
	resp := h.get(tenant.RouteSPMetadata.URL(h.srv.URL, "acme"))
	body := readBody(t, resp)
	if ct := resp.Header.Get("Content-Type"); ct != "application/samlmetadata+xml" {
		t.Errorf("content type %q", ct)
	}
	var ed types.EntityDescriptor
	if err := xml.Unmarshal([]byte(body), &ed); err != nil {
		t.Fatal(err)
	}
	sp := ed.SPSSODescriptor
	if ed.EntityID != "app-acme" || sp == nil || len(sp.AssertionConsumerServices) != 1 ||
		sp.AssertionConsumerServices[0].Location != tenant.RouteSAMLConsume.URL(h.srv.URL, "acme") ||
		sp.AssertionConsumerServices[0].Binding != "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" ||
		len(sp.NameIDFormats) != 1 || sp.NameIDFormats[0] != "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent" {
		t.Errorf("metadata:\n%s", body)
	}
}

func TestSessionWithoutCookie(t *testing.T) {
	h := newHarness(t)
	for _, cookie := range []string{"", "0123", strings.Repeat("ab", 32)} {
		r, _ := http.NewRequest(http.MethodGet, tenant.RouteSession.URL(h.srv.URL, "acme"), nil)
		if cookie != "" {
			r.AddCookie(&http.Cookie{Name: CookieName, Value: cookie})
		}
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		body := readBody(t, resp)
		if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("Content-Type") != "application/json" || !strings.Contains(body, `"error"`) {
			t.Errorf("cookie %q: %d %s", cookie, resp.StatusCode, body)
		}
	}
}

func mustURL(t testing.TB, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// A tenant whose SSO settings cannot build an SP fails closed with a
// configuration reason, on every SSO route.
func TestBrokenTenantConfigFailsClosed(t *testing.T) {
	h := newHarness(t)
	_, id := h.initialize("acme", "")
	samlResponse := h.response("acme", id, time.Time{}, attrs())
	broken := *h.tenant("acme")
	broken.SSO.X509Certificate = "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n"
	h.setTenant(&broken)

	for _, route := range []tenant.Route{tenant.RouteSAMLInit, tenant.RouteSPMetadata} {
		resp := h.get(route.URL(h.srv.URL, "acme"))
		if body := readBody(t, resp); resp.StatusCode != http.StatusInternalServerError || !strings.Contains(body, string(ReasonConfig)) {
			t.Errorf("%s: %d %s", route.Label(), resp.StatusCode, body)
		}
	}
	h.assertRefused(h.consume("acme", samlResponse), ReasonConfig)
	h.assertNothingWritten("acme", "usr-1", "cld-1")
}
