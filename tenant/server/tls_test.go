package server_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tenantdesk/tenantdesk/store"
	"github.com/tenantdesk/tenantdesk/tenant"
	"github.com/tenantdesk/tenantdesk/tenant/server"
	"github.com/tenantdesk/tenantdesk/tenant/sso"
)

// writeServerCert writes a self-signed certificate for 127.0.0.1 and its
// key as PEM files, and returns the certificate.
func writeServerCert(t *testing.T, certFile, keyFile, name string) *x509.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    time.Now().Add(-time.Minute),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return cert
}

// The listener speaks TLS itself: HTTP/2, HSTS, Secure cookies, TLS 1.2 at
// least, and a renewed certificate is served without a restart.
func TestTLSListener(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	first := writeServerCert(t, certFile, keyFile, "first")

	db, err := store.Open(filepath.Join(dir, "td.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	e := &env{t: t, db: db}
	acme := tenantCfg(t, "acme")
	e.putTenant(acme)
	srv := server.New(db, "https://tenantdesk.test", slog.New(slog.DiscardHandler))
	if err := srv.UseTLS(certFile, filepath.Join(dir, "missing.pem")); err == nil {
		t.Fatal("a missing key file was accepted")
	}
	if err := srv.UseTLS(certFile, keyFile); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	addrc := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() { done <- srv.ListenAndServe(ctx, "127.0.0.1:0", func(a net.Addr) { addrc <- a }) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	base := "https://" + (<-addrc).String()

	clientFor := func(cert *x509.Certificate, maxVersion uint16) *http.Client {
		pool := x509.NewCertPool()
		pool.AddCert(cert)
		return &http.Client{
			Transport: &http.Transport{
				TLSClientConfig:   &tls.Config{RootCAs: pool, MaxVersion: maxVersion},
				ForceAttemptHTTP2: true,
			},
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	get := func(c *http.Client, path string) *http.Response {
		t.Helper()
		res, err := c.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return res
	}

	c := clientFor(first, 0)
	res := get(c, "/healthz")
	if res.StatusCode != http.StatusOK || res.ProtoMajor != 2 {
		t.Errorf("healthz over TLS: %d %s, want 200 over HTTP/2", res.StatusCode, res.Proto)
	}
	if hsts := res.Header.Get("Strict-Transport-Security"); !strings.HasPrefix(hsts, "max-age=") {
		t.Errorf("no HSTS header: %q", hsts)
	}
	res = get(c, tenant.RouteSAMLInit.Path(acme.Key))
	var login *http.Cookie
	for _, ck := range res.Cookies() {
		if strings.HasPrefix(ck.Name, sso.LoginCookiePrefix) {
			login = ck
		}
	}
	if res.StatusCode != http.StatusFound || login == nil || !login.Secure || login.SameSite != http.SameSiteNoneMode || !login.HttpOnly {
		t.Errorf("initialize over https: %d, login cookie %+v; want Secure, SameSite=None, HttpOnly", res.StatusCode, login)
	}

	if _, err := clientFor(first, tls.VersionTLS11).Get(base + "/healthz"); err == nil {
		t.Error("a TLS 1.1 client was served")
	}

	// Renew: new files in place; the next handshake serves them.
	second := writeServerCert(t, certFile, keyFile, "second")
	later := time.Now().Add(2 * time.Second)
	for _, f := range []string{certFile, keyFile} {
		if err := os.Chtimes(f, later, later); err != nil {
			t.Fatal(err)
		}
	}
	res = get(clientFor(second, 0), "/healthz")
	if res.TLS == nil || len(res.TLS.PeerCertificates) == 0 || res.TLS.PeerCertificates[0].Subject.CommonName != "second" {
		t.Errorf("after renewal the listener serves %v", res.TLS.PeerCertificates[0].Subject)
	}
	// A half-written renewal keeps the last good certificate in service.
	if err := os.WriteFile(keyFile, []byte("not a key"), 0o600); err != nil {
		t.Fatal(err)
	}
	res = get(clientFor(second, 0), "/healthz")
	if res.StatusCode != http.StatusOK || res.TLS.PeerCertificates[0].Subject.CommonName != "second" {
		t.Errorf("with a broken key file: %d, cert %v", res.StatusCode, res.TLS.PeerCertificates[0].Subject)
	}
}

// Plain http public URL: no HSTS (it would be meaningless and sticky).
func TestNoHSTSOnPlainHTTP(t *testing.T) {
	e := newEnv(t)
	if res := e.do("GET", "/healthz", nil, nil); res.header.Get("Strict-Transport-Security") != "" {
		t.Errorf("HSTS on an http listener: %q", res.header.Get("Strict-Transport-Security"))
	}
}
