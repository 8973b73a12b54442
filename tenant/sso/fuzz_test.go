package sso

import (
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tenantdesk/tenantdesk/store"
	"github.com/tenantdesk/tenantdesk/tenant"
	"github.com/tenantdesk/tenantdesk/tenant/sso/ssotest"
)

func TestInspectXML(t *testing.T) {
	const resp = `<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion">`
	cases := []struct {
		doc  string
		want Reason // "" = passes
	}{
		{`<?xml version="1.0"?>` + resp + `<saml:Assertion ID="a"/></samlp:Response>`, ""},
		{resp + `<!-- <saml:Assertion> in a comment --><saml:Assertion/></samlp:Response>`, ""},
		{resp + `<![CDATA[<saml:Assertion>]]><saml:Assertion/></samlp:Response>`, ""},
		{resp + `<Assertion xmlns="urn:oasis:names:tc:SAML:2.0:assertion"/></samlp:Response>`, ""},
		{resp + `<saml:Assertion/><saml:Assertion/></samlp:Response>`, ReasonMultipleAssertions},
		{resp + `<saml:Assertion/><saml:EncryptedAssertion/></samlp:Response>`, ReasonMultipleAssertions},
		{resp + `<samlp:Extensions><saml:Assertion/></samlp:Extensions><saml:Assertion/></samlp:Response>`, ReasonMultipleAssertions},
		{resp + `</samlp:Response>`, ReasonMalformed},
		{`<!DOCTYPE r [<!ENTITY a "b">]>` + resp + `<saml:Assertion/></samlp:Response>`, ReasonDoctype},
		{resp + `<!ENTITY a "b"><saml:Assertion/></samlp:Response>`, ReasonDoctype},
		{resp + `<!-- unterminated <saml:Assertion/></samlp:Response>`, ReasonMalformed},
		{`<samlp:LogoutResponse><saml:Assertion/></samlp:LogoutResponse>`, ReasonMalformed},
		{`garbage`, ReasonMalformed},
		{``, ReasonMalformed},
	}
	for _, c := range cases {
		var got Reason
		if lerr := inspectXML([]byte(c.doc)); lerr != nil {
			got = lerr.reason
		}
		if got != c.want {
			t.Errorf("inspectXML(%q) = %q, want %q", c.doc, got, c.want)
		}
	}
}

// FuzzConsume posts arbitrary SAMLResponse values (the fuzz bytes base64
// encoded, and as they are) to the consume handler: never a panic, never a
// success, never a cookie, never a user or group written. The seeds are
// genuine signed responses that fail only at the InResponseTo check, so
// mutations reach every stage up to the store transaction.
func FuzzConsume(f *testing.F) {
	main, _, err := ssotest.SharedSigners()
	if err != nil {
		f.Fatal(err)
	}
	db, err := store.Open(filepath.Join(f.TempDir(), "fuzz.db"), store.Options{NoSync: true})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { db.Close() })
	const publicURL = "http://127.0.0.1:8765"
	idp, err := ssotest.NewIdP(main, "https://idp.marketplace.test/api/v1/auth/saml")
	if err != nil {
		f.Fatal(err)
	}
	cfg := &tenant.Config{
		Key:     "acme",
		Enabled: true,
		API:     tenant.API{ID: "app-acme"},
		SSO:     tenant.SSO{IdP: "https://idp.marketplace.test", IdPIssuer: idp.Issuer(), X509Certificate: main.CertPEM()},
	}
	issued := time.Now()
	svc := New(db, publicURL, testLogger(f))
	svc.SetClock(func() time.Time { return issued })
	sp, err := svc.serviceProvider(cfg)
	if err != nil {
		f.Fatal(err)
	}
	md, err := metadataXML(sp)
	if err != nil {
		f.Fatal(err)
	}
	if _, err := idp.AddServiceProvider(md); err != nil {
		f.Fatal(err)
	}
	idp.Audience = tenant.Origin(publicURL) + "/"
	for _, irt := range []string{"_not-pending", ""} {
		doc, err := idp.ResponseDocument(ssotest.Login{SP: "app-acme", InResponseTo: irt, At: issued, Attributes: attrs()})
		if err != nil {
			f.Fatal(err)
		}
		raw, err := doc.WriteToBytes()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(raw)
	}
	f.Add([]byte(`<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol">&e;</samlp:Response>`))
	f.Add([]byte("\x00\x01\x02"))

	target := tenant.RouteSAMLConsume.URL(publicURL, "acme")
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, value := range []string{base64.StdEncoding.EncodeToString(data), string(data)} {
			body := url.Values{"SAMLResponse": {value}}.Encode()
			r := httptest.NewRequest(http.MethodPost, target, strings.NewReader(body))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			w := httptest.NewRecorder()
			svc.Consume(w, r, cfg)
			if w.Code < 400 {
				t.Fatalf("status %d for %q", w.Code, data)
			}
			if len(w.Result().Cookies()) != 0 {
				t.Fatalf("cookie set for %q", data)
			}
		}
		err := db.View(func(tx *store.Tx) error {
			groups, err := tx.Groups("")
			if err != nil {
				return err
			}
			n, err := tx.CountConnected("", "")
			if err != nil {
				return err
			}
			if len(groups) != 0 || n != 0 {
				t.Fatalf("refused login wrote %d groups, %d identity-map rows", len(groups), n)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	})
}
