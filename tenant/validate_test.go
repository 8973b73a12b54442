package tenant

import (
	"strings"
	"testing"
	"time"

	"github.com/tenantdesk/tenantdesk/tenant/tenanttest"
)

func TestValidateAcceptsValidConfig(t *testing.T) {
	c := validConfig(t, newCerts(t).Valid)
	c.Normalize()
	if p := c.Validate(testNow, testPublicURL); len(p.Errors)+len(p.Warnings) != 0 {
		t.Fatalf("valid config: %+v", p)
	}
}

func TestValidateFields(t *testing.T) {
	certs := newCerts(t)
	long := strings.Repeat("x", MaxStringLen+1)
	tests := []struct {
		name   string
		edit   func(c *Config)
		field  string // "" means: no error at all
		substr string
	}{
		{"bad key", func(c *Config) { c.Key = "-acme" }, "key", "lowercase"},
		{"key too long", func(c *Config) { c.Key = Key(strings.Repeat("a", 65)) }, "key", "1–64"},
		{"display name too long", func(c *Config) { c.DisplayName = strings.Repeat("é", MaxDisplayName+1) }, "display_name", "at most 100"},
		{"display name control", func(c *Config) { c.DisplayName = "a\x07b" }, "display_name", "control"},
		{"display name empty", func(c *Config) { c.DisplayName = "" }, "display_name", "required"},
		{"app host not a URL", func(c *Config) { c.App.Host = "app.example.com" }, "app.host", "http or https URL"},
		{"api.id missing", func(c *Config) { c.API.ID = "" }, "api.id", "required"},
		{"api.id colon", func(c *Config) { c.API.ID = "app:1" }, "api.id", "':'"},
		{"api.id too long", func(c *Config) { c.API.ID = long }, "api.id", "at most"},
		{"api.key missing", func(c *Config) { c.API.Key = "" }, "api.key", "required"},
		{"api.key is the mask", func(c *Config) { c.API.Key = Mask }, "api.key", "masked"},
		{"api.key too long", func(c *Config) { c.API.Key = Secret(long) }, "api.key", "at most"},
		{"api.host missing", func(c *Config) { c.API.Host = "" }, "api.host", "required"},
		{"api.host http", func(c *Config) { c.API.Host = "http://hub.example.com" }, "api.host", "https"},
		{"api.host http localhost", func(c *Config) { c.API.Host = "http://localhost:3001" }, "", ""},
		{"api.host http 127.0.0.2", func(c *Config) { c.API.Host = "http://127.0.0.2:3001" }, "", ""},
		{"api.host http ::1", func(c *Config) { c.API.Host = "http://[::1]:3001" }, "", ""},
		{"api.host http lookalike", func(c *Config) { c.API.Host = "http://localhost.evil.test" }, "api.host", "https"},
		{"api.host ftp", func(c *Config) { c.API.Host = "ftp://hub.example.com" }, "api.host", "https URL"},
		{"api.host relative", func(c *Config) { c.API.Host = "hub.example.com" }, "api.host", "https URL"},
		{"api.host credentials", func(c *Config) { c.API.Host = "https://u:p@hub.example.com" }, "api.host", "credentials"},
		{"api.host query", func(c *Config) { c.API.Host = "https://hub.example.com?x=1" }, "api.host", "query"},
		{"api.base no slash", func(c *Config) { c.API.Base = "api/v1" }, "api.base", "start and end"},
		{"api.base no trailing slash", func(c *Config) { c.API.Base = "/api/v1" }, "api.base", "start and end"},
		{"api.base query", func(c *Config) { c.API.Base = "/api/?x/" }, "api.base", "plain path"},
		{"api.base default", func(c *Config) { c.API.Base = "" }, "", ""},
		{"sso.idp missing", func(c *Config) { c.SSO.IdP = "" }, "sso.idp", "required"},
		{"sso.idp http", func(c *Config) { c.SSO.IdP = "http://idp.example.com" }, "sso.idp", "https"},
		{"sso.sso_url bad", func(c *Config) { c.SSO.SSOURL = "javascript:alert(1)" }, "sso.sso_url", "https URL"},
		{"sso.sso_url ok", func(c *Config) { c.SSO.SSOURL = "https://idp.example.com/saml" }, "", ""},
		{"sso.creation_mode", func(c *Config) { c.SSO.CreationMode = "ghost" }, "sso.creation_mode", `"real" or "virtual"`},
		{"sso.creation_mode default", func(c *Config) { c.SSO.CreationMode = "" }, "", ""},
		{"sso.init_path with a marketplace query", func(c *Config) { c.SSO.InitPath = "/maestrano/auth/saml/init?marketplace=acme" }, "", ""},
		{"sso.init_path repeats a query name", func(c *Config) { c.SSO.InitPath = "/init?m=a&m=b" }, "sso.init_path", "once"},
		{"sso.consume_path relative", func(c *Config) { c.SSO.ConsumePath = "maestrano/consume" }, "sso.consume_path", "start with '/'"},
		{"sso.consume_path under our prefix", func(c *Config) { c.SSO.ConsumePath = "/mno-enterprise/globex/saml/consume" }, "sso.consume_path", "own routes"},
		{"sso.consume_path our own", func(c *Config) { c.SSO.ConsumePath = "/mno-enterprise/acme/saml/consume" }, "", ""},
		{"group_path without :id", func(c *Config) { c.Hooks.Account.GroupPath = "/groups/acme" }, "webhooks.account.group_path", ":id"},
		{"group_user_path unknown placeholder", func(c *Config) { c.Hooks.Account.GroupUserPath = "/g/:group_id/u/:uid" }, "webhooks.account.group_user_path", "placeholder"},
		{"notification_path with ..", func(c *Config) { c.Hooks.Connec.NotificationPath = "/n/../x" }, "webhooks.connec.notification_path", "'..'"},
		{"sso.idm not a URL", func(c *Config) { c.SSO.IdM = "desk.example.com" }, "sso.idm", "URL"},
		{"sso.audience an entity id", func(c *Config) { c.SSO.Audience = Audiences{"app-acme"} }, "", ""},
		{"sso.audience urn and origin", func(c *Config) { c.SSO.Audience = Audiences{"urn:tenantdesk:acme", "https://desk.example.com/"} }, "", ""},
		{"sso.audience control character", func(c *Config) { c.SSO.Audience = Audiences{"app\x00acme"} }, "sso.audience", "control"},
		{"sso.audience too many", func(c *Config) { c.SSO.Audience = make(Audiences, MaxAudiences+1) }, "sso.audience", "at most"},
		{"sso.post_login_url path", func(c *Config) { c.SSO.PostLoginURL = "/app/home" }, "", ""},
		{"sso.post_login_url protocol-relative", func(c *Config) { c.SSO.PostLoginURL = "//evil.test/x" }, "sso.post_login_url", "URL"},
		{"sso.post_login_url javascript", func(c *Config) { c.SSO.PostLoginURL = "javascript:alert(1)" }, "sso.post_login_url", "URL"},
		{"connec.host optional", func(c *Config) { c.Connec.Host = "" }, "", ""},
		{"connec.host http", func(c *Config) { c.Connec.Host = "http://connec.example.com" }, "connec.host", "https"},
		{"connec.base_path", func(c *Config) { c.Connec.BasePath = "api/v2" }, "connec.base_path", "start with '/'"},
		{"connec.timeout negative", func(c *Config) { c.Connec.Timeout = Duration(-time.Second) }, "connec.timeout", "negative"},
		{"connec.timeout huge", func(c *Config) { c.Connec.Timeout = Duration(2 * time.Hour) }, "connec.timeout", "at most 3600"},
		{"billing.price_cents negative", func(c *Config) { c.Billing.PriceCents = -1 }, "billing.price_cents", "negative"},
		{"billing.price_cents zero", func(c *Config) { c.Billing.PriceCents = 0 }, "", ""},
		{"billing.currency lowercase", func(c *Config) { c.Billing.Currency = "aud" }, "billing.currency", "ISO 4217"},
		{"billing.currency four letters", func(c *Config) { c.Billing.Currency = "AUDD" }, "billing.currency", "ISO 4217"},
		{"billing.description long", func(c *Config) { c.Billing.Description = long }, "billing.description", "at most"},
		{"cert missing", func(c *Config) { c.SSO.X509Certificate = "" }, "sso.x509_certificate", "required"},
		{"cert garbage", func(c *Config) { c.SSO.X509Certificate = "hello" }, "sso.x509_certificate", "does not parse"},
		{"cert bad DER", func(c *Config) {
			c.SSO.X509Certificate = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"
		}, "sso.x509_certificate", "does not parse"},
		{"cert is a key", func(c *Config) {
			c.SSO.X509Certificate = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"
		}, "sso.x509_certificate", "not a CERTIFICATE"},
		{"cert too big", func(c *Config) { c.SSO.X509Certificate = strings.Repeat(certs.Valid.PEM, 200) }, "sso.x509_certificate", "at most"},
		{"cert expired", func(c *Config) {
			c.SSO.X509Certificate = certs.Expired.PEM
			c.SSO.X509Fingerprint = ""
		}, "sso.x509_certificate", "expired on 2026-11-25"},
		{"rotation with an expired one", func(c *Config) {
			c.SSO.X509Certificate = certs.Valid.PEM + certs.Expired.PEM
		}, "sso.x509_certificate", "certificate 2 expired"},
		{"fingerprint sha256 upper case", func(c *Config) {
			c.SSO.X509Fingerprint = strings.ToUpper(FingerprintSHA256(certs.Valid.Cert))
		}, "", ""},
		{"fingerprint of second cert", func(c *Config) {
			c.SSO.X509Certificate = certs.Expiring.PEM + certs.Valid.PEM
		}, "", ""},
		{"fingerprint mismatch", func(c *Config) { c.SSO.X509Fingerprint = FingerprintSHA1(certs.Expired.Cert) }, "sso.x509_fingerprint", "matches none"},
		{"fingerprint malformed", func(c *Config) { c.SSO.X509Fingerprint = "aabbcc" }, "sso.x509_fingerprint", "colon hex"},
		{"fingerprint md5 length", func(c *Config) { c.SSO.X509Fingerprint = strings.Repeat("ab:", 15) + "ab" }, "sso.x509_fingerprint", "SHA-1 or SHA-256"},
		{"environment control", func(c *Config) { c.Environment = "prod\n" }, "environment", "control"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := validConfig(t, certs.Valid)
			tt.edit(&c)
			p := c.Validate(testNow, testPublicURL)
			if tt.field == "" {
				if !p.OK() {
					t.Fatalf("want no error, got %+v", p.Errors)
				}
				return
			}
			msg := p.Field(tt.field)
			if msg == "" || !strings.Contains(msg, tt.substr) {
				t.Fatalf("%s: got %q (all: %+v), want a message containing %q", tt.field, msg, p.Errors, tt.substr)
			}
			if len(p.Errors) != 1 {
				t.Errorf("want exactly one error, got %+v", p.Errors)
			}
			if p.Err() == nil || !strings.Contains(p.Err().Error(), tt.field+": ") {
				t.Errorf("Err() = %v, want it to name %s", p.Err(), tt.field)
			}
		})
	}
}

