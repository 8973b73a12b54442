package sso

import (
	"encoding/base64"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

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
