// Package ssotest provides a marketplace identity provider for tests: a real
// crewjam/saml IdentityProvider (an implementation independent of gosaml2)
// that signs responses for a Tenantdesk tenant's SP metadata, plus helpers
// to tamper with and re-sign what it issues.
package ssotest

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"encoding/xml"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"sort"
	"sync"
	"time"

	"github.com/beevik/etree"
	"github.com/crewjam/saml"
	dsig "github.com/russellhaering/goxmldsig"
)

// Signer is an RSA key with a self-signed certificate, as a marketplace
// publishes in sso.x509_certificate.
type Signer struct {
	Key  *rsa.PrivateKey
	Cert *x509.Certificate
}

// NewSigner makes a 2048-bit key and a certificate valid from an hour ago
// for a year.
func NewSigner(commonName string) (*Signer, error) {
	return NewSignerValidFrom(commonName, time.Now().Add(-time.Hour))
}

// NewSignerValidFrom makes a 2048-bit key and a certificate valid from
// notBefore for a year (a certificate issued moments ago, say).
func NewSignerValidFrom(commonName string, notBefore time.Time) (*Signer, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("generate key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		return nil, fmt.Errorf("serial: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: commonName},
		NotBefore:    notBefore,
		NotAfter:     notBefore.AddDate(1, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("create certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("parse certificate: %w", err)
	}
	return &Signer{Key: key, Cert: cert}, nil
}

// CertPEM is the certificate in PEM, the form the tenant configuration takes.
func (s *Signer) CertPEM() string {
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.Cert.Raw}))
}

var (
	sharedOnce    sync.Once
	sharedSigners [2]*Signer
	sharedErr     error
)

// SharedSigners returns two signers made once per test binary (RSA key
// generation is slow): the usual marketplace key and a second one for
// rotation and wrong-key cases.
func SharedSigners() (*Signer, *Signer, error) {
	sharedOnce.Do(func() {
		for i := range sharedSigners {
			sharedSigners[i], sharedErr = NewSigner(fmt.Sprintf("marketplace-idp-%d", i+1))
			if sharedErr != nil {
				return
			}
		}
	})
	return sharedSigners[0], sharedSigners[1], sharedErr
}

// IdP is a marketplace identity provider.
type IdP struct {
	Signer *Signer
	// Audience replaces the Audience crewjam puts in assertions (the SP
	// entity ID). Maestrano sends the scheme and host of the ACS URL; set
	// this to the tenant's expected audience to behave the same.
	Audience string

	issueMu sync.Mutex // one response at a time: the IdP's clock is per response
	idp     *saml.IdentityProvider

	spMu sync.Mutex
	sps  map[string]*saml.EntityDescriptor
}

// NewIdP returns an IdP whose Issuer is issuer (crewjam's MetadataURL).
func NewIdP(signer *Signer, issuer string) (*IdP, error) {
	mu, err := url.Parse(issuer)
	if err != nil {
		return nil, fmt.Errorf("issuer: %w", err)
	}
	p := &IdP{Signer: signer, sps: map[string]*saml.EntityDescriptor{}}
	p.idp = &saml.IdentityProvider{
		Key:                     signer.Key,
		Certificate:             signer.Cert,
		MetadataURL:             *mu,
		SSOURL:                  *mu.JoinPath("sso"),
		ServiceProviderProvider: p,
	}
	return p, nil
}

// Issuer is the Issuer of everything this IdP signs.
func (p *IdP) Issuer() string { return p.idp.MetadataURL.String() }

// SSOURL is the IdP's single sign-on URL.
func (p *IdP) SSOURL() string { return p.idp.SSOURL.String() }

// AddServiceProvider registers an SP from its metadata XML (what
// Tenantdesk serves at …/saml/metadata.xml) and returns its entity ID.
func (p *IdP) AddServiceProvider(metadata []byte) (string, error) {
	var ed saml.EntityDescriptor
	if err := xml.Unmarshal(metadata, &ed); err != nil {
		return "", fmt.Errorf("sp metadata: %w", err)
	}
	p.spMu.Lock()
	defer p.spMu.Unlock()
	p.sps[ed.EntityID] = &ed
	return ed.EntityID, nil
}

// GetServiceProvider implements saml.ServiceProviderProvider.
func (p *IdP) GetServiceProvider(_ *http.Request, id string) (*saml.EntityDescriptor, error) {
	p.spMu.Lock()
	defer p.spMu.Unlock()
	if ed, ok := p.sps[id]; ok {
		return ed, nil
	}
	return nil, os.ErrNotExist
}

// Login describes one response to issue.
type Login struct {
	SP           string            // SP entity ID (the tenant's api.id)
	InResponseTo string            // "" for an IdP-initiated login
	NameID       string            // default: Attributes["uid"]
	Attributes   map[string]string // Maestrano attributes (uid, group_uid, …)
	At           time.Time         // the IdP's clock; zero means now
	// Edit, if set, changes the assertion before it is signed.
	Edit func(*saml.Assertion)
}

// Response issues a signed response (Response and Assertion both signed, as
// crewjam does) and returns the SAMLResponse form value.
func (p *IdP) Response(l Login) (string, error) {
	doc, err := p.ResponseDocument(l)
	if err != nil {
		return "", err
	}
	return Encode(doc)
}

