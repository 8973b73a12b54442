package tenant

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tenantdesk/tenantdesk/tenant/tenanttest"
)

// testNow is the fixed clock of these tests.
var testNow = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

const testPublicURL = "https://desk.example.com"

// certSet holds the three certificates the tests need.
type certSet struct{ Valid, Expired, Expiring tenanttest.Cert }

func newCerts(t testing.TB) certSet {
	return certSet{
		Valid:    tenanttest.NewCert(t, "idp valid", testNow.AddDate(-1, 0, 0), testNow.AddDate(2, 0, 0)),
		Expired:  tenanttest.NewCert(t, "idp expired", testNow.AddDate(-2, 0, 0), testNow.AddDate(0, 0, -1)),
		Expiring: tenanttest.NewCert(t, "idp expiring", testNow.AddDate(-1, 0, 0), testNow.AddDate(0, 0, 10)),
	}
}

// validConfig is a tenant that passes Validate with no finding.
func validConfig(t testing.TB, cert tenanttest.Cert) Config {
	yes := true
	return Config{
		Key:         "acme",
		DisplayName: "Acme Marketplace",
		Enabled:     true,
		Environment: "production",
		App:         App{Host: "https://app.example.com"},
		API:         API{ID: "app-acme", Key: "s3cr3t-acme-key", Host: "https://api-hub.acme.test", Base: "/api/v1/"},
		SSO: SSO{
			IdP:             "https://api-hub.acme.test",
			X509Certificate: cert.PEM,
			X509Fingerprint: FingerprintSHA1(cert.Cert),
			CreationMode:    ModeVirtual,
		},
		Connec:  Connec{Host: "https://api-connec.acme.test", BasePath: "/api/v2", ExternalIDs: &yes, Timeout: Duration(300 * time.Second)},
		Billing: Billing{PriceCents: 4900, Currency: "AUD"},
	}
}

// fixture reads testdata/name and replaces each $NAME placeholder with the
// JSON-escaped value (the certificates only exist at test time).
func fixture(t testing.TB, name string, vars map[string]string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for k, v := range vars {
		q, _ := json.Marshal(v)
		s = strings.ReplaceAll(s, "$"+k, string(q[1:len(q)-1]))
	}
	return []byte(s)
}

func certVars(cs certSet) map[string]string {
	return map[string]string{
		"CERT_VALID":       cs.Valid.PEM,
		"CERT_EXPIRED":     cs.Expired.PEM,
		"CERT_EXPIRING":    cs.Expiring.PEM,
		"FP_VALID_SHA1":    FingerprintSHA1(cs.Valid.Cert),
		"FP_VALID_SHA256":  strings.ToUpper(FingerprintSHA256(cs.Valid.Cert)),
		"FP_EXPIRING_SHA1": FingerprintSHA1(cs.Expiring.Cert),
	}
}
