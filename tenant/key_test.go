package tenant

import (
	"errors"
	"strings"
	"testing"
)

func TestParseKey(t *testing.T) {
	tests := []struct {
		in string
		ok bool
	}{
		{"acme", true},
		{"maestrano-uat", true},
		{"0", true},
		{"a-", true},
		{"9lives", true},
		{strings.Repeat("a", 64), true},
		{strings.Repeat("a", 65), false},
		{"", false},
		{"-acme", false},
		{"Acme", false},
		{"acme_uat", false},
		{"acme.uat", false},
		{"acme/../x", false},
		{" acme", false},
		{"acmé", false},
		{"acme\x00", false},
	}
	for _, tt := range tests {
		k, err := ParseKey(tt.in)
		if tt.ok != (err == nil) {
			t.Errorf("ParseKey(%q) error = %v, want ok=%v", tt.in, err, tt.ok)
			continue
		}
		if tt.ok && string(k) != tt.in {
			t.Errorf("ParseKey(%q) = %q", tt.in, k)
		}
		if !tt.ok && !errors.Is(err, ErrInvalidKey) {
			t.Errorf("ParseKey(%q) error %v does not wrap ErrInvalidKey", tt.in, err)
		}
	}
}

func FuzzParseKey(f *testing.F) {
	for _, s := range []string{"acme", "-x", "a-b-c", strings.Repeat("z", 64)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		k, err := ParseKey(s)
		if err != nil {
			return
		}
		if len(k) == 0 || len(k) > MaxKeyLen || k[0] == '-' || strings.Trim(string(k), "abcdefghijklmnopqrstuvwxyz0123456789-") != "" {
			t.Fatalf("ParseKey accepted %q", s)
		}
	})
}
