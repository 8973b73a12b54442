package cli

import (
	"context"
	"log/slog"

	"github.com/tenantdesk/tenantdesk/tenant/admin"
)

// Program is what main hands the CLI: the version it was built as and the
// window, so that nothing under tenant/ imports ui/.
type Program struct {
	Version string
	Window  Window
}

// Window runs the GUI on api until the window closes. main hands it in
// (ui.Run), so that the CLI, like everything under tenant/, never imports
// ui/.
type Window func(ctx context.Context, api admin.API, opt WindowOptions) error

// WindowOptions are what the CLI tells the window.
type WindowOptions struct {
	// StartListener starts the embedded listener when the window opens
	// (the double-click path, on a data file this process owns).
	StartListener bool
	Logger        *slog.Logger
	// Server names the process api talks to when it is not this one.
	Server string
	// Version is shown in Help → About.
	Version string
}
