package remote

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
)

// Fingerprint is the SHA-256 of a DER certificate in colon hex, as the
// GUI shows it before pinning.
func Fingerprint(der []byte) string {
	sum := sha256.Sum256(der)
	h := strings.ToUpper(hex.EncodeToString(sum[:]))
	var b strings.Builder
	for i := 0; i < len(h); i += 2 {
		if i > 0 {
			b.WriteByte(':')
		}
		b.WriteString(h[i : i+2])
	}
	return b.String()
}

// CATLS trusts the certificates of a PEM file (--server-ca): the server's
// own self-signed certificate, or the CA that issued its certificate. The
// host name is not checked against a certificate given this way, since a
// pinned certificate says who the server is by itself.
func CATLS(pemData []byte) (*tls.Config, error) {
	pool := x509.NewCertPool()
	var pinned [][]byte
	for rest := pemData; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		cert, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("--server-ca: %w", err)
		}
		pool.AddCert(cert)
		pinned = append(pinned, b.Bytes)
	}
	if len(pinned) == 0 {
		return nil, errors.New("--server-ca: no PEM certificate in the file")
	}
	return &tls.Config{
		MinVersion:         tls.VersionTLS12,
		InsecureSkipVerify: true, // replaced by the check below, which ignores only the host name
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("the server sent no certificate")
			}
			leaf := cs.PeerCertificates[0]
			for _, p := range pinned {
				if string(p) == string(leaf.Raw) {
					return nil
				}
			}
			inter := x509.NewCertPool()
			for _, c := range cs.PeerCertificates[1:] {
				inter.AddCert(c)
			}
			if _, err := leaf.Verify(x509.VerifyOptions{Roots: pool, Intermediates: inter}); err != nil {
				return fmt.Errorf("server certificate (SHA-256 %s) is not the one of --server-ca: %w", Fingerprint(leaf.Raw), err)
			}
			return nil
		},
	}, nil
}

// PinnedTLS accepts exactly the certificate whose fingerprint is pin. With
// pin empty it accepts any certificate and reports it through seen, for a
// first connection that asks the user (trust on first use).
func PinnedTLS(pin string, seen func(fingerprint string, cert *x509.Certificate)) *tls.Config {
	return &tls.Config{
		MinVersion:         tls.VersionTLS12,
		InsecureSkipVerify: true, // the pin is the check
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("the server sent no certificate")
			}
			leaf := cs.PeerCertificates[0]
			fp := Fingerprint(leaf.Raw)
			if seen != nil {
				seen(fp, leaf)
			}
			if pin != "" && !strings.EqualFold(pin, fp) {
				return fmt.Errorf("the server's certificate changed: it is now SHA-256 %s, pinned was %s", fp, pin)
			}
			return nil
		},
	}
}

// ProbeCertificate connects to hostport and returns the fingerprint of
// the certificate it presents, sending nothing else: what a client shows
// the user before it trusts a server on first use (and before any token
// leaves the machine).
func ProbeCertificate(ctx context.Context, hostport string) (string, error) {
	d := tls.Dialer{Config: &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: true}} // nothing is sent but the handshake
	conn, err := d.DialContext(ctx, "tcp", hostport)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	certs := conn.(*tls.Conn).ConnectionState().PeerCertificates
	if len(certs) == 0 {
		return "", errors.New("the server sent no certificate")
	}
	return Fingerprint(certs[0].Raw), nil
}
