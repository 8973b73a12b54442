package tenant

import (
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/tenantdesk/tenantdesk/tenant/money"
)

// Bounds on configuration values.
const (
	MaxStringLen      = 2 << 10  // any string field, bytes
	MaxCertificateLen = 64 << 10 // sso.x509_certificate, bytes
	MaxDisplayName    = 100      // characters
	MaxConnecTimeout  = time.Hour
	MinPullInterval   = time.Minute
	MaxPullInterval   = 7 * 24 * time.Hour
	MaxPrice          = 1_000_000_000 // billing.price_cents at most, in major units of its currency
	CertWarningWindow = 30 * 24 * time.Hour
)

// Problem is one finding about one field, named by its JSON path
// ("api.host", "sso.x509_certificate").
type Problem struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

func (p Problem) String() string {
	if p.Field == "" {
		return p.Message
	}
	return p.Field + ": " + p.Message
}

// Problems is the outcome of Validate: errors block a save, warnings
// (a certificate close to expiry) are shown beside the tenant.
type Problems struct {
	Errors   []Problem `json:"errors,omitempty"`
	Warnings []Problem `json:"warnings,omitempty"`
}

// OK reports whether there is no error (warnings allowed).
func (p Problems) OK() bool { return len(p.Errors) == 0 }

// Err is nil when there is no error, else a *ValidationError.
func (p Problems) Err() error {
	if p.OK() {
		return nil
	}
	return &ValidationError{Problems: p}
}

// Field returns the first error message for a field, "" when none; the GUI
// shows it beside the field.
func (p Problems) Field(field string) string {
	for _, e := range p.Errors {
		if e.Field == field {
			return e.Message
		}
	}
	return ""
}

func (p *Problems) errorf(field, format string, args ...any) {
	p.Errors = append(p.Errors, Problem{Field: field, Message: fmt.Sprintf(format, args...)})
}

func (p *Problems) warnf(field, format string, args ...any) {
	p.Warnings = append(p.Warnings, Problem{Field: field, Message: fmt.Sprintf(format, args...)})
}

// ValidationError is a configuration that failed Validate.
type ValidationError struct {
	Key      Key
	Problems Problems
}

func (e *ValidationError) Error() string {
	var b strings.Builder
	if e.Key != "" {
		fmt.Fprintf(&b, "tenant %q: ", e.Key)
	}
	b.WriteString("invalid configuration:")
	for _, p := range e.Problems.Errors {
		b.WriteString("\n  ")
		b.WriteString(p.String())
	}
	return b.String()
}

// Normalize trims every string, lowercases the key, the creation mode and
// the fingerprint, uppercases the currency, drops trailing slashes from
// hosts and defaults the display name to the key. It never fails: Validate
// judges the result.
func (c *Config) Normalize() {
	trim := func(ps ...*string) {
		for _, p := range ps {
			*p = strings.TrimSpace(*p)
		}
	}
	trim(&c.DisplayName, &c.Environment, &c.App.Host,
		&c.API.ID, &c.API.Host, &c.API.Base,
		&c.SSO.IdP, &c.SSO.SSOURL, &c.SSO.IdPIssuer, &c.SSO.X509Certificate, &c.SSO.X509Fingerprint,
		&c.SSO.CreationMode, &c.SSO.PostLoginURL, &c.SSO.IdM, &c.SSO.InitPath, &c.SSO.ConsumePath,
		&c.Hooks.Account.GroupPath, &c.Hooks.Account.GroupUserPath, &c.Hooks.Connec.NotificationPath,
		&c.Connec.Host, &c.Connec.BasePath,
		&c.Billing.Currency, &c.Billing.Description)
	var aud Audiences
	for _, a := range c.SSO.Audience {
		if a = strings.TrimSpace(a); a != "" {
			aud = append(aud, a)
		}
	}
	c.SSO.Audience = aud
	c.Key = Key(strings.ToLower(strings.TrimSpace(string(c.Key))))
	c.API.Key = Secret(strings.TrimSpace(string(c.API.Key)))
	c.SSO.CreationMode = strings.ToLower(c.SSO.CreationMode)
	c.SSO.X509Fingerprint = strings.ToLower(c.SSO.X509Fingerprint)
	c.Billing.Currency = strings.ToUpper(c.Billing.Currency)
	for _, h := range []*string{&c.App.Host, &c.API.Host, &c.SSO.IdP, &c.SSO.IdM, &c.Connec.Host} {
		*h = strings.TrimRight(*h, "/")
	}
	if c.DisplayName == "" {
		c.DisplayName = string(c.Key)
	}
}

