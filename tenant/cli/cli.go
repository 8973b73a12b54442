package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"sync"

	"github.com/tenantdesk/tenantdesk/tenant"
)

// Main is the whole program; main only supplies the process's streams.
// It returns the exit code.
func Main(ctx context.Context, p Program, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	tenant.AppVersion = p.Version // api.version of the metadata document
	// Logs and progress lines reach stderr from several goroutines (billing
	// workers, the listener): one writer at a time, whatever stderr is.
	stderr = &lockedWriter{w: stderr}
	g, rest, err := parseGlobals(args, stderr)
	g.program = p
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		return exitf(stderr, "%v", err)
	}
	if len(rest) == 0 {
		return runGUI(ctx, g, stderr)
	}
	cmd, cmdArgs := rest[0], rest[1:]
	switch cmd {
	case "version":
		fmt.Fprintln(stdout, "tenantdesk", p.Version)
		return 0
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	case "serve":
		return cmdServe(ctx, g, cmdArgs, stdout, stderr)
	case "tenant":
		return cmdTenant(ctx, g, cmdArgs, stdin, stdout, stderr)
	case "idmap":
		return cmdIdmap(ctx, g, cmdArgs, stdout, stderr)
	case "export":
		return cmdExport(ctx, g, cmdArgs, stdout, stderr)
	case "bill":
		return cmdBill(ctx, g, cmdArgs, stdout, stderr)
	case "connec":
		return cmdConnec(ctx, g, cmdArgs, stdout, stderr)
	case "activity":
		return cmdActivity(ctx, g, cmdArgs, stdout, stderr)
	case "backup":
		return cmdBackup(ctx, g, cmdArgs, stdout, stderr)
	case "restore":
		return cmdRestore(ctx, g, cmdArgs, stdout, stderr)
	case "compact":
		return cmdCompact(ctx, g, cmdArgs, stdout, stderr)
	case "rekey":
		return cmdRekey(ctx, g, cmdArgs, stdout, stderr)
	case "admin-token":
		return cmdAdminToken(ctx, g, cmdArgs, stdout, stderr)
	case "admin-cert":
		return cmdAdminCert(ctx, g, cmdArgs, stdout, stderr)
	case "settings":
		return cmdSettings(ctx, g, cmdArgs, stdin, stdout, stderr)
	case "service":
		return cmdService(ctx, g, cmdArgs, stdout, stderr)
	case "store":
		return cmdStore(ctx, g, cmdArgs, stdout, stderr)
	case "cluster":
		return cmdCluster(ctx, g, cmdArgs, stdout, stderr)
	case "demo-data":
		return cmdDemoData(ctx, g, cmdArgs, stdout, stderr)
	}
	return exitf(stderr, "unknown command %q (see tenantdesk --help)", cmd)
}

// lockedWriter serialises writes to w.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
