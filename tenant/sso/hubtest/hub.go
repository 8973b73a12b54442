// Package hubtest is a Maestrano hub for tests, written from the public API
// sandbox Maestrano gave vendors (maestrano/mno-api-sandbox,
// app/controllers/api/v1/auth/saml_controller.rb and the ruby-saml-idp gem
// it builds on), not from our own notes. It speaks the hub's wire as that
// source does:
//
//   - GET /api/v1/auth/saml?SAMLRequest=…: the AuthnRequest is read with the
//     sandbox's regexes (`<saml:Issuer …>`, `ID=`, `AssertionConsumerServiceURL=`);
//     the answer is an auto-posting form whose SAMLResponse is a string
//     template, signed RSA-SHA1 over the literal SignedInfo, with the Issuer
//     = the request URL cut at the first '&' (query included) and the
//     Audience = the ACS URL cut after the host, slash included, base64'd
//     as Ruby's Base64.encode64 does (60-character lines, each ending "\n").
//   - GET /api/v1/auth/saml/{uid}?session=…: the session check,
//     {"valid":bool,"recheck":now+3 min}.
//   - GET /app_logout?user_uid=…: signing out at the hub ends the user's
//     hub session (a new sso_session), as the real hub does.
//   - GET /api/v1/account/groups and /api/v1/ping with Basic auth and the
//     {success, errors, data} envelope.
//
// It also plays the hub's side of the webhooks (DeleteGroup,
// DeleteGroupUser, Notify) and a browser that follows the SSO dance.
// It is for tests only; no production code imports it.
package hubtest

import (
	"bytes"
	"compress/flate"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tenantdesk/tenantdesk/tenant/sso/ssotest"
)

// User is a hub user: the sandbox's User with its groups.
type User struct {
	UID, Email, Name, Surname, Country, Company string
	// Groups maps a group uid to the user's role in it.
	Groups map[string]string
	// ssoSession is the hub session token (the sandbox's user.sso_session).
	ssoSession string
}

// Group is a customer account of one app.
type Group struct {
	UID, Name string
	AppID     string // the app (api.id) the group has
}

// Hub is the emulated hub. Its URL is both api.host and sso.idp.
type Hub struct {
	Signer *ssotest.Signer
	Server *httptest.Server
	// Now is the hub's clock; nil is time.Now.
	Now func() time.Time
	// CheckDelay holds each session-check answer this long.
	CheckDelay atomic.Int64 // nanoseconds
	// Recheck is how far ahead the hub sets mno_session_recheck; the
	// sandbox says 3 minutes.
	Recheck time.Duration

	checks      atomic.Int64
	checksAuthd atomic.Int64

	mu          sync.Mutex
	apps        map[string]string // api.id → api.key
	users       map[string]*User
	groups      map[string]*Group
	currentUser string // the sandbox's session[:current_user]
	logouts     []string
}

// New starts a hub signing with signer. It stops with the test.
func New(signer *ssotest.Signer) *Hub {
	h := &Hub{
		Signer:  signer,
		Recheck: 3 * time.Minute,
		apps:    map[string]string{},
		users:   map[string]*User{},
		groups:  map[string]*Group{},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/auth/saml", h.index)
	mux.HandleFunc("GET /api/v1/auth/saml/{id}", h.show)
	mux.HandleFunc("GET /app_logout", h.appLogout)
	mux.HandleFunc("GET /api/v1/ping", h.ping)
	mux.HandleFunc("GET /api/v1/account/groups", h.accountGroups)
	h.Server = httptest.NewServer(mux)
	return h
}

// Close stops the hub's server.
func (h *Hub) Close() { h.Server.Close() }

// URL is the hub's base URL: api.host and sso.idp.
func (h *Hub) URL() string { return h.Server.URL }

// SSOURL is the hub's SSO endpoint.
func (h *Hub) SSOURL() string { return h.Server.URL + "/api/v1/auth/saml" }

// CertPEM is the hub's signing certificate (sso.x509_certificate).
func (h *Hub) CertPEM() string { return h.Signer.CertPEM() }

func (h *Hub) now() time.Time {
	if h.Now != nil {
		return h.Now()
	}
	return time.Now()
}

// AddApp registers an app (one marketplace listing) with its credentials.
func (h *Hub) AddApp(id, key string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.apps[id] = key
}

// AddGroup adds a customer account that has the app appID.
func (h *Hub) AddGroup(g Group) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.groups[g.UID] = &g
}

