// Command tenantdesk is the vendor's desktop admin app for a multi-tenant
// Maestrano integration: a Fyne GUI with an embedded HTTP listener, or,
// with a sub-command, the headless listener and scripting verbs (SPEC §2).
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/tenantdesk/tenantdesk/tenant"
)

func main() {
	tenant.AppVersion = version() // api.version of the metadata document
	os.Exit(run(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// exitf prints an error for the person at the terminal and gives the exit code.
func exitf(stderr interface{ Write([]byte) (int, error) }, format string, a ...any) int {
	fmt.Fprintf(stderr, "tenantdesk: "+format+"\n", a...)
	return 1
}
