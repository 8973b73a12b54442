package remote

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/tenantdesk/tenantdesk/tenant/admin"
)

// AdminServer is the admin API on a TCP address (`serve --admin-addr`):
// TLS 1.2+, and every call carries the bearer token.
type AdminServer struct {
	API         admin.API
	Info        Info
	Certificate func(*tls.ClientHelloInfo) (*tls.Certificate, error)
	CheckToken  func(token string) bool // constant time; reads the stored hash each call
	Logger      *slog.Logger
}

// ListenAndServe serves until ctx ends, calling ready with the bound
// address once it accepts connections.
func (s *AdminServer) ListenAndServe(ctx context.Context, addr string, ready func(net.Addr)) error {
	if s.Logger == nil {
		s.Logger = slog.Default()
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("admin address %s: %w", addr, err)
	}
	tl := tls.NewListener(l, &tls.Config{
		MinVersion:     tls.VersionTLS12,
		GetCertificate: s.Certificate,
		NextProtos:     []string{"h2", "http/1.1"},
	})
	srv := &http.Server{
		Handler:           Handler(s.API, s.Info, s.authorized, s.Logger),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.Logger.Handler(), slog.LevelDebug),
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
	if err := <-done; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func (s *AdminServer) authorized(r *http.Request) bool {
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	return ok && token != "" && s.CheckToken != nil && s.CheckToken(token)
}
