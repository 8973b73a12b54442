package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/tenantdesk/tenantdesk/tenant"
	"github.com/tenantdesk/tenantdesk/tenant/billing"
)

// cmdBill is `bill preview|run --period YYYY-MM [--tenant K]`. run exits 0
// only when every due bill is submitted; Ctrl-C cancels it (bills in
// flight stay pending and are checked by the next run).
func cmdBill(ctx context.Context, g globals, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || (args[0] != "preview" && args[0] != "run" && args[0] != "cancel") {
		return exitf(stderr, "bill: want preview, run or cancel")
	}
	if args[0] == "cancel" {
		return cmdBillCancel(ctx, g, args[1:], stdout, stderr)
	}
	verb := args[0]
	fs := flag.NewFlagSet("bill "+verb, flag.ContinueOnError)
	fs.SetOutput(stderr)
	periodFlag := fs.String("period", "", "calendar month YYYY-MM (UTC)")
	only := fs.String("tenant", "", "only this tenant")
	var rebill uidList
	fs.Var(&rebill, "rebill", "bill again the group UID whose bill of the period was cancelled (repeat, or a comma list)")
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	if fs.NArg() != 0 {
		return exitf(stderr, "bill %s: unexpected argument %q", verb, fs.Arg(0))
	}
	if *periodFlag == "" {
		return exitf(stderr, "bill %s: --period YYYY-MM is required", verb)
	}
	period, err := billing.ParsePeriod(*periodFlag)
	if err != nil {
		return exitf(stderr, "bill %s: --period: %v", verb, err)
	}
	if *only != "" {
		if _, err := tenant.ParseKey(*only); err != nil {
			return exitf(stderr, "bill %s: --tenant: %v", verb, err)
		}
	}
	api, done, code := openAdmin(ctx, g, stderr)
	if api == nil {
		return code
	}
	defer done()

	if verb == "preview" {
		lines, err := api.BillingPreview(period.Name, *only, rebill...)
		if err != nil {
			return exitf(stderr, "bill preview: %v", err)
		}
		if err := billing.FormatPreview(stdout, lines); err != nil {
			return exitf(stderr, "bill preview: %v", err)
		}
		return 0
	}

	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	var last time.Time
	var mu sync.Mutex // progress comes from the run's workers
	sum, err := api.RunBilling(ctx, period.Name, *only, func(p billing.Progress) {
		mu.Lock()
		defer mu.Unlock()
		if time.Since(last) > time.Second || p.Done == p.Total {
			last = time.Now()
			fmt.Fprintf(stderr, "billing: %d/%d settled, %d failed\n", p.Done, p.Total, p.Failed)
		}
	}, rebill...)
	if err != nil {
		return exitf(stderr, "bill run: %v", err)
	}
	if err := billing.FormatSummary(stdout, sum); err != nil {
		return exitf(stderr, "bill run: %v", err)
	}
	if !sum.Complete() {
		return 1
	}
	return 0
}

// uidList is a repeatable flag that also takes comma-separated lists.
type uidList []string

func (l *uidList) String() string { return strings.Join(*l, ",") }

func (l *uidList) Set(v string) error {
	for _, uid := range strings.Split(v, ",") {
		uid = strings.TrimSpace(uid)
		if uid == "" {
			return errors.New("empty group uid")
		}
		if !slices.Contains(*l, uid) {
			*l = append(*l, uid)
		}
	}
	return nil
}

// cmdBillCancel is `bill cancel --period YYYY-MM --tenant K --group UID`:
// DELETE the submitted bill at the tenant's API and mark its ledger row
// cancelled. Anything else (no such bill, not submitted, refused by the
// API) exits 1 and changes nothing.
func cmdBillCancel(ctx context.Context, g globals, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("bill cancel", flag.ContinueOnError)
	fs.SetOutput(stderr)
	period := fs.String("period", "", "calendar month YYYY-MM (UTC) of the bill")
	tenantKey := fs.String("tenant", "", "tenant key of the group")
	group := fs.String("group", "", "group uid (cld-…)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() != 0 {
		return exitf(stderr, "bill cancel: unexpected argument %q", fs.Arg(0))
	}
	if *period == "" || *tenantKey == "" || *group == "" {
		return exitf(stderr, "bill cancel: --period YYYY-MM, --tenant K and --group UID are all required")
	}
	if _, err := billing.ParsePeriod(*period); err != nil {
		return exitf(stderr, "bill cancel: --period: %v", err)
	}
	if _, err := tenant.ParseKey(*tenantKey); err != nil {
		return exitf(stderr, "bill cancel: --tenant: %v", err)
	}
	api, done, code := openAdmin(ctx, g, stderr)
	if api == nil {
		return code
	}
	defer done()
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	b, err := api.CancelBill(ctx, *period, *tenantKey, *group)
	if err != nil {
		return exitf(stderr, "bill cancel: nothing changed: %v", err)
	}
	fmt.Fprintf(stdout, "cancelled bill %s of group %s (tenant %s) for %s; bill it again with `bill run --period %s --tenant %s --rebill %s`\n",
		b.RemoteID, b.GroupUID, b.Tenant, b.Period, b.Period, b.Tenant, b.GroupUID)
	return 0
}

func cmdDemoData(ctx context.Context, g globals, args []string, stdout, stderr io.Writer) int {
	if len(args) != 0 {
		return exitf(stderr, "demo-data: takes no arguments")
	}
	api, done, code := openAdmin(ctx, g, stderr)
	if api == nil {
		return code
	}
	defer done()
	sum, err := api.SeedDemo()
	if err != nil {
		return exitf(stderr, "demo-data: %v", err)
	}
	fmt.Fprintf(stdout, "demo data written to %s: %d tenants, %d groups, %d users, %d memberships, %d invoices, %d identity-map rows, %d bills, %d events\n",
		g.where(), sum.Tenants, sum.Groups, sum.Users, sum.Memberships, sum.Invoices, sum.IdmapRows, sum.Bills, sum.Events)
	return 0
}
