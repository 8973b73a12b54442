package sso

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	saml2 "github.com/russellhaering/gosaml2"

	"github.com/tenantdesk/tenantdesk/store"
	"github.com/tenantdesk/tenantdesk/tenant"
)

// sessionCookie returns the session cookie a response sets, or nil.
func sessionCookieOf(resp *http.Response) *http.Cookie {
	for _, c := range resp.Cookies() {
		if c.Name == CookieName {
			return c
		}
	}
	return nil
}

func TestSPInitiatedLogin(t *testing.T) {
	h := newHarness(t)
	acme := h.tenant("acme")

	loc, reqID := h.initialize("acme", "group_id=cld-1&foo=bar&SAMLRequest=evil")
	if got, want := loc.Scheme+"://"+loc.Host+loc.Path, acme.SSOURL(); got != want {
		t.Errorf("redirect to %s, want the IdP SSO URL %s", got, want)
	}
	q := loc.Query()
	if q.Get("group_id") != "cld-1" || q.Get("foo") != "bar" {
		t.Errorf("init parameters not passed on: %s", loc.RawQuery)
	}
	if n := len(q["SAMLRequest"]); n != 1 {
		t.Errorf("%d SAMLRequest parameters, want exactly ours", n)
	}
	req := decodeAuthnRequest(t, q.Get("SAMLRequest"))
	if req.Issuer != "app-acme" ||
		req.AssertionConsumerServiceURL != tenant.RouteSAMLConsume.URL(h.srv.URL, "acme") ||
		req.NameIDPolicy.Format != saml2.NameIdFormatPersistent ||
		req.Destination != acme.SSOURL() || !strings.HasPrefix(req.ID, "_") {
		t.Errorf("AuthnRequest = %+v", req)
	}

	resp := h.consume("acme", h.response("acme", reqID, time.Time{}, attrs()))
	body := readBody(t, resp)
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("consume: %d %s", resp.StatusCode, body)
	}
	if got, want := resp.Header.Get("Location"), tenant.RouteSession.URL(h.srv.URL, "acme"); got != want {
		t.Errorf("redirect to %q, want %q", got, want)
	}
	c := sessionCookieOf(resp)
	if c == nil {
		t.Fatal("no session cookie")
	}
	if !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Secure || c.Path != "/mno-enterprise/acme/" || len(c.Value) != 64 {
		t.Errorf("cookie = %+v", c)
	}

	resp = h.get(tenant.RouteSession.URL(h.srv.URL, "acme"))
	body = readBody(t, resp)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("session: %d %s", resp.StatusCode, body)
	}
	var info SessionInfo
	if err := json.Unmarshal([]byte(body), &info); err != nil {
		t.Fatal(err)
	}
	want := SessionInfo{
		Tenant: "acme",
		User:   SessionUser{UID: "usr-1", Email: "jane@acme.test", FirstName: "Jane", LastName: "Doe"},
		Group:  SessionGroup{UID: "cld-1", Name: "Acme Pty"},
		Role:   "Admin",
	}
	if info.ExpiresAt.Before(time.Now().Add(SessionTTL-time.Minute)) || info.ExpiresAt.After(time.Now().Add(SessionTTL)) {
		t.Errorf("expires_at %s, want about 12 h from now", info.ExpiresAt)
	}
	info.ExpiresAt = time.Time{}
	if info != want {
		t.Errorf("session = %+v\nwant      %+v", info, want)
	}

	// The cookie jar does not send acme's cookie to globex (Path), and
	// globex refuses it even when sent by hand.
	resp = h.get(tenant.RouteSession.URL(h.srv.URL, "globex"))
	if body := readBody(t, resp); resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, `"error"`) {
		t.Errorf("globex session via jar: %d %s", resp.StatusCode, body)
	}
	r, _ := http.NewRequest(http.MethodGet, tenant.RouteSession.URL(h.srv.URL, "globex"), nil)
	r.AddCookie(&http.Cookie{Name: CookieName, Value: c.Value})
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	if body := readBody(t, resp); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("acme cookie on globex: %d %s", resp.StatusCode, body)
	}

	err = h.db.View(func(tx *store.Tx) error {
		g, err := tx.Group("acme", "cld-1")
		if err != nil {
			return err
		}
		if g.Name != "Acme Pty" || g.Email != "boss@acme.test" || g.Currency != "AUD" || g.Timezone != "Australia/Sydney" ||
			g.Country != "AU" || g.City != "Sydney" || g.OrgUID != "org-48" || !g.HasCreditCard ||
			!g.FreeTrialEnd.Equal(time.Date(2030, 1, 31, 0, 0, 0, 0, time.UTC)) {
			t.Errorf("group = %+v", g)
		}
		u, err := tx.User("acme", "usr-1")
		if err != nil {
			return err
		}
		if u.RealUID != "usr-1" || u.Virtual || u.Email != "jane@acme.test" || u.CompanyName != "Jane Co" {
			t.Errorf("user = %+v", u)
		}
		m, err := tx.Membership("acme", "cld-1", "usr-1")
		if err != nil {
			return err
		}
		if m.Role != "Admin" || m.Ended {
			t.Errorf("membership = %+v", m)
		}
		for _, row := range []struct{ kind, id, entity string }{{store.KindUser, "usr-1", "users"}, {store.KindGroup, "cld-1", "groups"}} {
			co, err := tx.ConnectedByLocal("acme", row.kind, row.id)
			if err != nil {
				return err
			}
			if co.Provider != Provider || co.Entity != row.entity || co.RemoteID != row.id || co.GroupUID != "cld-1" || co.Inactive {
				t.Errorf("identity map %s = %+v", row.kind, co)
			}
		}
		s, err := tx.Session(c.Value)
		if err != nil {
			return err
		}
		if s.MnoSession != "mno-sess-token" || !s.MnoRecheck.Equal(time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)) {
			t.Errorf("session = %+v", s)
		}
		// Nothing was written for the other tenant.
		if _, err := tx.User("globex", "usr-1"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("globex user: %v", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if ev := h.lastEvent(); ev.Kind != store.EventLogin || ev.Outcome != "ok" || ev.Tenant != "acme" {
		t.Errorf("audit event = %+v", ev)
	}
}
