package tenant

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestParseImportMarketplaces(t *testing.T) {
	certs := newCerts(t)
	cs, err := ParseImport(fixture(t, "marketplaces.json", certVars(certs)), testNow, testPublicURL)
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) != 2 {
		t.Fatalf("got %d tenants, want 2", len(cs))
	}
	uat, acme := cs[0], cs[1]
	checks := []struct {
		name      string
		got, want any
	}{
		{"uat key", uat.Key, Key("maestrano-uat")},
		{"uat display name defaults to key", uat.DisplayName, "maestrano-uat"},
		{"uat enabled by default", uat.Enabled, true},
		{"uat environment", uat.Environment, "uat"},
		{"uat app host", uat.App.Host, "https://app.example.com"},
		{"uat api id", uat.API.ID, "app-f54ds4f8"},
		{"uat api key", uat.API.Key.Reveal(), "8ddb7c3b-9f7a-4b23-9b6c-6d2f0f6f1a11"},
		{"uat api host", uat.API.Host, "https://api-hub-uat.maestrano.io"},
		{"uat fingerprint", uat.SSO.X509Fingerprint, FingerprintSHA1(certs.Valid.Cert)},
		{"uat timeout number", uat.ConnecTimeout(), 300 * time.Second},
		{"uat external ids from webhooks", uat.ExternalIDs(), false},
		{"uat creation mode default", uat.CreationMode(), ModeReal},
		{"acme display name", acme.DisplayName, "Acme Enterprise Marketplace"},
		{"acme disabled", acme.Enabled, false},
		{"acme host trailing slash trimmed", acme.API.Host, "https://api-enterprise.acme.test"},
		{"acme sso url", acme.SSOURL(), "https://sso.acme.test/saml/login"},
		{"acme issuer", acme.IdPIssuer(), "https://sso.acme.test/metadata"},
		{"acme mode", acme.CreationMode(), ModeVirtual},
		{"acme idp-initiated", acme.SSO.AllowIdPInitiated, true},
		{"acme post login", acme.SSO.PostLoginURL, "https://app.example.com/welcome"},
		{"acme timeout string", acme.ConnecTimeout(), 180 * time.Second},
		{"acme external ids default", acme.ExternalIDs(), true},
		{"acme connec base default", acme.ConnecBasePath(), "/api/v2"},
		{"acme price", acme.Billing.PriceCents, int64(4900)},
		{"acme currency uppercased", acme.Currency(), "USD"},
		{"acme description", acme.BillDescription("2026-11"), "Acme plan"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	if got := acme.Audiences(testPublicURL); strings.Join(got, " ") != "app-acme https://desk.acme.test/" {
		t.Errorf("acme audiences = %q, want the imported list", got)
	}
	if got, want := strings.Join(uat.Audiences("https://desk.example.com:8443/x"), " "),
		"app-f54ds4f8 https://desk.example.com:8443 https://desk.example.com:8443/"; got != want {
		t.Errorf("uat default audiences = %q, want %q", got, want)
	}
	certsGot, err := acme.Certificates()
	if err != nil || len(certsGot) != 2 {
		t.Errorf("acme certificates = %d, %v; want the two of the rotation", len(certsGot), err)
	}
	// The expiring certificate of the rotation is a warning, not an error.
	if p := acme.Validate(testNow, testPublicURL); !p.OK() || len(p.Warnings) != 1 {
		t.Errorf("acme findings = %+v, want one warning", p)
	}
}

func TestParseImportSingleObject(t *testing.T) {
	certs := newCerts(t)
	cs, err := ParseImport(fixture(t, "single.json", certVars(certs)), testNow, testPublicURL)
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) != 1 || cs[0].Key != "globex" || cs[0].API.Key.Reveal() != "globex-secret" || !cs[0].ExternalIDs() || !cs[0].Enabled {
		t.Fatalf("got %+v", cs)
	}
}

