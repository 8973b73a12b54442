package billing

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tenantdesk/tenantdesk/store"
	"github.com/tenantdesk/tenantdesk/tenant/api"
	"github.com/tenantdesk/tenantdesk/tenant/api/apitest"
)

func TestMain(m *testing.M) {
	// Runs log every failed bill; the tests assert on the ledger instead.
	slog.SetDefault(slog.New(slog.DiscardHandler))
	os.Exit(m.Run())
}

func TestParsePeriod(t *testing.T) {
	p, err := ParsePeriod("2026-11")
	if err != nil {
		t.Fatal(err)
	}
	if !p.Start.Equal(time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)) || !p.End.Equal(time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("period = %v .. %v", p.Start, p.End)
	}
	if got := p.LastSecond().Format(time.RFC3339); got != "2026-11-30T23:59:59Z" {
		t.Errorf("LastSecond = %s", got)
	}
	if p, _ := ParsePeriod("2026-12"); !p.End.Equal(time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("December ends %v", p.End)
	}
	for _, bad := range []string{"", "2026", "2026-13", "2026-00", "2026-1", "26-11", "2026-11-01", " 2026-11", "1999-12", "２０２６-11"} {
		if _, err := ParsePeriod(bad); err == nil || !strings.Contains(err.Error(), "YYYY-MM") {
			t.Errorf("ParsePeriod(%q) = %v, want a YYYY-MM error", bad, err)
		}
	}
}

func FuzzParsePeriod(f *testing.F) {
	for _, s := range []string{"2026-11", "2026-13", "0000-01", "9999-12", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParsePeriod(s)
		if err != nil {
			return
		}
		if p.Name != s || p.Start.Format("2006-01") != s || !p.End.After(p.Start) || p.Start.Day() != 1 || p.Start.Location() != time.UTC {
			t.Fatalf("ParsePeriod(%q) = %+v", s, p)
		}
	})
}

// world is a ledger with two enabled tenants, a disabled one and the groups
// of a removed one.
func world(t *testing.T) (*store.DB, *apitest.AccountAPI, []string) {
	db, _ := tempDB(t)
	f := apitest.NewAccountAPI(t, nil)
	addTenant(t, db, f, "acme", true, 4900)
	addTenant(t, db, f, "globex", true, 1500)
	addTenant(t, db, f, "initech", false, 1000)
	billed := append(addGroups(t, db, "acme", 6), addGroups(t, db, "globex", 4)...)
	addGroups(t, db, "initech", 2)  // disabled tenant: left out
	addGroups(t, db, "umbrella", 3) // removed tenant: bill directly
	price := int64(9900)
	err := db.Update(func(tx *store.Tx) error {
		for _, g := range []store.Group{
			{Tenant: "acme", UID: "cld-cancelled", Cancelled: true, CancelledAt: time.Date(2026, 10, 3, 0, 0, 0, 0, time.UTC)},
			{Tenant: "acme", UID: "cld-joined-in-december", CreatedAt: time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC)},
			{Tenant: "globex", UID: "cld-globex-vip", PriceCents: &price},
		} {
			if err := tx.PutGroup(g); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return db, f, append(billed, "cld-globex-vip")
}

func TestPreviewListsOneLinePerBillAndSendsNothing(t *testing.T) {
	db, f, billed := world(t)
	lines, err := Preview(db, mustPeriod(t, "2026-11"), "")
	if err != nil {
		t.Fatal(err)
	}
	var due, direct int
	for _, l := range lines {
		switch l.Action {
		case ActionSubmit:
			due++
		case ActionDirect:
			direct++
			if l.Tenant != "umbrella" {
				t.Errorf("direct line of %s", l.Tenant)
			}
		default:
			t.Errorf("unexpected line %+v", l)
		}
		if l.Tenant == "initech" || strings.Contains(l.GroupUID, "cancelled") || strings.Contains(l.GroupUID, "december") {
			t.Errorf("line %s/%s should not be billed", l.Tenant, l.GroupUID)
		}
		if l.GroupUID == "cld-globex-vip" && l.AmountCents != 9900 {
			t.Errorf("override price: %d", l.AmountCents)
		}
		if l.Tenant == "acme" && (l.AmountCents != 4900 || l.Currency != "AUD" || l.Description != "Acme subscription 2026-11") {
			t.Errorf("acme line %+v", l)
		}
	}
	if due != len(billed) || direct != 3 {
		t.Errorf("due %d (want %d), direct %d (want 3)", due, len(billed), direct)
	}
	var out bytes.Buffer
	if err := FormatPreview(&out, lines); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"acme", "cld-acme-00000", "49.00", "AUD", "cld-globex-vip", "99.00", "umbrella", "bill directly", "11 bills to submit"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("preview lacks %q:\n%s", want, out.String())
		}
	}
	if posts, lists, _ := f.Counts(); posts+lists != 0 {
		t.Errorf("preview sent %d requests", posts+lists)
	}
	if _, err := Preview(db, mustPeriod(t, "2026-11"), "nobody"); !errors.Is(err, ErrUnknownTenant) {
		t.Errorf("unknown tenant: %v", err)
	}
}

