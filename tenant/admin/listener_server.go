package admin

import (
	"context"
	"net"

	"github.com/tenantdesk/tenantdesk/tenant/server"
)

// serveListener runs the tenant listener until ctx ends, calling ready with
// the bound address once it accepts connections.
func serveListener(ctx context.Context, s *Service, addr, publicURL string, ready func(net.Addr)) error {
	return server.New(s.db, publicURL, s.log).ListenAndServe(ctx, addr, ready)
}
