package cli

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

	"github.com/tenantdesk/tenantdesk/tenant"
	"github.com/tenantdesk/tenantdesk/tenant/admin"
	"github.com/tenantdesk/tenantdesk/tenant/settings"
)

// globals are the flags every command takes before its name, and the
// settings they resolve to.
type globals struct {
	program Program
	db      string
	// flags holds the setting flags given on the command line (not their
	// defaults): they beat the environment and the data file.
	flags map[settings.Key]string
	// resolved is every setting after precedence (tenant/settings.Resolve):
	// flags and environment at first, the data file's values too once
	// openDB has read them.
	resolved settings.Resolved
	// addr and publicURL are the resolved listener address and public URL.
	addr      string
	publicURL string
	// A remote server's admin address (serve --admin-addr), its bearer
	// token and the certificate to trust for it.
	server, token, serverCA string
	// settingsErr lists the settings whose flag, variable or stored value
	// does not validate; serve and the GUI refuse to start with it.
	settingsErr error

	// The listener's own TLS (SPEC §12), and the reverse proxies whose
	// X-Forwarded-For names the client: resolved settings too.
	tlsCert, tlsKey string
	trustedProxies  []netip.Prefix
}

// overrides are this process's flags and environment.
func (g *globals) overrides() settings.Overrides { return settings.FromProcess(g.flags) }

// resolve applies the precedence to stored (nil before the data file is
// open) and keeps the result.
func (g *globals) resolve(stored map[settings.Key]string) error {
	r, err := settings.Resolve(stored, g.overrides())
	g.resolved = r
	g.addr, g.publicURL = r.Addr(), r.PublicURL()
	g.tlsCert, g.tlsKey = r.TLSFiles()
	g.trustedProxies = r.TrustedProxies()
	return err
}

// adminOptions are the admin service's options from the globals.
func (g *globals) adminOptions(logger *slog.Logger) admin.Options {
	return admin.Options{
		PublicURL: g.publicURL, Addr: g.addr, Logger: logger, Settings: g.overrides(),
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
	if g.resolved.Value(settings.PublicURL).Source == settings.FromDefault {
		g.publicURL = settings.DefaultPublicURL(g.addr, g.tlsCert != "")
	}
	return nil
}

const defaultAddr = settings.DefaultAddr

func parseGlobals(args []string, stderr io.Writer) (globals, []string, error) {
	var g globals
	fs := flag.NewFlagSet("tenantdesk", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&g.db, "db", envOr("TENANTDESK_DB", ""), "data file (env TENANTDESK_DB)")
	// Setting flags: their defaults come from settings.Resolve, never from
	// here, so that a value kept in the data file is not hidden by a
	// flag default.
	given := map[string]*string{}
	for _, d := range settings.Defs {
		if d.Flag == "" {
			continue
		}
		help := d.Help
		if len(d.Env) > 0 {
			help += " (env " + strings.Join(d.Env, ", ") + "; or `tenantdesk settings set " + string(d.Key) + "`)"
		}
		given[d.Flag] = fs.String(d.Flag, "", help)
	}
	fs.StringVar(&g.server, "server", envOr("TENANTDESK_SERVER", ""), "run the command on this server's admin API, https://HOST:PORT (env TENANTDESK_SERVER)")
	fs.StringVar(&g.token, "token", envOr("TENANTDESK_TOKEN", ""), "admin token for --server (env TENANTDESK_TOKEN)")
	fs.StringVar(&g.serverCA, "server-ca", envOr("TENANTDESK_SERVER_CA", ""), "PEM certificate to trust for --server (its own, or its CA)")
	fs.Usage = func() { fmt.Fprint(stderr, usage); fs.PrintDefaults() }
	if err := fs.Parse(args); err != nil {
		return g, nil, err
	}
	if g.db == "" {
		dir, err := os.UserConfigDir()
		if err != nil {
			return g, nil, fmt.Errorf("no --db given and no user config directory: %w", err)
		}
		g.db = filepath.Join(dir, "tenantdesk", "tenantdesk.db")
	}
	g.flags = map[settings.Key]string{}
	fs.Visit(func(f *flag.Flag) {
		for _, d := range settings.Defs {
			if d.Flag == f.Name {
				g.flags[d.Key] = *given[f.Name]
			}
		}
	})
	// A bad flag or variable is reported once the data file is read (or
	// by the command that uses it), not here: `settings` must still run.
	_ = g.resolve(nil)
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
  restore FILE                             replace the database with a backup, checked whole first (the old
                                           file kept as <db>.before-restore; serve and the GUI keep running)
  compact                                  purge expired logins and rewrite the file without its free
                                           pages (stop the GUI or serve first)
  admin-token [--revoke]                   new bearer token for serve --admin-addr (the old one stops working)
  admin-cert                               the admin address's certificate (PEM), for --server-ca
  settings [get KEY | set KEY VALUE | unset KEY]
                                           settings kept in the data file (flag > env > stored > default)
  demo-data                                fill the database with demonstration tenants and records
  version

While the GUI or serve has the data file open, every command but serve and
the GUI runs through that process (its control socket, <db>.sock).

Global flags (before the command):
`

// Program is what main hands the CLI: the version it was built as and the
// window, so that nothing under tenant/ imports ui/.
type Program struct {
	Version string
	Window  Window
}

// Main is the whole program; main only supplies the process's streams.
// It returns the exit code.
func Main(ctx context.Context, p Program, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	tenant.AppVersion = p.Version // api.version of the metadata document
	// Logs and progress lines reach stderr from several goroutines (billing
	// workers, the listener): one writer at a time, whatever stderr is.
	stderr = &lockedWriter{w: stderr}
	g, rest, err := parseGlobals(args, stderr)
	g.program = p
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		return exitf(stderr, "%v", err)
	}
	if len(rest) == 0 {
		return runGUI(ctx, g, stderr)
	}
	cmd, cmdArgs := rest[0], rest[1:]
	switch cmd {
	case "version":
		fmt.Fprintln(stdout, "tenantdesk", p.Version)
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
	case "restore":
		return cmdRestore(ctx, g, cmdArgs, stdout, stderr)
	case "compact":
		return cmdCompact(g, cmdArgs, stdout, stderr)
	case "admin-token":
		return cmdAdminToken(ctx, g, cmdArgs, stdout, stderr)
	case "admin-cert":
		return cmdAdminCert(ctx, g, cmdArgs, stdout, stderr)
	case "settings":
		return cmdSettings(ctx, g, cmdArgs, stdin, stdout, stderr)
	case "demo-data":
		return cmdDemoData(ctx, g, cmdArgs, stdout, stderr)
	}
	return exitf(stderr, "unknown command %q (see tenantdesk --help)", cmd)
}

// exitf prints an error for the person at the terminal and gives the exit code.
func exitf(stderr io.Writer, format string, a ...any) int {
	fmt.Fprintf(stderr, "tenantdesk: "+format+"\n", a...)
	return 1
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
