package tenant

import (
	"errors"
	"fmt"
)

// MaxKeyLen is the longest tenant key.
const MaxKeyLen = 64

// ErrInvalidKey is wrapped by every error ParseKey returns.
var ErrInvalidKey = errors.New("invalid tenant key")

// ParseKey is the one validation of a tenant key: `[a-z0-9][a-z0-9-]{0,63}`.
// It does not trim or lowercase; Normalize does that for configurations.
// The listener calls it on every request, so it avoids regexp.
func ParseKey(s string) (Key, error) {
	if s == "" {
		return "", fmt.Errorf("%w: empty", ErrInvalidKey)
	}
	if len(s) > MaxKeyLen {
		return "", fmt.Errorf("%w %q: longer than %d characters", ErrInvalidKey, clip(s), MaxKeyLen)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9':
		case c == '-' && i > 0:
		default:
			return "", fmt.Errorf("%w %q: use lowercase letters, digits and '-' (not first)", ErrInvalidKey, clip(s))
		}
	}
	return Key(s), nil
}

// clip shortens outside input quoted in an error message.
func clip(s string) string {
	const max = 70
	if len(s) <= max {
		return s
	}
	return s[:max] + "…"
}