func TestParseImportListsEveryProblem(t *testing.T) {
	certs := newCerts(t)
	cs, err := ParseImport(fixture(t, "partly_invalid.json", certVars(certs)), testNow, testPublicURL)
	if cs != nil {
		t.Errorf("an invalid file returned %d tenants; import is all or nothing", len(cs))
	}
	var ie *ImportError
	if !errors.As(err, &ie) {
		t.Fatalf("error %T %v, want *ImportError", err, err)
	}
	want := []string{
		"marketplaces[1].api.host: must be an https URL (http only for localhost)",
		"marketplaces[1].api.base: must start and end with '/' (like /api/v1/)",
		"marketplaces[1].billing.currency: must be an ISO 4217 code of three capital letters (like AUD)",
		"marketplaces[2].sso.x509_certificate: certificate expired on 2026-11-25",
		"marketplaces[2].sso.x509_fingerprint: matches none of the configured certificates",
		"marketplaces[3].enabled: must be true or false",
		"marketplaces[3].api.id: must be a string",
		"marketplaces[3].connec.timeout: must be a number of seconds",
		"marketplaces[3].billing.price_cents: must be a whole number",
		`marketplaces[4].marketplace: "good-one" repeats marketplaces[0]`,
	}
	got := ie.Lines()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for _, secret := range []string{"good-secret", "http-secret", "old-secret"} {
		if strings.Contains(err.Error(), secret) {
			t.Errorf("the error shows the secret %q", secret)
		}
	}
	if !strings.Contains(err.Error(), "10 problems") {
		t.Errorf("Error() = %q, want the count", err.Error())
	}
}

