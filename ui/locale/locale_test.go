package locale

import (
	"os"
	"testing"
)

func TestRepair(t *testing.T) {
	for _, tc := range []struct{ lcAll, lang, wantAll, wantLang string }{
		{"", "C.UTF-8", "", "en_US.UTF-8"},
		{"", "POSIX.utf8", "", "en_US.UTF-8"},
		{"C.UTF-8", "de_DE.UTF-8", "en_US.UTF-8", "de_DE.UTF-8"},
		{"", "C", "", "C"},                     // Fyne reads plain C as "no locale": fine
		{"", "fr_FR.UTF-8", "", "fr_FR.UTF-8"}, // a real locale is left alone
	} {
		t.Setenv("LC_ALL", tc.lcAll)
		t.Setenv("LC_MESSAGES", "")
		t.Setenv("LANG", tc.lang)
		repair()
		if got := os.Getenv("LC_ALL"); got != tc.wantAll {
			t.Errorf("LC_ALL=%q LANG=%q: LC_ALL became %q, want %q", tc.lcAll, tc.lang, got, tc.wantAll)
		}
		if got := os.Getenv("LANG"); got != tc.wantLang {
			t.Errorf("LC_ALL=%q LANG=%q: LANG became %q, want %q", tc.lcAll, tc.lang, got, tc.wantLang)
		}
	}
}
