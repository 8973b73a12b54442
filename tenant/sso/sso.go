// Package sso is Tenantdesk's SAML 2.0 service provider: one gosaml2
// SAMLServiceProvider per tenant, the initialize (AuthnRequest), consume
// (ACS), SP metadata and session handlers the listener mounts, and the
// checks gosaml2 leaves to its caller (InResponseTo, replay, Destination,
// audience, time window with clock skew, exactly one assertion, DOCTYPE).
// A consume either commits the whole login in one store transaction or
// writes nothing but a failed-login audit event.
package sso

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jonboulle/clockwork"
	saml2 "github.com/russellhaering/gosaml2"
	dsig "github.com/russellhaering/goxmldsig"

	"github.com/tenantdesk/tenantdesk/store"
	"github.com/tenantdesk/tenantdesk/tenant"
	"github.com/tenantdesk/tenantdesk/tenant/account"
	"github.com/tenantdesk/tenantdesk/tenant/guard"
)

const (
	// ClockSkew is how far the IdP's clock may be from ours: a message
	// issued up to this much in the future, or expired up to this much ago,
	// is accepted.
	ClockSkew = 3 * time.Minute
	// RequestTTL is how long an issued AuthnRequest may be answered.
	RequestTTL = 10 * time.Minute
	// SessionTTL is the longest a browser session lasts.
	SessionTTL = 12 * time.Hour
	// MaxResponseBytes caps the consume body and the decoded response. A
	// signed Maestrano response is a few KB (about 10 KB with its
	// certificate and the full attribute set), so 256 KiB leaves room for
	// any real IdP's additions while bounding what a refused document can
	// cost: reading, decoding and pre-scanning it stays far below a valid
	// login's signature check.
	MaxResponseBytes = 256 << 10
	// CookieName is the session cookie; its Path scopes it to one tenant.
	CookieName = "tenantdesk_session"
	// LoginCookiePrefix starts the name of the cookie that binds an
	// SP-initiated login to the browser that started it; the AuthnRequest
	// ID completes the name, so parallel logins in one browser keep theirs.
	LoginCookiePrefix = "tenantdesk_login_"
	// Provider is the identity-map provider of SSO users and groups.
	Provider = account.Provider
)

// Service serves the SSO routes of every tenant.
type Service struct {
	db        *store.DB
	publicURL string
	log       *slog.Logger
	clock     atomic.Pointer[func() time.Time]
	failures  atomic.Pointer[guard.Failures]

	verifications *verifySlots

	mu  sync.Mutex
	sps map[tenant.Key]cachedSP

	checks checks // session checks with the hub (sessioncheck.go)
}

// cachedSP is a tenant's SP twice over: sp sees our clock, so the IdP
// certificate's validity is checked against the real time; lenient sees
// the clock set back by ClockSkew, and only re-checks a response that sp
// refused as expired (gosaml2 has no skew allowance for
// SubjectConfirmationData/@NotOnOrAfter, and one clock serves both checks).
type cachedSP struct {
	fingerprint [sha256.Size]byte
	sp, lenient *saml2.SAMLServiceProvider
}

// New returns the SSO service of a listener reachable at publicURL.
func New(db *store.DB, publicURL string, logger *slog.Logger) *Service {
	if logger == nil {
		logger = slog.Default()
	}
	s := &Service{
		db:        db,
		publicURL: strings.TrimRight(publicURL, "/"),
		log:       logger.With("component", "sso"),
		sps:       map[tenant.Key]cachedSP{},

		verifications: newVerifySlots(),
	}
	s.checks.timeout = SessionCheckTimeout
	s.checks.client = &http.Client{}
	s.SetClock(time.Now)
	s.failures.Store(guard.NewFailures(db, s.now, logger))
	return s
}

// UseFailures makes refused logins count in f, the listener's aggregator,
// instead of the service's own.
func (s *Service) UseFailures(f *guard.Failures) { s.failures.Store(f) }

// Failures is the aggregator refused logins are counted in.
func (s *Service) Failures() *guard.Failures { return s.failures.Load() }

// SetClock replaces the time source (tests). It is safe to call while
// serving; gosaml2's checks use it too.
func (s *Service) SetClock(now func() time.Time) { s.clock.Store(&now) }

func (s *Service) now() time.Time { return (*s.clock.Load())() }

// realClock is the clock gosaml2 sees first: ours, so that the IdP
// certificate's validity is checked against the real time (a certificate
// issued a minute ago works).
type realClock struct{ s *Service }

