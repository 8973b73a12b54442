package connec

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tenantdesk/tenantdesk/store"
	"github.com/tenantdesk/tenantdesk/tenant"
	"github.com/tenantdesk/tenantdesk/tenant/connec/connectest"
)

// pullEnv is a store with tenant acme, group cld-1, and a Connec! emulator.
type pullEnv struct {
	dataFile
	emu *connectest.Server
}

var t0 = time.Date(2026, 11, 1, 8, 0, 0, 0, time.UTC)

func newPullEnv(t *testing.T) *pullEnv {
	t.Helper()
	e := &pullEnv{dataFile: newDataFile(t), emu: connectest.New("app-acme", "s3cret")}
	t.Cleanup(e.emu.Close)
	e.open()
	t.Cleanup(func() { e.db.Close() })
	e.cfg = acmeOn(e.emu)
	putAcme(t, e.db, e.cfg)
	return e
}

func (e *pullEnv) puller() *Puller {
	return &Puller{DB: e.db, HTTPClient: e.emu.Client(), Now: e.clock.Now, Logger: slog.New(slog.DiscardHandler),
		RetryBase: time.Millisecond, QueueBase: time.Second}
}

// addInvoices puts n invoices into the emulator's cld-1, numbered from first.
func (e *pullEnv) addInvoices(first, n int) {
	for i := first; i < first+n; i++ {
		e.emu.Add("cld-1", "invoices", connectest.Invoice(fmt.Sprintf("c-%04d", i), i, t0.Add(time.Duration(i)*time.Second)))
	}
}

func (e *pullEnv) pullNow(req PullRequest) PullResult {
	e.t.Helper()
	res, err := e.puller().PullNow(context.Background(), req, nil)
	if err != nil {
		e.t.Fatalf("pull now: %v", err)
	}
	if len(res) != 1 {
		e.t.Fatalf("pull now: %d results, want 1: %+v", len(res), res)
	}
	return res[0]
}

func (e *pullEnv) invoices() []store.Invoice {
	e.t.Helper()
	var invs []store.Invoice
	if err := e.db.View(func(tx *store.Tx) (err error) { invs, err = tx.Invoices("acme"); return }); err != nil {
		e.t.Fatal(err)
	}
	return invs
}

func (e *pullEnv) state() store.Pull {
	e.t.Helper()
	var st store.Pull
	if err := e.db.View(func(tx *store.Tx) (err error) { st, err = tx.Pull("acme", "cld-1", "invoices"); return }); err != nil {
		e.t.Fatal(err)
	}
	return st
}

// checkExactlyOnce: every emulator record is one local invoice with one
// identity-map row, linked back with our triplet exactly once.
func (e *pullEnv) checkExactlyOnce(n int) {
	e.t.Helper()
	invs := e.invoices()
	if len(invs) != n {
		e.t.Fatalf("%d local invoices, want %d", len(invs), n)
	}
	byNumber := map[string]string{}
	for _, inv := range invs {
		if prev, dup := byNumber[inv.Number]; dup {
			e.t.Fatalf("invoice %s stored twice (%s and %s)", inv.Number, prev, inv.ID)
		}
		byNumber[inv.Number] = inv.ID
	}
	err := e.db.View(func(tx *store.Tx) error {
		for _, rec := range e.emu.Records("cld-1", "invoices") {
			row, err := tx.ConnectedByRemote("acme", rec.ConnecID)
			if err != nil {
				return fmt.Errorf("record %s: %w", rec.ConnecID, err)
			}
			if row.LinkedAt.IsZero() {
				return fmt.Errorf("row of %s not marked linked", rec.ConnecID)
			}
			ours := 0
			for _, ref := range rec.External {
				if ref.Provider == "app-acme" && ref.Realm == "cld-1" {
					ours++
					if ref.ID != row.LocalID {
						return fmt.Errorf("record %s linked to %s, row says %s", rec.ConnecID, ref.ID, row.LocalID)
					}
				}
			}
			if ours != 1 {
				return fmt.Errorf("record %s carries %d of our triplets", rec.ConnecID, ours)
			}
		}
		n, err := tx.CountConnected("acme", "invoices")
		if err != nil {
			return err
		}
		if n != len(invs) {
			return fmt.Errorf("%d identity rows for %d invoices", n, len(invs))
		}
		return nil
	})
	if err != nil {
		e.t.Fatal(err)
	}
}

func gets(reqs []connectest.Request) []connectest.Request {
	var out []connectest.Request
	for _, r := range reqs {
		if r.Method == http.MethodGet {
			out = append(out, r)
		}
	}
	return out
}

