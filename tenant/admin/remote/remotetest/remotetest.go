// Package remotetest owns the admin server that tests of remote clients
// (the CLI's --server, the GUI's Connect to server…) run against: the real
// remote.AdminServer over TLS on a free loopback port, as `serve
// --admin-addr` runs it. It is for tests only; no production code imports it.
package remotetest

import (
	"context"
	"crypto/tls"
	"log/slog"
	"net"
	"testing"

	"github.com/tenantdesk/tenantdesk/tenant/admin"
	"github.com/tenantdesk/tenantdesk/tenant/admin/remote"
)

// AdminServer serves svc's admin API under the server name name until the
// test ends, and returns its https URL.
func AdminServer(t testing.TB, svc *admin.Service, name string) string {
	t.Helper()
	cert, err := svc.AdminTLSCertificate()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	srv := &remote.AdminServer{
		API: svc, Info: remote.Info{Name: name},
		Certificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return &cert, nil },
		CheckToken:  svc.CheckAdminToken,
		Logger:      slog.New(slog.DiscardHandler),
	}
	ready, errc := make(chan net.Addr, 1), make(chan error, 1)
	go func() { errc <- srv.ListenAndServe(ctx, "127.0.0.1:0", func(a net.Addr) { ready <- a }) }()
	select {
	case addr := <-ready:
		t.Cleanup(func() { cancel(); <-errc })
		return "https://" + addr.String()
	case err := <-errc:
		cancel()
		t.Fatal(err)
		return ""
	}
}
