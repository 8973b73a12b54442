package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/tenantdesk/tenantdesk/store"
	"github.com/tenantdesk/tenantdesk/tenant"
	"github.com/tenantdesk/tenantdesk/tenant/devpl"
)

func cmdTenant(ctx context.Context, g globals, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		return exitf(stderr, "tenant: want import, list, remove or sync")
	}
	switch args[0] {
	case "sync":
		return cmdTenantSync(ctx, g, args[1:], stdout, stderr)
	case "import":
		return cmdTenantImport(ctx, g, args[1:], stdin, stdout, stderr)
	case "list":
		return cmdTenantList(ctx, g, args[1:], stdout, stderr)
	case "remove":
		return cmdTenantRemove(ctx, g, args[1:], stdout, stderr)
	}
	return exitf(stderr, "tenant: unknown verb %q (want import, list, remove or sync)", args[0])
}

// cmdTenantSync is `tenant sync`: fetch the marketplaces document from the
// developer platform (MNO_DEVPL_* or the devpl-* settings) and import it,
// all or nothing; it prints what changed.
func cmdTenantSync(ctx context.Context, g globals, args []string, stdout, stderr io.Writer) int {
	if len(args) != 0 {
		return exitf(stderr, "tenant sync: takes no arguments (configure it with %s, %s, %s, %s or the devpl-* settings)",
			devpl.EnvHost, devpl.EnvAPIPath, devpl.EnvKey, devpl.EnvSecret)
	}
	api, done, code := openAdmin(ctx, g, stderr)
	if api == nil {
		return code
	}
	defer done()
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := api.SyncTenants(ctx)
	if err != nil {
		return exitf(stderr, "tenant sync: nothing changed: %v", err)
	}
	fmt.Fprintf(stdout, "synced %d tenant(s) from %s: %s\n", len(res.Keys()), res.Source, res.Summary())
	return 0
}

func cmdTenantImport(ctx context.Context, g globals, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) != 1 {
		return exitf(stderr, "tenant import: want one FILE (or - for standard input)")
	}
	var in io.Reader = stdin
	if args[0] != "-" {
		f, err := os.Open(args[0])
		if err != nil {
			return exitf(stderr, "tenant import: %v", err)
		}
		defer f.Close()
		in = f
	}
	data, err := io.ReadAll(io.LimitReader(in, tenant.MaxImportSize+1))
	if err != nil {
		return exitf(stderr, "tenant import: read %s: %v", args[0], err)
	}
	if len(data) > tenant.MaxImportSize {
		return exitf(stderr, "tenant import: %s is larger than %d MiB", args[0], tenant.MaxImportSize>>20)
	}
	api, done, code := openAdmin(ctx, g, stderr)
	if api == nil {
		return code
	}
	defer done()
	keys, err := api.ImportTenants(data)
	var ie *tenant.ImportError
	if errors.As(err, &ie) {
		return exitf(stderr, "tenant import: nothing imported:\n%v", err)
	}
	if err != nil {
		return exitf(stderr, "tenant import: nothing imported: %v", err)
	}
	names := make([]string, len(keys))
	for i, k := range keys {
		names[i] = string(k)
	}
	fmt.Fprintf(stdout, "imported %d tenant(s): %s\n", len(keys), strings.Join(names, ", "))
	return 0
}

func cmdTenantList(ctx context.Context, g globals, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("tenant list", flag.ContinueOnError)
	fs.SetOutput(stderr)
	asJSON := fs.Bool("json", false, "JSON output")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	api, done, code := openAdmin(ctx, g, stderr)
	if api == nil {
		return code
	}
	defer done()
	list, err := api.ListTenants()
	if err != nil {
		return exitf(stderr, "tenant list: %v", err)
	}
	if *asJSON {
		public := make([]tenant.PublicConfig, len(list))
		for i := range list {
			public[i] = list[i].Public
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(public); err != nil {
			return exitf(stderr, "tenant list: %v", err)
		}
		return 0
	}
	if len(list) == 0 {
		fmt.Fprintln(stdout, "no tenants yet: add one with `tenantdesk tenant import FILE`")
		return 0
	}
	for _, t := range list {
		fmt.Fprintln(stdout, t.Line)
	}
	return 0
}

func cmdTenantRemove(ctx context.Context, g globals, args []string, stdout, stderr io.Writer) int {
	if len(args) != 1 {
		return exitf(stderr, "tenant remove: want one KEY")
	}
	key, err := tenant.ParseKey(args[0])
	if err != nil {
		return exitf(stderr, "tenant remove: %v", err)
	}
	api, done, code := openAdmin(ctx, g, stderr)
	if api == nil {
		return code
	}
	defer done()
	if err := api.RemoveTenant(key); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return exitf(stderr, "tenant remove: no tenant %q", key)
		}
		return exitf(stderr, "tenant remove: %v", err)
	}
	fmt.Fprintf(stdout, "removed tenant %s (its users, groups and records stay, marked orphaned)\n", key)
	return 0
}
