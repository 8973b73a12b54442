package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/tenantdesk/tenantdesk/tenant"
	"github.com/tenantdesk/tenantdesk/tenant/admin"
	"github.com/tenantdesk/tenantdesk/tenant/billing"
)

// cmdBill is `bill preview|run --period YYYY-MM [--tenant K]`. run exits 0
// only when every due bill is submitted; Ctrl-C cancels it (bills in
// flight stay pending and are checked by the next run).
func cmdBill(ctx context.Context, g globals, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || (args[0] != "preview" && args[0] != "run") {
		return exitf(stderr, "bill: want preview or run")
	}
	verb := args[0]
	fs := flag.NewFlagSet("bill "+verb, flag.ContinueOnError)
	fs.SetOutput(stderr)
	periodFlag := fs.String("period", "", "calendar month YYYY-MM (UTC)")
	only := fs.String("tenant", "", "only this tenant")
	if err := fs.Parse(args[1:]); err != nil {
		return 2
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
	db, code := openDB(g, stderr)
	if db == nil {
		return code
	}
	defer db.Close()

	if verb == "preview" {
		lines, err := billing.Preview(db, period, *only)
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
	sum, err := billing.Run(ctx, db, billing.Options{
		Period: period,
		Tenant: *only,
		Logger: slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
		Progress: func(p billing.Progress) {
			if time.Since(last) > time.Second || p.Done == p.Total {
				last = time.Now()
				fmt.Fprintf(stderr, "billing: %d/%d settled, %d failed\n", p.Done, p.Total, p.Failed)
			}
		},
	})
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

func cmdDemoData(g globals, args []string, stdout, stderr io.Writer) int {
	if len(args) != 0 {
		return exitf(stderr, "demo-data: takes no arguments")
	}
	db, code := openDB(g, stderr)
	if db == nil {
		return code
	}
	defer db.Close()
	sum, err := admin.SeedDemo(db, time.Now())
	if err != nil {
		return exitf(stderr, "demo-data: %v", err)
	}
	fmt.Fprintf(stdout, "demo data written to %s: %d tenants, %d groups, %d users, %d memberships, %d invoices, %d identity-map rows, %d bills, %d events\n",
		g.db, sum.Tenants, sum.Groups, sum.Users, sum.Memberships, sum.Invoices, sum.IdmapRows, sum.Bills, sum.Events)
	return 0
}
