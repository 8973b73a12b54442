package devpl_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tenantdesk/tenantdesk/tenant"
	"github.com/tenantdesk/tenantdesk/tenant/devpl"
	"github.com/tenantdesk/tenantdesk/tenant/devpl/devpltest"
)

func configFor(p *devpltest.Platform, secret string) devpl.Config {
	return devpl.Config{Host: p.URL(), APIPath: devpltest.APIPath, EnvKey: devpltest.EnvKey, EnvSecret: tenant.Secret(secret)}
}

func TestFetchSendsBasicAuthAndAcceptJSON(t *testing.T) {
	p := devpltest.New(t)
	p.SetMarketplaces(t, devpltest.Marketplace(t, "maestrano-uat", "https://api-hub-uat.maestrano.io", time.Now()))
	c := devpl.Client{Config: configFor(p, devpltest.EnvSecret)}
	body, err := c.Fetch(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(body), `"maestrano-uat"`) {
		t.Errorf("body: %.200s", body)
	}
	if _, accepted := p.Counts(); accepted != 1 {
		t.Errorf("the platform accepted %d requests, want 1 (Basic auth with the environment key and secret)", accepted)
	}
	if !strings.Contains(p.LastAccept(), "application/json") {
		t.Errorf("Accept %q, want JSON", p.LastAccept())
	}
}

// Each refusal is an error naming the host, never the secret.
func TestFetchRefusals(t *testing.T) {
	p := devpltest.New(t)
	host := p.URL()
	cases := []struct {
		name   string
		setup  func()
		secret string
		kind   error
		says   string
	}{
		{"wrong secret", func() { p.SetMarketplaces(t) }, "wrong-" + devpltest.EnvSecret, devpl.ErrUnauthorized, "HTTP 401"},
		{"error key", func() { p.SetAnswer(200, `{"error":"environment suspended"}`) }, devpltest.EnvSecret, devpl.ErrAnswer, "environment suspended"},
		{"error key with 500", func() { p.SetAnswer(500, `{"error":"boom"}`) }, devpltest.EnvSecret, devpl.ErrAnswer, "boom"},
		{"no marketplaces key", func() { p.SetAnswer(200, `{"data":[]}`) }, devpltest.EnvSecret, devpl.ErrAnswer, `no "marketplaces"`},
		{"not JSON", func() { p.SetAnswer(200, `<html>maintenance</html>`) }, devpltest.EnvSecret, devpl.ErrAnswer, "not a JSON object"},
		{"server error", func() { p.SetAnswer(502, `bad gateway`) }, devpltest.EnvSecret, devpl.ErrAnswer, "HTTP 502"},
		{"too large", func() {
			p.SetDocument([]byte(`{"marketplaces":[],"pad":"` + strings.Repeat("x", devpl.MaxDocumentSize) + `"}`))
		}, devpltest.EnvSecret, devpl.ErrAnswer, "larger than"},
		{"echoes the secret", func() { p.SetAnswer(200, `{"error":"bad secret `+devpltest.EnvSecret+`"}`) }, devpltest.EnvSecret, devpl.ErrAnswer, "bad secret"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.setup()
			c := devpl.Client{Config: configFor(p, tc.secret)}
			body, err := c.Fetch(context.Background())
			if err == nil {
				t.Fatalf("accepted: %.100s", body)
			}
			if !errors.Is(err, tc.kind) {
				t.Errorf("error %v, want %v", err, tc.kind)
			}
			msg := err.Error()
			if !strings.Contains(msg, host) || !strings.Contains(msg, tc.says) {
				t.Errorf("message %q must name the host %s and say %q", msg, host, tc.says)
			}
			if strings.Contains(msg, devpltest.EnvSecret) || strings.Contains(fmt.Sprintf("%+v %#v", err, err), devpltest.EnvSecret) {
				t.Errorf("the secret leaks: %q", msg)
			}
		})
	}
}

func TestFetchUnreachableHost(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	c := devpl.Client{Config: devpl.Config{Host: "http://user:" + devpltest.EnvSecret + "@" + addr, APIPath: "/x",
		EnvKey: "k", EnvSecret: devpltest.EnvSecret}, HTTP: &http.Client{Timeout: 5 * time.Second}}
	_, err = c.Fetch(context.Background())
	if !errors.Is(err, devpl.ErrUnreachable) {
		t.Fatalf("got %v, want unreachable", err)
	}
	if !strings.Contains(err.Error(), "http://"+addr) || strings.Contains(err.Error(), devpltest.EnvSecret) {
		t.Errorf("message %q must name the host without credentials", err)
	}
}

func TestFetchRefusesABadHostBeforeSending(t *testing.T) {
	for _, host := range []string{"", "developer.maestrano.com", "ftp://x.example.com", "https://"} {
		c := devpl.Client{Config: devpl.Config{Host: host, APIPath: "/x", EnvKey: "k", EnvSecret: "s"}}
		if _, err := c.Fetch(context.Background()); err == nil || !strings.Contains(err.Error(), devpl.EnvHost) {
			t.Errorf("host %q: got %v, want an error naming %s", host, err, devpl.EnvHost)
		}
	}
}

// FuzzCheckAnswer: whatever the platform answers, the check never panics,
// and it only lets through a JSON object with "marketplaces" and no error.
func FuzzCheckAnswer(f *testing.F) {
	f.Add(200, []byte(devpltest.JavaFixture))
	f.Add(200, []byte(`{"error":"x","marketplaces":[]}`))
	f.Add(401, []byte(`{"marketplaces":[]}`))
	f.Add(200, []byte(`[]`))
	f.Add(200, []byte(`null`))
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		_, kind := devpl.CheckAnswer(status, body)
		if kind == nil && (status/100 != 2 || !strings.Contains(string(body), "marketplaces")) {
			t.Errorf("let through status %d body %q", status, body)
		}
	})
}
