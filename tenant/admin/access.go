package admin

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"strings"
	"time"

	"github.com/tenantdesk/tenantdesk/store"
)

// adminTokenPrefix marks a Tenantdesk admin token, so that a secret
// scanner (and a person) can tell what it is.
const adminTokenPrefix = "tdk_"

// NewAdminToken makes the bearer token of the admin address (`serve
// --admin-addr`) and returns it; only its SHA-256 is kept, in the data
// file. The previous token stops working at once: a new token is how a
// leaked one is revoked.
func (s *Service) NewAdminToken() (string, error) {
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", fmt.Errorf("new admin token: %w", err)
	}
	token := adminTokenPrefix + base64.RawURLEncoding.EncodeToString(raw)
	sum := sha256.Sum256([]byte(token))
	if err := s.db.Update(func(tx *store.Tx) error { return tx.PutAdminAccess(store.AdminTokenHash, sum[:]) }); err != nil {
		return "", fmt.Errorf("new admin token: %w", err)
	}
	s.log.Info("new admin token; the previous one no longer works")
	return token, nil
}

// RevokeAdminToken removes the admin token: no token works until a new
// one is made.
func (s *Service) RevokeAdminToken() error {
	if err := s.db.Update(func(tx *store.Tx) error { return tx.PutAdminAccess(store.AdminTokenHash, nil) }); err != nil {
		return fmt.Errorf("revoke admin token: %w", err)
	}
	s.log.Info("admin token revoked")
	return nil
}

// CheckAdminToken reports whether token is the admin token, comparing
// hashes in constant time. It reads the stored hash each time, so a new or
// revoked token takes effect on the next request.
func (s *Service) CheckAdminToken(token string) bool {
	var want []byte
	err := s.db.View(func(tx *store.Tx) error {
		var err error
		want, err = tx.AdminAccess(store.AdminTokenHash)
		return err
	})
	if err != nil || len(want) != sha256.Size {
		return false
	}
	got := sha256.Sum256([]byte(token))
	return subtle.ConstantTimeCompare(got[:], want) == 1
}

// AdminTLSCertificate is the admin address's own certificate: made on
// first use (self-signed, ECDSA P-256) and kept in the data file, so that
// a client that pinned it keeps trusting the server across restarts.
func (s *Service) AdminTLSCertificate() (tls.Certificate, error) {
	pair, err := s.adminTLSPair()
	if err != nil {
		return tls.Certificate{}, err
	}
	cert, err := tls.X509KeyPair(pair, pair)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("admin certificate: %w", err)
	}
	return cert, nil
}

// AdminCertificatePEM is the public half of the admin certificate, for a
// client's --server-ca.
func (s *Service) AdminCertificatePEM() (string, error) {
	pair, err := s.adminTLSPair()
	if err != nil {
		return "", err
	}
	for rest := pair; ; {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			return "", errors.New("admin certificate: no certificate in the stored pair")
		}
		if b.Type == "CERTIFICATE" {
			return string(pem.EncodeToMemory(b)), nil
		}
	}
}

func (s *Service) adminTLSPair() ([]byte, error) {
	var pair []byte
	err := s.db.Update(func(tx *store.Tx) error {
		var err error
		pair, err = tx.AdminAccess(store.AdminTLSPair)
		if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		if pair, err = selfSigned(s.now()); err != nil {
			return err
		}
		return tx.PutAdminAccess(store.AdminTLSPair, pair)
	})
	if err != nil {
		return nil, fmt.Errorf("admin certificate: %w", err)
	}
	return pair, nil
}

// selfSigned makes a ten-year certificate for this machine's names, as
// PEM: certificate, then key. Clients pin it (GUI) or name it
// (--server-ca), so its names matter less than its staying the same.
func selfSigned(now time.Time) ([]byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		return nil, err
	}
	host, _ := os.Hostname()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: strings.TrimSpace("Tenantdesk admin " + host), Organization: []string{"Tenantdesk"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(10, 0, 0),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	if host != "" && host != "localhost" {
		tmpl.DNSNames = append(tmpl.DNSNames, host)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, err
	}
	out := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	return append(out, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})...), nil
}
