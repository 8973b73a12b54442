// Package assets holds the resources embedded in the binary: the app icon.
package assets

import _ "embed"

// IconPNG is the 512×512 application icon (also referenced by FyneApp.toml).
//
//go:embed icon.png
var IconPNG []byte
