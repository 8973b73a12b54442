package tenant

// This file is what every call to one of a tenant's HTTP APIs (the
// account API of tenant/api, Connec! of tenant/connec) says when it fails:
// one error type, one 401 sentinel, one way to quote an answer.

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"unicode/utf8"
)

// ErrUnauthorized matches (errors.Is) an answer 401 from a tenant's API:
// api.id or api.key is wrong for this tenant.
var ErrUnauthorized = errors.New("credentials rejected")

// ErrBadHost marks a call that could not be made because the tenant's
// host setting is unusable: trying again cannot help until someone edits
// the tenant.
var ErrBadHost = errors.New("configuration")

// CallError is a failed call to a tenant's API. Status is 0 when no HTTP
// answer came back (network error, timeout, cancellation: Err says which).
type CallError struct {
	Op     string // "create bill", "connec POST invoices"
	Tenant Key
	Status int
	// Details is what the answer said went wrong, one entry per message,
	// ready to show (already redacted).
	Details []string
	Err     error
}

func (e *CallError) Error() string {
	var b strings.Builder
	if e.Tenant != "" {
		fmt.Fprintf(&b, "tenant %s: ", e.Tenant)
	}
	b.WriteString(e.Op)
	if e.Status != 0 {
		fmt.Fprintf(&b, ": HTTP %d", e.Status)
		if e.Status == http.StatusUnauthorized {
			b.WriteString(" (check api.id and api.key)")
		}
	}
	for _, d := range e.Details {
		if d != "" {
			fmt.Fprintf(&b, ": %s", d)
		}
	}
	if e.Err != nil {
		fmt.Fprintf(&b, ": %v", e.Err)
	}
	return b.String()
}

func (e *CallError) Unwrap() error { return e.Err }

// Is makes errors.Is(err, ErrUnauthorized) true for an answer 401.
func (e *CallError) Is(target error) bool {
	return target == ErrUnauthorized && e.Status == http.StatusUnauthorized
}

// Retryable reports whether trying again later may succeed: no answer at
// all (network, timeout) unless the host setting is unusable, a server
// error, 408, 425 or 429. Other 4xx answers say the request itself is
// wrong.
func (e *CallError) Retryable() bool {
	switch {
	case e.Status == 0:
		return !errors.Is(e.Err, ErrBadHost)
	case e.Status >= 500:
		return true
	}
	return e.Status == http.StatusRequestTimeout || e.Status == http.StatusTooEarly || e.Status == http.StatusTooManyRequests
}

// maxSnippet bounds how much of an answer a message quotes.
const maxSnippet = 200

// Snippet quotes an answer body in a message: white space folded, at most
// 200 bytes (cut on a character boundary), "(empty body)" when there is
// nothing. Callers redact it when the body may echo a secret.
func Snippet(raw []byte) string {
	s := strings.Join(strings.Fields(string(raw)), " ")
	if s == "" {
		return "(empty body)"
	}
	if len(s) <= maxSnippet {
		return s
	}
	cut := maxSnippet
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