// Validate checks every field (SPEC §3.1) and returns all findings. It does
// not change c; call Normalize first. publicURL is the listener's public
// base URL ("" when the caller does not know it); no check needs it since
// the audience default always holds api.id, but callers keep passing it.
//
// Decisions where the spec is silent: connec.host is optional (empty means
// no Connec! sharing for this tenant, see ConnecEnabled); sso.post_login_url
// may be an absolute http(s) URL or a local path ("/app"); connec.timeout is
// at most an hour.
func (c *Config) Validate(now time.Time, publicURL string) Problems {
	var p Problems
	if _, err := ParseKey(string(c.Key)); err != nil {
		p.errorf("key", "must be 1–64 lowercase letters, digits or '-', starting with a letter or digit")
	}
	switch n := utf8.RuneCountInString(c.DisplayName); {
	case !utf8.ValidString(c.DisplayName):
		p.errorf("display_name", "must be valid UTF-8")
	case n == 0:
		p.errorf("display_name", "required")
	case n > MaxDisplayName:
		p.errorf("display_name", "must be at most %d characters", MaxDisplayName)
	case hasControl(c.DisplayName):
		p.errorf("display_name", "must not contain control characters")
	}
	p.text("environment", c.Environment, 64)
	if c.App.Host != "" {
		p.url("app.host", c.App.Host, false)
	}

	switch {
	case c.API.ID == "":
		p.errorf("api.id", "required")
	case strings.ContainsRune(c.API.ID, ':'):
		p.errorf("api.id", "must not contain ':' (it is the Basic-auth user name)")
	default:
		p.text("api.id", c.API.ID, MaxStringLen)
	}
	switch key := string(c.API.Key); {
	case key == "":
		p.errorf("api.key", "required")
	case key == Mask || strings.Contains(key, "••••"):
		p.errorf("api.key", "is the masked placeholder, not the secret: paste the real key")
	default:
		p.text("api.key", key, MaxStringLen)
	}
	p.host("api.host", c.API.Host, true)
	if b := c.API.Base; b != "" {
		if !strings.HasPrefix(b, "/") || !strings.HasSuffix(b, "/") {
			p.errorf("api.base", "must start and end with '/' (like /api/v1/)")
		} else {
			p.path("api.base", b)
		}
	}

	p.host("sso.idp", c.SSO.IdP, true)
	if c.SSO.SSOURL != "" {
		p.url("sso.sso_url", c.SSO.SSOURL, true)
	}
	p.text("sso.idp_issuer", c.SSO.IdPIssuer, MaxStringLen)
	p.certificates(c, now)
	switch c.SSO.CreationMode {
	case "", ModeReal, ModeVirtual:
	default:
		p.errorf("sso.creation_mode", "must be %q or %q", ModeReal, ModeVirtual)
	}
	if n := len(c.SSO.Audience); n > MaxAudiences {
		p.errorf("sso.audience", "must list at most %d values", MaxAudiences)
	} else {
		p.audiences(c.SSO.Audience)
	}
	if c.SSO.IdM != "" {
		p.url("sso.idm", c.SSO.IdM, false)
	}
	for _, r := range Routes() {
		if path := r.RegisteredPath(c); path != "" {
			if _, err := parseAlias(c.Key, r, path); err != nil {
				p.errorf(r.Field(), "%v", err)
			}
		}
	}
	if l := c.SSO.PostLoginURL; l != "" {
		if strings.HasPrefix(l, "/") && !strings.HasPrefix(l, "//") && !strings.HasPrefix(l, "/\\") {
			p.path("sso.post_login_url", l)
		} else {
			p.url("sso.post_login_url", l, false)
		}
	}

	if c.Connec.Host != "" {
		p.host("connec.host", c.Connec.Host, false)
	}
	if b := c.Connec.BasePath; b != "" {
		if !strings.HasPrefix(b, "/") {
			p.errorf("connec.base_path", "must start with '/' (like /api/v2)")
		} else {
			p.path("connec.base_path", b)
		}
	}
	seen := map[string]bool{}
	for i, col := range c.Connec.Collections {
		switch {
		case !ValidCollection(col):
			p.errorf("connec.collections", "item %d (%q): use a Connec! collection name of lowercase letters, digits and '_' (like invoices)", i+1, clip(col))
		case seen[col]:
			p.errorf("connec.collections", "%q is listed twice", col)
		}
		seen[col] = true
	}
	switch t := time.Duration(c.Connec.PullInterval); {
	case t < 0:
		p.errorf("connec.pull_interval", "must not be negative")
	case t > 0 && t < MinPullInterval:
		p.errorf("connec.pull_interval", "must be at least %s (or unset for no periodic pulls)", MinPullInterval)
	case t > MaxPullInterval:
		p.errorf("connec.pull_interval", "must be at most %s", MaxPullInterval)
	}
	switch t := time.Duration(c.Connec.Timeout); {
	case t < 0:
		p.errorf("connec.timeout", "must not be negative")
	case t > MaxConnecTimeout:
		p.errorf("connec.timeout", "must be at most %d seconds", int(MaxConnecTimeout/time.Second))
	}

	// price_cents is in the currency's minor units (maestrano-protocol
	// §4.4): yen for JPY, fils for KWD, so the cap scales with them.
	maxMinor := int64(MaxPrice)
	for range money.Digits(c.Currency()) {
		maxMinor *= 10
	}
	switch pc := c.Billing.PriceCents; {
	case pc < 0:
		p.errorf("billing.price_cents", "must not be negative")
	case pc > maxMinor:
		p.errorf("billing.price_cents", "must be at most %d (%s, in minor units of %s)", maxMinor, money.Format(maxMinor, c.Currency()), c.Currency())
	}
	if cur := c.Billing.Currency; cur != "" && !money.ValidCode(cur) {
		p.errorf("billing.currency", "must be an ISO 4217 code of three capital letters (like AUD)")
	}
	p.text("billing.description", c.Billing.Description, MaxStringLen)
	return p
}

