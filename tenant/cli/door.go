package cli

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"

	"github.com/tenantdesk/tenantdesk/tenant/admin"
	"github.com/tenantdesk/tenantdesk/tenant/admin/remote"
	"github.com/tenantdesk/tenantdesk/tenant/server"
)

// openAdmin is the one door every CLI verb goes through (SPEC §13): the
// admin API of the process that answers for the data, else of the file
// itself, opened here and closed by done (reach). On failure it prints why
// and returns a nil API and the exit code.
func openAdmin(ctx context.Context, g globals, stderr io.Writer) (api admin.API, done func(), code int) {
	c, db, err := reach(ctx, &g)
	if err != nil {
		return nil, nil, exitf(stderr, "%v", err)
	}
	if c != nil {
		return c, c.Close, 0
	}
	// The service's log is the owning process's log; a verb prints what
	// the API returns, so its output is the same whether it ran here or
	// in the process that owns the file.
	warnLocked(db, stderr)
	svc := admin.New(db, g.adminOptions(slog.New(slog.DiscardHandler)))
	return svc, func() { _ = db.Close() }, 0
}

// ownerInfo is what the control socket and the admin address say about
// this process.
func ownerInfo(g globals) remote.Info {
	host, _ := os.Hostname()
	return remote.Info{Name: host, Version: g.program.Version, DataFile: g.db}
}

// openDoor serves the admin API on the control socket of the data file
// this process owns, until ctx ends. A socket that cannot be made (a
// path too long for a Unix socket, a read-only folder) is logged: the
// process still works, other clients then find the file in use. The
// function returned waits, once ctx has ended, until the socket is gone.
func openDoor(ctx context.Context, g globals, api admin.API, logger *slog.Logger) (wait func()) {
	done, err := remote.ServeSocket(ctx, g.db, api, ownerInfo(g), logger)
	if err != nil {
		logger.Warn("no control socket: other Tenantdesk commands cannot work through this process", "err", err)
		return func() {}
	}
	return func() {
		if err := <-done; err != nil {
			logger.Warn("control socket", "err", err)
		}
	}
}

// serveAdminAddr serves the admin API over TLS with the bearer token on
// addr (`serve --admin-addr`) until ctx ends; the function returned waits
// for it to stop. The certificate is the admin address's own, kept in the
// data file (clients pin it, or trust it with --server-ca).
func serveAdminAddr(ctx context.Context, g globals, addr string, svc *admin.Service, logger *slog.Logger) (wait func(), err error) {
	// The listener's certificate when it has one (--tls-cert), reloaded
	// as it is; else the admin address's own, kept in the data file.
	var getCert func(*tls.ClientHelloInfo) (*tls.Certificate, error)
	fingerprint := "of --tls-cert"
	if g.tlsCert != "" {
		if getCert, err = server.CertificateFiles(g.tlsCert, g.tlsKey, logger); err != nil {
			return nil, fmt.Errorf("admin address: %w", err)
		}
	} else {
		cert, err := svc.AdminTLSCertificate()
		if err != nil {
			return nil, err
		}
		getCert = func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return &cert, nil }
		fingerprint = remote.Fingerprint(cert.Certificate[0])
	}
	srv := &remote.AdminServer{
		API:         svc,
		Info:        ownerInfo(g),
		Certificate: getCert,
		CheckToken:  svc.CheckAdminToken,
		Logger:      logger,
	}
	ready, errc := make(chan net.Addr, 1), make(chan error, 1)
	go func() { errc <- srv.ListenAndServe(ctx, addr, func(a net.Addr) { ready <- a }) }()
	select {
	case a := <-ready:
		logger.Info("admin API listening", "url", "https://"+a.String(), "certificate_sha256", fingerprint)
	case err := <-errc:
		return nil, err
	}
	return func() {
		if err := <-errc; err != nil {
			logger.Warn("admin API", "err", err)
		}
	}, nil
}
