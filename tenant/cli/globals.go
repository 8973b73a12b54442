package cli

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"

	"github.com/tenantdesk/tenantdesk/store"
	"github.com/tenantdesk/tenantdesk/store/masterkeys"
	"github.com/tenantdesk/tenantdesk/tenant/admin"
	"github.com/tenantdesk/tenantdesk/tenant/settings"
)

// globals are the flags every command takes before its name, and the
// settings they resolve to.
type globals struct {
	program Program
	db      string
	// storeURL is --store (env TENANTDESK_STORE): an etcd cluster instead
	// of the --db file (SPEC §14), with storeTLS for etcds://.
	storeURL string
	storeTLS store.TLSFiles
	// keyFile is --key-file (env TENANTDESK_KEY_FILE), and keys where the
	// master keys that seal the data file's secrets are kept (SPEC §15).
	keyFile string
	keys    store.MasterKeys
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

// storeOptions are how this process opens the data file: with its master
// keys, always (a store.Options without Keys is for tests only).
func (g *globals) storeOptions() store.Options { return store.Options{Keys: g.keys} }

// where names the data for messages: the server that answers for it
// (--server), else the --store URL, else the --db file.
func (g *globals) where() string {
	if g.server != "" {
		return g.server
	}
	if g.storeURL != "" {
		return g.storeURL
	}
	return g.db
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
	fs.StringVar(&g.storeURL, "store", envOr("TENANTDESK_STORE", ""),
		"etcd://HOST:PORT[,HOST:PORT…][/PREFIX] or etcds://…: keep the data on an etcd cluster instead of the --db file (env TENANTDESK_STORE)")
	fs.StringVar(&g.storeTLS.CA, "store-ca", envOr("TENANTDESK_STORE_CA", ""), "PEM CA of the etcds:// members (env TENANTDESK_STORE_CA)")
	fs.StringVar(&g.storeTLS.Cert, "store-cert", envOr("TENANTDESK_STORE_CERT", ""), "PEM client certificate for etcds:// (env TENANTDESK_STORE_CERT)")
	fs.StringVar(&g.storeTLS.Key, "store-key", envOr("TENANTDESK_STORE_KEY", ""), "PEM client key for etcds:// (env TENANTDESK_STORE_KEY)")
	fs.StringVar(&g.keyFile, "key-file", envOr("TENANTDESK_KEY_FILE", ""),
		"file of the master keys that seal the data file's secrets, mode 0600 (env TENANTDESK_KEY_FILE; default: the OS keyring on a desktop, else <config dir>/tenantdesk/tenantdesk.key)")
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
	if g.storeURL != "" && !store.IsURL(g.storeURL) {
		return g, nil, fmt.Errorf("--store %q: want etcd://HOST:PORT[,…][/PREFIX] or etcds://… (a file goes in --db)", g.storeURL)
	}
	keys, err := masterkeys.ForApp(g.keyFile)
	if err != nil {
		return g, nil, err
	}
	g.keys = keys
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

// exitf prints an error for the person at the terminal and gives the exit code.
func exitf(stderr io.Writer, format string, a ...any) int {
	fmt.Fprintf(stderr, "tenantdesk: "+format+"\n", a...)
	return 1
}
