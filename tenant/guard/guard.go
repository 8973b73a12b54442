// Package guard keeps the listener's unauthenticated side cheap to refuse
// (SPEC §12): failures are counted in memory and written as one activity
// event per tenant, kind, reason and minute (Failures); an address that keeps
// failing is told to come back later (Backoff); the address is the TCP peer
// unless a trusted proxy names the client (ClientAddr); and what outsiders
// send is clipped before it reaches a log line (Clip).
package guard

import "unicode/utf8"

// MaxLogString is how much of an attacker-controlled string a log line or
// an event keeps.
const MaxLogString = 200

// Clip shortens s to at most MaxLogString bytes (on a rune boundary) and
// marks the cut.
func Clip(s string) string {
	if len(s) <= MaxLogString {
		return s
	}
	cut := MaxLogString
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…(truncated)"
}