func TestTwoRunsBillEachGroupOnce(t *testing.T) {
	db, f, billed := world(t)
	period := mustPeriod(t, "2026-11")
	var calls atomic.Int32
	var last Progress
	sum, err := Run(context.Background(), db, Options{Period: period, Progress: func(p Progress) { calls.Add(1); last = p }})
	if err != nil {
		t.Fatalf("first run: %v", err)
	}
	if sum.Submitted != len(billed) || sum.Due != len(billed) || sum.Direct != 3 || !sum.Complete() {
		t.Errorf("first summary %+v", sum)
	}
	if int(calls.Load()) != len(billed) || last.Done != len(billed) || last.Total != len(billed) {
		t.Errorf("progress: %d calls, last %+v", calls.Load(), last)
	}
	sum2, err := Run(context.Background(), db, Options{Period: period})
	if err != nil {
		t.Fatalf("second run: %v", err)
	}
	if sum2.Due != 0 || sum2.Skipped != len(billed) || sum2.Submitted != 0 {
		t.Errorf("second summary %+v", sum2)
	}
	f.ExactlyOne(t, billed)
	if posts, lists, _ := f.Counts(); posts != len(billed) || lists != 0 {
		t.Errorf("API got %d POSTs and %d lists, want %d and 0", posts, lists, len(billed))
	}
	rows := ledgerRows(t, db, "2026-11")
	for _, g := range billed {
		r := rows[g]
		if r.Status != store.BillSubmitted || r.RemoteID == "" || r.Attempts != 1 || r.RunID != sum.RunID {
			t.Errorf("ledger %s = %+v", g, r)
		}
	}
	var runs []store.BillingRun
	db.View(func(tx *store.Tx) error { runs, err = tx.BillingRuns(0); return err })
	if len(runs) != 2 || runs[1].Submitted != len(billed) || runs[0].Skipped != len(billed) || runs[0].FinishedAt.IsZero() {
		t.Errorf("history %+v", runs)
	}
	// Another period is another bill.
	if sum, err := Run(context.Background(), db, Options{Period: mustPeriod(t, "2026-12"), Tenant: "globex"}); err != nil || sum.Submitted != 5 {
		t.Errorf("december globex: %+v, %v", sum, err)
	}
}

