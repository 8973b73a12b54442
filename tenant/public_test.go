package tenant

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestPublicMasksSecret(t *testing.T) {
	certs := newCerts(t)
	c := validConfig(t, certs.Valid)
	c.API.Key = "abcdefghij-unique-secret-XYZ"
	p := c.Public()
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	if p.API.Key != Mask {
		t.Errorf("api.key = %q, want %q", p.API.Key, Mask)
	}
	// Not even the last characters of the secret appear.
	if strings.Contains(s, "XYZ") || strings.Contains(s, "secret") {
		t.Errorf("public view leaks part of the secret: %s", s)
	}
	if len(p.Certificates) != 1 || p.Certificates[0].SHA1 != FingerprintSHA1(certs.Valid.Cert) || !p.Certificates[0].NotAfter.Equal(certs.Valid.Cert.NotAfter) {
		t.Errorf("certificates = %+v", p.Certificates)
	}
	if strings.Contains(s, "BEGIN CERTIFICATE") {
		t.Errorf("public view copies the PEM: it should summarise")
	}
	c.API.Key = ""
	if c.Public().API.Key != "" {
		t.Error("an unset key shows as set")
	}
}

func TestListLine(t *testing.T) {
	certs := newCerts(t)
	tests := []struct {
		name  string
		edit  func(c *Config)
		wants []string
	}{
		{"healthy", func(c *Config) {}, []string{"acme", "enabled", "Acme Marketplace", "api.id=app-acme"}},
		{"disabled", func(c *Config) { c.Enabled = false }, []string{"disabled"}},
		{"expiring", func(c *Config) {
			c.SSO.X509Certificate, c.SSO.X509Fingerprint = certs.Expiring.PEM, ""
		}, []string{"expires on 2026-12-06 ⚠"}},
		{"expired", func(c *Config) {
			c.SSO.X509Certificate, c.SSO.X509Fingerprint = certs.Expired.PEM, ""
		}, []string{"expired on 2026-11-25 ✗"}},
	}
	for _, tt := range tests {
		c := validConfig(t, certs.Valid)
		tt.edit(&c)
		line := c.ListLine(testNow, testPublicURL)
		for _, w := range tt.wants {
			if !strings.Contains(line, w) {
				t.Errorf("%s: %q lacks %q", tt.name, line, w)
			}
		}
		if strings.Contains(line, c.API.Key.Reveal()) || strings.Contains(line, "\n") {
			t.Errorf("%s: bad line %q", tt.name, line)
		}
	}
}