// audiences checks each sso.audience value: any string, but not empty,
// bounded, without control characters. One finding is enough.
func (p *Problems) audiences(as Audiences) {
	for _, a := range as {
		if a == "" {
			p.errorf("sso.audience", "must not contain an empty value")
			return
		}
		before := len(p.Errors)
		if p.text("sso.audience", a, MaxStringLen); len(p.Errors) > before {
			return
		}
	}
}

// text checks a free-text field: valid UTF-8, no control characters, bounded.
func (p *Problems) text(field, s string, max int) {
	switch {
	case len(s) > max:
		p.errorf(field, "must be at most %d bytes", max)
	case !utf8.ValidString(s):
		p.errorf(field, "must be valid UTF-8")
	case hasControl(s):
		p.errorf(field, "must not contain control characters")
	}
}

// host checks a required-or-optional base URL of a remote service.
func (p *Problems) host(field, s string, required bool) {
	if s == "" {
		if required {
			p.errorf(field, "required")
		}
		return
	}
	p.url(field, s, true)
}

// url checks an absolute http(s) URL; with secure, plain http is allowed
// only for loopback hosts (a tenant running on the same machine in tests).
func (p *Problems) url(field, s string, secure bool) {
	if len(s) > MaxStringLen {
		p.errorf(field, "must be at most %d bytes", MaxStringLen)
		return
	}
	u, err := url.Parse(s)
	switch {
	case err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") || hasControl(s) || strings.ContainsAny(s, " \\"):
		if secure {
			p.errorf(field, "must be an https URL")
		} else {
			p.errorf(field, "must be an http or https URL")
		}
	case u.User != nil:
		p.errorf(field, "must not contain credentials")
	case u.RawQuery != "" || u.Fragment != "" || u.ForceQuery:
		p.errorf(field, "must not have a query or fragment")
	case secure && u.Scheme == "http" && !isLoopback(u.Hostname()):
		p.errorf(field, "must be an https URL (http only for localhost)")
	}
}

