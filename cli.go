package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/tenantdesk/tenantdesk/tenant/admin"
	"github.com/tenantdesk/tenantdesk/tenant/guard"
)

// globals are the flags every command takes before its name.
type globals struct {
	db             string
	addr           string
	publicURL      string
	publicURLGiven bool

	// A remote server's admin address (serve --admin-addr), its bearer
	// token and the certificate to trust for it.
	server, token, serverCA string

	// The listener's own TLS (SPEC §12), and the reverse proxies whose
	// X-Forwarded-For names the client.
	tlsCert, tlsKey string
	trustedProxies  []netip.Prefix
}

// listenerScheme is the default public URL's scheme.
func (g *globals) listenerScheme() string {
	if g.tlsCert != "" {
		return "https://"
	}
	return "http://"
}

// adminOptions are the admin service's options from the globals.
func (g *globals) adminOptions(logger *slog.Logger) admin.Options {
	return admin.Options{
		PublicURL: g.publicURL, Addr: g.addr, Logger: logger,
		TLSCertFile: g.tlsCert, TLSKeyFile: g.tlsKey, TrustedProxies: g.trustedProxies,
	}
}

// pickPort turns a port of 0 ("any free port") into the port the system
// gives now, for the commands that listen: the default public URL, which
// every ACS and webhook URL derives from, then names the real port.
func (g *globals) pickPort() error {
	if _, port, err := net.SplitHostPort(g.addr); err != nil || port != "0" {
		return nil
	}
	l, err := net.Listen("tcp", g.addr)
	if err != nil {
		return fmt.Errorf("--addr %s: %w", g.addr, err)
	}
	g.addr = l.Addr().String()
	if err := l.Close(); err != nil {
		return err
	}
	if !g.publicURLGiven {
		g.publicURL = g.listenerScheme() + g.addr
	}
	return nil
}

const defaultAddr = "127.0.0.1:8765"

