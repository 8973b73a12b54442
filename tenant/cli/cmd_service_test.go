//go:build !windows

package cli

import (
	"strings"
	"testing"
)

// `tenantdesk service` exists on every system, but only Windows has a
// service manager: elsewhere each verb fails with a message that says what
// to do instead, and a wrong one says which verbs there are.
func TestServiceOutsideWindows(t *testing.T) {
	for _, verb := range []string{"install", "remove", "start", "stop", "run"} {
		code, out, errOut := cli(t, "", "service", verb)
		if code != 1 || out != "" || !strings.Contains(errOut, "Windows only") || !strings.Contains(errOut, "tenantdesk serve") {
			t.Errorf("service %s: exit %d, stdout %q, stderr %q", verb, code, out, errOut)
		}
	}
	if code, _, errOut := cli(t, "", "service", "restart"); code != 1 || !strings.Contains(errOut, "install, remove, start or stop") {
		t.Errorf("service restart: exit %d, %q", code, errOut)
	}
	if code, _, errOut := cli(t, "", "service"); code != 2 || !strings.Contains(errOut, "usage: tenantdesk service") {
		t.Errorf("service: exit %d, %q", code, errOut)
	}
}
