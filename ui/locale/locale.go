// Package locale repairs a "C.UTF-8"-style locale before Fyne reads it.
//
// Fyne parses the locale in its package initialisation and logs an error
// for tags such as "C.UTF-8", which are common on servers and in
// containers; every CLI verb would print it. This package imports only
// syscall, so Go initialises it before Fyne's lang package (which needs
// os); main imports it for that side effect.
package locale

import (
	"strings"
	"syscall"
)

func init() { repair() }

// repair gives the first locale variable set (as gettext reads them) the
// value en_US.UTF-8 when it names the C or POSIX locale with a charset.
func repair() {
	for _, name := range [...]string{"LC_ALL", "LC_MESSAGES", "LANG"} {
		v, ok := syscall.Getenv(name)
		if !ok || v == "" {
			continue
		}
		lang, _, hasCharset := strings.Cut(v, ".")
		if hasCharset && (lang == "C" || lang == "POSIX") {
			_ = syscall.Setenv(name, "en_US.UTF-8")
		}
		return
	}
}
