package cli

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tenantdesk/tenantdesk/tenant/tenanttest"
)

// serve --tls-cert/--tls-key: HTTPS on the listener, and the default public
// URL says https.
func TestServeWithTLS(t *testing.T) {
	dir := t.TempDir()
	cert := tenanttest.NewCert(t, "tenantdesk.test", time.Now().Add(-time.Minute), time.Now().Add(time.Hour))
	kb, err := x509.MarshalECPrivateKey(cert.Key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, []byte(cert.PEM), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	cmd := subprocess(t, "--db", filepath.Join(dir, "td.db"), "--addr", addr, "serve")
	cmd.Env = append(cmd.Env, "TENANTDESK_TLS_CERT="+certFile, "TENANTDESK_TLS_KEY="+keyFile)
	line, stderr := startServe(t, cmd)
	defer cmd.Process.Kill()
	if line != "listening on https://"+addr+"\n" {
		t.Fatalf("first stdout line %q; stderr %s", line, stderr.String())
	}
	c := &http.Client{Transport: &http.Transport{
		TLSClientConfig:   &tls.Config{InsecureSkipVerify: true}, // self-signed, no IP SAN: the test checks the transport
		ForceAttemptHTTP2: true,
	}}
	res, err := c.Get("https://" + addr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK || res.ProtoMajor != 2 || res.TLS.Version < tls.VersionTLS12 ||
		res.Header.Get("Strict-Transport-Security") == "" {
		t.Errorf("healthz: %d %s TLS %x HSTS %q", res.StatusCode, res.Proto, res.TLS.Version, res.Header.Get("Strict-Transport-Security"))
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("serve: %v; stderr %s", err, stderr.String())
	}
}

func TestTLSAndProxyFlagsAreChecked(t *testing.T) {
	db := filepath.Join(t.TempDir(), "td.db")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--tls-cert", "cert.pem", "serve"}, "go together"},
		{[]string{"--trusted-proxies", "10.0.0.0/8,proxy.example", "serve"}, "--trusted-proxies"},
		{[]string{"--tls-cert", "/nonexistent/cert.pem", "--tls-key", "/nonexistent/key.pem", "--addr", "127.0.0.1:0", "serve"}, "nonexistent"},
	} {
		code, _, errOut := cli(t, "", append([]string{"--db", db}, c.args...)...)
		if code == 0 || !strings.Contains(errOut, c.want) {
			t.Errorf("%v: exit %d, stderr %q; want an error naming %q", c.args, code, errOut, c.want)
		}
	}
}
