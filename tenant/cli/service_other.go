//go:build !windows

package cli

import (
	"context"
	"errors"
	"io"
)

func controlService(string, string) (string, error) {
	return "", errors.New("services are Windows only; elsewhere run `tenantdesk serve` under the system's service manager (systemd, launchd)")
}

func runService(_ context.Context, _ globals, stderr io.Writer) int {
	_, err := controlService("run", "")
	return exitf(stderr, "service run: %v", err)
}
