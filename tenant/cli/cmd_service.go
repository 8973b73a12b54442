package cli

import (
	"context"
	"fmt"
	"io"
)

// cmdService installs, removes, starts and stops `serve` as a Windows
// service (SPEC §16), for a vendor who runs the listener on a Windows
// server. The service manager starts `tenantdesk --db <this data file>
// service run`, which is serve answering the manager; every other setting
// is read from the data file.
func cmdService(ctx context.Context, g globals, args []string, stdout, stderr io.Writer) int {
	if len(args) != 1 {
		fmt.Fprintln(stderr, "usage: tenantdesk service install|remove|start|stop")
		return 2
	}
	switch verb := args[0]; verb {
	case "run":
		return runService(ctx, g, stderr)
	case "install", "remove", "start", "stop":
		msg, err := controlService(verb, g.db)
		if err != nil {
			return exitf(stderr, "service %s: %v", verb, err)
		}
		fmt.Fprintln(stdout, msg)
		return 0
	default:
		return exitf(stderr, "service: unknown verb %q (install, remove, start or stop)", verb)
	}
}
