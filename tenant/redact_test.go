package tenant

import (
	"errors"
	"io"
	"strings"
	"testing"
)

func TestSecretRedact(t *testing.T) {
	s := Secret("k3y-value")
	err := s.Redact(&wrapped{"dial https://app:k3y-value@hub.test: refused", io.ErrUnexpectedEOF})
	if strings.Contains(err.Error(), "k3y-value") || !strings.Contains(err.Error(), "[redacted]") {
		t.Fatalf("secret survives redaction: %q", err)
	}
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatal("redacted error no longer unwraps")
	}
	plain := errors.New("no secret here")
	if s.Redact(plain) != plain || Secret("").Redact(plain) != plain || s.Redact(nil) != nil {
		t.Fatal("an error without the secret must come back unchanged")
	}
	if got := Secret("").RedactText("a"); got != "a" {
		t.Fatalf("empty secret changed text: %q", got)
	}
}

func TestRedactURL(t *testing.T) {
	for in, want := range map[string]string{
		"https://user:pw@hub.test/api": "https://hub.test/api",
		"https://hub.test":             "https://hub.test",
		"user:pw@hub.test":             "hub.test",
		"%zz://u:p@h":                  "%zz://h",
	} {
		if got := RedactURL(in); got != want {
			t.Errorf("RedactURL(%q) = %q, want %q", in, got, want)
		}
	}
}

type wrapped struct {
	msg string
	err error
}

func (w *wrapped) Error() string { return w.msg }
func (w *wrapped) Unwrap() error { return w.err }
