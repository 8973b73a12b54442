package cli

import (
	"regexp"
	"runtime/debug"
)

var versionLine = regexp.MustCompile(`(?m)^\s*Version\s*=\s*"([^"]+)"`)

// Version is the version written in fyneAppTOML (FyneApp.toml, the one
// place it is written; `fyne package` reads it too), plus the VCS revision
// when the binary was built from a git checkout.
func Version(fyneAppTOML string) string {
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
