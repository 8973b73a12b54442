// Package remote carries the admin API (admin.API) between processes: the
// owner of a data file serves it on a control socket next to the file and,
// with `serve --admin-addr`, over TLS with a bearer token; Client is the
// same API on the other side. The protocol is small JSON over HTTP: POST
// /v1/{Method} with the arguments as a JSON body, answered with
// {"result":…,"error":…}; billing progress comes as NDJSON lines and
// backups as a raw body with the outcome in a trailer.
package remote

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/tenantdesk/tenantdesk/store"
	"github.com/tenantdesk/tenantdesk/tenant"
	"github.com/tenantdesk/tenantdesk/tenant/admin"
	"github.com/tenantdesk/tenantdesk/tenant/billing"
	"github.com/tenantdesk/tenantdesk/tenant/connec"
	"github.com/tenantdesk/tenantdesk/tenant/settings"
)

// ErrUnauthorized is returned when the server refuses the admin token.
var ErrUnauthorized = errors.New("the server refused the admin token (wrong or revoked)")

// ErrProtocol is returned for an answer this client cannot read.
var ErrProtocol = errors.New("unexpected answer from the Tenantdesk server")

// sentinels are the errors whose identity crosses the wire: the client's
// error matches them with errors.Is, as the in-process one would.
var sentinels = []struct {
	kind string
	err  error
}{
	{"not_found", store.ErrNotFound},
	{"invalid_record", store.ErrInvalid},
	{"duplicate", store.ErrDuplicate},
	{"tenant_exists", admin.ErrTenantExists},
	{"run_in_progress", admin.ErrRunInProgress},
	{"billing_incomplete", billing.ErrIncomplete},
	{"listener_running", admin.ErrListenerRunning},
	{"not_available", admin.ErrNotAvailable},
	{"on_machine_only", admin.ErrOnMachineOnly},
	{"unauthorized", ErrUnauthorized},
	{"unknown_setting", settings.ErrUnknownKey},
	{"canceled", context.Canceled},
	{"deadline", context.DeadlineExceeded},
}

// typedErrors are the error types whose fields cross the wire (per-field
// problems), so errors.As finds them on the client.
var typedErrors = []struct {
	kind   string
	match  func(error) (any, bool)
	decode func(json.RawMessage) (error, error)
}{
	{"invalid_tenant", asType[*tenant.ValidationError], decodeType[tenant.ValidationError]},
	{"import", asType[*tenant.ImportError], decodeType[tenant.ImportError]},
	{"invalid_invoice", asType[*connec.InvalidInvoiceError], decodeType[connec.InvalidInvoiceError]},
	{"invalid_setting", asType[*settings.Error], decodeType[settings.Error]},
}

func asType[E error](err error) (any, bool) {
	var e E
	if errors.As(err, &e) {
		return e, true
	}
	return nil, false
}

func decodeType[T any, PT interface {
	*T
	error
}](raw json.RawMessage) (error, error) {
	var v T
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, err
	}
	return PT(&v), nil
}

// wireError is an error as it travels.
type wireError struct {
	Message string          `json:"message"`
	Kinds   []string        `json:"kinds,omitempty"`
	Type    string          `json:"type,omitempty"`
	Detail  json.RawMessage `json:"detail,omitempty"`
}

func encodeError(err error) *wireError {
	if err == nil {
		return nil
	}
	w := &wireError{Message: err.Error()}
	for _, s := range sentinels {
		if errors.Is(err, s.err) {
			w.Kinds = append(w.Kinds, s.kind)
		}
	}
	for _, t := range typedErrors {
		if v, ok := t.match(err); ok {
			if b, merr := json.Marshal(v); merr == nil {
				w.Type, w.Detail = t.kind, b
			}
			break
		}
	}
	return w
}

// Error is a server's error on the client: its message word for word (the
// CLI prints the same line either way) and the identities it carried.
type Error struct {
	Message string
	wrapped []error
}

func (e *Error) Error() string   { return e.Message }
func (e *Error) Unwrap() []error { return e.wrapped }

func (w *wireError) decode() error {
	if w == nil {
		return nil
	}
	e := &Error{Message: w.Message}
	for _, k := range w.Kinds {
		for _, s := range sentinels {
			if s.kind == k {
				e.wrapped = append(e.wrapped, s.err)
			}
		}
	}
	for _, t := range typedErrors {
		if t.kind == w.Type {
			if typed, err := t.decode(w.Detail); err == nil {
				e.wrapped = append(e.wrapped, typed)
			}
		}
	}
	return e
}
