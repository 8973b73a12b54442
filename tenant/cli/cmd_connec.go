package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/tenantdesk/tenantdesk/tenant"
	"github.com/tenantdesk/tenantdesk/tenant/admin"
	"github.com/tenantdesk/tenantdesk/tenant/connec"
)

// cmdConnec is `connec pull [--tenant K] [--group G] [--full]`: it pulls
// now and prints the counts of each (tenant, group, collection), then a
// total per collection. It exits 0 only when every page was read.
func cmdConnec(ctx context.Context, g globals, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "pull" {
		return exitf(stderr, "connec: want pull")
	}
	fs := flag.NewFlagSet("connec pull", flag.ContinueOnError)
	fs.SetOutput(stderr)
	only := fs.String("tenant", "", "only this tenant")
	group := fs.String("group", "", "only this group uid")
	full := fs.Bool("full", false, "every record, not only what changed since the last pull")
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	if fs.NArg() != 0 {
		return exitf(stderr, "connec pull: unexpected argument %q", fs.Arg(0))
	}
	if *only != "" {
		if _, err := tenant.ParseKey(*only); err != nil {
			return exitf(stderr, "connec pull: --tenant: %v", err)
		}
	}
	if *group != "" && !connec.ValidGroupUID(*group) {
		return exitf(stderr, "connec pull: --group %q is not a group uid", *group)
	}
	api, done, code := openAdmin(ctx, g, stderr)
	if api == nil {
		return code
	}
	defer done()

	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	var last time.Time
	rows, err := api.PullConnec(ctx, connec.PullRequest{Tenant: *only, Group: *group, Full: *full}, func(p connec.PullProgress) {
		if time.Since(last) < time.Second {
			return
		}
		last = time.Now()
		of := ""
		if p.Total > 0 {
			of = fmt.Sprintf(" of %d", p.Total)
		}
		fmt.Fprintf(stderr, "%s %s %s: page %d, %d records%s\n", p.Tenant, p.GroupUID, p.Collection, p.Counts.Pages,
			p.Counts.Stored+p.Counts.Unchanged+p.Counts.Skipped, of)
	})
	if err != nil {
		return exitf(stderr, "%v", err)
	}
	if len(rows) == 0 {
		fmt.Fprintln(stdout, "nothing to pull (no enabled tenant with connec.host, or no active group)")
		return 0
	}
	return printPulls(stdout, stderr, rows)
}

// printPulls writes the rows and a total per collection; the exit code is
// 1 when a pull did not read every page.
func printPulls(stdout, stderr io.Writer, rows []admin.PullRow) int {
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TENANT\tGROUP\tCOLLECTION\tSTORED\tUNCHANGED\tSKIPPED\tLINKED\tPAGES\tRESULT")
	type total struct{ stored, unchanged, skipped int }
	totals := map[string]*total{}
	failed := 0
	for _, r := range rows {
		result := "ok"
		if !r.Complete {
			result, failed = "incomplete: "+r.Error, failed+1
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%d\t%d\t%d\t%s\n", r.Tenant, r.GroupUID, r.Collection,
			r.Counts.Stored, r.Counts.Unchanged, r.Counts.Skipped, r.Counts.Linked, r.Counts.Pages, result)
		t := totals[r.Collection]
		if t == nil {
			t = &total{}
			totals[r.Collection] = t
		}
		t.stored += r.Counts.Stored
		t.unchanged += r.Counts.Unchanged
		t.skipped += r.Counts.Skipped
	}
	if err := tw.Flush(); err != nil {
		return exitf(stderr, "connec pull: %v", err)
	}
	cols := make([]string, 0, len(totals))
	for c := range totals {
		cols = append(cols, c)
	}
	sort.Strings(cols)
	for _, c := range cols {
		t := totals[c]
		fmt.Fprintf(stdout, "%s: %d stored, %d unchanged, %d skipped\n", c, t.stored, t.unchanged, t.skipped)
	}
	if failed > 0 {
		return exitf(stderr, "connec pull: %d of %d pulls did not read every page; they resume where they stopped", failed, len(rows))
	}
	return 0
}
