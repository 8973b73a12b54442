package sso

import (
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

// Initialize starts an SP-initiated login (GET …/saml/initialize): it builds
// an AuthnRequest, remembers its ID for this tenant for RequestTTL, and
// redirects to the IdP with the deflated request and every other query
// parameter of the init request (group_id above all).
func (s *Service) Initialize(w http.ResponseWriter, r *http.Request, cfg *tenant.Config) {
	log := s.log.With("tenant", cfg.Key, "route", "saml_initialize")
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
	id := doc.Root().SelectAttrValue("ID", "")

	query := r.URL.Query()
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
	now := s.now()
	req := store.AuthnRequest{
		Tenant:    string(cfg.Key),
		ID:        id,
		GroupID:   query.Get("group_id"),
		Browser:   digest,
		CreatedAt: now,
		ExpiresAt: now.Add(RequestTTL),
	}
	if err := s.db.Update(func(tx *store.Tx) error { return tx.PutAuthnRequest(req) }); err != nil {
		log.Error("store AuthnRequest", "err", err)
		writeErrorPage(w, ReasonInternal)
		return
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
