package main

import (
	_ "embed"
	"regexp"
	"runtime/debug"
)

// FyneApp.toml is the one place the version is written; `fyne package`
// reads it too.
//
//go:embed FyneApp.toml
var fyneAppTOML string

var versionLine = regexp.MustCompile(`(?m)^\s*Version\s*=\s*"([^"]+)"`)

// version is FyneApp.toml's version, plus the VCS revision when the
// binary was built from a git checkout.
func version() string {
	v := "unknown"
	if m := versionLine.FindStringSubmatch(fyneAppTOML); m != nil {
		v = m[1]
	}
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, s := range info.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				v += " (" + s.Value[:12] + ")"
			}
		}
	}
	return v
}
