package tenant

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestSecretNeverPrints(t *testing.T) {
	certs := newCerts(t)
	c := validConfig(t, certs.Valid)
	secret := string(c.API.Key)

	values := map[string]any{
		"Secret":  c.API.Key,
		"*Secret": &c.API.Key,
		"API":     c.API,
		"*API":    &c.API,
		"Config":  c,
		"*Config": &c,
		"slice":   []Config{c},
		"map":     map[string]API{"a": c.API},
	}
	for name, v := range values {
		for _, verb := range []string{"%v", "%s", "%+v", "%#v", "%q", "%x", "%X", "%d", "%10.3s"} {
			out := fmt.Sprintf(verb, v)
			if strings.Contains(out, secret) || strings.Contains(out, fmt.Sprintf("%x", secret)) {
				t.Errorf("fmt %s of %s shows the secret: %s", verb, name, out)
			}
		}
		if out := fmt.Sprint(v); !strings.Contains(out, "••••") {
			t.Errorf("fmt.Sprint(%s) = %s, want the mask", name, out)
		}
	}

	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, nil))
	log.Info("saved", "secret", c.API.Key, "api", c.API, "tenant", c, "ptr", &c)
	log.Info("saved", slog.Any("cfg", c), slog.Group("g", "k", c.API.Key))
	slog.New(slog.NewTextHandler(&buf, nil)).Info("saved", "tenant", c, "api", c.API, "secret", c.API.Key)
	if strings.Contains(buf.String(), secret) {
		t.Errorf("slog output shows the secret:\n%s", buf.String())
	}
	if !strings.Contains(buf.String(), `"key":"acme"`) {
		t.Errorf("slog output lost the tenant key:\n%s", buf.String())
	}

	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), secret) {
		t.Errorf("json.Marshal(Config) shows the secret: %s", b)
	}

	if fmt.Sprint(Secret("")) != "" {
		t.Errorf("an unset secret prints %q, want empty", fmt.Sprint(Secret("")))
	}
}

func TestMarshalStoredKeepsSecret(t *testing.T) {
	c := validConfig(t, newCerts(t).Valid)
	b, err := c.MarshalStored()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"key":"s3cr3t-acme-key"`) {
		t.Fatalf("stored document lost the secret: %s", b)
	}
	var back Config
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back.API.Key.Reveal() != c.API.Key.Reveal() || back.API != c.API || !reflect.DeepEqual(back.SSO, c.SSO) || back.Connec.Timeout != c.Connec.Timeout {
		t.Errorf("round trip = %#v, want %#v", back.API, c.API)
	}
}

// TestStoredShapeMatches keeps storedAPI in step with API: a field added to
// API but not to storedAPI would silently vanish from the store.
func TestStoredShapeMatches(t *testing.T) {
	a, _ := json.Marshal(API{ID: "i", Key: "k", Host: "h", Base: "b"})
	s, _ := json.Marshal(storedAPI{ID: "i", Key: "k", Host: "h", Base: "b"})
	var am, sm map[string]any
	_ = json.Unmarshal(a, &am)
	_ = json.Unmarshal(s, &sm)
	if len(am) != len(sm) {
		t.Fatalf("API fields %v, storedAPI fields %v", am, sm)
	}
	for k := range am {
		if _, ok := sm[k]; !ok {
			t.Errorf("storedAPI lacks %q", k)
		}
	}
}

func TestSecretEqual(t *testing.T) {
	s := Secret("correct horse")
	tests := []struct {
		secret Secret
		other  string
		want   bool
	}{
		{s, "correct horse", true},
		{s, "correct hors", false},
		{s, "correct horse ", false},
		{s, "Correct horse", false},
		{s, "", false},
		{"", "", false}, // an unset key never authenticates
	}
	for _, tt := range tests {
		if got := tt.secret.Equal(tt.other); got != tt.want {
			t.Errorf("Secret(%d bytes).Equal(%q) = %v, want %v", len(tt.secret), tt.other, got, tt.want)
		}
	}
}

func TestDurationJSON(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{`300`, 300 * time.Second, true},
		{`2.5`, 2500 * time.Millisecond, true},
		{`"300"`, 300 * time.Second, true},
		{`" 60 "`, 60 * time.Second, true},
		{`"5m"`, 5 * time.Minute, true},
		{`null`, 0, true},
		{`-1`, -time.Second, true}, // Validate rejects it with a field message
		{`"soon"`, 0, false},
		{`true`, 0, false},
		{`1e300`, 0, false},
		{`{}`, 0, false},
	}
	for _, tt := range tests {
		var d Duration
		err := json.Unmarshal([]byte(tt.in), &d)
		if tt.ok != (err == nil) {
			t.Errorf("Unmarshal(%s) error = %v, want ok=%v", tt.in, err, tt.ok)
			continue
		}
		if tt.ok && time.Duration(d) != tt.want {
			t.Errorf("Unmarshal(%s) = %v, want %v", tt.in, time.Duration(d), tt.want)
		}
	}
	for d, want := range map[time.Duration]string{300 * time.Second: "300", 1500 * time.Millisecond: "1.5", 0: "0"} {
		b, err := json.Marshal(Duration(d))
		if err != nil || string(b) != want {
			t.Errorf("Marshal(%v) = %s, %v; want %s", d, b, err, want)
		}
	}
}

func BenchmarkSecretEqual(b *testing.B) {
	s := Secret("0123456789abcdef0123456789abcdef")
	b.Run("Equal", func(b *testing.B) {
		for b.Loop() {
			s.Equal("0123456789abcdef0123456789abcdeX")
		}
	})
	// Baseline: the plain, timing-leaky comparison.
	b.Run("baseline-==", func(b *testing.B) {
		other := "0123456789abcdef0123456789abcdeX"
		for b.Loop() {
			_ = string(s) == other
		}
	})
}
