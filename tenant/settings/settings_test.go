package settings_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tenantdesk/tenantdesk/store"
	"github.com/tenantdesk/tenantdesk/tenant/devpl"
	"github.com/tenantdesk/tenantdesk/tenant/settings"
)

func openDB(t *testing.T, path string) *store.DB {
	t.Helper()
	db, err := store.Open(path, store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	return db
}

func noEnv(string) string { return "" }

// A good value for each key, and what it is kept as.
func goodValues(t *testing.T) map[settings.Key][2]string {
	t.Helper()
	dir := t.TempDir()
	cert := filepath.Join(dir, "cert.pem")
	key := filepath.Join(dir, "key.pem")
	for _, f := range []string{cert, key} {
		if err := os.WriteFile(f, []byte("-----BEGIN X-----\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return map[settings.Key][2]string{
		settings.PublicURL:      {"https://td.example.com/", "https://td.example.com"},
		settings.Addr:           {"0.0.0.0:9443", "0.0.0.0:9443"},
		settings.TLSCert:        {cert, cert},
		settings.TLSKey:         {key, key},
		settings.TrustedProxies: {"10.0.0.1, 192.168.7.9/16 ::1", "10.0.0.1/32,192.168.0.0/16,::1/128"},
		settings.DevplHost:      {"https://developer.example.com", "https://developer.example.com"},
		settings.DevplAPIPath:   {"/api/config/v1/marketplaces", "/api/config/v1/marketplaces"},
		settings.DevplEnvName:   {"production", "production"},
		settings.DevplEnvKey:    {"env-key-1", "env-key-1"},
		settings.DevplEnvSecret: {"s3cr3t-value", "s3cr3t-value"},
		settings.DevplRefresh:   {"90m", "1h30m0s"},
	}
}

// Each setting survives closing and reopening the file, and a flag or
// variable beats it.
func TestEachSettingSurvivesRestartAndIsOverridden(t *testing.T) {
	good := goodValues(t)
	if len(good) != len(settings.Defs) {
		t.Fatalf("test covers %d keys, Defs has %d", len(good), len(settings.Defs))
	}
	for _, d := range settings.Defs {
		t.Run(string(d.Key), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "td.db")
			db := openDB(t, path)
			in, want := good[d.Key][0], good[d.Key][1]
			if err := settings.Apply(db, []settings.Change{{Key: d.Key, Value: in}}, time.Now()); err != nil {
				t.Fatal(err)
			}
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			db = openDB(t, path)
			defer db.Close()
			r, err := settings.Load(db, settings.Overrides{Getenv: noEnv})
			if err != nil {
				t.Fatal(err)
			}
			v := r.Value(d.Key)
			if v.Value != want || v.Source != settings.FromStored || v.Problem != "" {
				t.Fatalf("after reopen: %+v, want %q from stored", v, want)
			}

			// Environment beats stored.
			other := map[settings.Key]string{
				settings.PublicURL: "https://other.example.com", settings.Addr: "127.0.0.1:7000",
				settings.TLSCert: good[settings.TLSKey][1], settings.TLSKey: good[settings.TLSCert][1],
				settings.TrustedProxies: "172.16.0.0/12", settings.DevplHost: "https://other.example.com",
				settings.DevplAPIPath: "/other", settings.DevplEnvKey: "from-env", settings.DevplEnvName: "uat", settings.DevplEnvSecret: "from-env",
				settings.DevplRefresh: "2h0m0s",
			}[d.Key]
			env := map[string]string{d.Env[0]: other}
			r, _ = settings.Load(db, settings.Overrides{Getenv: func(k string) string { return env[k] }})
			v = r.Value(d.Key)
			if v.Value != other || v.Source != settings.FromEnv || v.Origin != d.Env[0] || !v.Overridden() {
				t.Fatalf("env %s=%q: got %+v", d.Env[0], other, v)
			}
			if v.Stored != want {
				t.Fatalf("stored value lost behind the override: %+v", v)
			}
			if d.Flag == "" {
				return
			}
			// A flag beats both.
			flagVal := good[d.Key][0]
			r, _ = settings.Load(db, settings.Overrides{Flags: map[settings.Key]string{d.Key: flagVal}, Getenv: func(k string) string { return env[k] }})
			v = r.Value(d.Key)
			if v.Value != want || v.Source != settings.FromFlag || v.Origin != "--"+d.Flag {
				t.Fatalf("flag --%s: got %+v", d.Flag, v)
			}
		})
	}
}

func TestDefaults(t *testing.T) {
	r, err := settings.Resolve(nil, settings.Overrides{})
	if err != nil {
		t.Fatal(err)
	}
	if r.Addr() != settings.DefaultAddr || r.PublicURL() != "http://"+settings.DefaultAddr {
		t.Fatalf("defaults: addr %q public %q", r.Addr(), r.PublicURL())
	}
	if r.Value(settings.PublicURL).Source != settings.FromDefault {
		t.Fatal("public URL should come from the default")
	}
	// The default public URL follows the resolved address.
	r, _ = settings.Resolve(map[settings.Key]string{settings.Addr: "0.0.0.0:9000"}, settings.Overrides{})
	if r.PublicURL() != "http://0.0.0.0:9000" {
		t.Fatalf("public URL %q does not follow the stored address", r.PublicURL())
	}
	if c, err := r.Devpl(); err != nil || c.Refresh != 0 || r.TrustedProxies() != nil {
		t.Fatal("devpl-refresh and trusted-proxies are off by default")
	}
}

func TestBadValuesAreRefusedAndNothingIsWritten(t *testing.T) {
	cases := []struct {
		key     settings.Key
		value   string
		message string
	}{
		{settings.PublicURL, "ftp://x.example.com", "not an http(s) URL"},
		{settings.PublicURL, "https://x.example.com/?a=b", "without query"},
		{settings.PublicURL, "td.example.com", "not an http(s) URL"},
		{settings.Addr, "localhost", "want HOST:PORT"},
		{settings.Addr, "127.0.0.1:99999", "not a number from 0 to 65535"},
		{settings.TLSCert, "/nonexistent/cert.pem", "cannot read"},
		{settings.TLSKey, os.TempDir(), "not a regular file"},
		{settings.TrustedProxies, "10.0.0.1, proxy.example.com", `"proxy.example.com": not an IP address or CIDR`},
		{settings.TrustedProxies, " , ", "empty"},
		{settings.DevplHost, "developer.example.com", "not an http(s) URL"},
		{settings.DevplAPIPath, "api/config", "starting with /"},
		{settings.DevplEnvKey, "", "empty"},
		{settings.DevplEnvSecret, "two words", "spaces"},
		{settings.DevplRefresh, "hourly", "not a duration"},
		{settings.DevplRefresh, "5s", "shorter than 1m0s"},
	}
	path := filepath.Join(t.TempDir(), "td.db")
	db := openDB(t, path)
	defer db.Close()
	if err := settings.Apply(db, []settings.Change{{Key: settings.Addr, Value: "127.0.0.1:9001"}}, time.Now()); err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		// The bad change rides with a good one: neither is written.
		err := settings.Apply(db, []settings.Change{{Key: settings.DevplEnvKey, Value: "fine"}, {Key: c.key, Value: c.value}}, time.Now())
		var se *settings.Error
		if !errors.As(err, &se) || se.Key != c.key || !strings.Contains(err.Error(), c.message) {
			t.Errorf("%s=%q: error %v, want a %s error saying %q", c.key, c.value, err, c.key, c.message)
		}
		if !strings.HasPrefix(err.Error(), string(c.key)+": ") {
			t.Errorf("%s=%q: message %q does not start with the key", c.key, c.value, err)
		}
	}
	r, _ := settings.Load(db, settings.Overrides{})
	for _, v := range r.All() {
		if v.Key == settings.Addr {
			if v.Stored != "127.0.0.1:9001" {
				t.Errorf("addr changed to %q", v.Stored)
			}
		} else if v.HasStored {
			t.Errorf("%s was written (%q) although its batch had a bad value", v.Key, v.Stored)
		}
	}
	if err := settings.Apply(db, []settings.Change{{Key: "colour", Value: "red"}}, time.Now()); !errors.Is(err, settings.ErrUnknownKey) {
		t.Errorf("unknown key: %v", err)
	}
}

