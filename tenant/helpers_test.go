package tenant

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// testNow is the fixed clock of these tests.
var testNow = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

const testPublicURL = "https://desk.example.com"

// testCert is a self-signed IdP certificate made at test time.
type testCert struct {
	PEM  string
	Cert *x509.Certificate
}

func newCert(t testing.TB, cn string, notBefore, notAfter time.Time) testCert {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    notBefore,
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return testCert{PEM: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})), Cert: cert}
}

// certSet holds the three certificates the tests need.
type certSet struct{ Valid, Expired, Expiring testCert }

func newCerts(t testing.TB) certSet {
	return certSet{
		Valid:    newCert(t, "idp valid", testNow.AddDate(-1, 0, 0), testNow.AddDate(2, 0, 0)),
		Expired:  newCert(t, "idp expired", testNow.AddDate(-2, 0, 0), testNow.AddDate(0, 0, -1)),
		Expiring: newCert(t, "idp expiring", testNow.AddDate(-1, 0, 0), testNow.AddDate(0, 0, 10)),
	}
}

// validConfig is a tenant that passes Validate with no finding.
func validConfig(t testing.TB, cert testCert) Config {
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
