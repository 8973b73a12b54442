package cli

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/tenantdesk/tenantdesk/store"
	"github.com/tenantdesk/tenantdesk/tenant"
)

// defaultActivityLimit is how many events `activity` prints without --limit.
const defaultActivityLimit = 50

// cmdActivity is `activity [--tenant K] [--limit N] [--json]`: the activity
// log, newest first. Login events name the user and the group; aggregated
// failures say how many requests they stand for.
func cmdActivity(ctx context.Context, g globals, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("activity", flag.ContinueOnError)
	fs.SetOutput(stderr)
	only := fs.String("tenant", "", "only this tenant's events")
	limit := fs.Int("limit", defaultActivityLimit, "at most this many events (0: all)")
	asJSON := fs.Bool("json", false, "JSON instead of a table")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() != 0 {
		return exitf(stderr, "activity: unexpected argument %q", fs.Arg(0))
	}
	if *limit < 0 {
		return exitf(stderr, "activity: --limit must be 0 or more")
	}
	if *only != "" {
		if _, err := tenant.ParseKey(*only); err != nil {
			return exitf(stderr, "activity: --tenant: %v", err)
		}
	}
	api, done, code := openAdmin(ctx, g, stderr)
	if api == nil {
		return code
	}
	defer done()
	evs, err := api.Activity(*only, *limit)
	if err != nil {
		return exitf(stderr, "activity: %v", err)
	}
	if *asJSON {
		if evs == nil {
			evs = []store.Event{}
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(evs); err != nil {
			return exitf(stderr, "activity: %v", err)
		}
		return 0
	}
	if len(evs) == 0 {
		fmt.Fprintln(stdout, "no activity")
		return 0
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME\tTENANT\tKIND\tOUTCOME\tREASON\tCOUNT\tUSER\tGROUP\tMESSAGE")
	for _, e := range evs {
		count := ""
		if e.Count > 0 {
			count = fmt.Sprint(e.Count)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", e.At.UTC().Format(time.RFC3339),
			dash(e.Tenant), e.Kind, dash(e.Outcome), dash(e.Reason), dash(count), dash(e.UserUID), dash(e.GroupUID),
			strings.ReplaceAll(e.Message, "\n", " "))
	}
	if err := tw.Flush(); err != nil {
		return exitf(stderr, "activity: %v", err)
	}
	return 0
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