func TestValidateCertificateWarnings(t *testing.T) {
	certs := newCerts(t)
	notYet := tenanttest.NewCert(t, "idp next", testNow.AddDate(0, 0, 5), testNow.AddDate(3, 0, 0))
	tests := []struct {
		name, pem, want string
	}{
		{"expiring in 10 days", certs.Expiring.PEM, "expires on 2026-12-06"},
		{"not valid yet (rotation in advance)", certs.Valid.PEM + notYet.PEM, "certificate 2 is not valid before 2026-12-01"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := validConfig(t, certs.Valid)
			c.SSO.X509Certificate = tt.pem
			c.SSO.X509Fingerprint = ""
			p := c.Validate(testNow, testPublicURL)
			if !p.OK() {
				t.Fatalf("a warning must not be an error: %+v", p.Errors)
			}
			if len(p.Warnings) != 1 || p.Warnings[0].Field != "sso.x509_certificate" || !strings.Contains(p.Warnings[0].Message, tt.want) {
				t.Fatalf("warnings = %+v, want one containing %q", p.Warnings, tt.want)
			}
		})
	}
}

func TestValidateReportsEveryField(t *testing.T) {
	var c Config
	p := c.Validate(testNow, "not a url")
	for _, f := range []string{"key", "display_name", "api.id", "api.key", "api.host", "sso.idp", "sso.x509_certificate"} {
		if p.Field(f) == "" {
			t.Errorf("empty config: no error for %s (got %+v)", f, p.Errors)
		}
	}
}

