package settings

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/tenantdesk/tenantdesk/tenant"
	"github.com/tenantdesk/tenantdesk/tenant/devpl"
)

// Source is where a resolved value came from.
type Source int

const (
	FromDefault Source = iota
	FromStored
	FromEnv
	FromFlag
)

// MarshalText spells the source as String does, for JSON answers.
func (s Source) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText reads what MarshalText wrote.
func (s *Source) UnmarshalText(b []byte) error {
	for _, c := range []Source{FromDefault, FromStored, FromEnv, FromFlag} {
		if c.String() == string(b) {
			*s = c
			return nil
		}
	}
	return fmt.Errorf("unknown settings source %q", b)
}

func (s Source) String() string {
	switch s {
	case FromStored:
		return "stored"
	case FromEnv:
		return "environment"
	case FromFlag:
		return "flag"
	}
	return "default"
}

// Overrides are the values that beat the stored ones: the flags given on
// the command line and the process environment.
type Overrides struct {
	// Flags holds the value of each flag that was given, by key. Only
	// flags actually given belong here, not their defaults.
	Flags map[Key]string
	// Getenv reads the environment; nil reads nothing (no overrides).
	Getenv func(string) string
}

// FromProcess is the overrides of this process's environment plus flags.
func FromProcess(flags map[Key]string) Overrides {
	return Overrides{Flags: flags, Getenv: os.Getenv}
}

// Value is one resolved setting.
type Value struct {
	Key    Key    `json:"key"`
	Value  string `json:"value"` // the effective value ("" = unset)
	Source Source `json:"source"`
	// Origin names the flag or variable when Source is FromFlag or FromEnv
	// ("--addr", "TENANTDESK_ADDR").
	Origin string `json:"origin,omitempty"`
	// Stored is what the data file holds, and HasStored whether it holds
	// anything: the GUI edits this even while a flag overrides it.
	Stored    string `json:"stored,omitempty"`
	HasStored bool   `json:"has_stored"`
	Secret    bool   `json:"secret,omitempty"`
	// Problem is set when the effective value does not validate (a flag,
	// a variable, or a stored file that has gone away).
	Problem string `json:"problem,omitempty"`
}

// Masked is v with a secret's values replaced by the mask: what may leave
// the process (CLI output, the GUI, a remote client, an export).
func (v Value) Masked() Value {
	if v.Secret {
		v.Value, v.Stored = Mask(v.Value), Mask(v.Stored)
	}
	return v
}

// Shown is the value as it may be printed: secrets masked.
func (v Value) Shown() string {
	if v.Secret {
		return Mask(v.Value)
	}
	return v.Value
}

// ShownStored is the stored value as it may be printed: secrets masked.
func (v Value) ShownStored() string {
	if v.Secret {
		return Mask(v.Stored)
	}
	return v.Stored
}

// Overridden reports whether a flag or variable hides a stored value.
func (v Value) Overridden() bool {
	return v.HasStored && (v.Source == FromFlag || v.Source == FromEnv)
}

// Describe says where the value comes from, for people: "stored",
// "flag --addr", "environment TENANTDESK_ADDR (overrides stored)".
func (v Value) Describe() string {
	s := v.Source.String()
	switch v.Source {
	case FromFlag:
		s = "flag " + v.Origin
	case FromEnv:
		s = "environment " + v.Origin
	}
	if v.Overridden() {
		s += " (overrides stored)"
	}
	return s
}

// Resolved is every setting after precedence.
type Resolved struct {
	values map[Key]Value
}

// Resolve applies flag > environment > stored > default to every setting.
// A flag, variable or stored value that does not validate is kept with its
// Problem set (so `tenantdesk settings` can still show and fix it); the
// returned error joins those problems, and callers that are about to use
// the values (serve, the GUI's listener) refuse to go on with it.
func Resolve(stored map[Key]string, ov Overrides) (Resolved, error) {
	r := Resolved{values: make(map[Key]Value, len(Defs))}
	var errs []error
	for _, d := range Defs {
		v := Value{Key: d.Key, Secret: d.Secret, Source: FromDefault, Value: d.Default}
		v.Stored, v.HasStored = stored[d.Key]
		switch {
		case flagGiven(ov, d):
			v.Source, v.Origin, v.Value = FromFlag, "--"+d.Flag, ov.Flags[d.Key]
		case envGiven(ov, d) != "":
			name := envGiven(ov, d)
			v.Source, v.Origin, v.Value = FromEnv, name, ov.Getenv(name)
		case v.HasStored:
			v.Source, v.Value = FromStored, v.Stored
		}
		if v.Source != FromDefault {
			clean, err := d.validate(v.Value)
			if err != nil {
				var se *Error
				if errors.As(err, &se) {
					se.Source = v.sourceName()
				}
				v.Problem = err.Error()
				errs = append(errs, err)
			} else {
				v.Value = clean
			}
		}
		r.values[d.Key] = v
	}
	// The listener's certificate and key go together.
	cert, key := r.values[TLSCert], r.values[TLSKey]
	if (cert.Value == "") != (key.Value == "") {
		missing := key
		if cert.Value == "" {
			missing = cert
		}
		err := &Error{Key: missing.Key, Err: errors.New("tls-cert and tls-key go together: give both or neither")}
		missing.Problem = err.Error()
		r.values[missing.Key] = missing
		errs = append(errs, err)
	}
	if pu := r.values[PublicURL]; pu.Source == FromDefault {
		pu.Value = DefaultPublicURL(r.values[Addr].Value, r.values[TLSCert].Value != "")
		r.values[PublicURL] = pu
	}
	return r, errors.Join(errs...)
}

