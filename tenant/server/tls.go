package server

// TLS on the listener (SPEC §12): --tls-cert/--tls-key make it speak HTTPS
// itself, TLS 1.2 or later, HTTP/2 offered; the certificate is read again
// when either file changes, so a renewal (certbot, an ACME client, a copy)
// needs no restart.

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"
)

// certFiles serves the certificate of a cert/key file pair, reloading it
// when either file's size or modification time changes. A pair that no
// longer loads (half-written during a renewal, say) leaves the last good
// certificate in service and is tried again on the next handshake.
type certFiles struct {
	certFile, keyFile string
	log               *slog.Logger

	mu      sync.Mutex
	cert    *tls.Certificate
	version [2]fileVersion
}

type fileVersion struct {
	size int64
	mod  time.Time
}

func loadCertFiles(certFile, keyFile string, log *slog.Logger) (*certFiles, error) {
	c := &certFiles{certFile: certFile, keyFile: keyFile, log: log}
	v, err := c.stat()
	if err != nil {
		return nil, err
	}
	if err := c.load(v); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *certFiles) stat() ([2]fileVersion, error) {
	var v [2]fileVersion
	for i, name := range []string{c.certFile, c.keyFile} {
		fi, err := os.Stat(name)
		if err != nil {
			return v, fmt.Errorf("tls: %w", err)
		}
		v[i] = fileVersion{size: fi.Size(), mod: fi.ModTime()}
	}
	return v, nil
}

func (c *certFiles) load(v [2]fileVersion) error {
	cert, err := tls.LoadX509KeyPair(c.certFile, c.keyFile)
	if err != nil {
		return fmt.Errorf("tls: load %s and %s: %w", c.certFile, c.keyFile, err)
	}
	c.cert, c.version = &cert, v
	return nil
}

// GetCertificate is tls.Config's: two stats per handshake, a reload when
// they changed.
func (c *certFiles) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, err := c.stat()
	if err == nil && v != c.version {
		if err = c.load(v); err == nil {
			c.log.Info("tls certificate reloaded", "cert", c.certFile)
		}
	}
	if err != nil {
		c.log.Warn("tls certificate not reloaded; serving the previous one", "err", err)
	}
	return c.cert, nil
}

// tlsConfig is the listener's: TLS 1.2+, certificate from the files.
func (c *certFiles) tlsConfig() *tls.Config {
	return &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: c.GetCertificate}
}

// UseTLS makes ListenAndServe speak HTTPS with the certificate and key in
// these PEM files; they are loaded now (an unusable pair is an error here,
// not at the first handshake) and again whenever they change.
func (s *Server) UseTLS(certFile, keyFile string) error {
	if certFile == "" || keyFile == "" {
		return fmt.Errorf("tls: both a certificate file and a key file are needed")
	}
	c, err := loadCertFiles(certFile, keyFile, s.log)
	if err != nil {
		return err
	}
	s.tls = c
	return nil
}

// hstsMaxAge is a year, what browsers' preload lists ask for.
const hstsMaxAge = "max-age=31536000"

// CertificateFiles is the same reloading certificate for another TLS
// listener of this process (the admin address uses the listener's
// certificate when --tls-cert is set).
func CertificateFiles(certFile, keyFile string, log *slog.Logger) (func(*tls.ClientHelloInfo) (*tls.Certificate, error), error) {
	c, err := loadCertFiles(certFile, keyFile, log)
	if err != nil {
		return nil, err
	}
	return c.GetCertificate, nil
}
