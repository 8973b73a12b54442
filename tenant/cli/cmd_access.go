package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
)

// cmdAdminToken is `admin-token [--revoke]`: a new bearer token for the
// admin address (only its hash is kept; the previous token stops working),
// or none at all.
func cmdAdminToken(ctx context.Context, g globals, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("admin-token", flag.ContinueOnError)
	fs.SetOutput(stderr)
	revoke := fs.Bool("revoke", false, "remove the token: no token works until a new one is made")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() != 0 {
		return exitf(stderr, "admin-token: unexpected argument %q", fs.Arg(0))
	}
	api, done, code := openAdmin(ctx, g, stderr)
	if api == nil {
		return code
	}
	defer done()
	if *revoke {
		if err := api.RevokeAdminToken(); err != nil {
			return exitf(stderr, "admin-token: %v", err)
		}
		fmt.Fprintln(stdout, "admin token revoked: no token works until `tenantdesk admin-token` makes a new one")
		return 0
	}
	token, err := api.NewAdminToken()
	if err != nil {
		return exitf(stderr, "admin-token: %v", err)
	}
	fmt.Fprintln(stdout, token)
	fmt.Fprintln(stderr, "tenantdesk: new admin token (shown once; only its hash is kept); the previous one no longer works")
	return 0
}

// cmdAdminCert is `admin-cert`: the admin address's certificate (PEM), for
// a client's --server-ca.
func cmdAdminCert(ctx context.Context, g globals, args []string, stdout, stderr io.Writer) int {
	if len(args) != 0 {
		return exitf(stderr, "admin-cert: takes no arguments")
	}
	api, done, code := openAdmin(ctx, g, stderr)
	if api == nil {
		return code
	}
	defer done()
	pem, err := api.AdminCertificatePEM()
	if err != nil {
		return exitf(stderr, "admin-cert: %v", err)
	}
	fmt.Fprint(stdout, pem)
	return 0
}