// skewedClock is ours set back by ClockSkew, for the lenient SP. gosaml2
// has no skew allowance and treats an expired SubjectConfirmationData as a
// hard error; seen from now-ClockSkew, it expires exactly ClockSkew late.
// Every other time check is ours (checkTimes), which is why gosaml2's
// InvalidTime warning is not consulted.
type skewedClock struct{ s *Service }

func (c realClock) Now() time.Time   { return c.s.now() }
func (c skewedClock) Now() time.Time { return c.s.now().Add(-ClockSkew) }

// nowClock adapts a Now function to the clockwork.Clock gosaml2 takes.
type nowClock struct {
	clockwork.Clock
	now interface{ Now() time.Time }
}

func (c nowClock) Now() time.Time { return c.now.Now() }

// serviceProvider returns the tenant's SP, building it when the tenant is
// new or its SSO settings changed since the cached one was built.
func (s *Service) serviceProvider(cfg *tenant.Config) (*saml2.SAMLServiceProvider, error) {
	c, err := s.serviceProviders(cfg)
	return c.sp, err
}

func (s *Service) serviceProviders(cfg *tenant.Config) (cachedSP, error) {
	settings := s.spSettings(cfg)
	fp := sha256.Sum256([]byte(strings.Join(settings[:], "\x00")))

	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok := s.sps[cfg.Key]; ok && c.fingerprint == fp {
		return c, nil
	}
	sp, err := s.buildSP(cfg, realClock{s})
	if err != nil {
		return cachedSP{}, err
	}
	lenient, err := s.buildSP(cfg, skewedClock{s})
	if err != nil {
		return cachedSP{}, err
	}
	c := cachedSP{fingerprint: fp, sp: sp, lenient: lenient}
	s.sps[cfg.Key] = c
	return c, nil
}

// spSettings lists every configuration value an SP is built from; its hash
// keys the cache.
func (s *Service) spSettings(cfg *tenant.Config) [6]string {
	return [6]string{
		cfg.SSOURL(),
		cfg.SSO.IdPIssuer,
		cfg.SSO.X509Certificate,
		cfg.API.ID,
		s.consumeURL(cfg),
		strings.Join(cfg.Audiences(s.publicURL), "\x00"),
	}
}

func (s *Service) buildSP(cfg *tenant.Config, clock interface{ Now() time.Time }) (*saml2.SAMLServiceProvider, error) {
	certs, err := cfg.Certificates()
	if err != nil {
		return nil, fmt.Errorf("tenant %q sso certificates: %w", cfg.Key, err)
	}
	audiences := cfg.Audiences(s.publicURL)
	switch {
	case cfg.API.ID == "":
		return nil, errors.New("api.id is empty")
	case cfg.SSOURL() == "":
		return nil, errors.New("sso.idp is empty")
	case len(audiences) == 0:
		return nil, errors.New("sso audience is empty")
	}
	return &saml2.SAMLServiceProvider{
		IdentityProviderSSOURL:     cfg.SSOURL(),
		IdentityProviderSSOBinding: saml2.BindingHttpRedirect,
		// Exact when sso.idp_issuer is set; otherwise "" turns gosaml2's
		// comparison off and verify applies cfg.IssuerMatches to the
		// Response and the Assertion Issuer (the hub's carries a query).
		IdentityProviderIssuer:      cfg.SSO.IdPIssuer,
		ServiceProviderIssuer:       cfg.API.ID,
		AssertionConsumerServiceURL: s.consumeURL(cfg),
		// gosaml2 takes one value; checkAudience accepts any of the list.
		AudienceURI:                 audiences[0],
		IDPCertificateStore:         &dsig.MemoryX509CertificateStore{Roots: certs},
		NameIdFormat:                saml2.NameIdFormatPersistent,
		SignAuthnRequests:           false,
		Clock:                       dsig.NewFakeClock(nowClock{Clock: clockwork.NewRealClock(), now: clock}),
		MaximumDecompressedBodySize: MaxResponseBytes,
	}, nil
}

// consumeURL is the ACS URL the hub knows: the registered sso.idm +
// consume_path when there is one, else our /mno-enterprise/ consume URL.
// The AuthnRequest names it, and Destination and Recipient must equal it.
func (s *Service) consumeURL(cfg *tenant.Config) string {
	return tenant.RouteSAMLConsume.TenantURL(cfg, s.publicURL)
}
