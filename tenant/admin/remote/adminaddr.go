package remote

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tenantdesk/tenantdesk/tenant/admin"
	"github.com/tenantdesk/tenantdesk/tenant/guard"
)

// The admin address faces whatever network it is bound to (SPEC §15): a
// client that opens a connection and sends nothing, or headers forever, is
// dropped; a request body (an import document) has two minutes; answers
// have no write deadline, since a backup or a billing run streams for as
// long as it takes.
const (
	adminReadHeaderTimeout = 10 * time.Second
	adminReadTimeout       = 2 * time.Minute
	adminIdleTimeout       = 2 * time.Minute
	adminMaxHeaderBytes    = 64 << 10
)

// Wrong tokens: after tokenTries in a minute an address gets 429 with
// Retry-After until the minute ends, right token or not, so guessing costs
// a minute per few tries.
const tokenTries = 5

// AdminServer is the admin API on a TCP address (`serve --admin-addr`):
// TLS 1.2+, and every call carries the bearer token.
type AdminServer struct {
	API         admin.API
	Info        Info
	Certificate func(*tls.ClientHelloInfo) (*tls.Certificate, error)
	CheckToken  func(token string) bool // constant time; reads the stored hash each call
	Logger      *slog.Logger
	// MaxConns caps the connections held open at once; 0 is the admin
	// address's share of the open-file limit (guard.Limits).
	MaxConns int
	Now      func() time.Time // default time.Now

	backoff  *guard.Backoff
	refusals refusalLog
}

// ListenAndServe serves until ctx ends, calling ready with the bound
// address once it accepts connections.
func (s *AdminServer) ListenAndServe(ctx context.Context, addr string, ready func(net.Addr)) error {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("admin address %s: %w", addr, err)
	}
	maxConns := s.MaxConns
	if maxConns <= 0 {
		maxConns = guard.Limits().Admin
	}
	tl := tls.NewListener(guard.LimitListener(l, maxConns), &tls.Config{
		MinVersion:     tls.VersionTLS12,
		GetCertificate: s.Certificate,
		NextProtos:     []string{"h2", "http/1.1"},
	})
	srv := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: adminReadHeaderTimeout, // and the TLS handshake
		ReadTimeout:       adminReadTimeout,
		IdleTimeout:       adminIdleTimeout,
		MaxHeaderBytes:    adminMaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(s.logger().Handler(), slog.LevelDebug),
	}
	if ready != nil {
		ready(l.Addr())
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(tl) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		_ = srv.Close()
	}
	s.refusals.flush(s.logger())
	if err := <-done; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// Handler is the admin API behind the token check: an address that has
// failed too often gets 429 before its token is looked at, a wrong token
// 401, and both are counted, not logged one line each.
func (s *AdminServer) Handler() http.Handler {
	if s.backoff == nil {
		s.backoff = guard.NewBackoff()
		s.backoff.Threshold = tokenTries
	}
	// Host-level settings change only on the machine itself.
	api := Handler(admin.OffMachine(s.API), s.Info, s.authorized, s.logger())
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		addr, now := guard.ClientAddr(r, nil), s.now()
		if wait, blocked := s.backoff.Blocked(addr, now); blocked {
			s.refusals.add(addr, now, true, s.logger())
			w.Header().Set("Retry-After", strconv.Itoa(int(wait.Seconds())))
			writeJSON(w, http.StatusTooManyRequests, answer{Error: &wireError{
				Message: fmt.Sprintf("too many wrong admin tokens from this address; try again in %d s", int(wait.Seconds()))}})
			return
		}
		if !s.authorized(r) {
			s.backoff.Fail(addr, now)
			s.refusals.add(addr, now, false, s.logger())
			writeJSON(w, http.StatusUnauthorized, answer{Error: encodeError(ErrUnauthorized)})
			return
		}
		api.ServeHTTP(w, r)
	})
}

func (s *AdminServer) authorized(r *http.Request) bool {
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	return ok && token != "" && s.CheckToken != nil && s.CheckToken(token)
}

func (s *AdminServer) logger() *slog.Logger {
	if s.Logger == nil {
		return slog.Default()
	}
	return s.Logger
}

func (s *AdminServer) now() time.Time {
	if s.Now == nil {
		return time.Now()
	}
	return s.Now()
}

// refusalLog turns refused tokens into at most two log lines a minute:
// the first refusal of a minute as it happens, and the minute's count when
// the next minute's first one comes (or the server stops).
type refusalLog struct {
	mu      sync.Mutex
	minute  int64
	wrong   int // 401s this minute
	limited int // 429s this minute
	addrs   map[netip.Addr]bool
}

// maxLoggedAddrs bounds the addresses a minute's count remembers.
const maxLoggedAddrs = 1000

func (l *refusalLog) add(addr netip.Addr, now time.Time, limited bool, log *slog.Logger) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if m := now.Unix() / 60; m != l.minute {
		l.flushLocked(log)
		l.minute = m
		log.Warn("admin API: token refused (further refusals this minute are counted)", "remote", addr.String())
	}
	if limited {
		l.limited++
	} else {
		l.wrong++
	}
	if l.addrs == nil {
		l.addrs = map[netip.Addr]bool{}
	}
	if len(l.addrs) < maxLoggedAddrs {
		l.addrs[addr] = true
	}
}

func (l *refusalLog) flush(log *slog.Logger) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.flushLocked(log)
}

func (l *refusalLog) flushLocked(log *slog.Logger) {
	if l.wrong+l.limited > 1 {
		log.Warn("admin API: tokens refused in one minute", "wrong_token", l.wrong, "rate_limited", l.limited,
			"addresses", len(l.addrs), "minute", time.Unix(l.minute*60, 0).UTC().Format(time.RFC3339))
	}
	l.wrong, l.limited, l.addrs = 0, 0, nil
}
