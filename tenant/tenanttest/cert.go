// Package tenanttest owns the helpers tests of tenant configurations share:
// self-signed IdP certificates made at test time. It is for tests only; no
// production code imports it. It imports no tenantdesk package, so the
// tenant package's own tests can use it too.
package tenanttest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"testing"
	"time"
)

// Cert is a self-signed ECDSA P-256 certificate, parsed and PEM-encoded,
// with its key.
type Cert struct {
	PEM  string
	Cert *x509.Certificate
	Key  *ecdsa.PrivateKey
}

// NewCert makes a self-signed certificate for commonName, valid from
// notBefore to notAfter.
func NewCert(t testing.TB, commonName string, notBefore, notAfter time.Time) Cert {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		t.Fatal(err)
	}
	serial.Add(serial, big.NewInt(1)) // serial numbers must be positive
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: commonName},
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
	return Cert{PEM: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})), Cert: cert, Key: key}
}

// Certificate is the PEM text of a self-signed certificate for "idp.test",
// valid from notBefore to notAfter.
func Certificate(t testing.TB, notBefore, notAfter time.Time) (pemText string) {
	t.Helper()
	return NewCert(t, "idp.test", notBefore, notAfter).PEM
}
