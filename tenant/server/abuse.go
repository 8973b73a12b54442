package server

// The listener's defences against unauthenticated traffic (SPEC §12):
// per-address back-off, failures counted rather than written one by one,
// and Basic-auth routes that answer an unknown or disabled tenant exactly
// like bad credentials.

import (
	"crypto/sha256"
	"log/slog"
	"net/http"
	"net/netip"
	"strconv"
	"sync/atomic"

	"github.com/tenantdesk/tenantdesk/store"
	"github.com/tenantdesk/tenantdesk/tenant"
	"github.com/tenantdesk/tenantdesk/tenant/guard"
)

// abuse is the listener's state for refusing hostile traffic cheaply.
type abuse struct {
	backoff  *guard.Backoff
	failures *guard.Failures
	trusted  atomic.Pointer[[]netip.Prefix]
	// nobody is a tenant entry no credentials match: unknown and disabled
	// tenants are checked against it, so they cost what a real check costs.
	nobody tenantEntry
}

func (a *abuse) init(failures *guard.Failures) {
	a.backoff = guard.NewBackoff()
	a.failures = failures
	a.nobody = tenantEntry{idSum: sha256.Sum256([]byte("\x00")), keySum: sha256.Sum256([]byte("\x00"))}
	a.trusted.Store(&[]netip.Prefix{})
}

// SetTrustedProxies names the reverse proxies whose X-Forwarded-For header
// names the client (the trusted-proxies setting); nil trusts none.
func (s *Server) SetTrustedProxies(p []netip.Prefix) { s.abuse.trusted.Store(&p) }

// Failures is the aggregator of refused logins and bad credentials.
func (s *Server) Failures() *guard.Failures { return s.abuse.failures }

// Backoff is the per-address failure table.
func (s *Server) Backoff() *guard.Backoff { return s.abuse.backoff }

func (s *Server) clientAddr(r *http.Request) netip.Addr {
	return guard.ClientAddr(r, *s.abuse.trusted.Load())
}

var errTooMany = &httpError{status: http.StatusTooManyRequests, msg: "Too many failed attempts; retry later"}

// backedOff answers 429 with Retry-After when addr has failed too often.
func (s *Server) backedOff(w http.ResponseWriter, r *http.Request, addr netip.Addr) bool {
	wait, blocked := s.abuse.backoff.Blocked(addr, s.now())
	if !blocked {
		return false
	}
	w.Header().Set("Retry-After", strconv.Itoa(int(wait.Seconds())))
	writeJSON(w, errTooMany.status, errorBody{Error: errTooMany.msg})
	return true
}

// Basic-auth refusal reasons, as counted in the activity log.
const (
	reasonBadCredentials = "bad_credentials"
	reasonUnknownTenant  = "unknown_tenant"
	reasonTenantDisabled = "tenant_disabled"
)

// refuseCredentials answers a Basic-auth route that will not be served:
// bad credentials, or a tenant that does not exist or is disabled. All three
// answer the same 401, so the routes do not tell which tenants exist; the
// failure counts against the address and in the per-minute activity count.
func (s *Server) refuseCredentials(w http.ResponseWriter, r *http.Request, addr netip.Addr, key tenant.Key, reason string) {
	s.abuse.backoff.Fail(addr, s.now())
	msg := "Basic-auth request refused: "
	switch reason {
	case reasonUnknownTenant:
		msg += "unknown tenant"
	case reasonTenantDisabled:
		msg += "tenant disabled"
	default:
		msg += "bad credentials"
	}
	s.abuse.failures.Add(string(key), store.EventAuth, reason, msg)
	s.log.LogAttrs(r.Context(), slog.LevelWarn, "request refused", slog.String("route", r.Pattern),
		slog.String("status", "401"), slog.String("reason", reason), slog.String("addr", addr.String()))
	w.Header().Set("WWW-Authenticate", `Basic realm="tenantdesk", charset="UTF-8"`)
	writeJSON(w, errCredentials.status, errorBody{Error: errCredentials.msg})
}

// countRefusedLogin makes a refused SSO consume count against the address
// (the SSO service counts it in the activity log itself).
func (s *Server) countRefusedLogin(w http.ResponseWriter, r *http.Request) {
	rec, ok := w.(*statusRecorder)
	if ok && rec.status >= 400 && rec.status < 500 {
		s.abuse.backoff.Fail(s.clientAddr(r), s.now())
	}
}