func TestPull250RecordsIn3PagesWithARetriedPage(t *testing.T) {
	e := newPullEnv(t)
	e.addInvoices(1, 250)
	e.emu.FailPage("invoices", 100, http.StatusInternalServerError, 1)

	res := e.pullNow(PullRequest{Tenant: "acme"})
	if !res.Complete || res.Err != nil {
		t.Fatalf("pull: %+v", res)
	}
	if c := res.Counts; c.Pages != 3 || c.Stored != 250 || c.Unchanged != 0 || c.Skipped != 0 || c.Linked != 250 {
		t.Errorf("counts %+v, want 3 pages, 250 stored and linked", c)
	}
	g := gets(e.emu.Requests())
	if len(g) != 4 {
		t.Fatalf("%d GETs, want 4 (3 pages, one retried)", len(g))
	}
	for _, r := range g {
		if r.Query.Get("$top") != "100" || !r.ExternalIDs || r.Query.Get("$filter") != "" {
			t.Errorf("GET %s?%s external-ids=%v: want $top=100, CONNEC-EXTERNAL-IDS and no filter on the first pull", r.Path, r.Query.Encode(), r.ExternalIDs)
		}
	}
	if g[1].Status != 500 || g[2].Query.Get("$skip") != "100" || g[3].Query.Get("$skip") != "200" {
		t.Errorf("pages asked: %v %v %v %v", g[0].Query, g[1].Query, g[2].Query, g[3].Query)
	}
	e.checkExactlyOnce(250)
	if st := e.state(); st.LastPullAt.IsZero() || st.Cursor != "" || st.Last.Stored != 250 || st.Status != store.PullIdle {
		t.Errorf("state after pull: %+v", st)
	}
	// The pulled invoice is the Connec! one, money and all.
	inv := e.invoices()[41]
	if inv.Number != "INV-00042" || inv.TotalCents != 4200 || inv.Currency != "AUD" || len(inv.Lines) != 1 {
		t.Errorf("invoice 42: %+v", inv)
	}
}

func TestSecondPullChangesNothingAndLinksNothing(t *testing.T) {
	e := newPullEnv(t)
	e.addInvoices(1, 120)
	e.pullNow(PullRequest{Tenant: "acme"})
	e.emu.ResetRequests()
	e.clock.Advance(time.Hour)

	res := e.pullNow(PullRequest{Tenant: "acme", Full: true}) // every record again
	if c := res.Counts; !res.Complete || c.Stored != 0 || c.Unchanged != 120 || c.Linked != 0 {
		t.Fatalf("second pull: %+v", res)
	}
	if n := e.emu.LinkOps(); n != 0 {
		t.Errorf("%d link ops on the second pull, want 0", n)
	}
	for _, r := range e.emu.Requests() {
		if r.Method != http.MethodGet {
			t.Errorf("second pull sent %s %s", r.Method, r.Path)
		}
	}
	e.checkExactlyOnce(120)
}

func TestDeltaPullAsksOnlyForChangesAndAppliesThem(t *testing.T) {
	e := newPullEnv(t)
	e.addInvoices(1, 30)
	first := e.clock.Now()
	e.pullNow(PullRequest{Tenant: "acme"})
	e.emu.ResetRequests()

	e.clock.Advance(2 * time.Hour)
	changed := e.clock.Now().Add(-30 * time.Minute)
	e.emu.Update("cld-1", "invoices", "c-0007", changed, map[string]any{"status": "PAID", "title": "Paid now"})
	e.emu.Add("cld-1", "invoices", connectest.Invoice("c-0999", 999, changed))

	res := e.pullNow(PullRequest{Tenant: "acme", Group: "cld-1"})
	if c := res.Counts; !res.Complete || c.Stored != 2 || c.Unchanged != 0 || c.Linked != 1 {
		t.Fatalf("delta pull: %+v", res)
	}
	g := gets(e.emu.Requests())
	if len(g) != 1 {
		t.Fatalf("%d GETs, want 1", len(g))
	}
	want := "updated_at gt '" + first.Add(-PullOverlap).Format(time.RFC3339) + "'"
	if f := g[0].Query.Get("$filter"); f != want {
		t.Errorf("$filter = %q, want %q", f, want)
	}
	var paid store.Invoice
	for _, inv := range e.invoices() {
		if inv.Number == "INV-00007" {
			paid = inv
		}
	}
	if paid.Status != "PAID" || paid.Title != "Paid now" {
		t.Errorf("changed invoice not applied: %+v", paid)
	}
	e.checkExactlyOnce(31)
}