func parseGlobals(args []string, stderr io.Writer) (globals, []string, error) {
	var g globals
	fs := flag.NewFlagSet("tenantdesk", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&g.db, "db", envOr("TENANTDESK_DB", ""), "data file (env TENANTDESK_DB)")
	fs.StringVar(&g.addr, "addr", envOr("TENANTDESK_ADDR", defaultAddr), "listener address HOST:PORT (env TENANTDESK_ADDR)")
	fs.StringVar(&g.publicURL, "public-url", envOr("TENANTDESK_PUBLIC_URL", ""), "base URL tenants reach the listener on (env TENANTDESK_PUBLIC_URL; default http://<addr>)")
	fs.StringVar(&g.server, "server", envOr("TENANTDESK_SERVER", ""), "run the command on this server's admin API, https://HOST:PORT (env TENANTDESK_SERVER)")
	fs.StringVar(&g.token, "token", envOr("TENANTDESK_TOKEN", ""), "admin token for --server (env TENANTDESK_TOKEN)")
	fs.StringVar(&g.serverCA, "server-ca", envOr("TENANTDESK_SERVER_CA", ""), "PEM certificate to trust for --server (its own, or its CA)")
	fs.StringVar(&g.tlsCert, "tls-cert", envOr("TENANTDESK_TLS_CERT", ""), "PEM certificate (chain) for the listener to speak HTTPS itself; reloaded when it changes (env TENANTDESK_TLS_CERT)")
	fs.StringVar(&g.tlsKey, "tls-key", envOr("TENANTDESK_TLS_KEY", ""), "PEM private key of --tls-cert (env TENANTDESK_TLS_KEY)")
	proxies := fs.String("trusted-proxies", envOr("TENANTDESK_TRUSTED_PROXIES", ""), "IPs and CIDRs of reverse proxies whose X-Forwarded-For names the client (env TENANTDESK_TRUSTED_PROXIES)")
	fs.Usage = func() { fmt.Fprint(stderr, usage); fs.PrintDefaults() }
	if err := fs.Parse(args); err != nil {
		return g, nil, err
	}
	if (g.tlsCert == "") != (g.tlsKey == "") {
		return g, nil, errors.New("--tls-cert and --tls-key go together: give both or neither")
	}
	var err error
	if g.trustedProxies, err = guard.ParseTrustedProxies(*proxies); err != nil {
		return g, nil, fmt.Errorf("--trusted-proxies: %w", err)
	}
	if g.db == "" {
		dir, err := os.UserConfigDir()
		if err != nil {
			return g, nil, fmt.Errorf("no --db given and no user config directory: %w", err)
		}
		g.db = filepath.Join(dir, "tenantdesk", "tenantdesk.db")
	}
	g.publicURLGiven = g.publicURL != ""
	if !g.publicURLGiven {
		g.publicURL = g.listenerScheme() + g.addr
	}
	g.publicURL = strings.TrimRight(g.publicURL, "/")
	return g, fs.Args(), nil
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

const usage = `Usage: tenantdesk [global flags] [command]

Commands:
  (none)                                   GUI and listener
  serve [--admin-addr HOST:PORT]           listener only, no display; --admin-addr adds the admin API over TLS
  tenant import FILE|-                     add or update tenants from a marketplaces JSON file
  tenant list [--json]                     tenants, secrets masked
  tenant remove KEY                        remove a tenant (its records stay, orphaned)
  tenant sync                              import the developer platform's marketplaces document
                                           (MNO_DEVPL_HOST, MNO_DEVPL_API_PATH, MNO_DEVPL_ENV_KEY,
                                           MNO_DEVPL_ENV_SECRET, or the devpl-* settings)
  idmap list [--tenant K] [--entity E] [--search NAME] [--json | --csv]
  export [--tenant K]                      JSON of users, groups, memberships, identity map, invoices, bills
  bill preview --period YYYY-MM [--tenant K]
  bill run --period YYYY-MM [--tenant K] [--rebill UID[,UID…]]...
  bill cancel --period YYYY-MM --tenant K --group UID
  connec pull [--tenant K] [--group G] [--full]
                                           pull records from Connec! now; counts per collection
  activity [--tenant K] [--limit N] [--json]  the activity log, newest first
  backup FILE                              consistent copy of the database
  compact                                  purge expired logins and rewrite the file without its free
                                           pages (stop the GUI or serve first)
  admin-token [--revoke]                   new bearer token for serve --admin-addr (the old one stops working)
  admin-cert                               the admin address's certificate (PEM), for --server-ca
  demo-data                                fill the database with demonstration tenants and records
  version

While the GUI or serve has the data file open, every command but serve and
the GUI runs through that process (its control socket, <db>.sock).

Global flags (before the command):
`

// run is the whole program; main only supplies the process's streams.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	// Logs and progress lines reach stderr from several goroutines (billing
	// workers, the listener): one writer at a time, whatever stderr is.
	stderr = &lockedWriter{w: stderr}
	g, rest, err := parseGlobals(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		return exitf(stderr, "%v", err)
	}
	if len(rest) == 0 || rest[0] == "serve" {
		if err := g.pickPort(); err != nil {
			return exitf(stderr, "%v", err)
		}
	}
	if len(rest) == 0 {
		return runGUI(ctx, g, stderr)
	}
	cmd, cmdArgs := rest[0], rest[1:]
	switch cmd {
	case "version":
		fmt.Fprintln(stdout, "tenantdesk", version())
		return 0
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	case "serve":
		return cmdServe(ctx, g, cmdArgs, stdout, stderr)
	case "tenant":
		return cmdTenant(ctx, g, cmdArgs, stdin, stdout, stderr)
	case "idmap":
		return cmdIdmap(ctx, g, cmdArgs, stdout, stderr)
	case "export":
		return cmdExport(ctx, g, cmdArgs, stdout, stderr)
	case "bill":
		return cmdBill(ctx, g, cmdArgs, stdout, stderr)
	case "connec":
		return cmdConnec(ctx, g, cmdArgs, stdout, stderr)
	case "activity":
		return cmdActivity(ctx, g, cmdArgs, stdout, stderr)
	case "backup":
		return cmdBackup(ctx, g, cmdArgs, stdout, stderr)
	case "compact":
		return cmdCompact(g, cmdArgs, stdout, stderr)
	case "admin-token":
		return cmdAdminToken(ctx, g, cmdArgs, stdout, stderr)
	case "admin-cert":
		return cmdAdminCert(ctx, g, cmdArgs, stdout, stderr)
	case "demo-data":
		return cmdDemoData(ctx, g, cmdArgs, stdout, stderr)
	}
	return exitf(stderr, "unknown command %q (see tenantdesk --help)", cmd)
}

// lockedWriter serialises writes to w.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