// path checks a URL path: no query, fragment, spaces or "//".
func (p *Problems) path(field, s string) {
	switch {
	case len(s) > MaxStringLen:
		p.errorf(field, "must be at most %d bytes", MaxStringLen)
	case strings.ContainsAny(s, "?# \\") || hasControl(s) || strings.Contains(s, "//") || !utf8.ValidString(s):
		p.errorf(field, "must be a plain path (no query, fragment, spaces or '//')")
	}
}

func (p *Problems) certificates(c *Config, now time.Time) {
	const field = "sso.x509_certificate"
	if c.SSO.X509Certificate == "" {
		p.errorf(field, "required (the IdP signing certificate, PEM)")
		return
	}
	if len(c.SSO.X509Certificate) > MaxCertificateLen {
		p.errorf(field, "must be at most %d bytes", MaxCertificateLen)
		return
	}
	certs, err := c.Certificates()
	if err != nil {
		p.errorf(field, "does not parse: %v", err)
		return
	}
	for i, cert := range certs {
		name := "certificate"
		if len(certs) > 1 {
			name = fmt.Sprintf("certificate %d", i+1)
		}
		switch {
		case now.After(cert.NotAfter):
			p.errorf(field, "%s expired on %s", name, cert.NotAfter.UTC().Format(time.DateOnly))
		case now.Before(cert.NotBefore):
			p.warnf(field, "%s is not valid before %s", name, cert.NotBefore.UTC().Format(time.DateOnly))
		case cert.NotAfter.Sub(now) < CertWarningWindow:
			p.warnf(field, "%s expires on %s", name, cert.NotAfter.UTC().Format(time.DateOnly))
		}
	}
	fp := c.SSO.X509Fingerprint
	if fp == "" {
		return
	}
	if !isColonHex(fp, sha1.Size) && !isColonHex(fp, sha256.Size) {
		p.errorf("sso.x509_fingerprint", "must be a SHA-1 or SHA-256 fingerprint in colon hex (ab:cd:…)")
		return
	}
	for _, cert := range certs {
		if strings.EqualFold(fp, FingerprintSHA1(cert)) || strings.EqualFold(fp, FingerprintSHA256(cert)) {
			return
		}
	}
	p.errorf("sso.x509_fingerprint", "matches none of the configured certificates")
}

// FingerprintSHA1 is the certificate's SHA-1 fingerprint, lowercase colon hex.
func FingerprintSHA1(cert *x509.Certificate) string {
	sum := sha1.Sum(cert.Raw)
	return colonHex(sum[:])
}

// FingerprintSHA256 is the certificate's SHA-256 fingerprint, lowercase colon hex.
func FingerprintSHA256(cert *x509.Certificate) string {
	sum := sha256.Sum256(cert.Raw)
	return colonHex(sum[:])
}

func colonHex(b []byte) string {
	h := hex.EncodeToString(b)
	var s strings.Builder
	for i := 0; i < len(h); i += 2 {
		if i > 0 {
			s.WriteByte(':')
		}
		s.WriteString(h[i : i+2])
	}
	return s.String()
}

func isColonHex(s string, n int) bool {
	if len(s) != 3*n-1 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if i%3 == 2 {
			if s[i] != ':' {
				return false
			}
			continue
		}
		if _, ok := unhex(s[i]); !ok {
			return false
		}
	}
	return true
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func hasControl(s string) bool {
	return strings.IndexFunc(s, unicode.IsControl) >= 0
}

// ValidCollection accepts a Connec! collection name: 1 to 64 of a-z, 0-9,
// '_'. It is the rule for connec.collections and for the collections of a
// notification alike.
func ValidCollection(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// ConnecEnabled reports whether the tenant shares data through Connec!
// (connec.host is set).
func (c *Config) ConnecEnabled() bool { return c.Connec.Host != "" }