func (v Value) sourceName() string {
	switch v.Source {
	case FromFlag, FromEnv:
		return v.Origin
	}
	return v.Source.String()
}

func flagGiven(ov Overrides, d Def) bool {
	if d.Flag == "" || ov.Flags == nil {
		return false
	}
	_, ok := ov.Flags[d.Key]
	return ok
}

// envGiven is the first of d's variables that is set and not blank.
func envGiven(ov Overrides, d Def) string {
	if ov.Getenv == nil {
		return ""
	}
	for _, name := range d.Env {
		if strings.TrimSpace(ov.Getenv(name)) != "" {
			return name
		}
	}
	return ""
}

// DefaultPublicURL is the public URL when none is set: the listener's own
// address, over HTTPS when it has a certificate.
func DefaultPublicURL(addr string, tls bool) string {
	if tls {
		return "https://" + addr
	}
	return "http://" + addr
}

// Value returns the resolved setting for key.
func (r Resolved) Value(key Key) Value { return r.values[key] }

// Get returns the effective value of key ("" when unset).
func (r Resolved) Get(key Key) string { return r.values[key].Value }

// All returns every setting in Defs order.
func (r Resolved) All() []Value {
	out := make([]Value, 0, len(Defs))
	for _, d := range Defs {
		out = append(out, r.values[d.Key])
	}
	return out
}

// Addr is the listener address.
func (r Resolved) Addr() string { return r.Get(Addr) }

// PublicURL is the base URL tenants reach the listener on, without a
// trailing slash.
func (r Resolved) PublicURL() string { return r.Get(PublicURL) }

// TLSFiles are the listener's certificate and key files ("" = plain HTTP).
func (r Resolved) TLSFiles() (cert, key string) { return r.Get(TLSCert), r.Get(TLSKey) }

// TrustedProxies are the proxies whose X-Forwarded-For is believed.
func (r Resolved) TrustedProxies() []netip.Prefix {
	p, _ := ParseTrustedProxies(r.Get(TrustedProxies))
	return p
}

// Devpl is the developer-platform configuration (SPEC §3.4) the settings
// resolve to: each devpl-* value after flag > environment > stored >
// default. It is the one resolution of these settings. The error names a
// refresh interval that does not parse (or is negative) and where it came
// from. The shortest interval is the caller's to enforce: `settings set`
// refuses less than MinRefresh, a variable is taken as given and the
// re-sync raises it to its minimum.
func (r Resolved) Devpl() (devpl.Config, error) {
	c := devpl.Config{
		Host: r.Get(DevplHost), APIPath: r.Get(DevplAPIPath), EnvName: r.Get(DevplEnvName),
		EnvKey: r.Get(DevplEnvKey), EnvSecret: tenant.Secret(r.Get(DevplEnvSecret)),
	}
	switch v := r.values[DevplRefresh]; v.Value {
	case "", "0", "off":
	default:
		d, err := time.ParseDuration(v.Value)
		if err != nil || d < 0 {
			return c, &Error{Key: DevplRefresh, Source: v.sourceName(), Err: fmt.Errorf("%q: want a duration such as 1h or 30m (or off)", v.Value)}
		}
		c.Refresh = d
	}
	return c, nil
}

// String masks
// secrets: Resolved is never meant to be printed whole.
func (r Resolved) String() string {
	var b strings.Builder
	for _, v := range r.All() {
		fmt.Fprintf(&b, "%s=%s ", v.Key, v.Shown())
	}
	return strings.TrimSpace(b.String())
}

// LogValue keeps the secret out of logs.
func (v Value) LogValue() slog.Value {
	return slog.GroupValue(slog.String("key", string(v.Key)), slog.String("value", v.Shown()), slog.String("source", v.Describe()))
}
