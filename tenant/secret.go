package tenant

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"strconv"
	"strings"
	"time"
)

// Mask is what a Secret shows instead of itself. It has a fixed length and
// carries no character of the secret.
const Mask = "••••••••"

// How a Secret travels:
//
//   - fmt (every verb), slog, and encoding/json print Mask, so a Config
//     handed to a logger, a JSON answer or an export by mistake leaks nothing;
//   - Config.MarshalStored and FromStored are the only path that writes and
//     reads the real value (the store, through Registry);
//   - Reveal gives the value to the code that sends it (outgoing Basic auth);
//   - Equal checks an incoming credential in constant time.

// String returns Mask, or "" when the secret is unset.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return Mask
}

// Format prints the mask for every verb, %x and %q included.
func (s Secret) Format(f fmt.State, verb rune) {
	if verb == 'q' {
		_, _ = io.WriteString(f, strconv.Quote(s.String()))
		return
	}
	_, _ = io.WriteString(f, s.String())
}

// GoString keeps %#v from printing the value.
func (s Secret) GoString() string { return fmt.Sprintf("tenant.Secret(%q)", s.String()) }

// LogValue makes slog print the mask.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalJSON writes the mask: JSON leaving the process is for display.
// Storage goes through Config.MarshalStored.
func (s Secret) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }

// UnmarshalJSON reads the real value (stored documents, imports).
func (s *Secret) UnmarshalJSON(b []byte) error {
	var v string
	if err := json.Unmarshal(b, &v); err != nil {
		return fmt.Errorf("secret must be a string: %w", err)
	}
	*s = Secret(v)
	return nil
}

// Reveal returns the secret itself, for the code that must send it.
func (s Secret) Reveal() string { return string(s) }

// Equal reports whether other is the secret, in time that depends on
// neither value: both are hashed first so that even their lengths stay
// hidden. An unset secret equals nothing.
func (s Secret) Equal(other string) bool {
	if s == "" {
		return false
	}
	a := sha256.Sum256([]byte(s))
	b := sha256.Sum256([]byte(other))
	return subtle.ConstantTimeCompare(a[:], b[:]) == 1
}

// maxDuration bounds a Duration read from JSON so seconds never overflow.
const maxDuration = float64(math.MaxInt64 / int64(time.Second))

// MarshalJSON writes the duration in seconds (a JSON number).
func (d Duration) MarshalJSON() ([]byte, error) {
	td := time.Duration(d)
	if td%time.Second == 0 {
		return strconv.AppendInt(nil, int64(td/time.Second), 10), nil
	}
	return strconv.AppendFloat(nil, td.Seconds(), 'f', -1, 64), nil
}

// UnmarshalJSON reads seconds as a number (300, 2.5) or a string ("300",
// and Go durations such as "5m"); null leaves it unset.
func (d *Duration) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		v, err := ParseSeconds(s)
		if err != nil {
			return err
		}
		*d = v
		return nil
	}
	var f float64
	if err := json.Unmarshal(b, &f); err != nil {
		return fmt.Errorf("must be a number of seconds")
	}
	v, err := secondsToDuration(f)
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// ParseSeconds reads "300", "2.5" (seconds) or a Go duration like "5m".
func ParseSeconds(s string) (Duration, error) {
	s = strings.TrimSpace(s)
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		return secondsToDuration(f)
	}
	td, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("must be a number of seconds")
	}
	return Duration(td), nil
}

func secondsToDuration(f float64) (Duration, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) || math.Abs(f) > maxDuration {
		return 0, fmt.Errorf("must be a number of seconds")
	}
	return Duration(time.Duration(f * float64(time.Second))), nil
}