func TestBadOverrideIsReportedNotUsed(t *testing.T) {
	r, err := settings.Resolve(map[settings.Key]string{settings.Addr: "127.0.0.1:9001"},
		settings.Overrides{Getenv: func(k string) string {
			if k == "TENANTDESK_ADDR" {
				return "nonsense"
			}
			return ""
		}})
	if err == nil || !strings.Contains(err.Error(), "addr (from TENANTDESK_ADDR)") {
		t.Fatalf("error %v, want one naming addr and TENANTDESK_ADDR", err)
	}
	if v := r.Value(settings.Addr); v.Problem == "" || v.Stored != "127.0.0.1:9001" {
		t.Fatalf("value %+v", v)
	}
}

func TestUnsetFallsBack(t *testing.T) {
	db := openDB(t, filepath.Join(t.TempDir(), "td.db"))
	defer db.Close()
	_ = settings.Apply(db, []settings.Change{{Key: settings.Addr, Value: "127.0.0.1:9001"}}, time.Now())
	if err := settings.Apply(db, []settings.Change{{Key: settings.Addr, Unset: true}}, time.Now()); err != nil {
		t.Fatal(err)
	}
	r, _ := settings.Load(db, settings.Overrides{})
	if v := r.Value(settings.Addr); v.HasStored || v.Value != settings.DefaultAddr || v.Source != settings.FromDefault {
		t.Fatalf("after unset: %+v", v)
	}
}