func TestMalformedRecordIsSkippedNotThePage(t *testing.T) {
	e := newPullEnv(t)
	e.addInvoices(1, 5)
	e.emu.Add("cld-1", "invoices",
		&connectest.Record{ConnecID: "bad-1", Raw: []byte(`{"id":[{"id":"bad-1","provider":"connec","realm":"org-emu"}],"group_id":"cld-1","amount":{"total_amount":"twelve"}}`)},
		&connectest.Record{ConnecID: "bad-2", Raw: []byte(`{"id":"x","group_id":"cld-other","title":"not ours"}`)},
		&connectest.Record{ConnecID: "bad-3", Raw: []byte(`"just a string"`)})
	e.addInvoices(6, 5)

	res := e.pullNow(PullRequest{Tenant: "acme"})
	if c := res.Counts; !res.Complete || c.Stored != 10 || c.Skipped != 3 || c.Pages != 1 {
		t.Fatalf("pull: %+v", res)
	}
	if n := len(e.invoices()); n != 10 {
		t.Errorf("%d invoices stored, want 10", n)
	}
	var events []store.Event
	_ = e.db.View(func(tx *store.Tx) (err error) { events, err = tx.RecentEvents(10); return })
	found := false
	for _, ev := range events {
		found = found || (strings.Contains(ev.Message, "3 malformed record(s) skipped") && strings.Contains(ev.Message, "twelve"))
	}
	if !found {
		t.Errorf("no activity event reports the skipped records: %+v", events)
	}
}

func TestUnauthorizedStopsTheTenantsPulls(t *testing.T) {
	e := newPullEnv(t)
	e.addInvoices(1, 3)
	e.cfg.API.Key = "wrong"
	e.putTenant()
	if err := e.db.Update(func(tx *store.Tx) error { return QueueInitialPulls(tx, "acme", "cld-1", e.clock.Now()) }); err != nil {
		t.Fatal(err)
	}
	p := e.puller()
	if _, err := p.ProcessDue(context.Background()); err != nil {
		t.Fatal(err)
	}
	st := e.state()
	if st.Status != store.PullStopped || !strings.Contains(st.LastError, "401") {
		t.Fatalf("state after 401: %+v", st)
	}
	var stop store.PullStop
	if err := e.db.View(func(tx *store.Tx) (err error) { stop, err = tx.PullStopped("acme"); return }); err != nil {
		t.Fatalf("tenant not stopped: %v", err)
	}
	// The queue leaves it alone: no more calls, however long we wait.
	e.emu.ResetRequests()
	e.clock.Advance(24 * time.Hour)
	e.cfg.Connec.PullInterval = tenant.Duration(15 * time.Minute)
	e.putTenant()
	if err := p.SchedulePeriodic(); err != nil {
		t.Fatal(err)
	}
	if _, err := p.ProcessDue(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := len(e.emu.Requests()); n != 0 {
		t.Errorf("%d requests after the stop, want 0", n)
	}
	var events []store.Event
	_ = e.db.View(func(tx *store.Tx) (err error) { events, err = tx.RecentEvents(10); return })
	if len(events) == 0 || !strings.Contains(events[0].Message, "stopped") || events[0].Outcome != "failed" {
		t.Errorf("activity log does not say the pulls stopped: %+v", events)
	}
	// A pull by hand with fixed credentials lifts the stop.
	e.cfg.API.Key = "s3cret"
	e.putTenant()
	if res := e.pullNow(PullRequest{Tenant: "acme"}); !res.Complete || res.Counts.Stored != 3 {
		t.Fatalf("pull by hand after the fix: %+v", res)
	}
	if err := e.db.View(func(tx *store.Tx) error { _, err := tx.PullStopped("acme"); return err }); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("stop not lifted: %v", err)
	}
	_ = stop
}

