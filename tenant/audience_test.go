package tenant

import (
	"encoding/json"
	"reflect"
	"testing"
)

func TestIssuerMatches(t *testing.T) {
	hub := Config{SSO: SSO{IdP: "https://hub.example"}}
	exact := Config{SSO: SSO{IdP: "https://hub.example", IdPIssuer: "https://hub.example/metadata"}}
	cases := []struct {
		name   string
		cfg    Config
		issuer string
		want   bool
	}{
		{"the SSO URL", hub, "https://hub.example/api/v1/auth/saml", true},
		{"the hub's request URL with its query", hub, "https://hub.example/api/v1/auth/saml?SAMLRequest=fZJd%2B", true},
		{"with a fragment", hub, "https://hub.example/api/v1/auth/saml#x", true},
		{"another path", hub, "https://hub.example/api/v1/auth/saml2?SAMLRequest=x", false},
		{"another host", hub, "https://evil.example/api/v1/auth/saml?https://hub.example/api/v1/auth/saml", false},
		{"a prefix of the SSO URL", hub, "https://hub.example/api/v1/auth", false},
		{"empty", hub, "", false},
		{"idp_issuer exact", exact, "https://hub.example/metadata", true},
		{"idp_issuer with a query", exact, "https://hub.example/metadata?x=1", false},
		{"idp_issuer set: the SSO URL is not enough", exact, "https://hub.example/api/v1/auth/saml", false},
	}
	for _, c := range cases {
		if got := c.cfg.IssuerMatches(c.issuer); got != c.want {
			t.Errorf("%s: IssuerMatches(%q) = %v, want %v", c.name, c.issuer, got, c.want)
		}
	}
}

func TestAudiencesJSON(t *testing.T) {
	for in, want := range map[string]Audiences{
		`"app-acme"`:                {"app-acme"},
		`["app-acme","https://d/"]`: {"app-acme", "https://d/"},
		`null`:                      nil,
		`""`:                        nil,
	} {
		var a Audiences
		if err := json.Unmarshal([]byte(in), &a); err != nil || !reflect.DeepEqual(a, want) {
			t.Errorf("%s → %q, %v; want %q", in, a, err, want)
		}
	}
	var a Audiences
	if err := json.Unmarshal([]byte(`{"x":1}`), &a); err == nil {
		t.Error("an object was accepted as an audience")
	}
	if b, _ := json.Marshal(Audiences{"one"}); string(b) != `"one"` {
		t.Errorf("one value marshals as %s, want a string", b)
	}
}