// ResponseDocument is Response before encoding, for tampering.
func (p *IdP) ResponseDocument(l Login) (*etree.Document, error) {
	at := l.At
	if at.IsZero() {
		at = time.Now()
	}
	p.issueMu.Lock()
	defer p.issueMu.Unlock()
	p.idp.Clock = dsig.NewFakeClockAt(at)
	r := httptest.NewRequest(http.MethodGet, p.SSOURL(), nil)
	req, err := p.idp.NewIdpInitiatedRequest(r, l.SP, "")
	if err != nil {
		return nil, fmt.Errorf("idp request: %w", err)
	}
	req.Request.ID = l.InResponseTo

	nameID := l.NameID
	if nameID == "" {
		nameID = l.Attributes["uid"]
	}
	session := &saml.Session{
		ID:           "idp-session",
		CreateTime:   at,
		ExpireTime:   at.Add(time.Hour),
		Index:        "idx-1",
		NameID:       nameID,
		NameIDFormat: "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent",
	}
	names := make([]string, 0, len(l.Attributes))
	for name := range l.Attributes {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		session.CustomAttributes = append(session.CustomAttributes, saml.Attribute{
			Name:   name,
			Values: []saml.AttributeValue{{Type: "xs:string", Value: l.Attributes[name]}},
		})
	}
	if err := (saml.DefaultAssertionMaker{}).MakeAssertion(req, session); err != nil {
		return nil, fmt.Errorf("make assertion: %w", err)
	}
	if p.Audience != "" {
		for i := range req.Assertion.Conditions.AudienceRestrictions {
			req.Assertion.Conditions.AudienceRestrictions[i].Audience.Value = p.Audience
		}
	}
	if l.Edit != nil {
		l.Edit(req.Assertion)
	}
	if err := req.MakeResponse(); err != nil {
		return nil, fmt.Errorf("make response: %w", err)
	}
	doc := etree.NewDocument()
	doc.SetRoot(req.ResponseEl)
	// Round-trip through bytes so the document is what a peer would parse.
	raw, err := doc.WriteToBytes()
	if err != nil {
		return nil, err
	}
	out := etree.NewDocument()
	if err := out.ReadFromBytes(raw); err != nil {
		return nil, err
	}
	return out, nil
}

// Encode serialises a response document (no pretty-printing, which would
// break digests) into a SAMLResponse form value.
func Encode(doc *etree.Document) (string, error) {
	raw, err := doc.WriteToBytes()
	if err != nil {
		return "", fmt.Errorf("serialise response: %w", err)
	}
	return base64.StdEncoding.EncodeToString(raw), nil
}

// Decode parses a SAMLResponse form value.
func Decode(encoded string) (*etree.Document, error) {
	raw, err := base64.StdEncoding.DecodeString(encoded)
	if err != nil {
		return nil, err
	}
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(raw); err != nil {
		return nil, err
	}
	return doc, nil
}

const dsigNS = "http://www.w3.org/2000/09/xmldsig#"

// StripSignature removes el's own enveloped signature (not those of its
// descendants).
func StripSignature(el *etree.Element) {
	for _, c := range el.ChildElements() {
		if c.Tag == "Signature" && c.NamespaceURI() == dsigNS {
			el.RemoveChild(c)
		}
	}
}

// StripAllSignatures removes every signature in the document.
func StripAllSignatures(doc *etree.Document) {
	var walk func(*etree.Element)
	walk = func(el *etree.Element) {
		StripSignature(el)
		for _, c := range el.ChildElements() {
			walk(c)
		}
	}
	walk(doc.Root())
}

// Resign replaces the Response's own signature with a fresh one by signer,
// after the caller has edited the Response (the assertion keeps its own).
// The signature goes after the Issuer, where the schema puts it.
func Resign(doc *etree.Document, signer *Signer) error {
	root := doc.Root()
	StripSignature(root)
	ctx, err := dsig.NewSigningContext(signer.Key, [][]byte{signer.Cert.Raw})
	if err != nil {
		return fmt.Errorf("signing context: %w", err)
	}
	ctx.Canonicalizer = dsig.MakeC14N10ExclusiveCanonicalizerWithPrefixList("")
	if err := ctx.SetSignatureMethod(dsig.RSASHA256SignatureMethod); err != nil {
		return err
	}
	sig, err := ctx.ConstructSignature(root, true)
	if err != nil {
		return fmt.Errorf("sign response: %w", err)
	}
	pos := 0
	for i, tok := range root.Child {
		if el, ok := tok.(*etree.Element); ok && el.Tag == "Issuer" {
			pos = i + 1
			break
		}
	}
	root.InsertChildAt(pos, sig)
	return nil
}

// FindAssertion returns the document's (first) Assertion element.
func FindAssertion(doc *etree.Document) (*etree.Element, error) {
	for _, c := range doc.Root().ChildElements() {
		if c.Tag == "Assertion" {
			return c, nil
		}
	}
	return nil, errors.New("no Assertion")
}

// WithDoctype prefixes a response document with a DOCTYPE declaration.
func WithDoctype(encoded string) (string, error) {
	raw, err := base64.StdEncoding.DecodeString(encoded)
	if err != nil {
		return "", err
	}
	raw = append([]byte(`<!DOCTYPE Response [<!ENTITY x "x">]>`), bytes.TrimSpace(raw)...)
	return base64.StdEncoding.EncodeToString(raw), nil
}
