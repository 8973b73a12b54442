// Package devpl is the client of Maestrano's developer platform (SPEC §3.4,
// maestrano-protocol §1.4): it fetches the marketplaces document that lists
// every tenant the vendor's environment is linked to. It only fetches and
// checks the envelope; the document is imported by the one import path
// (tenant.ParseImport through admin), all or nothing.
//
// The wire, as the SDKs speak it: GET {host}{api_path} with HTTP Basic
// "environment key:environment secret" and a JSON Accept header. Ruby reads
// the whole path from MNO_DEVPL_API_PATH; Java's default path is
// /api/config/v1 with /marketplaces appended. An answer with a top-level
// "error" key, or without "marketplaces", is an error (Java's
// DevPlatformClient).
package devpl

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/tenantdesk/tenantdesk/tenant"
)

// Defaults when neither the environment nor a stored setting names them:
// Java's default host, and its default path with /marketplaces appended
// (the full path Ruby's examples put in MNO_DEVPL_API_PATH).
const (
	DefaultHost    = "https://developer.maestrano.com"
	DefaultAPIPath = "/api/config/v1/marketplaces"
)

// Environment variables Maestrano's SDKs read (maestrano-ruby
// auto_configure.rb). They win over stored settings.
const (
	EnvHost    = "MNO_DEVPL_HOST"
	EnvAPIPath = "MNO_DEVPL_API_PATH"
	EnvName    = "MNO_DEVPL_ENV_NAME"
	EnvKey     = "MNO_DEVPL_ENV_KEY"
	EnvSecret  = "MNO_DEVPL_ENV_SECRET"
	EnvRefresh = "TENANTDESK_DEVPL_REFRESH" // ours: the SDKs have no refresh variable
)

// Setting names kept in the data file (`tenantdesk settings`, SPEC §2).
const (
	SettingHost      = "devpl-host"
	SettingAPIPath   = "devpl-api-path"
	SettingEnvName   = "devpl-env-name"
	SettingEnvKey    = "devpl-env-key"
	SettingEnvSecret = "devpl-env-secret"
	SettingRefresh   = "devpl-refresh"
)

// MaxDocumentSize bounds the answer: the import refuses more anyway.
const MaxDocumentSize = tenant.MaxImportSize

// DefaultTimeout bounds one fetch when the caller's context has no
// earlier deadline.
const DefaultTimeout = 30 * time.Second

// Config is where the developer platform is and how to sign in to it.
type Config struct {
	Host      string
	APIPath   string
	EnvName   string // a label (MNO_DEVPL_ENV_NAME); not sent
	EnvKey    string
	EnvSecret tenant.Secret
	// Refresh is the periodic re-sync interval; 0 is off.
	Refresh time.Duration
}

// Lookup finds a value by name; ok is false when it is not set. The
// settings (tenant/settings) resolve a Config from the environment and
// the stored devpl-* settings.
type Lookup func(name string) (value string, ok bool)

// OSEnv is a Lookup over the process environment.
func OSEnv(name string) (string, bool) { return os.LookupEnv(name) }

// URL is {host}{api_path}, with any credentials in the host dropped.
func (c Config) URL() (string, error) {
	host := strings.TrimRight(strings.TrimSpace(c.Host), "/")
	u, err := url.Parse(host)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("developer platform host %q is not an http(s) URL (set %s or the setting %s)",
			tenant.RedactURL(host), EnvHost, SettingHost)
	}
	u.User = nil
	path := strings.TrimSpace(c.APIPath)
	if path != "" && !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	return strings.TrimRight(u.String(), "/") + path, nil
}

// Origin is the scheme and host, for messages: it names the host and
// never a credential.
func (c Config) Origin() string {
	u, err := url.Parse(strings.TrimSpace(c.Host))
	if err != nil || u.Host == "" {
		return tenant.RedactURL(strings.TrimSpace(c.Host))
	}
	return u.Scheme + "://" + u.Host
}

// Check reports what is missing before anything is sent.
func (c Config) Check() error {
	if _, err := c.URL(); err != nil {
		return err
	}
	var missing []string
	if c.EnvKey == "" {
		missing = append(missing, EnvKey+" (setting "+SettingEnvKey+")")
	}
	if c.EnvSecret == "" {
		missing = append(missing, EnvSecret+" (setting "+SettingEnvSecret+")")
	}
	if len(missing) > 0 {
		return fmt.Errorf("developer platform %s: %w: %s", c.Origin(), ErrNotConfigured, strings.Join(missing, ", "))
	}
	return nil
}