func TestQueuedPullRetriesWithBackoffAndResumesAtItsPage(t *testing.T) {
	e := newPullEnv(t)
	e.addInvoices(1, 250)
	e.emu.FailPage("invoices", 200, http.StatusBadGateway, 4) // more than one run's tries
	if err := e.db.Update(func(tx *store.Tx) error { return QueueInitialPulls(tx, "acme", "cld-1", e.clock.Now()) }); err != nil {
		t.Fatal(err)
	}
	p := e.puller()
	if n, _ := p.ProcessDue(context.Background()); n != 0 {
		t.Fatalf("%d pulls completed, want 0", n)
	}
	st := e.state()
	if st.Status != store.PullQueued || st.Attempts != 1 || st.Run.Pages != 2 || st.Cursor == "" || !st.DueAt.After(e.clock.Now()) {
		t.Fatalf("after a failed run: %+v", st)
	}
	e.emu.ResetRequests()
	e.clock.Advance(time.Hour)
	if n, _ := p.ProcessDue(context.Background()); n != 1 {
		t.Fatalf("retry did not complete: %+v", e.state())
	}
	g := gets(e.emu.Requests())
	if len(g) != 1 || g[0].Query.Get("$skip") != "200" {
		t.Errorf("the retry asked %d pages from %v, want only the page at 200", len(g), g[0].Query)
	}
	e.checkExactlyOnce(250)
}

func TestNotificationQueuesAGroupsInitialPullOnce(t *testing.T) {
	e := newPullEnv(t)
	body := `{"invoices":[{"id":"n-1","group_id":"cld-new","transaction_number":"N1","currency":"AUD","updated_at":"2026-11-20T00:00:00Z"}]}`
	for i := 0; i < 2; i++ {
		if err := e.db.Update(func(tx *store.Tx) error { _, err := Ingest(tx, e.cfg, []byte(body), e.clock.Now()); return err }); err != nil {
			t.Fatal(err)
		}
	}
	var st store.Pull
	if err := e.db.View(func(tx *store.Tx) (err error) { st, err = tx.Pull("acme", "cld-new", "invoices"); return }); err != nil {
		t.Fatalf("no initial pull queued: %v", err)
	}
	if st.Status != store.PullQueued || !st.Full {
		t.Errorf("initial pull: %+v", st)
	}
}

// Pages come from outside: decoding one, and each of its records, never
// panics, and a record is either refused or belongs to the pulled group.
func FuzzDecodePage(f *testing.F) {
	for _, seed := range []string{
		`{"invoices":[{"id":[{"id":"c-1","provider":"connec","realm":"org-1"}],"group_id":"cld-1","transaction_number":"A","amount":{"total_amount":"1.5"}}],"pagination":{"skip":0,"top":100,"total":1}}`,
		`{"invoices":[{"id":"c-2","group_id":"cld-2"}],"pagination":{"next":"http://x/api/v2/cld-1/invoices?$skip=100"}}`,
		`{"invoices":null}`, `{"invoices":{"id":"c","group_id":"cld-1"}}`, `{"pagination":{}}`, `[]`, `{"invoices":[1,"x",null]}`,
	} {
		f.Add([]byte(seed))
	}
	cfg := &tenant.Config{Key: "acme", API: tenant.API{ID: "app-acme"}}
	f.Fuzz(func(t *testing.T, raw []byte) {
		p, _, err := decodePage(raw, "invoices")
		if err != nil {
			return
		}
		for _, rec := range p.Records {
			n, err := decodePulled(cfg, "invoices", "cld-1", rec)
			if err == nil && (n.groupUID != "cld-1" || n.connecID == "") {
				t.Fatalf("accepted %s as %+v", rec, n)
			}
		}
	})
}

func TestPeriodicPullsAreQueuedEveryInterval(t *testing.T) {
	e := newPullEnv(t)
	e.addInvoices(1, 3)
	p := e.puller()
	if err := p.SchedulePeriodic(); err != nil {
		t.Fatal(err)
	}
	if err := e.db.View(func(tx *store.Tx) error { _, err := tx.Pull("acme", "cld-1", "invoices"); return err }); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a tenant without pull_interval got a pull queued: %v", err)
	}
	e.cfg.Connec.PullInterval = tenant.Duration(15 * time.Minute)
	e.putTenant()
	for step, want := range []struct {
		advance time.Duration
		queued  bool
	}{{0, true}, {10 * time.Minute, false}, {6 * time.Minute, true}} {
		e.clock.Advance(want.advance)
		if err := p.SchedulePeriodic(); err != nil {
			t.Fatal(err)
		}
		if st := e.state(); (st.Status == store.PullQueued) != want.queued {
			t.Fatalf("step %d: state %+v, want queued=%v", step, st, want.queued)
		}
		if _, err := p.ProcessDue(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if g := gets(e.emu.Requests()); len(g) != 2 || g[0].Query.Get("$filter") != "" || g[1].Query.Get("$filter") == "" {
		t.Errorf("periodic pulls asked %d pages; want a full pull, then a delta pull", len(g))
	}
}
