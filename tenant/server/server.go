// Package server is Tenantdesk's HTTP listener: every tenant-scoped route
// of SPEC §4 (metadata, SAML SSO, account webhooks, Connec! notifications)
// and /healthz. Each request goes one way: body limit → tenant lookup →
// credentials → one store transaction → answer; errors become HTTP answers
// in one place (fail).
//
// The caller owns the lifetime: ListenAndServe runs until its context is
// cancelled, then shuts down gracefully (in-flight requests finish). The
// GUI's Settings start and stop it with a cancellable context; `serve`
// cancels on SIGINT/SIGTERM. Expired logins are purged by the owner's
// background work (admin.Service.RunBackground), not here: the purge
// needs the file, not the listener.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/tenantdesk/tenantdesk/store"
	"github.com/tenantdesk/tenantdesk/tenant"
	"github.com/tenantdesk/tenantdesk/tenant/guard"
	"github.com/tenantdesk/tenantdesk/tenant/sso"
)

// Body limits (SPEC §4), checked before anything is parsed.
const (
	limitSAML   = sso.MaxResponseBytes // SAML consume (256 KiB, see there)
	limitConnec = 16 << 20             // Connec! notifications
	limitOther  = 64 << 10             // everything else
)

// Server timeouts. WriteTimeout leaves room for a 16 MiB notification
// stored in one transaction.
const (
	readHeaderTimeout = 5 * time.Second
	readTimeout       = 30 * time.Second
	writeTimeout      = 60 * time.Second
	idleTimeout       = 120 * time.Second
	maxHeaderBytes    = 64 << 10
	shutdownTimeout   = 15 * time.Second
)

// ssoRoutes is what the listener needs of the SSO service (tenant/sso).
type ssoRoutes interface {
	Initialize(w http.ResponseWriter, r *http.Request, cfg *tenant.Config)
	Consume(w http.ResponseWriter, r *http.Request, cfg *tenant.Config)
	SPMetadata(w http.ResponseWriter, r *http.Request, cfg *tenant.Config)
	Session(w http.ResponseWriter, r *http.Request, cfg *tenant.Config)
	Logout(w http.ResponseWriter, r *http.Request, cfg *tenant.Config)
}

// Server is the listener of one process: one store, one public URL.
type Server struct {
	db        *store.DB
	publicURL string
	log       *slog.Logger
	sso       ssoRoutes
	tenants   tenantCache
	now       func() time.Time
	handler   http.Handler
	commits   groupCommit
	aliases   aliasTable
	// write runs a small write in a group-committed transaction
	// (commits.do; benchmarks swap in the alternatives).
	write func(func(*store.Tx) error) error
	abuse abuse
	tls   *certFiles // nil: plain HTTP (a proxy in front terminates TLS)
	https bool       // the public URL is https: HSTS on every answer
}

// New builds the listener and its SSO service. publicURL is the base URL
// tenants reach us on (every ACS and webhook URL derives from it).
func New(db *store.DB, publicURL string, logger *slog.Logger) *Server {
	if logger == nil {
		logger = slog.Default()
	}
	publicURL = strings.TrimRight(publicURL, "/")
	ssoService := sso.New(db, publicURL, logger)
	s := &Server{
		db:        db,
		publicURL: publicURL,
		log:       logger,
		sso:       ssoService,
		now:       time.Now,
		https:     strings.HasPrefix(publicURL, "https://"),
	}
	// One aggregator for refused logins and bad credentials: one flush
	// transaction a minute carries both.
	s.abuse.init(ssoService.Failures())
	s.tenants.publicURL = publicURL
	s.commits.db = db
	s.write = s.commits.do
	if db.Etcd() {
		// etcd batches concurrent proposals into one log write itself, and
		// a shared transaction of many requests reads more keys than one
		// txn can compare, so that it would conflict with every other
		// replica's commit: each request commits on its own there.
		s.write = db.Update
	}
	s.handler = s.routes()
	return s
}

// Handler is the listener's whole HTTP handler, for tests and embedding.
func (s *Server) Handler() http.Handler { return s.handler }