// AddUser adds a user with a fresh hub session.
func (h *Hub) AddUser(u User) {
	h.mu.Lock()
	defer h.mu.Unlock()
	u.ssoSession = uuid()
	h.users[u.UID] = &u
}

// SignIn makes uid the user signed in at the hub (the browser's hub
// session), as picking a user on the sandbox's selection page does.
func (h *Hub) SignIn(uid string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.currentUser = uid
}

// SessionToken is the user's current hub session token (mno_session).
func (h *Hub) SessionToken(uid string) string {
	h.mu.Lock()
	defer h.mu.Unlock()
	if u := h.users[uid]; u != nil {
		return u.ssoSession
	}
	return ""
}

// SessionChecks counts session-check calls, and those that came with the
// app's Basic credentials.
func (h *Hub) SessionChecks() (all, authenticated int64) {
	return h.checks.Load(), h.checksAuthd.Load()
}

// Logouts lists the user_uid of each /app_logout visit.
func (h *Hub) Logouts() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.logouts...)
}

// The sandbox's regexes over the inflated AuthnRequest (ruby-saml-idp's
// validate_saml_request, and retrieve_issuer_id in the controller).
var (
	reIssuer = regexp.MustCompile(`<saml:Issuer\s?.*>(.*)</saml:Issuer>`)
	reID     = regexp.MustCompile(`ID=['"](.+?)['"]`)
	reACS    = regexp.MustCompile(`AssertionConsumerServiceURL=['"](.+?)['"]`)
)

// index is GET /api/v1/auth/saml.
func (h *Hub) index(w http.ResponseWriter, r *http.Request) {
	raw, err := base64.StdEncoding.DecodeString(r.URL.Query().Get("SAMLRequest"))
	if err != nil {
		http.Error(w, "bad SAMLRequest", http.StatusBadRequest)
		return
	}
	inflated, err := io.ReadAll(flate.NewReader(bytes.NewReader(raw)))
	if err != nil {
		http.Error(w, "bad SAMLRequest", http.StatusBadRequest)
		return
	}
	req := string(inflated)
	issuer, id, acs := submatch(reIssuer, req), submatch(reID, req), html.UnescapeString(submatch(reACS, req))

	h.mu.Lock()
	_, knownApp := h.apps[issuer]
	uid := r.URL.Query().Get("user_uid")
	if uid == "" {
		uid = h.currentUser
	}
	user := h.users[uid]
	var access []*Group
	if user != nil {
		for g := range user.Groups {
			if grp := h.groups[g]; grp != nil && grp.AppID == issuer {
				access = append(access, grp)
			}
		}
	}
	var u User
	if user != nil {
		u = *user
	}
	h.mu.Unlock()

	switch {
	case issuer == "" || !knownApp:
		_, _ = io.WriteString(w, "Wrong API token")
		return
	case user == nil:
		_, _ = io.WriteString(w, "select a user")
		return
	}
	var group *Group
	switch {
	case len(access) == 1:
		group = access[0]
	case len(access) > 1:
		for _, g := range access {
			if g.UID == r.URL.Query().Get("group_id") {
				group = g
			}
		}
		if group == nil {
			_, _ = io.WriteString(w, "select a group")
			return
		}
	default:
		http.Error(w, "Access Denied", http.StatusForbidden)
		return
	}

	// issuer_uri = request.original_url.gsub(/(&.*$)/,"")
	originalURL := "http://" + r.Host + r.URL.RequestURI()
	issuerURI, _, _ := strings.Cut(originalURL, "&")
	resp, err := h.encodeSAMLResponse(u, group, issuerURI, id, acs)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	// saml_idp/idp/saml_post: an auto-submitting form (ERB escapes HTML).
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	fmt.Fprintf(w, `<!DOCTYPE html>
<html><head><meta charset="utf-8"></head><body onload="document.forms[0].submit();" style="visibility:hidden;">
<form method="post" action="%s">
<input type="hidden" name="SAMLResponse" value="%s" />
<input type="submit" value="Submit" />
</form></body></html>
`, html.EscapeString(acs), html.EscapeString(resp))
}

func submatch(re *regexp.Regexp, s string) string {
	if m := re.FindStringSubmatch(s); m != nil {
		return m[1]
	}
	return ""
}

const nameIDFormat = "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"

