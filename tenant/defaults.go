package tenant

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"strings"
	"time"
)

// Creation modes (sso.creation_mode).
const (
	ModeReal    = "real"
	ModeVirtual = "virtual"
)

// APIBase is api.base or its default.
func (c *Config) APIBase() string {
	if c.API.Base == "" {
		return "/api/v1/"
	}
	return c.API.Base
}

// SSOURL is the IdP's SSO endpoint: sso.sso_url, or sso.idp + /api/v1/auth/saml.
func (c *Config) SSOURL() string {
	if c.SSO.SSOURL != "" {
		return c.SSO.SSOURL
	}
	return strings.TrimRight(c.SSO.IdP, "/") + "/api/v1/auth/saml"
}

// IdPIssuer is the Issuer shown for the IdP: sso.idp_issuer when set
// (matched exactly), else the SSO URL (matched with the Issuer's query and
// fragment removed, see IssuerMatches).
func (c *Config) IdPIssuer() string {
	if c.SSO.IdPIssuer != "" {
		return c.SSO.IdPIssuer
	}
	return c.SSOURL()
}

// CreationMode is sso.creation_mode or "real".
func (c *Config) CreationMode() string {
	if c.SSO.CreationMode == "" {
		return ModeReal
	}
	return c.SSO.CreationMode
}

// PostLoginURL is where a successful login lands: sso.post_login_url or the
// tenant's session page.
func (c *Config) PostLoginURL(publicURL string) string {
	if c.SSO.PostLoginURL != "" {
		return c.SSO.PostLoginURL
	}
	return RouteSession.URL(publicURL, c.Key)
}

// ConnecBasePath is connec.base_path or /api/v2.
func (c *Config) ConnecBasePath() string {
	if c.Connec.BasePath == "" {
		return "/api/v2"
	}
	return c.Connec.BasePath
}

// ExternalIDs reports whether Connec! ids come as {id, provider, realm} triplets.
func (c *Config) ExternalIDs() bool { return c.Connec.ExternalIDs == nil || *c.Connec.ExternalIDs }

// ConnecTimeout is connec.timeout or 60 s.
func (c *Config) ConnecTimeout() time.Duration {
	if c.Connec.Timeout <= 0 {
		return 60 * time.Second
	}
	return time.Duration(c.Connec.Timeout)
}

// DefaultCollections are pulled when connec.collections is unset.
var DefaultCollections = []string{"invoices"}

// PullCollections is connec.collections or DefaultCollections.
func (c *Config) PullCollections() []string {
	if len(c.Connec.Collections) == 0 {
		return DefaultCollections
	}
	return c.Connec.Collections
}

// PullInterval is connec.pull_interval: 0 means no periodic pulls.
func (c *Config) PullInterval() time.Duration { return time.Duration(c.Connec.PullInterval) }

// Currency is billing.currency or AUD.
func (c *Config) Currency() string {
	if c.Billing.Currency == "" {
		return "AUD"
	}
	return c.Billing.Currency
}

// BillDescription is billing.description or "<display name> subscription <period>".
func (c *Config) BillDescription(period string) string {
	if c.Billing.Description != "" {
		return c.Billing.Description
	}
	name := c.DisplayName
	if name == "" {
		name = string(c.Key)
	}
	return name + " subscription " + period
}

// Certificates parses every PEM certificate of sso.x509_certificate.
func (c *Config) Certificates() ([]*x509.Certificate, error) {
	rest := []byte(c.SSO.X509Certificate)
	var certs []*x509.Certificate
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("PEM block %q is not a CERTIFICATE", block.Type)
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parse certificate: %w", err)
		}
		certs = append(certs, cert)
	}
	if len(certs) == 0 {
		return nil, fmt.Errorf("no PEM certificate found")
	}
	return certs, nil
}