func TestParseImportRejectsMalicious(t *testing.T) {
	certs := newCerts(t)
	vars := certVars(certs)
	// doc is a valid one-tenant document with extra members in sso and at the top.
	doc := func(cert, sso, top string) []byte {
		return []byte(`{"marketplaces":[{"marketplace":"m","api":{"id":"app","key":"k","host":"https://h.test"},` +
			`"sso":{"idp":"https://h.test","x509_certificate":` + jsonString(cert) + sso + `}` + top + `}]}`)
	}
	one := func(top string) []byte { return doc(certs.Valid.PEM, "", top) }
	huge := make([]byte, MaxImportSize+1)
	for i := range huge {
		huge[i] = ' '
	}
	many := `{"marketplaces":[` + strings.Repeat(`{},`, MaxImportTenants) + `{}]}`
	tests := []struct {
		name   string
		data   []byte
		substr string
	}{
		{"over 8 MiB", huge, "limit is 8 MiB"},
		{"deep nesting", []byte(strings.Repeat(`{"a":`, 10000) + "1" + strings.Repeat("}", 10000)), "nested deeper than 32"},
		{"deep arrays", []byte(`{"marketplaces":` + strings.Repeat("[", 100000)), "nested deeper"},
		{"duplicate member", fixture(t, "duplicate_member.json", vars), `marketplaces[0].api: duplicate key "key"`},
		{"duplicate top-level", []byte(`{"marketplaces":[],"marketplaces":[]}`), `duplicate key "marketplaces"`},
		{"error document", fixture(t, "error.json", vars), "error: the developer platform answered with an error: \"Invalid environment credentials\""},
		{"error object", []byte(`{"error":{"code":401},"marketplaces":[]}`), `error: the developer platform answered with an error: {"code":401}`},
		{"too many tenants", []byte(many), "has 1001 entries; the limit is 1000"},
		{"empty list", []byte(`{"marketplaces":[]}`), "no tenant"},
		{"marketplaces not an array", []byte(`{"marketplaces":{"a":1}}`), "marketplaces: must be an array"},
		{"marketplaces null", []byte(`{"marketplaces":null}`), "marketplaces: must be an array"},
		{"entry not an object", []byte(`{"marketplaces":[42]}`), "marketplaces[0]: must be a marketplace object"},
		{"top-level array", []byte(`[{"marketplace":"a"}]`), "must be a JSON object"},
		{"not JSON", []byte("marketplaces: []"), "invalid JSON at line 1"},
		{"truncated", []byte(`{"marketplaces":[{"marketplace":"a"`), "ends early"},
		{"trailing data", []byte(`{"marketplace":"a"} {"marketplace":"b"}`), "after the JSON document"},
		{"empty file", []byte(``), "ends early"},
		{"connec not an object", one(`,"connec":"x"`), "marketplaces[0].connec: must be an object"},
		{"secret not a string", []byte(`{"marketplace":"m","api":{"key":{"$gt":""}}}`), "api.key: must be a string"},
		{"bad key", one(`,"key":"other"`), `marketplaces[0].key: "other" differs from marketplace "m"`},
		{"key with slash", []byte(strings.Replace(string(one("")), `"marketplace":"m"`, `"marketplace":"../etc"`, 1)), "marketplaces[0].key: must be"},
		{"missing marketplace", []byte(`{"api":{}}`), "marketplace: required"},
		{"price overflow", one(`,"billing":{"price_cents":99999999999999999999}`), "billing.price_cents: must be a whole number"},
		{"external ids contradiction", one(`,"connec":{"external_ids":true},"webhooks":{"connec":{"external_ids":false}}`), "connec.external_ids: contradicts"},
		{"bad certificate", doc("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n", "", ""), "sso.x509_certificate: does not parse"},
		{"expired certificate", doc(certs.Expired.PEM, "", ""), "sso.x509_certificate: certificate expired"},
		{"fingerprint mismatch", doc(certs.Valid.PEM, `,"x509_fingerprint":"`+FingerprintSHA1(certs.Expired.Cert)+`"`, ""), "sso.x509_fingerprint: matches none"},
		{"fingerprint not a string", doc(certs.Valid.PEM, `,"x509_fingerprint":["aa"]`, ""), "sso.x509_fingerprint: must be a string"},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cs, err := ParseImport(tt.data, testNow, testPublicURL)
			if err == nil {
				t.Fatalf("accepted: %+v", cs)
			}
			var ie *ImportError
			if !errors.As(err, &ie) {
				t.Errorf("error %T, want *ImportError", err)
			}
			if !strings.Contains(err.Error(), tt.substr) {
				t.Errorf("error %q, want it to contain %q", err, tt.substr)
			}
			if cs != nil {
				t.Errorf("returned tenants with an error")
			}
		})
	}
	// The base document itself is fine: the cases above fail for their edit.
	if _, err := ParseImport(one(""), testNow, testPublicURL); err != nil {
		t.Fatalf("base document rejected: %v", err)
	}
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// FuzzParseImport: no panic on any input, and whatever it accepts validates.
func FuzzParseImport(f *testing.F) {
	certs := newCerts(f)
	vars := certVars(certs)
	for _, name := range []string{"marketplaces.json", "single.json", "partly_invalid.json", "error.json", "duplicate_member.json"} {
		f.Add(fixture(f, name, vars))
	}
	f.Add([]byte(`{"marketplaces":[{"marketplace":"a","connec":{"timeout":"1e9"}}]}`))
	f.Add([]byte(`[[[[{}]]]]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		cs, err := ParseImport(data, testNow, testPublicURL)
		if err != nil {
			var ie *ImportError
			if !errors.As(err, &ie) || len(ie.Problems) == 0 {
				t.Fatalf("error %T %v is not a non-empty *ImportError", err, err)
			}
			return
		}
		if len(cs) == 0 {
			t.Fatal("no error and no tenant")
		}
		for i := range cs {
			if p := cs[i].Validate(testNow, testPublicURL); !p.OK() {
				t.Fatalf("accepted tenant %d fails validation: %+v", i, p.Errors)
			}
			_ = fmt.Sprint(cs[i]) // formatting an accepted tenant never panics
		}
	})
}

// BenchmarkParseImport parses a 100-tenant marketplaces document; the
// baseline is encoding/json decoding the same bytes into maps, without any
// checks.
func BenchmarkParseImport(b *testing.B) {
	certs := newCerts(b)
	var entries []string
	for i := range 100 {
		entries = append(entries, fmt.Sprintf(`{"marketplace":"m%d","api":{"id":"app-%d","key":"secret-%d","host":"https://hub.test"},`+
			`"sso":{"idp":"https://hub.test","x509_certificate":%s},"connec":{"host":"https://connec.test","timeout":300}}`,
			i, i, i, jsonString(certs.Valid.PEM)))
	}
	data := []byte(`{"marketplaces":[` + strings.Join(entries, ",") + `]}`)
	b.SetBytes(int64(len(data)))
	b.Run("ParseImport", func(b *testing.B) {
		for b.Loop() {
			if _, err := ParseImport(data, testNow, testPublicURL); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("baseline-json-map", func(b *testing.B) {
		for b.Loop() {
			var m map[string]any
			if err := json.Unmarshal(data, &m); err != nil {
				b.Fatal(err)
			}
		}
	})
}
