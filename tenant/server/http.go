package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/tenantdesk/tenantdesk/store"
	"github.com/tenantdesk/tenantdesk/tenant"
	"github.com/tenantdesk/tenantdesk/tenant/connec"
	"github.com/tenantdesk/tenantdesk/tenant/guard"
)

// tenantHandler serves one route of a known, enabled (and, for Basic routes,
// authenticated) tenant. A returned error is answered by fail.
type tenantHandler func(w http.ResponseWriter, r *http.Request, t *tenantEntry) error

// httpError is an error with the answer it deserves.
type httpError struct {
	status int
	msg    string // shown to the caller
	err    error  // the cause, logged only
}

func (e *httpError) Error() string {
	if e.err != nil {
		return e.msg + ": " + e.err.Error()
	}
	return e.msg
}

func (e *httpError) Unwrap() error { return e.err }

func badRequest(msg string, err error) error {
	return &httpError{status: http.StatusBadRequest, msg: msg, err: err}
}

type errorBody struct {
	Error string `json:"error"`
}

// answer maps an error to its status and the message the caller sees.
// It is the one place that decides which error says what over HTTP.
func answer(err error) (int, string) {
	var he *httpError
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		return http.StatusRequestEntityTooLarge, fmt.Sprintf("request body larger than %d bytes", tooBig.Limit)
	case errors.As(err, &he):
		return he.status, he.msg
	case errors.Is(err, connec.ErrMalformed):
		return http.StatusBadRequest, err.Error()
	case store.Unavailable(err):
		// An etcd failover (SPEC §14): nothing was acknowledged, and the
		// same request succeeds once a leader is elected, on any replica.
		return http.StatusServiceUnavailable, "the store is not reachable just now: try again"
	default:
		return http.StatusInternalServerError, "internal error"
	}
}

// fail answers err as JSON, logs it, and records client and server errors
// of a known tenant in the activity log.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, t *tenantEntry, err error) {
	status, msg := answer(err)
	switch status {
	case http.StatusUnauthorized:
		w.Header().Set("WWW-Authenticate", `Basic realm="tenantdesk", charset="UTF-8"`)
	case http.StatusServiceUnavailable:
		w.Header().Set("Retry-After", "1")
	}
	writeJSON(w, status, errorBody{Error: msg})
	level := slog.LevelWarn
	if status >= 500 {
		level = slog.LevelError
	}
	s.log.Log(r.Context(), level, "request failed", "route", r.Pattern, "status", status, "err", guard.Clip(err.Error()))
	if t != nil {
		s.event(store.Event{
			Tenant: string(t.key), Kind: store.EventError, Outcome: "failed",
			Reason:  http.StatusText(status),
			Message: fmt.Sprintf("%s %s: %s", r.Method, r.Pattern, guard.Clip(msg)),
		})
	}
}

// event appends one activity-log entry in its own (group-committed)
// transaction; used where no other transaction carries it.
func (s *Server) event(e store.Event) {
	if e.At.IsZero() {
		e.At = s.now().UTC()
	}
	if err := s.write(func(tx *store.Tx) error {
		_, err := tx.AppendEvent(e)
		return err
	}); err != nil {
		s.log.Error("append activity event", "err", err)
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":"internal error"}`)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// tenantRoute wraps a handler with what every tenant route does first:
// the body limit, the tenant lookup and, for Basic routes, credentials.
func (s *Server) tenantRoute(limit int64, basic bool, h tenantHandler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > limit {
			s.fail(w, r, nil, &http.MaxBytesError{Limit: limit})
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, limit)
		// A path whose escaping is not the canonical one (%2F, %41, …) is
		// refused before any value is taken from it.
		if r.URL.RawPath != "" {
			s.fail(w, r, nil, errEncodedPath)
			return
		}
		addr := s.clientAddr(r)
		if s.backedOff(w, r, addr) {
			return
		}
		key, err := tenant.ParseKey(r.PathValue("tenant"))
		if err != nil {
			err = errUnknownTenant
		}
		var t *tenantEntry
		if err == nil {
			t, err = s.tenants.lookup(s.db, key)
		}
		if errors.Is(err, errUnknownTenant) && basic {
			s.abuse.nobody.authenticate(r) // cost what a real check costs
			s.refuseCredentials(w, r, addr, "", reasonUnknownTenant)
			return
		}
		if err != nil {
			s.fail(w, r, nil, err)
			return
		}
		if rec, ok := w.(*statusRecorder); ok {
			rec.tenant = string(t.key)
		}
		if !t.cfg.Enabled {
			if basic {
				s.abuse.nobody.authenticate(r)
				s.refuseCredentials(w, r, addr, t.key, reasonTenantDisabled)
				return
			}
			// Counted, not written one by one: anyone can send these.
			s.abuse.failures.Add(string(t.key), store.EventError, reasonTenantDisabled, r.Method+" "+r.Pattern+": tenant disabled")
			s.fail(w, r, nil, errTenantOff)
			return
		}
		if basic && !t.authenticate(r) {
			s.refuseCredentials(w, r, addr, t.key, reasonBadCredentials)
			return
		}
		if err := h(w, r, t); err != nil {
			s.fail(w, r, t, err)
		}
	})
}

// statusRecorder remembers the status for the request log.
type statusRecorder struct {
	http.ResponseWriter
	status int
	tenant string
}

func (rec *statusRecorder) WriteHeader(code int) {
	if rec.status == 0 {
		rec.status = code
	}
	rec.ResponseWriter.WriteHeader(code)
}

func (rec *statusRecorder) Write(b []byte) (int, error) {
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	return rec.ResponseWriter.Write(b)
}

func (rec *statusRecorder) Unwrap() http.ResponseWriter { return rec.ResponseWriter }

// recoverAndLog logs every request (method, route pattern, tenant, status,
// duration — never headers, cookies or bodies) and turns a panic into a
// 500 JSON answer.
func (s *Server) recoverAndLog(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		if s.https {
			w.Header().Set("Strict-Transport-Security", hstsMaxAge)
		}
		rec := &statusRecorder{ResponseWriter: w}
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				s.log.Error("panic in handler", "route", r.Pattern, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
				if rec.status == 0 {
					writeJSON(rec, http.StatusInternalServerError, errorBody{Error: "internal error"})
				}
			}
			s.log.LogAttrs(r.Context(), slog.LevelInfo, "request",
				slog.String("method", r.Method),
				slog.String("route", r.Pattern),
				slog.String("tenant", rec.tenant),
				slog.Int("status", rec.status),
				slog.Duration("duration", time.Since(start)))
		}()
		next.ServeHTTP(rec, r)
	})
}
