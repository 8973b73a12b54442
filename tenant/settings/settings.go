// Package settings owns the app-wide settings kept in the data file: which
// keys exist, what each accepts (one validation function per key), which
// flag and environment variables stand for it, and the one resolution
// rule every caller uses: flag > environment > stored > default (SPEC §2).
// The GUI's Settings screen, `serve`, the CLI and `tenantdesk settings` all
// go through Resolve, so what one of them saves is what the others start
// with.
package settings

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/tenantdesk/tenantdesk/tenant/devpl"
)

// Key names a setting as the CLI spells it (`tenantdesk settings set KEY`).
type Key string

// The settings. Add keys here (and to Defs); never rename one: the name is
// what `tenantdesk settings` users type and what the data file holds.
const (
	PublicURL      Key = "public-url"
	Addr           Key = "addr"
	TLSCert        Key = "tls-cert"
	TLSKey         Key = "tls-key"
	TrustedProxies Key = "trusted-proxies"
	DevplHost      Key = "devpl-host"
	DevplAPIPath   Key = "devpl-api-path"
	DevplEnvName   Key = "devpl-env-name"
	DevplEnvKey    Key = "devpl-env-key"
	DevplEnvSecret Key = "devpl-env-secret"
	DevplRefresh   Key = "devpl-refresh"
)

// DefaultAddr is the listener address when nothing else names one.
const DefaultAddr = "127.0.0.1:8765"

// Def describes one setting.
type Def struct {
	Key Key
	// Flag is the global command-line flag that overrides it ("" = none).
	Flag string
	// Env are the environment variables that override it, first set wins.
	Env []string
	// Default is the value when nothing is set; PublicURL's default is
	// derived from the resolved address instead.
	Default string
	// Secret values are never printed unmasked, logged or exported.
	Secret bool
	// HostLevel settings name things of the machine the owner runs on
	// (its files, its address, the proxies in front of it): they change
	// only there, never through the admin address (SPEC §15).
	HostLevel bool
	// Help is one line for `tenantdesk settings` and the GUI.
	Help string
	// check validates a value and returns it in its stored form.
	check func(string) (string, error)
}

// Defs lists every setting, in the order they are shown.
var Defs = []Def{
	{Key: PublicURL, Flag: "public-url", Env: []string{"TENANTDESK_PUBLIC_URL"},
		Help: "base URL the tenants reach the listener on (default http://<addr>)", check: checkPublicURL},
	{Key: Addr, HostLevel: true, Flag: "addr", Env: []string{"TENANTDESK_ADDR"}, Default: DefaultAddr,
		Help: "listener address HOST:PORT", check: checkAddr},
	{Key: TLSCert, HostLevel: true, Flag: "tls-cert", Env: []string{"TENANTDESK_TLS_CERT"},
		Help: "PEM certificate (chain) file: the listener speaks HTTPS itself", check: checkReadableFile},
	{Key: TLSKey, HostLevel: true, Flag: "tls-key", Env: []string{"TENANTDESK_TLS_KEY"},
		Help: "PEM private key file of tls-cert", check: checkReadableFile},
	{Key: TrustedProxies, HostLevel: true, Flag: "trusted-proxies", Env: []string{"TENANTDESK_TRUSTED_PROXIES"},
		Help: "IPs or CIDRs of reverse proxies whose X-Forwarded-For is believed (comma-separated)", check: checkTrustedProxies},
	{Key: DevplHost, Env: []string{devpl.EnvHost}, Default: devpl.DefaultHost,
		Help: "developer platform host, an http(s) URL", check: checkDevplHost},
	{Key: DevplAPIPath, Env: []string{devpl.EnvAPIPath}, Default: devpl.DefaultAPIPath,
		Help: "developer platform path of the marketplaces document", check: checkAPIPath},
	{Key: DevplEnvName, Env: []string{devpl.EnvName},
		Help: "developer platform environment name (a label, not sent)", check: checkLabel},
	{Key: DevplEnvKey, Env: []string{devpl.EnvKey},
		Help: "developer platform environment key", check: checkToken},
	{Key: DevplEnvSecret, Env: []string{devpl.EnvSecret}, Secret: true,
		Help: "developer platform environment secret", check: checkToken},
	{Key: DevplRefresh, Env: []string{devpl.EnvRefresh},
		Help: "re-sync from the developer platform this often, e.g. 1h (off when unset or off)", check: checkRefresh},
}

// ErrUnknownKey is returned for a key that is not in Defs.
var ErrUnknownKey = errors.New("unknown setting")

// Lookup returns the definition of key.
func Lookup(key string) (Def, error) {
	for _, d := range Defs {
		if string(d.Key) == key {
			return d, nil
		}
	}
	return Def{}, fmt.Errorf("%w %q (known: %s)", ErrUnknownKey, key, strings.Join(keyNames(), ", "))
}

func keyNames() []string {
	names := make([]string, len(Defs))
	for i, d := range Defs {
		names[i] = string(d.Key)
	}
	return names
}

// Validate checks value for key and returns it in the form it is stored
// and used in (trimmed, absolute path, canonical list). The error names
// the key and says what it wants.
func Validate(key Key, value string) (string, error) {
	d, err := Lookup(string(key))
	if err != nil {
		return "", err
	}
	return d.validate(value)
}

func (d Def) validate(value string) (string, error) {
	v, err := d.check(strings.TrimSpace(value))
	if err != nil {
		return "", &Error{Key: d.Key, Err: err}
	}
	return v, nil
}

// Error is a bad value for one setting.
type Error struct {
	Key Key
	// Source says where the bad value came from when it was not typed
	// just now ("--addr", "TENANTDESK_ADDR", "stored").
	Source string
	Err    error
}

func (e *Error) Error() string {
	if e.Source != "" {
		return fmt.Sprintf("%s (from %s): %v", e.Key, e.Source, e.Err)
	}
	return fmt.Sprintf("%s: %v", e.Key, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

type wireError struct {
	Key     Key    `json:"key"`
	Source  string `json:"source,omitempty"`
	Message string `json:"message"`
}

// MarshalJSON carries the error to a remote client with its key.
func (e *Error) MarshalJSON() ([]byte, error) {
	msg := ""
	if e.Err != nil {
		msg = e.Err.Error()
	}
	return json.Marshal(wireError{e.Key, e.Source, msg})
}

// UnmarshalJSON reads what MarshalJSON wrote.
func (e *Error) UnmarshalJSON(b []byte) error {
	var w wireError
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	e.Key, e.Source, e.Err = w.Key, w.Source, errors.New(w.Message)
	return nil
}

// Mask is how a secret value is shown.
func Mask(v string) string {
	if v == "" {
		return ""
	}
	return "••••••••"
}
