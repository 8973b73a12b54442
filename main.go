// Command tenantdesk is the vendor's desktop admin app for a multi-tenant
// Maestrano integration: a Fyne GUI with an embedded HTTP listener, or,
// with a sub-command, the headless listener and scripting verbs (SPEC §2).
// The CLI (tenant/cli) is the program; main embeds the version and hands
// it the window.
package main

import (
	"context"
	_ "embed"
	"os"

	"github.com/tenantdesk/tenantdesk/tenant/admin"
	"github.com/tenantdesk/tenantdesk/tenant/cli"
	"github.com/tenantdesk/tenantdesk/ui"
	_ "github.com/tenantdesk/tenantdesk/ui/locale" // before Fyne reads the locale
)

// FyneApp.toml is the one place the version is written; `fyne package`
// reads it too.
//
//go:embed FyneApp.toml
var fyneAppTOML string

func main() {
	p := cli.Program{Version: cliVersion(), Window: window}
	os.Exit(cli.Main(context.Background(), p, os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

func cliVersion() string { return cli.Version(fyneAppTOML) }

// window is the GUI as the CLI asks for it.
func window(ctx context.Context, api admin.API, opt cli.WindowOptions) error {
	return ui.Run(ctx, api, ui.Options{StartListener: opt.StartListener, Logger: opt.Logger, Server: opt.Server, Version: opt.Version})
}
