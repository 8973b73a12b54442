// Package admin is the services facade that the GUI and the CLI share. It
// owns no protocol logic of its own: it composes the store, the tenant
// registry, the listener, billing and Connec! behind one small API whose
// methods are safe to call from any goroutine (never from Fyne's UI
// goroutine: most of them touch the database or the network).
package admin

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"sync"
	"time"

	"github.com/tenantdesk/tenantdesk/store"
	"github.com/tenantdesk/tenantdesk/tenant/connec"
	"github.com/tenantdesk/tenantdesk/tenant/devpl"
	"github.com/tenantdesk/tenantdesk/tenant/settings"
)

// ErrNotAvailable marks a feature whose service package has not landed in
// this build yet. Callers show it as is; it is never a silent fake.
var ErrNotAvailable = errors.New("not available yet")

// Options configure a Service; the zero value of each field has a default.
type Options struct {
	PublicURL  string       // base URL tenants reach the listener on
	Addr       string       // listener address, HOST:PORT
	Logger     *slog.Logger // default slog.Default()
	HTTPClient *http.Client // outbound calls (test connection); default 15 s timeout
	// BillingClient is the client of billing runs; nil lets billing pool
	// its own connections.
	BillingClient *http.Client
	Now           func() time.Time
	// Env looks up environment variables (MNO_DEVPL_*); nil is the
	// process environment.
	Env devpl.Lookup
	// TLSCertFile and TLSKeyFile make the listener speak HTTPS itself.
	TLSCertFile, TLSKeyFile string
	// TrustedProxies are the reverse proxies whose X-Forwarded-For header
	// names the client (back-off counts per client address).
	TrustedProxies []netip.Prefix
	// Settings are the flags and environment that beat the settings kept
	// in the data file; the zero value reads none (tests).
	Settings settings.Overrides
}

// Service is the facade over one open data file.
type Service struct {
	db     *store.DB
	log    *slog.Logger
	client *http.Client
	now    func() time.Time

	mu        sync.Mutex // guards the fields below
	publicURL string
	addr      string
	listener  listenerState

	outbox        *connec.Worker
	puller        *connec.Puller
	billingClient *http.Client // nil: billing's own pooled client

	getenv     devpl.Lookup  // MNO_DEVPL_* and other environment variables
	settings   devpl.Lookup  // settings kept in the data file; nil: none
	minRefresh time.Duration // shortest developer-platform re-sync interval
	purgeEvery time.Duration // period of the expired-login purge

	tlsCert, tlsKey string         // the listener's own TLS files; "" for plain HTTP
	trustedProxies  []netip.Prefix // reverse proxies trusted for X-Forwarded-For

	overrides settings.Overrides // flags and environment over the stored settings
}

// New returns the facade over db. It starts nothing: the listener starts
// with StartListener, the owner's background work with RunBackground.
func New(db *store.DB, opt Options) *Service {
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	if opt.HTTPClient == nil {
		opt.HTTPClient = &http.Client{Timeout: 15 * time.Second}
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.Addr == "" || opt.PublicURL == "" {
		// Not given: what the data file and the overrides resolve to.
		r, _ := settings.Load(db, opt.Settings)
		if opt.Addr == "" {
			opt.Addr = r.Addr()
		}
		if opt.PublicURL == "" {
			opt.PublicURL = r.PublicURL()
			if r.Value(settings.PublicURL).Source == settings.FromDefault {
				opt.PublicURL = settings.DefaultPublicURL(opt.Addr, r.Get(settings.TLSCert) != "")
			}
		}
		if opt.TLSCertFile == "" && opt.TLSKeyFile == "" {
			opt.TLSCertFile, opt.TLSKeyFile = r.TLSFiles()
		}
		if opt.TrustedProxies == nil {
			opt.TrustedProxies = r.TrustedProxies()
		}
	}
	if opt.Env == nil {
		opt.Env = devpl.OSEnv
	}
	// The outbox client has no overall timeout: connec.timeout bounds each call.
	outbox := &connec.Worker{DB: db, Logger: opt.Logger, Now: opt.Now}
	puller := &connec.Puller{DB: db, Logger: opt.Logger, Now: opt.Now}
	return &Service{
		outbox:    outbox,
		puller:    puller,
		db:        db,
		log:       opt.Logger,
		client:    opt.HTTPClient,
		now:       opt.Now,
		publicURL: opt.PublicURL,
		addr:      opt.Addr,

		billingClient: opt.BillingClient,
		getenv:        opt.Env,
		minRefresh:    time.Minute,
		purgeEvery:    purgeInterval,

		tlsCert:        opt.TLSCertFile,
		tlsKey:         opt.TLSKeyFile,
		trustedProxies: opt.TrustedProxies,
		overrides:      opt.Settings,
	}
}

// DB is the open data file (for the CLI's own sub-commands).
func (s *Service) DB() *store.DB { return s.db }

// PublicURL is the base URL tenants reach the listener on.
func (s *Service) PublicURL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.publicURL
}

// Addr is the listener address.
func (s *Service) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

// DataFile describes the open data file.
type DataFile struct {
	Path string
	Size int64 // bytes
	// SecretsLocked is the one message for a file whose secrets are sealed
	// with a master key this process does not have (store.KeyError): it
	// names the key and how to give it; "" when the secrets open.
	SecretsLocked string `json:",omitempty"`
}

// DataFile reports the data file's location and current size.
func (s *Service) DataFile() DataFile {
	df := DataFile{Path: s.db.Path(), Size: s.db.Size()}
	if err := s.db.KeyErr(); err != nil {
		df.SecretsLocked = err.Error()
	}
	return df
}

// read returns what get reads in one read transaction (view): the shape
// of most of the service's read methods.
func read[T any](s *Service, what string, get func(*store.Tx) (T, error)) (T, error) {
	var v T
	err := s.view(what, func(tx *store.Tx) (err error) {
		v, err = get(tx)
		return err
	})
	return v, err
}

// view runs fn in a read transaction, wrapping its error with what.
func (s *Service) view(what string, fn func(*store.Tx) error) error {
	if err := s.db.View(fn); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}
