package sso

import (
	"encoding/base64"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"
	"github.com/crewjam/saml"

	"github.com/tenantdesk/tenantdesk/store"
	"github.com/tenantdesk/tenantdesk/tenant"
	"github.com/tenantdesk/tenantdesk/tenant/sso/ssotest"
)

// document issues a response of the harness IdP as a document to tamper with.
func (h *harness) document(key tenant.Key, l ssotest.Login) *etree.Document {
	h.t.Helper()
	h.mu.Lock()
	l.SP = h.spIDs[key]
	h.mu.Unlock()
	if l.Attributes == nil {
		l.Attributes = attrs()
	}
	doc, err := h.idp.ResponseDocument(l)
	if err != nil {
		h.t.Fatal(err)
	}
	return doc
}

func encode(t testing.TB, doc *etree.Document) string {
	t.Helper()
	s, err := ssotest.Encode(doc)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// resigned edits the Response element and signs it again with signer, so
// that only the edit is wrong.
func (h *harness) resigned(doc *etree.Document, signer *ssotest.Signer, edit func(root *etree.Element)) string {
	h.t.Helper()
	edit(doc.Root())
	if err := ssotest.Resign(doc, signer); err != nil {
		h.t.Fatal(err)
	}
	return encode(h.t, doc)
}

// assertRefused checks a refused login: status, reason code on the page, no
// cookie, a failed audit event with the reason, nothing written.
func (h *harness) assertRefused(resp *http.Response, reason Reason) {
	h.t.Helper()
	h.assertRefusedFor(resp, "acme", reason)
}

// assertRefusedFor is assertRefused for tenant key's consume URL.
func (h *harness) assertRefusedFor(resp *http.Response, key tenant.Key, reason Reason) {
	h.t.Helper()
	body := readBody(h.t, resp)
	if resp.StatusCode != reason.HTTPStatus() || !strings.Contains(body, `<code id="reason">`+reason.String()+`</code>`) {
		h.t.Errorf("status %d, body %s; want %d with reason %s", resp.StatusCode, body, reason.HTTPStatus(), reason)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		h.t.Errorf("content type %q", ct)
	}
	// The only cookie a refused login may send is the spent login cookie,
	// cleared.
	for _, sc := range resp.Header.Values("Set-Cookie") {
		c, err := http.ParseSetCookie(sc)
		if err != nil || !strings.HasPrefix(c.Name, LoginCookiePrefix) || c.Value != "" || c.MaxAge >= 0 {
			h.t.Errorf("refused login set a cookie: %q", sc)
		}
	}
	if ev := h.lastEvent(); ev.Kind != store.EventLogin || ev.Outcome != "failed" || ev.Reason != reason.String() || ev.Tenant != string(key) {
		h.t.Errorf("audit event = %+v, want failed login %s", ev, reason)
	}
}

func TestConsumeRefuses(t *testing.T) {
	main, other, err := ssotest.SharedSigners()
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		reason Reason
		// response builds what is posted to acme's consume URL; reqID is
		// a pending request of acme.
		response func(h *harness, reqID string) string
		// consumed: the case legitimately used up the request.
		consumed bool
	}{
		{"tampered attribute", ReasonSignature, func(h *harness, id string) string {
			doc := h.document("acme", ssotest.Login{InResponseTo: id})
			for _, v := range doc.FindElements("//AttributeValue") {
				if v.Text() == "Admin" {
					v.SetText("Super Admin")
				}
			}
			return encode(t, doc)
		}, false},
		{"unsigned", ReasonSignature, func(h *harness, id string) string {
			doc := h.document("acme", ssotest.Login{InResponseTo: id})
			ssotest.StripAllSignatures(doc)
			return encode(t, doc)
		}, false},
		{"signed by an untrusted key", ReasonSignature, func(h *harness, id string) string {
			rogue, err := ssotest.NewIdP(other, h.idp.Issuer())
			if err != nil {
				t.Fatal(err)
			}
			rogue.Audience = h.idp.Audience
			if _, err := rogue.AddServiceProvider([]byte(readBody(t, h.get(tenant.RouteSPMetadata.URL(h.srv.URL, "acme"))))); err != nil {
				t.Fatal(err)
			}
			s, err := rogue.Response(ssotest.Login{SP: "app-acme", InResponseTo: id, Attributes: attrs()})
			if err != nil {
				t.Fatal(err)
			}
			return s
		}, false},
		{"response re-signed by an untrusted key", ReasonSignature, func(h *harness, id string) string {
			return h.resigned(h.document("acme", ssotest.Login{InResponseTo: id}), other, func(*etree.Element) {})
		}, false},
		{"wrong issuer", ReasonIssuer, func(h *harness, id string) string {
			// Same trusted key, another IdP entity: only the issuer is wrong.
			impostor, err := ssotest.NewIdP(main, "https://idp.other-marketplace.test/saml")
			if err != nil {
				t.Fatal(err)
			}
			impostor.Audience = h.idp.Audience
			if _, err := impostor.AddServiceProvider([]byte(readBody(t, h.get(tenant.RouteSPMetadata.URL(h.srv.URL, "acme"))))); err != nil {
				t.Fatal(err)
			}
			s, err := impostor.Response(ssotest.Login{SP: "app-acme", InResponseTo: id, Attributes: attrs()})
			if err != nil {
				t.Fatal(err)
			}
			return s
		}, false},
		{"missing Destination", ReasonDestination, func(h *harness, id string) string {
			return h.resigned(h.document("acme", ssotest.Login{InResponseTo: id}), main, func(root *etree.Element) {
				root.RemoveAttr("Destination")
			})
		}, false},
		{"wrong Destination", ReasonDestination, func(h *harness, id string) string {
			return h.resigned(h.document("acme", ssotest.Login{InResponseTo: id}), main, func(root *etree.Element) {
				root.CreateAttr("Destination", h.srv.URL+"/elsewhere")
			})
		}, false},
		{"Destination of another tenant", ReasonTenantMismatch, func(h *harness, id string) string {
			return h.resigned(h.document("acme", ssotest.Login{InResponseTo: id}), main, func(root *etree.Element) {
				root.CreateAttr("Destination", tenant.RouteSAMLConsume.URL(h.srv.URL, "globex"))
			})
		}, false},
		{"response for another tenant (shared certificate)", ReasonTenantMismatch, func(h *harness, id string) string {
			return h.response("globex", id, time.Time{}, attrs())
		}, false},
		{"wrong Recipient", ReasonRecipient, func(h *harness, id string) string {
			return encode(t, h.document("acme", ssotest.Login{InResponseTo: id, Edit: func(a *saml.Assertion) {
				a.Subject.SubjectConfirmations[0].SubjectConfirmationData.Recipient = h.srv.URL + "/elsewhere"
			}}))
		}, false},
		{"IdP reports failure", ReasonIdPStatus, func(h *harness, id string) string {
			return h.resigned(h.document("acme", ssotest.Login{InResponseTo: id}), main, func(root *etree.Element) {
				root.FindElement("./Status/StatusCode").CreateAttr("Value", "urn:oasis:names:tc:SAML:2.0:status:Responder")
			})
		}, false},
		{"unknown InResponseTo", ReasonInResponseTo, func(h *harness, id string) string {
			return h.response("acme", "_never-issued", time.Time{}, attrs())
		}, false},
		{"InResponseTo of another tenant", ReasonInResponseTo, func(h *harness, id string) string {
			_, globexID := h.initialize("globex", "")
			return h.response("acme", globexID, time.Time{}, attrs())
		}, false},
		{"InResponseTo answered before", ReasonInResponseTo, func(h *harness, id string) string {
			first := h.consume("acme", h.response("acme", id, time.Time{}, attrs("uid", "usr-first")))
			if readBody(t, first); first.StatusCode != http.StatusFound {
				t.Fatalf("first login: %d", first.StatusCode)
			}
			h.client.Jar.SetCookies(first.Request.URL, nil)
			h.db.Update(func(tx *store.Tx) error { // start from an empty tenant
				for _, k := range [][2]string{{store.KindUser, "usr-first"}, {store.KindGroup, "cld-1"}} {
					if co, err := tx.ConnectedByLocal("acme", k[0], k[1]); err == nil {
						tx.DeleteConnected(co.ID)
					}
				}
				g, _ := tx.Group("acme", "cld-1")
				g.Name = "before"
				return tx.PutGroup(g)
			})
			return h.response("acme", id, time.Time{}, attrs())
		}, true},
		{"unsolicited", ReasonUnsolicited, func(h *harness, id string) string {
			return h.response("acme", "", time.Time{}, attrs())
		}, false},
		{"wrong audience", ReasonAudience, func(h *harness, id string) string {
			return encode(t, h.document("acme", ssotest.Login{InResponseTo: id, Edit: func(a *saml.Assertion) {
				a.Conditions.AudienceRestrictions[0].Audience.Value = "https://other-vendor.test"
			}}))
		}, false},
		{"no audience restriction", ReasonAudience, func(h *harness, id string) string {
			return encode(t, h.document("acme", ssotest.Login{InResponseTo: id, Edit: func(a *saml.Assertion) {
				a.Conditions.AudienceRestrictions = nil
			}}))
		}, false},
		{"two assertions", ReasonMultipleAssertions, func(h *harness, id string) string {
			doc := h.document("acme", ssotest.Login{InResponseTo: id})
			second, err := ssotest.FindAssertion(h.document("acme", ssotest.Login{InResponseTo: id, Attributes: attrs("uid", "usr-evil")}))
			if err != nil {
				t.Fatal(err)
			}
			return h.resigned(doc, main, func(root *etree.Element) { root.AddChild(second.Copy()) })
		}, false},
		{"DOCTYPE", ReasonDoctype, func(h *harness, id string) string {
			s, err := ssotest.WithDoctype(h.response("acme", id, time.Time{}, attrs()))
			if err != nil {
				t.Fatal(err)
			}
			return s
		}, false},
		{"oversize", ReasonTooLarge, func(h *harness, id string) string {
			return strings.Repeat("A", MaxResponseBytes+1)
		}, false},
		{"not base64", ReasonMalformed, func(h *harness, id string) string { return "<Response>" }, false},
		{"not XML", ReasonMalformed, func(h *harness, id string) string {
			return base64.StdEncoding.EncodeToString([]byte("\x00\x01 definitely not xml"))
		}, false},
		{"not a Response", ReasonMalformed, func(h *harness, id string) string {
			return base64.StdEncoding.EncodeToString([]byte(`<samlp:LogoutResponse xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol"/>`))
		}, false},
		{"missing group_uid", ReasonMissingAttribute, func(h *harness, id string) string {
			return h.response("acme", id, time.Time{}, attrs("group_uid", ""))
		}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t)
			_, reqID := h.initialize("acme", "")
			samlResponse := c.response(h, reqID)
			h.assertRefused(h.consume("acme", samlResponse), c.reason)
			if c.consumed {
				h.assertUntouchedGroup()
				return
			}
			h.assertNothingWritten("acme", "usr-1", "cld-1")
			h.assertNothingWritten("globex", "usr-1", "cld-1")
			// The refused login consumed nothing: the pending request can
			// still be answered.
			resp := h.consume("acme", h.response("acme", reqID, time.Time{}, attrs()))
			if body := readBody(t, resp); resp.StatusCode != http.StatusFound {
				t.Errorf("valid answer after the refusal: %d %s", resp.StatusCode, body)
			}
		})
	}
}

// assertUntouchedGroup checks the group written before the refusal was not
// refreshed by it.
func (h *harness) assertUntouchedGroup() {
	h.t.Helper()
	h.db.View(func(tx *store.Tx) error {
		g, err := tx.Group("acme", "cld-1")
		if err != nil || g.Name != "before" {
			h.t.Errorf("group = %+v, %v; want untouched", g, err)
		}
		if _, err := tx.User("acme", "usr-1"); err == nil {
			h.t.Error("refused login wrote user usr-1")
		}
		return nil
	})
}