// attributes are idp_build_user_assertions, in the Ruby hash's order (a
// key assigned twice keeps its first place: group_role).
func (h *Hub) attributes(u User, g *Group, now time.Time) [][2]string {
	role := u.Groups[g.UID]
	if role == "" {
		role = "Guest"
	}
	vuid := u.UID + "." + g.UID
	return [][2]string{
		{"mno_session", u.ssoSession},
		{"mno_session_recheck", iso8601(now.Add(h.Recheck))},
		{"group_uid", g.UID},
		{"group_end_free_trial", iso8601(now.AddDate(0, 1, 0))},
		{"group_role", role},
		{"uid", u.UID},
		{"virtual_uid", vuid},
		{"email", u.Email},
		{"virtual_email", vuid + "@mno-api-sandbox-mail.maestrano.com"},
		{"name", u.Name},
		{"surname", u.Surname},
		{"country", u.Country},
		{"company_name", u.Company},
		{"app_owner", "true"},
		{"organizations", "{}"},
	}
}

func iso8601(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// encodeSAMLResponse is the sandbox's encode_SAMLResponse: string templates,
// the SHA-1 digest of the assertion as written, RSA-SHA1 over the literal
// SignedInfo, and Base64.encode64 of the whole.
func (h *Hub) encodeSAMLResponse(u User, g *Group, issuerURI, requestID, acsURL string) (string, error) {
	now := h.now().UTC()
	responseID, referenceID := uuid(), uuid()
	audienceURI := acsURL
	if m := regexp.MustCompile(`^(.*?//.*?/)`).FindStringSubmatch(acsURL); m != nil {
		audienceURI = m[1]
	}
	var attrs strings.Builder
	for _, kv := range h.attributes(u, g, now) {
		fmt.Fprintf(&attrs, `<Attribute Name="%s"><AttributeValue>%s</AttributeValue></Attribute>`, kv[0], kv[1])
	}
	assertion := fmt.Sprintf(`<Assertion xmlns="urn:oasis:names:tc:SAML:2.0:assertion" ID="_%s" IssueInstant="%s" Version="2.0"><Issuer>%s</Issuer><Subject><NameID Format="%s">%s</NameID><SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer"><SubjectConfirmationData InResponseTo="%s" NotOnOrAfter="%s" Recipient="%s"></SubjectConfirmationData></SubjectConfirmation></Subject><Conditions NotBefore="%s" NotOnOrAfter="%s"><AudienceRestriction><Audience>%s</Audience></AudienceRestriction></Conditions><AttributeStatement><Attribute Name="mno_uid"><AttributeValue>%s</AttributeValue></Attribute>%s</AttributeStatement><AuthnStatement AuthnInstant="%s" SessionIndex="_%s"><AuthnContext><AuthnContextClassRef>urn:federation:authentication:windows</AuthnContextClassRef></AuthnContext></AuthnStatement></Assertion>`,
		referenceID, iso8601(now), issuerURI, nameIDFormat, u.UID,
		requestID, iso8601(now.Add(3*time.Minute)), acsURL,
		iso8601(now.Add(-5*time.Second)), iso8601(now.Add(time.Hour)), audienceURI,
		u.UID, attrs.String(), iso8601(now), referenceID)

	digest := sha1.Sum([]byte(assertion))
	signedInfo := fmt.Sprintf(`<ds:SignedInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"></ds:CanonicalizationMethod><ds:SignatureMethod Algorithm="http://www.w3.org/2000/09/xmldsig#rsa-sha1"></ds:SignatureMethod><ds:Reference URI="#_%s"><ds:Transforms><ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"></ds:Transform><ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"></ds:Transform></ds:Transforms><ds:DigestMethod Algorithm="http://www.w3.org/2000/09/xmldsig#sha1"></ds:DigestMethod><ds:DigestValue>%s</ds:DigestValue></ds:Reference></ds:SignedInfo>`,
		referenceID, base64.StdEncoding.EncodeToString(digest[:]))
	sum := sha1.Sum([]byte(signedInfo))
	sig, err := rsa.SignPKCS1v15(rand.Reader, h.Signer.Key, crypto.SHA1, sum[:])
	if err != nil {
		return "", fmt.Errorf("sign: %w", err)
	}
	signature := fmt.Sprintf(`<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#">%s<ds:SignatureValue>%s</ds:SignatureValue><KeyInfo xmlns="http://www.w3.org/2000/09/xmldsig#"><ds:X509Data><ds:X509Certificate>%s</ds:X509Certificate></ds:X509Data></KeyInfo></ds:Signature>`,
		signedInfo, base64.StdEncoding.EncodeToString(sig), certBody(h.Signer))
	assertionAndSignature := strings.Replace(assertion, "Issuer><Subject", "Issuer>"+signature+"<Subject", 1)

	xml := fmt.Sprintf(`<samlp:Response ID="_%s" Version="2.0" IssueInstant="%s" Destination="%s" Consent="urn:oasis:names:tc:SAML:2.0:consent:unspecified" InResponseTo="%s" xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol"><Issuer xmlns="urn:oasis:names:tc:SAML:2.0:assertion">%s</Issuer><samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success" /></samlp:Status>%s</samlp:Response>`,
		responseID, iso8601(now), acsURL, requestID, issuerURI, assertionAndSignature)
	return Encode64([]byte(xml)), nil
}

// certBody is the certificate as the sandbox loads it: the PEM file with
// its BEGIN/END lines removed, line breaks kept.
func certBody(s *ssotest.Signer) string {
	p := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.Cert.Raw}))
	p = strings.ReplaceAll(p, "-----BEGIN CERTIFICATE-----", "")
	p = strings.ReplaceAll(p, "-----END CERTIFICATE-----", "")
	return strings.TrimSpace(p)
}