func TestSecretIsMasked(t *testing.T) {
	r, _ := settings.Resolve(map[settings.Key]string{settings.DevplEnvSecret: "s3cr3t-value"}, settings.Overrides{})
	v := r.Value(settings.DevplEnvSecret)
	c, _ := r.Devpl()
	if v.Shown() == "s3cr3t-value" || v.ShownStored() == "s3cr3t-value" || strings.Contains(r.String(), "s3cr3t") ||
		strings.Contains(fmt.Sprint(c), "s3cr3t") {
		t.Fatal("secret shown unmasked")
	}
	if c.EnvSecret.Reveal() != "s3cr3t-value" {
		t.Fatal("the secret itself must reach the developer-platform client")
	}
}

// The developer-platform settings resolve as every setting does: the
// environment over the stored value over the default; a blank variable
// counts as unset.
func TestDevplPrecedenceEnvOverStoredOverDefault(t *testing.T) {
	stored := map[settings.Key]string{
		settings.DevplHost: "https://stored.example.com", settings.DevplAPIPath: "/stored/path",
		settings.DevplEnvKey: "stored-key", settings.DevplEnvSecret: "stored-secret", settings.DevplRefresh: "2h0m0s",
	}
	env := map[string]string{devpl.EnvHost: "https://env.example.com", devpl.EnvKey: "env-key", devpl.EnvAPIPath: "  "}
	getenv := func(m map[string]string) settings.Overrides {
		return settings.Overrides{Getenv: func(name string) string { return m[name] }}
	}
	r, _ := settings.Resolve(stored, getenv(env))
	c, err := r.Devpl()
	if err != nil {
		t.Fatal(err)
	}
	if c.Host != "https://env.example.com" || c.EnvKey != "env-key" {
		t.Errorf("environment must win: host %q key %q", c.Host, c.EnvKey)
	}
	if c.APIPath != "/stored/path" || c.EnvSecret.Reveal() != "stored-secret" || c.Refresh != 2*time.Hour {
		t.Errorf("stored settings must fill the rest (a blank variable counts as unset): path %q refresh %v", c.APIPath, c.Refresh)
	}

	r, _ = settings.Resolve(nil, settings.Overrides{})
	d, err := r.Devpl()
	if err != nil {
		t.Fatal(err)
	}
	if d.Host != devpl.DefaultHost || d.APIPath != devpl.DefaultAPIPath || d.Refresh != 0 {
		t.Errorf("defaults: %+v", d)
	}
	if err := d.Check(); !errors.Is(err, devpl.ErrNotConfigured) || !strings.Contains(err.Error(), devpl.EnvSecret) {
		t.Errorf("no key or secret must say which variables to set, got %v", err)
	}

	r, _ = settings.Resolve(nil, getenv(map[string]string{devpl.EnvRefresh: "hourly"}))
	if _, err := r.Devpl(); err == nil || !strings.Contains(err.Error(), devpl.EnvRefresh) {
		t.Errorf("a bad refresh must name where it came from, got %v", err)
	}
	r, _ = settings.Resolve(map[settings.Key]string{settings.DevplRefresh: "off"}, settings.Overrides{})
	if c, _ := r.Devpl(); c.Refresh != 0 {
		t.Errorf("refresh off: %v", c.Refresh)
	}
	// A variable below the minimum that `settings set` refuses is taken as
	// given: the re-sync raises it to its minimum and says so.
	r, _ = settings.Resolve(nil, getenv(map[string]string{devpl.EnvRefresh: "20ms"}))
	if c, err := r.Devpl(); err != nil || c.Refresh != 20*time.Millisecond {
		t.Errorf("refresh from the environment: %v, %v", c.Refresh, err)
	}
}
