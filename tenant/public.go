package tenant

import (
	"fmt"
	"strings"
	"time"
)

// PublicConfig is a tenant as `tenant list --json`, exports and the GUI
// list show it: every field but the secret, which is Mask when set and ""
// when not (no character of it, not even the last ones). Certificates are
// summarised rather than copied.
type PublicConfig struct {
	Key          Key                 `json:"key"`
	DisplayName  string              `json:"display_name"`
	Enabled      bool                `json:"enabled"`
	Environment  string              `json:"environment,omitempty"`
	App          App                 `json:"app"`
	API          PublicAPI           `json:"api"`
	SSO          PublicSSO           `json:"sso"`
	Connec       Connec              `json:"connec"`
	Billing      Billing             `json:"billing"`
	Hooks        Hooks               `json:"webhooks,omitzero"`
	Certificates []PublicCertificate `json:"certificates"`
}

// PublicAPI is api{} with the key masked.
type PublicAPI struct {
	ID   string `json:"id"`
	Key  string `json:"key"` // Mask or ""
	Host string `json:"host"`
	Base string `json:"base"`
}

// PublicSSO is sso{} with defaults filled in and the certificates left
// to PublicConfig.Certificates.
type PublicSSO struct {
	IdP               string   `json:"idp"`
	SSOURL            string   `json:"sso_url"`
	IdPIssuer         string   `json:"idp_issuer"`
	X509Fingerprint   string   `json:"x509_fingerprint,omitempty"`
	CreationMode      string   `json:"creation_mode"`
	Audience          []string `json:"audience"` // the accepted values, defaults included
	AllowIdPInitiated bool     `json:"allow_idp_initiated"`
	PostLoginURL      string   `json:"post_login_url,omitempty"`
	IdM               string   `json:"idm,omitempty"`
	InitPath          string   `json:"init_path,omitempty"`
	ConsumePath       string   `json:"consume_path,omitempty"`
}

// PublicCertificate summarises one IdP certificate.
type PublicCertificate struct {
	Subject  string    `json:"subject"`
	NotAfter time.Time `json:"not_after"`
	SHA1     string    `json:"sha1"`
}

// Public is the masked view of the configuration.
func (c *Config) Public() PublicConfig {
	p := PublicConfig{
		Key:         c.Key,
		DisplayName: c.DisplayName,
		Enabled:     c.Enabled,
		Environment: c.Environment,
		App:         c.App,
		API:         PublicAPI{ID: c.API.ID, Key: c.API.Key.String(), Host: c.API.Host, Base: c.APIBase()},
		SSO: PublicSSO{
			IdP:               c.SSO.IdP,
			SSOURL:            c.SSOURL(),
			IdPIssuer:         c.IdPIssuer(),
			X509Fingerprint:   c.SSO.X509Fingerprint,
			CreationMode:      c.CreationMode(),
			Audience:          c.Audiences(""),
			AllowIdPInitiated: c.SSO.AllowIdPInitiated,
			PostLoginURL:      c.SSO.PostLoginURL,
			IdM:               c.SSO.IdM,
			InitPath:          c.SSO.InitPath,
			ConsumePath:       c.SSO.ConsumePath,
		},
		Hooks:        c.Hooks,
		Connec:       c.Connec,
		Billing:      c.Billing,
		Certificates: []PublicCertificate{},
	}
	p.Connec.BasePath = c.ConnecBasePath()
	p.Billing.Currency = c.Currency()
	if certs, err := c.Certificates(); err == nil {
		for _, cert := range certs {
			p.Certificates = append(p.Certificates, PublicCertificate{
				Subject: cert.Subject.String(), NotAfter: cert.NotAfter.UTC(), SHA1: FingerprintSHA1(cert),
			})
		}
	}
	return p
}

// ListLine is the tenant's line in `tenant list`: key, state, name, api
// id, and the certificate finding that needs attention, if any.
//
//	acme      enabled   Acme Marketplace   api.id=app-acme  cert expires 2026-12-10 ⚠
func (c *Config) ListLine(now time.Time, publicURL string) string {
	state := "enabled"
	if !c.Enabled {
		state = "disabled"
	}
	line := fmt.Sprintf("%-20s %-8s  %-30s  api.id=%s", c.Key, state, c.DisplayName, c.API.ID)
	p := c.Validate(now, publicURL)
	var notes []string
	if f := p.Field("sso.x509_certificate"); f != "" {
		notes = append(notes, f+" ✗")
	}
	for _, w := range p.Warnings {
		notes = append(notes, w.Message+" ⚠")
	}
	if n := len(p.Errors); n > 0 && len(notes) == 0 {
		notes = append(notes, fmt.Sprintf("%d invalid field(s) ✗", n))
	}
	if len(notes) > 0 {
		line += "  " + strings.Join(notes, "; ")
	}
	return line
}