func TestRerunAfterHalfTheCallsFailed(t *testing.T) {
	db, f, billed := world(t)
	period := mustPeriod(t, "2026-11")
	f.FailPosts(func(n int) int {
		if n%2 == 1 {
			return http.StatusInternalServerError
		}
		return 0
	})
	sum, err := Run(context.Background(), db, Options{Period: period, Concurrency: 3})
	if !errors.Is(err, ErrIncomplete) {
		t.Fatalf("first run: %v, want ErrIncomplete", err)
	}
	if sum.Failed != len(billed)/2 || sum.Submitted != len(billed)-len(billed)/2 {
		t.Errorf("first summary: %d submitted, %d failed", sum.Submitted, sum.Failed)
	}
	rows := ledgerRows(t, db, "2026-11")
	var failed int
	for _, r := range rows {
		if r.Status == store.BillFailed {
			failed++
			if !strings.Contains(r.LastError, "HTTP 500") || !strings.Contains(r.LastError, "system error") {
				t.Errorf("ledger error %q", r.LastError)
			}
		}
	}
	if failed != sum.Failed {
		t.Errorf("%d failed rows, summary says %d", failed, sum.Failed)
	}
	var out bytes.Buffer
	FormatSummary(&out, sum)
	if !strings.Contains(out.String(), "incomplete") || !strings.Contains(out.String(), "HTTP 500") {
		t.Errorf("summary text:\n%s", out.String())
	}

	f.FailPosts(nil)
	sum, err = Run(context.Background(), db, Options{Period: period})
	if err != nil || sum.Submitted != failed || sum.Adopted != 0 {
		t.Fatalf("rerun: %+v, %v", sum, err)
	}
	f.ExactlyOne(t, billed)
	if _, lists, _ := f.Counts(); lists != failed {
		t.Errorf("%d bill lists, want one per failed row (%d)", lists, failed)
	}
}

func TestRerunAfterCancellation(t *testing.T) {
	db, f, billed := world(t)
	f.SetLatency(20 * time.Millisecond)
	period := mustPeriod(t, "2026-11")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sum, err := Run(ctx, db, Options{Period: period, Concurrency: 2, Progress: func(p Progress) {
		if p.Done == 3 {
			cancel()
		}
	}})
	if !errors.Is(err, context.Canceled) || !sum.Cancelled {
		t.Fatalf("cancelled run: %v, %+v", err, sum)
	}
	if sum.NotSent == 0 || sum.Submitted < 3 || sum.Submitted+sum.NotSent != len(billed) {
		t.Errorf("cancelled summary: %d submitted, %d not sent", sum.Submitted, sum.NotSent)
	}
	// Every row is settled or left for the next run; none is lost.
	for g, r := range ledgerRows(t, db, "2026-11") {
		if r.Status == store.BillFailed && r.Attempts != 0 {
			t.Errorf("%s: failed after an attempt: %+v", g, r)
		}
	}
	sum, err = Run(context.Background(), db, Options{Period: period})
	if err != nil {
		t.Fatalf("rerun: %v", err)
	}
	f.ExactlyOne(t, billed)
	for g, r := range ledgerRows(t, db, "2026-11") {
		if r.Status != store.BillSubmitted || r.RemoteID != f.Bills()[g][0].ID {
			t.Errorf("%s: ledger %+v, API %+v", g, r, f.Bills()[g])
		}
	}
}

