package main

import (
	"os"
	"strings"
	"testing"
)

// The version main hands the CLI is FyneApp.toml's, the file `fyne package`
// reads: one place for it.
func TestVersionIsFyneAppTOMLs(t *testing.T) {
	file, err := os.ReadFile("FyneApp.toml")
	if err != nil {
		t.Fatal(err)
	}
	if string(file) != fyneAppTOML {
		t.Fatal("the embedded FyneApp.toml differs from the file")
	}
	var want string
	for _, line := range strings.Split(string(file), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok && strings.TrimSpace(k) == "Version" {
			want = strings.Trim(strings.TrimSpace(v), `"`)
		}
	}
	if got := cliVersion(); want == "" || !strings.HasPrefix(got, want) {
		t.Fatalf("version %q, FyneApp.toml says %q", got, want)
	}
}
