package admin

import (
	"context"
	"net"

	"github.com/tenantdesk/tenantdesk/tenant/server"
)

// serveListener runs the tenant listener until ctx ends, calling ready with
// the bound address once it accepts connections.
func serveListener(ctx context.Context, s *Service, addr, publicURL string, ready func(net.Addr)) error {
	srv := server.New(s.db, publicURL, s.log)
	s.mu.Lock()
	certFile, keyFile, proxies := s.tlsCert, s.tlsKey, s.trustedProxies
	s.mu.Unlock()
	srv.SetTrustedProxies(proxies)
	if certFile != "" || keyFile != "" {
		if err := srv.UseTLS(certFile, keyFile); err != nil {
			return err
		}
	}
	return srv.ListenAndServe(ctx, addr, ready)
}
