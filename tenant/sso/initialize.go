package sso

import (
	"crypto/rand"
	"encoding/xml"
	"fmt"
	"net/http"
	"net/url"
	"time"

	saml2 "github.com/russellhaering/gosaml2"
	"github.com/russellhaering/gosaml2/types"

	"github.com/tenantdesk/tenantdesk/store"
	"github.com/tenantdesk/tenantdesk/tenant"
)

// reservedParams are the SAML binding's own query parameters: they are never
// copied from the init request onto the redirect.
var reservedParams = map[string]bool{"SAMLRequest": true, "RelayState": true, "SigAlg": true, "Signature": true}

// maxRelayState is the binding's limit on RelayState (saml-bindings §3.4.3).
const maxRelayState = 80

// Bounds on what initialize stores and passes on (SPEC §12). group_id is
// a Maestrano group uid ("cld-1a2b"), tens of bytes; other passed-on
// parameters are a vendor's own short flags.
const (
	// MaxParamBytes caps each query parameter's name and value.
	MaxParamBytes = 256
	// maxParams caps how many query values one initialize may carry.
	maxParams = 16
	// MaxPendingRequests caps a tenant's pending AuthnRequests; beyond
	// it the oldest is evicted (store.Tx.IssueAuthnRequest says why). At
	// RequestTTL, 10,000 is a thousand logins started a minute, every
	// minute, far above a marketplace's sign-in rate.
	MaxPendingRequests = 10000
)

// checkParams refuses an init request whose parameters exceed the caps:
// nothing is stored or passed on for it.
func checkParams(q url.Values) error {
	n := 0
	for k, vs := range q {
		if len(k) > MaxParamBytes {
			return fmt.Errorf("a parameter name of %d bytes (at most %d)", len(k), MaxParamBytes)
		}
		for _, v := range vs {
			if len(v) > MaxParamBytes {
				return fmt.Errorf("parameter %.32q of %d bytes (at most %d)", k, len(v), MaxParamBytes)
			}
		}
		if n += len(vs); n > maxParams {
			return fmt.Errorf("more than %d parameter values", maxParams)
		}
	}
	return nil
}

// newRequestID is an AuthnRequest ID that sorts by issue time (store keeps
// pending requests in key order and evicts the oldest first) and cannot be
// guessed: '_', the time in hex nanoseconds, then 128 random bits.
func newRequestID(now time.Time) (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("request id: %w", err)
	}
	return fmt.Sprintf("_%016x%x", uint64(now.UnixNano()), b), nil
}

// Initialize starts an SP-initiated login (GET …/saml/initialize): it builds
// an AuthnRequest, remembers its ID for this tenant for RequestTTL, and
// redirects to the IdP with the deflated request and every other query
// parameter of the init request (group_id above all).
func (s *Service) Initialize(w http.ResponseWriter, r *http.Request, cfg *tenant.Config) {
	log := s.log.With("tenant", cfg.Key, "route", "saml_initialize")
	query := r.URL.Query()
	if err := checkParams(query); err != nil {
		log.Warn("sso initialize refused", "reason", ReasonParameter, "err", err)
		writeErrorPage(w, ReasonParameter)
		return
	}
	sp, err := s.serviceProvider(cfg)
	if err != nil {
		log.Error("sso configuration unusable", "err", err)
		writeErrorPage(w, ReasonConfig)
		return
	}
	doc, err := sp.BuildAuthRequestDocumentNoSig()
	if err != nil {
		log.Error("build AuthnRequest", "err", err)
		writeErrorPage(w, ReasonInternal)
		return
	}
	now := s.now()
	id, err := newRequestID(now)
	if err != nil {
		log.Error("AuthnRequest id", "err", err)
		writeErrorPage(w, ReasonInternal)
		return
	}
	doc.Root().CreateAttr("ID", id)
	relayState := query.Get("RelayState")
	if len(relayState) > maxRelayState {
		relayState = ""
	}
	nonce, digest, err := newBrowserNonce()
	if err != nil {
		log.Error("login nonce", "err", err)
		writeErrorPage(w, ReasonInternal)
		return
	}
	req := store.AuthnRequest{
		Tenant:    string(cfg.Key),
		ID:        id,
		GroupID:   query.Get("group_id"),
		Browser:   digest,
		CreatedAt: now,
		ExpiresAt: now.Add(RequestTTL),
	}
	var evicted int
	err = s.db.Update(func(tx *store.Tx) error {
		var err error
		evicted, err = tx.IssueAuthnRequest(req, MaxPendingRequests)
		return err
	})
	if err != nil {
		log.Error("store AuthnRequest", "err", err)
		writeErrorPage(w, ReasonInternal)
		return
	}
	if evicted > 0 {
		log.Warn("pending AuthnRequests at their cap: oldest evicted", "cap", MaxPendingRequests, "evicted", evicted)
	}

	target, err := sp.BuildAuthURLRedirect(relayState, doc)
	if err == nil {
		target, err = withParams(target, query)
	}
	if err != nil {
		log.Error("build IdP redirect", "err", err)
		writeErrorPage(w, ReasonConfig)
		return
	}
	log.Info("sso initialize", "request_id", id, "group_id", req.GroupID)
	http.SetCookie(w, s.loginCookie(id, nonce, int(RequestTTL.Seconds())))
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, target, http.StatusFound)
}

// withParams appends the init request's own parameters to the IdP URL.
func withParams(target string, extra url.Values) (string, error) {
	u, err := url.Parse(target)
	if err != nil {
		return "", fmt.Errorf("parse IdP SSO URL: %w", err)
	}
	q := u.Query()
	for k, vs := range extra {
		if reservedParams[k] {
			continue
		}
		q[k] = append(q[k], vs...)
	}
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// SPMetadata serves this tenant's SP metadata (GET …/saml/metadata.xml), to
// configure the IdP: entityID api.id, the HTTP-POST consume URL, persistent
// NameIDs, unsigned AuthnRequests, signed assertions wanted.
func (s *Service) SPMetadata(w http.ResponseWriter, r *http.Request, cfg *tenant.Config) {
	sp, err := s.serviceProvider(cfg)
	if err == nil {
		var body []byte
		body, err = metadataXML(sp)
		if err == nil {
			w.Header().Set("Content-Type", "application/samlmetadata+xml")
			_, _ = w.Write(body)
			return
		}
	}
	s.log.Error("sp metadata", "tenant", cfg.Key, "err", err)
	writeErrorPage(w, ReasonConfig)
}

// metadataXML builds the descriptor itself: gosaml2's Metadata() refuses
// to work without an SP encryption certificate, and we have none (the
// marketplace neither encrypts nor expects signed requests).
func metadataXML(sp *saml2.SAMLServiceProvider) ([]byte, error) {
	ed := types.EntityDescriptor{
		ValidUntil: sp.Clock.Now().UTC().Add(7 * 24 * time.Hour),
		EntityID:   sp.ServiceProviderIssuer,
		SPSSODescriptor: &types.SPSSODescriptor{
			AuthnRequestsSigned:        sp.SignAuthnRequests,
			WantAssertionsSigned:       true,
			ProtocolSupportEnumeration: saml2.SAMLProtocolNamespace,
			NameIDFormats:              []string{sp.NameIdFormat},
			AssertionConsumerServices: []types.IndexedEndpoint{{
				Binding:  saml2.BindingHttpPost,
				Location: sp.AssertionConsumerServiceURL,
				Index:    1,
			}},
		},
	}
	out, err := xml.MarshalIndent(ed, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode sp metadata: %w", err)
	}
	return append([]byte(xml.Header), out...), nil
}