func TestRunWhileRunningIsRefused(t *testing.T) {
	db, _, _ := world(t)
	period := mustPeriod(t, "2026-11")
	var inner error
	_, err := Run(context.Background(), db, Options{Period: period, Concurrency: 1, Progress: func(p Progress) {
		if p.Done == 1 {
			if !InProgress() {
				t.Error("InProgress is false during a run")
			}
			_, inner = Run(context.Background(), db, Options{Period: period})
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	if !errors.Is(inner, ErrRunInProgress) {
		t.Fatalf("second run: %v, want ErrRunInProgress", inner)
	}
	if InProgress() {
		t.Error("InProgress after the run")
	}
}

func TestBadCredentialsTimeoutsAndGarbageAreClearErrors(t *testing.T) {
	db, _ := tempDB(t)
	f := apitest.NewAccountAPI(t, nil)
	period := mustPeriod(t, "2026-11")

	wrong := addTenant(t, db, f, "wrongkey", true, 1000)
	f.SetCredentials(wrong.API.ID, "the-real-key")
	addGroups(t, db, "wrongkey", 2)

	garbage := apitest.NewAccountAPI(t, nil)
	garbage.Server.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`<html>maintenance</html>`))
	})
	addTenant(t, db, garbage, "garbage", true, 1000)
	addGroups(t, db, "garbage", 2)

	slow := apitest.NewAccountAPI(t, nil)
	slow.SetLatency(2 * time.Second)
	addTenant(t, db, slow, "slow", true, 1000)
	addGroups(t, db, "slow", 2)

	broken := addTenant(t, db, f, "nohost", true, 1000)
	broken.API.Host = "not a url"
	putTenant(t, db, broken)
	addGroups(t, db, "nohost", 1)

	client := &http.Client{Timeout: 200 * time.Millisecond}
	sum, err := Run(context.Background(), db, Options{Period: period, HTTPClient: client})
	if !errors.Is(err, ErrIncomplete) || sum.Failed != 7 || sum.Submitted != 0 {
		t.Fatalf("run: %v, %+v", err, sum)
	}
	want := map[string]string{
		"wrongkey": "HTTP 401 (check api.id and api.key): authentication Invalid API token",
		"garbage":  "malformed answer",
		"slow":     "Timeout",
		"nohost":   "not an http(s) URL",
	}
	rows := ledgerRows(t, db, "2026-11")
	for _, l := range sum.Lines {
		if l.Status != store.BillFailed || !strings.Contains(l.Error, want[l.Tenant]) {
			t.Errorf("%s/%s: status %q, error %q, want it to contain %q", l.Tenant, l.GroupUID, l.Status, l.Error, want[l.Tenant])
		}
		if r := rows[l.GroupUID]; r.Status != store.BillFailed || r.LastError != l.Error {
			t.Errorf("ledger %s: %+v", l.GroupUID, r)
		}
		if strings.Contains(l.Error, "key-wrongkey") || strings.Contains(l.Error, "key-slow") {
			t.Errorf("error shows a key: %s", l.Error)
		}
	}
	// The timed-out POSTs may have reached the API: the rerun looks first.
	slow.SetLatency(0)
	f.SetCredentials(wrong.API.ID, string(wrong.API.Key))
	sum, err = Run(context.Background(), db, Options{Period: period, Tenant: "slow"})
	if err != nil || sum.Submitted != 2 || sum.Adopted != 2 {
		t.Fatalf("rerun slow: %+v, %v", sum, err)
	}
	slow.ExactlyOne(t, []string{"cld-slow-00000", "cld-slow-00001"})
	if sum, err := Run(context.Background(), db, Options{Period: period, Tenant: "wrongkey"}); err != nil || sum.Submitted != 2 || sum.Adopted != 0 {
		t.Fatalf("rerun wrongkey: %+v, %v", sum, err)
	}
}

// A pending row from a crashed run is matched on what that run sent, even
// if the price has changed since.
func TestPendingRowIsMatchedOnWhatWasSent(t *testing.T) {
	db, _ := tempDB(t)
	f := apitest.NewAccountAPI(t, nil)
	cfg := addTenant(t, db, f, "acme", true, 4900)
	groups := addGroups(t, db, "acme", 3)
	period := mustPeriod(t, "2026-11")
	// The crashed run: its row is pending and its POST reached the API.
	sent := api.BillRequest{GroupID: groups[0], PriceCents: 4900, Currency: "AUD", Description: "Acme subscription 2026-11",
		PeriodStartedAt: period.Start, PeriodEndedAt: period.LastSecond()}
	if _, err := api.New(cfg, f.Server.Client()).CreateBill(context.Background(), sent); err != nil {
		t.Fatal(err)
	}
	err := db.Update(func(tx *store.Tx) error {
		return tx.PutBill(store.Bill{Tenant: "acme", GroupUID: groups[0], Period: period.Name, Status: store.BillPending,
			AmountCents: 4900, Currency: "AUD", Description: sent.Description, Attempts: 1})
	})
	if err != nil {
		t.Fatal(err)
	}
	cfg.Billing.PriceCents = 5900
	putTenant(t, db, cfg)

	sum, err := Run(context.Background(), db, Options{Period: period})
	if err != nil || sum.Adopted != 1 || sum.Submitted != 3 {
		t.Fatalf("run: %+v, %v", sum, err)
	}
	f.ExactlyOne(t, groups)
	if f.Bills()[groups[0]][0].PriceCents != 4900 || f.Bills()[groups[1]][0].PriceCents != 5900 {
		t.Fatalf("bills %+v", f.Bills())
	}
	if row := ledgerRows(t, db, period.Name)[groups[0]]; row.Status != store.BillSubmitted || row.AmountCents != 4900 || row.RemoteID != "bill-1" {
		t.Fatalf("ledger %+v", row)
	}
}