// routes registers every route from tenant.Route patterns.
func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	type entry struct {
		limit int64
		basic bool
		h     tenantHandler
	}
	table := map[tenant.Route]entry{
		tenant.RouteMetadata:      {limitOther, true, s.metadata},
		tenant.RouteSAMLInit:      {limitOther, false, s.ssoHandler(ssoRoutes.Initialize)},
		tenant.RouteSAMLConsume:   {limitSAML, false, s.consume},
		tenant.RouteSPMetadata:    {limitOther, false, s.ssoHandler(ssoRoutes.SPMetadata)},
		tenant.RouteSession:       {limitOther, false, s.ssoHandler(ssoRoutes.Session)},
		tenant.RouteGroup:         {limitOther, true, s.groupDeleted},
		tenant.RouteGroupUser:     {limitOther, true, s.memberRemoved},
		tenant.RouteConnecReceive: {limitConnec, true, s.connecReceive},
		tenant.RouteLogout:        {limitOther, false, s.ssoHandler(ssoRoutes.Logout)},
	}
	handlers := make(map[tenant.Route]http.Handler, len(table))
	for _, rt := range tenant.Routes() {
		e, ok := table[rt]
		if !ok {
			panic(fmt.Sprintf("server: route %s has no handler", rt.Pattern()))
		}
		handlers[rt] = s.tenantRoute(e.limit, e.basic, e.h)
		mux.Handle(rt.Pattern(), handlers[rt])
	}
	// Registered paths (SPEC §3.2): whatever no pattern above took.
	mux.Handle("/", s.registered(handlers))
	mux.HandleFunc("GET /healthz", s.healthz)
	return s.recoverAndLog(mux)
}

// ListenAndServe listens on addr, calls ready once connections are
// accepted, and serves until ctx is cancelled; then it stops accepting,
// lets in-flight requests finish (up to 15 s) and returns nil.
func (s *Server) ListenAndServe(ctx context.Context, addr string, ready func(net.Addr)) error {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", addr, err)
	}
	// A cap on open connections, within the open-file limit and beside
	// the admin address's own (SPEC §15): beyond it connections wait in
	// the kernel's backlog.
	ln = guard.LimitListener(ln, guard.Limits().Public)
	srv := s.httpServer()
	if s.tls != nil {
		srv.TLSConfig = s.tls.tlsConfig()
	}
	errc := make(chan error, 1)
	go func() {
		if s.tls != nil {
			errc <- srv.ServeTLS(ln, "", "") // offers HTTP/2 as well
			return
		}
		errc <- srv.Serve(ln)
	}()
	// Failure counts are written once a minute, and once more at the end.
	fctx, stopFailures := context.WithCancel(context.WithoutCancel(ctx))
	failuresDone := make(chan struct{})
	go func() {
		defer close(failuresDone)
		s.abuse.failures.Run(fctx)
	}()
	defer func() {
		stopFailures()
		<-failuresDone
	}()
	s.log.Info("listener started", "addr", ln.Addr().String(), "public_url", s.publicURL, "tls", s.tls != nil)
	if ready != nil {
		ready(ln.Addr())
	}
	select {
	case err := <-errc:
		return fmt.Errorf("serve on %s: %w", addr, err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	err = srv.Shutdown(sctx)
	if serr := <-errc; serr != nil && !errors.Is(serr, http.ErrServerClosed) {
		return fmt.Errorf("serve on %s: %w", addr, serr)
	}
	if err != nil {
		_ = srv.Close()
		return fmt.Errorf("shut down listener: %w", err)
	}
	s.log.Info("listener stopped", "addr", ln.Addr().String())
	return nil
}

func (s *Server) httpServer() *http.Server {
	return &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	if err := s.db.Healthy(); err != nil {
		s.log.Error("health check failed", "err", err)
		writeJSON(w, http.StatusServiceUnavailable, errorBody{Error: "database not readable"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// ssoHandler adapts an SSO service method to a tenant route.
func (s *Server) ssoHandler(m func(ssoRoutes, http.ResponseWriter, *http.Request, *tenant.Config)) tenantHandler {
	return func(w http.ResponseWriter, r *http.Request, t *tenantEntry) error {
		m(s.sso, w, r, t.cfg)
		return nil
	}
}

// consume is the SSO consume route; a refused login counts against the
// address it came from.
func (s *Server) consume(w http.ResponseWriter, r *http.Request, t *tenantEntry) error {
	s.sso.Consume(w, r, t.cfg)
	s.countRefusedLogin(w, r)
	return nil
}

// metadata answers the tenant's metadata document (SPEC §3.3).
func (s *Server) metadata(w http.ResponseWriter, r *http.Request, t *tenantEntry) error {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(t.metadata)
	return nil
}