// Errors a fetch can match (errors.Is).
var (
	ErrNotConfigured = errors.New("not configured, missing")
	ErrUnauthorized  = errors.New("environment key or secret rejected")
	ErrAnswer        = errors.New("unusable answer")
	ErrUnreachable   = errors.New("unreachable")
)

// Error is a failed fetch. Its text names the host and never the secret.
type Error struct {
	Host   string // scheme://host
	Status int    // 0 when no HTTP answer came back
	Kind   error  // one of the Err… values above
	Detail string // already redacted
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "developer platform %s", e.Host)
	if e.Status != 0 {
		fmt.Fprintf(&b, ": HTTP %d", e.Status)
	}
	fmt.Fprintf(&b, ": %v", e.Kind)
	if e.Kind == ErrUnauthorized {
		fmt.Fprintf(&b, " (check %s and %s, or the settings %s and %s)", EnvKey, EnvSecret, SettingEnvKey, SettingEnvSecret)
	}
	if e.Detail != "" {
		b.WriteString(": " + e.Detail)
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Kind }

// Client fetches the marketplaces document.
type Client struct {
	Config Config
	HTTP   *http.Client // nil: a client with DefaultTimeout
}

// Fetch gets the marketplaces document and checks its envelope: it comes
// back only when it is a JSON object with a "marketplaces" key and no
// "error". The import then checks every marketplace.
func (c *Client) Fetch(ctx context.Context) ([]byte, error) {
	if err := c.Config.Check(); err != nil {
		return nil, err
	}
	target, _ := c.Config.URL()
	secret := c.Config.EnvSecret
	fail := func(status int, kind error, detail string) error {
		return &Error{Host: c.Config.Origin(), Status: status, Kind: kind, Detail: secret.RedactText(detail)}
	}
	hc := c.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: DefaultTimeout}
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultTimeout)
		defer cancel()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return nil, fail(0, ErrUnreachable, err.Error())
	}
	req.SetBasicAuth(c.Config.EnvKey, secret.Reveal())
	req.Header.Set("Accept", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fail(0, ErrUnreachable, secret.Redact(unwrapURL(err)).Error())
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxDocumentSize+1))
	if err != nil {
		return nil, fail(resp.StatusCode, ErrUnreachable, "reading the answer: "+secret.Redact(err).Error())
	}
	if len(body) > MaxDocumentSize {
		return nil, fail(resp.StatusCode, ErrAnswer, fmt.Sprintf("the answer is larger than %d MiB", MaxDocumentSize>>20))
	}
	if detail, kind := checkAnswer(resp.StatusCode, body); kind != nil {
		return nil, fail(resp.StatusCode, kind, detail)
	}
	return body, nil
}

// checkAnswer says what is wrong with an answer, or nil when it is a
// marketplaces document to import.
func checkAnswer(status int, body []byte) (detail string, kind error) {
	if status == http.StatusUnauthorized || status == http.StatusForbidden {
		return "", ErrUnauthorized
	}
	var top map[string]json.RawMessage
	jsonErr := json.Unmarshal(body, &top)
	if msg, ok := top["error"]; ok && !isEmptyJSON(msg) {
		return "it answered with an error: " + tenant.Snippet(msg), ErrAnswer
	}
	if status/100 != 2 {
		return tenant.Snippet(body), ErrAnswer
	}
	if jsonErr != nil || top == nil {
		return "not a JSON object: " + tenant.Snippet(body), ErrAnswer
	}
	if _, ok := top["marketplaces"]; !ok {
		return `no "marketplaces" in the answer`, ErrAnswer
	}
	return "", nil
}

// unwrapURL drops *url.Error's "Get \"https://…\":" prefix, which repeats
// the URL (and its path) in every message; the host is named anyway.
func unwrapURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

func isEmptyJSON(raw json.RawMessage) bool {
	switch strings.TrimSpace(string(raw)) {
	case "null", `""`, "false", "{}", "[]":
		return true
	}
	return false
}