// Encode64 is Ruby's Base64.encode64: standard base64 in lines of 60
// characters, each followed by "\n".
func Encode64(b []byte) string {
	enc := base64.StdEncoding.EncodeToString(b)
	var out strings.Builder
	for len(enc) > 60 {
		out.WriteString(enc[:60])
		out.WriteByte('\n')
		enc = enc[60:]
	}
	if enc != "" {
		out.WriteString(enc)
		out.WriteByte('\n')
	}
	return out.String()
}

func uuid() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// show is the session check, GET /api/v1/auth/saml/{id}?session=…: the uid
// is the part of id before the first '.'; recheck is now + Recheck (the
// sandbox: 3 minutes). The sandbox asks for no credentials; the count of
// calls that brought the app's own is kept for tests.
func (h *Hub) show(w http.ResponseWriter, r *http.Request) {
	h.checks.Add(1)
	if id, key, ok := r.BasicAuth(); ok {
		h.mu.Lock()
		if k, known := h.apps[id]; known && k == key {
			h.checksAuthd.Add(1)
		}
		h.mu.Unlock()
	}
	if d := time.Duration(h.CheckDelay.Load()); d > 0 {
		select {
		case <-time.After(d):
		case <-r.Context().Done():
			return
		}
	}
	uid, _, _ := strings.Cut(r.PathValue("id"), ".")
	session := r.URL.Query().Get("session")
	h.mu.Lock()
	u := h.users[uid]
	valid := uid != "" && session != "" && u != nil && u.ssoSession == session
	h.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"valid": valid, "recheck": iso8601(h.now().Add(h.Recheck))})
}

// appLogout is the hub's sign-out: the user's hub session ends, so every
// app's next session check says invalid.
func (h *Hub) appLogout(w http.ResponseWriter, r *http.Request) {
	uid := r.URL.Query().Get("user_uid")
	h.Logout(uid)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = io.WriteString(w, "<html><body>Signed out</body></html>")
}

// Logout signs uid out at the hub: a new sso_session replaces the old.
func (h *Hub) Logout(uid string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.logouts = append(h.logouts, uid)
	if u := h.users[uid]; u != nil {
		u.ssoSession = uuid()
	}
	if h.currentUser == uid {
		h.currentUser = ""
	}
}

// envelope is the account API's answer shape.
type envelope struct {
	Success bool                `json:"success"`
	Errors  map[string][]string `json:"errors"`
	Data    any                 `json:"data"`
}

func (h *Hub) authenticate(w http.ResponseWriter, r *http.Request) (string, bool) {
	id, key, ok := r.BasicAuth()
	h.mu.Lock()
	want, known := h.apps[id]
	h.mu.Unlock()
	if !ok || !known || want != key {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		_ = json.NewEncoder(w).Encode(envelope{Errors: map[string][]string{"authentication": {"Invalid API token"}}, Data: map[string]any{}})
		return "", false
	}
	return id, true
}

func (h *Hub) ping(w http.ResponseWriter, r *http.Request) {
	if _, ok := h.authenticate(w, r); !ok {
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(envelope{Success: true, Errors: map[string][]string{},
		Data: map[string]string{"msg": "Ping successful! (API Authentication successful)"}})
}

func (h *Hub) accountGroups(w http.ResponseWriter, r *http.Request) {
	app, ok := h.authenticate(w, r)
	if !ok {
		return
	}
	h.mu.Lock()
	var data []map[string]any
	for _, g := range h.groups {
		if g.AppID == app {
			data = append(data, map[string]any{"object": "account_group", "id": g.UID, "name": g.Name, "status": "running"})
		}
	}
	h.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(envelope{Success: true, Errors: map[string][]string{}, Data: data})
}
