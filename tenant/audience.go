package tenant

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/url"
	"strings"
)

// MaxAudiences bounds sso.audience.
const MaxAudiences = 16

// UnmarshalJSON takes one string or an array of strings.
func (a *Audiences) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case bytes.Equal(b, []byte("null")):
		*a = nil
		return nil
	case len(b) > 0 && b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*a = nil
		if s != "" {
			*a = Audiences{s}
		}
		return nil
	}
	var list []string
	if err := json.Unmarshal(b, &list); err != nil {
		return errors.New("must be a string or a list of strings")
	}
	*a = list
	return nil
}

// MarshalJSON writes one value as a string (the form older files hold) and
// several as a list.
func (a Audiences) MarshalJSON() ([]byte, error) {
	if len(a) == 1 {
		return json.Marshal(a[0])
	}
	return json.Marshal([]string(a))
}

// String is the values joined by ", " (forms, lists).
func (a Audiences) String() string { return strings.Join(a, ", ") }

// ParseAudiences reads the comma-separated form of String.
func ParseAudiences(s string) Audiences {
	var out Audiences
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// Origin is a URL's scheme and host ("https://desk.example.com"), or the
// URL without trailing slashes when it has no host.
func Origin(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil || u.Host == "" {
		return strings.TrimRight(rawURL, "/")
	}
	return u.Scheme + "://" + u.Host
}

// Audiences are the Audience values an assertion for this tenant may carry:
// sso.audience when set; by default api.id (the SP entity ID, what a
// standard IdP sends), the public URL's origin and that origin with a
// trailing slash (what Maestrano's hub sends: the ACS URL cut after the
// host), and, when a consume path is registered under another sso.idm
// host, that host's origin with and without the slash, because the hub
// derives its Audience from the ACS URL it was given.
func (c *Config) Audiences(publicURL string) []string {
	if len(c.SSO.Audience) > 0 {
		return append([]string(nil), c.SSO.Audience...)
	}
	var out []string
	add := func(v string) {
		if v == "" {
			return
		}
		for _, o := range out {
			if o == v {
				return
			}
		}
		out = append(out, v)
	}
	add(c.API.ID)
	for _, base := range []string{publicURL} {
		if base == "" {
			continue
		}
		o := Origin(base)
		add(o)
		if strings.Contains(o, "://") {
			add(o + "/")
		}
	}
	return out
}

// IssuerMatches reports whether an assertion's Issuer names this tenant's
// IdP: exactly sso.idp_issuer when set; otherwise the Issuer without its
// query and fragment must be the SSO URL, because Maestrano's hub names
// itself by the URL of the request it answered, query included
// (maestrano-protocol.md §2.3).
func (c *Config) IssuerMatches(issuer string) bool {
	if c.SSO.IdPIssuer != "" {
		return issuer == c.SSO.IdPIssuer
	}
	want := c.SSOURL()
	if want == "" || issuer == "" {
		return false
	}
	if i := strings.IndexAny(issuer, "?#"); i >= 0 {
		issuer = issuer[:i]
	}
	return issuer == want
}
