package tenant

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
)

// String is a one-line summary without the secret.
func (c Config) String() string {
	return fmt.Sprintf("tenant %s (%q) api.id=%s api.key=%s", c.Key, c.DisplayName, c.API.ID, c.API.Key)
}

// GoString keeps %#v from dumping the secret.
func (c Config) GoString() string { return "tenant.Config{" + c.String() + "}" }

// LogValue lets slog log a whole Config: the public fields only.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("key", string(c.Key)),
		slog.String("display_name", c.DisplayName),
		slog.Bool("enabled", c.Enabled),
		slog.String("api.id", c.API.ID),
		slog.Any("api.key", c.API.Key),
		slog.String("api.host", c.API.Host),
		slog.String("sso.idp", c.SSO.IdP),
		slog.String("connec.host", c.Connec.Host),
	)
}

// storedAPI is API with the secret as plain text, for the whole document
// (MarshalStored), or without it, for the store (ToStored: the store seals
// the key apart). TestStoredShapeMatches keeps its fields in step with API.
type storedAPI struct {
	ID   string `json:"id"`
	Key  string `json:"key,omitempty"`
	Host string `json:"host"`
	Base string `json:"base,omitempty"`
}

// storedConfig shadows Config.API (a field at depth 0 wins over the
// embedded one for encoding/json).
type storedConfig struct {
	Config
	API storedAPI `json:"api"`
}

// MarshalStored encodes the whole configuration, secret included: what an
// import file holds and what a client sends its owner to save. Plain
// json.Marshal of a Config masks the secret instead, and the store gets
// the secret apart, to seal it (ToStored).
func (c *Config) MarshalStored() ([]byte, error) {
	b, err := json.Marshal(storedConfig{Config: *c, API: storedAPI{
		ID: c.API.ID, Key: c.API.Key.Reveal(), Host: c.API.Host, Base: c.API.Base,
	}})
	if err != nil {
		return nil, fmt.Errorf("encode tenant %q: %w", c.Key, err)
	}
	return b, nil
}

// RedactText replaces every occurrence of the secret in text, for error
// messages built from answers or transport errors that might echo it.
func (s Secret) RedactText(text string) string {
	if s == "" {
		return text
	}
	return strings.ReplaceAll(text, string(s), "[redacted]")
}

// Redact returns err with the secret replaced in its message; the result
// still unwraps to err, so errors.Is keeps working.
func (s Secret) Redact(err error) error {
	if err == nil || s == "" || !strings.Contains(err.Error(), string(s)) {
		return err
	}
	return &redactedError{msg: s.RedactText(err.Error()), err: err}
}

type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

// RedactURL drops user information ("user:pass@") from a configured URL
// before it appears in a message.
func RedactURL(raw string) string {
	if u, err := url.Parse(raw); err == nil && u.User != nil {
		u.User = nil
		return u.String()
	}
	if i := strings.LastIndex(raw, "@"); i >= 0 {
		if j := strings.Index(raw, "://"); j >= 0 && j < i {
			return raw[:j+3] + raw[i+1:]
		}
		return raw[i+1:]
	}
	return raw
}
