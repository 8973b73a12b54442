package cli

import (
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"github.com/tenantdesk/tenantdesk/tenant/settings"
)

// clearSettingsEnv makes the test independent of the shell it runs in.
func clearSettingsEnv(t *testing.T) {
	t.Helper()
	for _, d := range settings.Defs {
		for _, name := range d.Env {
			t.Setenv(name, "")
		}
	}
}

// Every setting set through the CLI is read back by the next process (a
// restart: each cli call opens and closes the file), and a flag or an
// environment variable overrides it.
func TestSettingsSetSurviveRestartAndOverride(t *testing.T) {
	clearSettingsEnv(t)
	dir := t.TempDir()
	db := filepath.Join(dir, "td.db")
	cert, key := filepath.Join(dir, "c.pem"), filepath.Join(dir, "k.pem")
	for _, f := range []string{cert, key} {
		if err := os.WriteFile(f, []byte("pem"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	values := map[settings.Key][2]string{ // given, then as kept
		settings.PublicURL:      {"https://td.example.com/", "https://td.example.com"},
		settings.Addr:           {"127.0.0.1:9123", "127.0.0.1:9123"},
		settings.TLSCert:        {cert, cert},
		settings.TLSKey:         {key, key},
		settings.TrustedProxies: {"10.0.0.1 10.1.0.0/16", "10.0.0.1/32,10.1.0.0/16"},
		settings.DevplHost:      {"https://devpl.example.com", "https://devpl.example.com"},
		settings.DevplAPIPath:   {"/api/config/v1/marketplaces", "/api/config/v1/marketplaces"},
		settings.DevplEnvName:   {"production", "production"},
		settings.DevplEnvKey:    {"k-123", "k-123"},
		settings.DevplEnvSecret: {"very-secret-devpl", "••••••••"},
		settings.DevplRefresh:   {"1h", "1h0m0s"},
	}
	for _, d := range settings.Defs {
		in, want := values[d.Key][0], values[d.Key][1]
		if code, _, errOut := cli(t, "", "--db", db, "settings", "set", string(d.Key), in); code != 0 {
			t.Fatalf("set %s: %s", d.Key, errOut)
		}
		code, out, errOut := cli(t, "", "--db", db, "settings", "get", string(d.Key))
		if code != 0 || out != want+"\n" {
			t.Fatalf("get %s after restart: %d %q %s, want %q", d.Key, code, out, errOut, want)
		}
	}

	// The global flags and variables beat what is stored.
	t.Setenv("TENANTDESK_ADDR", "127.0.0.1:9200")
	t.Setenv("MNO_DEVPL_HOST", "https://env.example.com")
	_, out, _ := cli(t, "", "--db", db, "--public-url", "https://flag.example.com", "settings")
	for _, want := range []string{
		"addr              127.0.0.1:9200",
		"environment TENANTDESK_ADDR (overrides stored 127.0.0.1:9123)",
		"https://flag.example.com",
		"flag --public-url (overrides stored https://td.example.com)",
		"environment MNO_DEVPL_HOST (overrides stored https://devpl.example.com)",
		"devpl-refresh     1h0m0s",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("settings list lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "very-secret-devpl") {
		t.Fatalf("secret printed:\n%s", out)
	}
	code, out, _ := cli(t, "", "--db", db, "settings", "get", "addr")
	if code != 0 || out != "127.0.0.1:9200\n" {
		t.Fatalf("get addr under TENANTDESK_ADDR: %q", out)
	}

	// Unset: back to the default.
	t.Setenv("TENANTDESK_ADDR", "")
	if code, _, errOut := cli(t, "", "--db", db, "settings", "unset", "addr"); code != 0 {
		t.Fatal(errOut)
	}
	if _, out, _ := cli(t, "", "--db", db, "settings", "get", "addr"); out != settings.DefaultAddr+"\n" {
		t.Fatalf("addr after unset: %q", out)
	}
}

func TestSettingsBadInputWritesNothing(t *testing.T) {
	clearSettingsEnv(t)
	db := filepath.Join(t.TempDir(), "td.db")
	if code, _, errOut := cli(t, "", "--db", db, "settings", "set", "addr", "127.0.0.1:9001"); code != 0 {
		t.Fatal(errOut)
	}
	_, before, _ := cli(t, "", "--db", db, "settings")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"set", "addr", "nowhere"}, "addr: \"nowhere\": want HOST:PORT"},
		{[]string{"set", "public-url", "td.example.com"}, "public-url: \"td.example.com\" is not an http(s) URL"},
		{[]string{"set", "tls-cert", "/no/such/cert.pem"}, "tls-cert: cannot read /no/such/cert.pem"},
		{[]string{"set", "devpl-refresh", "soon"}, "devpl-refresh: \"soon\" is not a duration"},
		{[]string{"set", "trusted-proxies", "10.0.0.0/33"}, "trusted-proxies: \"10.0.0.0/33\": not an IP address or CIDR"},
		{[]string{"set", "colour", "red"}, "unknown setting \"colour\""},
		{[]string{"unset", "colour"}, "unknown setting \"colour\""},
		{[]string{"get", "colour"}, "unknown setting \"colour\""},
		{[]string{"set", "addr"}, "want KEY VALUE"},
		{[]string{"frob"}, "unknown verb"},
	} {
		code, out, errOut := cli(t, "", append([]string{"--db", db, "settings"}, c.args...)...)
		if code == 0 || !strings.Contains(errOut, c.want) || out != "" {
			t.Errorf("settings %v: code %d, stdout %q, stderr %q; want non-zero and %q", c.args, code, out, errOut, c.want)
		}
	}
	if _, after, _ := cli(t, "", "--db", db, "settings"); after != before {
		t.Fatalf("refused changes wrote something:\nbefore\n%s\nafter\n%s", before, after)
	}
}

// The developer-platform secret can be given on standard input, and is
// never printed: not by set, get, list, nor in the export.
func TestSettingsSecretMasked(t *testing.T) {
	clearSettingsEnv(t)
	db := filepath.Join(t.TempDir(), "td.db")
	const secret = "devpl-secret-never-shown"
	code, out, errOut := cli(t, secret+"\n", "--db", db, "settings", "set", "devpl-env-secret", "-")
	if code != 0 {
		t.Fatal(errOut)
	}
	all := out + errOut
	for _, args := range [][]string{{"settings"}, {"settings", "get", "devpl-env-secret"}, {"export"}} {
		code, out, errOut := cli(t, "", append([]string{"--db", db}, args...)...)
		if code != 0 {
			t.Fatalf("%v: %s", args, errOut)
		}
		all += out + errOut
	}
	if strings.Contains(all, secret) {
		t.Fatalf("secret shown:\n%s", all)
	}
	if !regexp.MustCompile(`devpl-env-secret +•••••••• +stored`).MatchString(all) {
		t.Fatalf("list does not show the masked stored secret:\n%s", all)
	}
}

// serve starts on the address and public URL kept in the data file, and a
// bad stored value stops it with a message naming the key.
func TestServeUsesStoredSettings(t *testing.T) {
	clearSettingsEnv(t)
	db := filepath.Join(t.TempDir(), "td.db")
	addr := freeAddr(t)
	for _, kv := range [][2]string{{"addr", addr}, {"public-url", "https://td.example.com"}} {
		if code, _, errOut := cli(t, "", "--db", db, "settings", "set", kv[0], kv[1]); code != 0 {
			t.Fatal(errOut)
		}
	}
	cmd := subprocess(t, "--db", db, "serve")
	line, stderr := startServe(t, cmd)
	defer func() { _ = cmd.Process.Signal(syscall.SIGTERM); _ = cmd.Wait() }()
	if line != "listening on https://td.example.com\n" {
		t.Fatalf("announced %q; stderr %s", line, stderr.String())
	}
	resp, err := http.Get("http://" + addr + "/healthz")
	if err != nil {
		t.Fatalf("not listening on the stored address %s: %v", addr, err)
	}
	resp.Body.Close()
	_ = cmd.Process.Signal(syscall.SIGTERM)
	_ = cmd.Wait()

	t.Setenv("TENANTDESK_TLS_CERT", "/no/such/cert.pem")
	code, _, errOut := cli(t, "", "--db", db, "serve")
	if code == 0 || !strings.Contains(errOut, "tls-cert (from TENANTDESK_TLS_CERT): cannot read /no/such/cert.pem") {
		t.Fatalf("serve with a bad variable: %d %q", code, errOut)
	}
}