func TestNormalize(t *testing.T) {
	c := validConfig(t, newCerts(t).Valid)
	c.Key = "  ACME "
	c.DisplayName = "  "
	c.API.Key = " s3cr3t \n"
	c.API.Host = " https://api-hub.acme.test/ "
	c.SSO.CreationMode = "Virtual"
	c.SSO.X509Fingerprint = strings.ToUpper(c.SSO.X509Fingerprint)
	c.Billing.Currency = " eur "
	c.Normalize()
	if c.Key != "acme" || c.DisplayName != "acme" || c.API.Key != "s3cr3t" || c.API.Host != "https://api-hub.acme.test" ||
		c.SSO.CreationMode != ModeVirtual || c.Billing.Currency != "EUR" || c.SSO.X509Fingerprint != strings.ToLower(c.SSO.X509Fingerprint) {
		t.Errorf("Normalize gave %#v / key %q host %q mode %q currency %q", c, c.Key, c.API.Host, c.SSO.CreationMode, c.Billing.Currency)
	}
	if p := c.Validate(testNow, testPublicURL); !p.OK() {
		t.Errorf("normalized config invalid: %+v", p.Errors)
	}
}

// FuzzValidateCertificate feeds any text as sso.x509_certificate and
// sso.x509_fingerprint: Validate never panics, and what it accepts parses.
func FuzzValidateCertificate(f *testing.F) {
	certs := newCerts(f)
	f.Add(certs.Valid.PEM, FingerprintSHA1(certs.Valid.Cert))
	f.Add(certs.Expiring.PEM+certs.Valid.PEM, "")
	f.Add("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n", "aa:bb")
	f.Fuzz(func(t *testing.T, pemText, fingerprint string) {
		c := validConfig(t, certs.Valid)
		c.SSO.X509Certificate, c.SSO.X509Fingerprint = pemText, fingerprint
		p := c.Validate(testNow, testPublicURL)
		if !p.OK() {
			return
		}
		cs, err := c.Certificates()
		if err != nil || len(cs) == 0 {
			t.Fatalf("accepted a certificate that does not parse: %v", err)
		}
		if fingerprint != "" && c.Fingerprint() != fingerprint {
			t.Fatalf("metadata fingerprint %q, configured %q", c.Fingerprint(), fingerprint)
		}
	})
}
