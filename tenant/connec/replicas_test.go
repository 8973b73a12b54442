package connec

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/tenantdesk/tenantdesk/store"
	"github.com/tenantdesk/tenantdesk/store/etcdtest"
	"github.com/tenantdesk/tenantdesk/tenant"
	"github.com/tenantdesk/tenantdesk/tenant/connec/connectest"
)

// clusterEnv is several replicas' workers on one embedded etcd store
// (SPEC §14), each on its own handle, and one Connec! emulator that every
// tenant's connec.host names. Each tenant's invoices go to its own group
// "cld-<tenant>".
type clusterEnv struct {
	t   *testing.T
	url string
	db  *store.DB // the handle the test itself writes through
	emu *connectest.Server

	mu        sync.Mutex
	delivered map[string][]int // tenant → the worker of each push Connec! took
	pulled    map[string][]int // tenant → the puller of each page Connec! served
}

func newClusterEnv(t *testing.T, tenants, invoices int) *clusterEnv {
	e := &clusterEnv{t: t, url: etcdtest.URL(t), emu: connectest.New("app-cluster", "s3cret"), delivered: map[string][]int{}, pulled: map[string][]int{}}
	t.Cleanup(e.emu.Close)
	e.db = e.open()
	for i := range tenants {
		key := fmt.Sprintf("t%d", i+1)
		cfg := &tenant.Config{Key: tenant.Key(key), DisplayName: key, Enabled: true,
			API:    tenant.API{ID: "app-cluster", Key: "s3cret", Host: "https://hub.example.test"},
			Connec: tenant.Connec{Host: e.emu.URL, Collections: []string{"invoices"}}}
		doc, err := cfg.MarshalStored()
		if err != nil {
			t.Fatal(err)
		}
		if err := e.db.Update(func(tx *store.Tx) error {
			if err := tx.PutTenant(store.Tenant{Key: key, Config: doc}); err != nil {
				return err
			}
			return tx.PutGroup(store.Group{Tenant: key, UID: "cld-" + key, Name: key + " Corp"})
		}); err != nil {
			t.Fatal(err)
		}
		for n := range invoices {
			inv := sampleInvoice()
			inv.Tenant, inv.GroupUID, inv.Number = key, "cld-"+key, fmt.Sprintf("%s-INV-%d", key, n+1)
			if _, err := saveInvoice(e.db, inv, time.Now()); err != nil {
				t.Fatal(err)
			}
		}
	}
	return e
}

func (e *clusterEnv) open() *store.DB {
	db, err := store.OpenURL(e.url, store.TLSFiles{}, store.Options{Budget: &store.DefaultTxBudget})
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { db.Close() })
	return db
}

// worker is replica n's outbox Worker, on a handle of its own; its client
// notes each push Connec! answered 201.
func (e *clusterEnv) worker(n, concurrency int) *Worker {
	return &Worker{DB: e.open(), Concurrency: concurrency, Poll: 50 * time.Millisecond, Logger: slog.New(slog.DiscardHandler),
		HTTPClient: &http.Client{Transport: recorder{e: e, worker: n}}}
}

type recorder struct {
	e      *clusterEnv
	worker int
}

func (r recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		return resp, err
	}
	parts := strings.Split(strings.Trim(req.URL.Path, "/"), "/") // api v2 cld-<tenant> invoices
	if len(parts) < 3 {
		return resp, err
	}
	key := strings.TrimPrefix(parts[2], "cld-")
	r.e.mu.Lock()
	defer r.e.mu.Unlock()
	switch {
	case req.Method == http.MethodPost && resp.StatusCode == http.StatusCreated:
		r.e.delivered[key] = append(r.e.delivered[key], r.worker)
	case req.Method == http.MethodGet && resp.StatusCode == http.StatusOK:
		r.e.pulled[key] = append(r.e.pulled[key], r.worker)
	}
	return resp, err
}

// items are every outbox item, by status.
func (e *clusterEnv) items() map[string][]store.OutboxItem {
	e.t.Helper()
	out := map[string][]store.OutboxItem{}
	if err := e.db.View(func(tx *store.Tx) error {
		for _, s := range []string{store.OutboxQueued, store.OutboxFailed, store.OutboxDone} {
			items, err := tx.OutboxByStatus(s)
			if err != nil {
				return err
			}
			out[s] = items
		}
		return nil
	}); err != nil {
		e.t.Fatal(err)
	}
	return out
}

// created counts the invoices Connec! holds per transaction number.
func (e *clusterEnv) created(tenants int) map[string]int {
	out := map[string]int{}
	for i := range tenants {
		for _, r := range e.emu.Records(fmt.Sprintf("cld-t%d", i+1), "invoices") {
			out[fmt.Sprint(r.Fields["transaction_number"])]++
		}
	}
	return out
}

// Three replicas' workers run on one store with 30 due invoices of 6
// tenants: each invoice reaches Connec! exactly once, each tenant's pushes
// come from one worker, and the tenants spread over the workers (each
// holds at most Concurrency = 2 tenants at a time).
func TestOutboxSpreadOverReplicasExactlyOnce(t *testing.T) {
	const tenants, invoices = 6, 5
	e := newClusterEnv(t, tenants, invoices)
	e.emu.SetLatency(20 * time.Millisecond)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for n := range 3 {
		w := e.worker(n+1, 2)
		wg.Add(1)
		go func() { defer wg.Done(); _ = w.Run(ctx) }()
	}
	deadline := time.Now().Add(30 * time.Second)
	for len(e.items()[store.OutboxDone]) < tenants*invoices && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	wg.Wait()

	items := e.items()
	if len(items[store.OutboxDone]) != tenants*invoices {
		t.Fatalf("%d of %d items delivered (queued %d, failed %d)", len(items[store.OutboxDone]), tenants*invoices,
			len(items[store.OutboxQueued]), len(items[store.OutboxFailed]))
	}
	for _, it := range items[store.OutboxDone] {
		if it.Attempts != 1 {
			t.Errorf("item %d of %s took %d attempts, want 1", it.ID, it.Tenant, it.Attempts)
		}
	}
	created := e.created(tenants)
	for i := range tenants {
		for n := range invoices {
			if num := fmt.Sprintf("t%d-INV-%d", i+1, n+1); created[num] != 1 {
				t.Errorf("invoice %s created %d times in Connec!, want once", num, created[num])
			}
		}
	}
	byWorker := map[int][]string{}
	for key, ws := range e.delivered {
		for _, w := range ws[1:] {
			if w != ws[0] {
				t.Errorf("tenant %s pushed by workers %v, want one", key, ws)
				break
			}
		}
		byWorker[ws[0]] = append(byWorker[ws[0]], key)
	}
	t.Logf("tenants per worker: %v", byWorker)
	if len(byWorker) < 2 {
		t.Errorf("every tenant was worked by one worker (%v): the work did not spread", byWorker)
	}
}

// A replica that stalls mid-push while its claim's lease runs out loses
// the tenant: another replica takes it over and delivers its items, and
// when the stalled one wakes up its outcome is refused (fenced), so each
// item is recorded once. Connec! saw the push in flight at the takeover
// twice: a push answered after its claim ran out cannot be taken back.
func TestOutboxTakenOverWhenAReplicaStalls(t *testing.T) {
	e := newClusterEnv(t, 1, 3)
	arrived, release := e.emu.Hold(func(r *http.Request) bool { return r.Method == http.MethodPost })
	defer release()
	stalled := e.worker(1, 1) // one push at a time: it stalls on the first
	stalledDone := make(chan int)
	go func() {
		n, _ := stalled.ProcessDue(context.Background())
		stalledDone <- n
	}()
	select {
	case <-arrived:
	case <-time.After(10 * time.Second):
		t.Fatal("the first push never reached Connec!")
	}
	e.expireClaim("outbox/t1") // its lease runs out while it waits

	taker := e.worker(2, 2)
	n, err := taker.ProcessDue(context.Background())
	if err != nil || n != 3 {
		t.Fatalf("the taker delivered %d items (%v), want all 3", n, err)
	}
	release()
	if n := <-stalledDone; n != 0 {
		t.Errorf("the stalled worker recorded %d deliveries after losing its claim, want 0", n)
	}
	items := e.items()
	if len(items[store.OutboxDone]) != 3 {
		t.Fatalf("%d items delivered, want 3", len(items[store.OutboxDone]))
	}
	for _, it := range items[store.OutboxDone] {
		if it.Attempts != 1 {
			t.Errorf("item %d: %d attempts recorded, want 1", it.ID, it.Attempts)
		}
	}
	if d := e.delivered["t1"]; len(d) != 4 || d[len(d)-1] != 1 {
		t.Errorf("pushes Connec! took, by worker: %v; want the taker's 3, then the stalled one's late answer", d)
	}
	// The identity map keeps the taker's Connec! id, not the late one's.
	recs := e.emu.Records("cld-t1", "invoices")
	var row store.ConnectedObject
	if err := e.db.View(func(tx *store.Tx) (err error) {
		row, err = tx.ConnectedByLocal("t1", store.KindInvoice, items[store.OutboxDone][0].LocalID)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	late := recs[len(recs)-1]
	if row.RemoteID == "" || row.RemoteID == late.ConnecID {
		t.Errorf("identity row of %s has Connec! id %q; the late push's is %q", row.LocalID, row.RemoteID, late.ConnecID)
	}
}

// Push now on one replica, of an item whose tenant another replica works
// (and whose next attempt is an hour away): the item is made due now,
// Push now waits, and once the tenant is free it is pushed, once.
func TestPushNowWhileAnotherReplicaWorksTheTenant(t *testing.T) {
	e := newClusterEnv(t, 1, 1)
	var it store.OutboxItem
	if err := e.db.Update(func(tx *store.Tx) error {
		due, err := tx.OutboxByStatus(store.OutboxQueued)
		if err != nil || len(due) != 1 {
			return fmt.Errorf("queued: %v %v", due, err)
		}
		it = due[0]
		it.NextAttemptAt = time.Now().Add(time.Hour) // backing off
		_, err = tx.PutOutboxItem(it)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	other := e.open()
	held, err := other.TryClaim("outbox/t1")
	if err != nil {
		t.Fatal(err)
	}
	w := e.worker(1, 2)
	pushed := make(chan error, 1)
	go func() { pushed <- w.PushNow(context.Background(), it.ID) }()
	time.Sleep(300 * time.Millisecond)
	select {
	case err := <-pushed:
		t.Fatalf("Push now returned (%v) while another replica held the tenant", err)
	default:
	}
	if cur := e.items()[store.OutboxQueued]; len(cur) != 1 || cur[0].NextAttemptAt.After(time.Now()) {
		t.Errorf("while waiting the item is %+v; want it queued, due now", cur)
	}
	if n := len(e.delivered["t1"]); n != 0 {
		t.Fatalf("%d pushes while another replica held the tenant", n)
	}
	held.Unlock() // that replica's worker went idle
	select {
	case err := <-pushed:
		if err != nil {
			t.Fatalf("Push now: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Push now did not return within 10 s of the tenant coming free")
	}
	if d := e.delivered["t1"]; len(d) != 1 {
		t.Errorf("%d pushes of the item, want 1", len(d))
	}
	if done := e.items()[store.OutboxDone]; len(done) != 1 {
		t.Errorf("%d items delivered, want 1", len(done))
	}
}

// expireClaim ends the lease of a claim as its expiry would (the holder
// stalled, its keep-alives stopped): with the cluster's own client, as
// nothing in the store can be asked to do it.
func (e *clusterEnv) expireClaim(name string) {
	e.t.Helper()
	u, err := url.Parse(e.url)
	if err != nil {
		e.t.Fatal(err)
	}
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{"http://" + u.Host}, DialTimeout: 5 * time.Second})
	if err != nil {
		e.t.Fatal(err)
	}
	defer cli.Close()
	resp, err := cli.Get(e.t.Context(), u.Path+"/_claims/"+name)
	if err != nil || len(resp.Kvs) != 1 {
		e.t.Fatalf("claim %s: %v %v", name, resp, err)
	}
	if _, err := cli.Revoke(e.t.Context(), clientv3.LeaseID(resp.Kvs[0].Lease)); err != nil {
		e.t.Fatal(err)
	}
}

// puller is replica n's Puller, on a handle of its own.
func (e *clusterEnv) puller(n, concurrency int) *Puller {
	return &Puller{DB: e.open(), Concurrency: concurrency, Poll: 50 * time.Millisecond, Logger: slog.New(slog.DiscardHandler),
		RetryBase: time.Millisecond, HTTPClient: &http.Client{Transport: recorder{e: e, worker: n}}}
}

// Two replicas' pullers run on one store with the initial pulls of 4
// tenants queued (101 invoices each in Connec!, two pages): each pull runs
// once, by one puller, every invoice stored once, and the tenants spread
// over both pullers (each holds one tenant at a time).
func TestPullsSpreadOverReplicasOnce(t *testing.T) {
	const tenants, records = 4, 101
	e := newClusterEnv(t, tenants, 0)
	e.emu.SetLatency(20 * time.Millisecond)
	now := time.Now()
	for i := range tenants {
		key := fmt.Sprintf("t%d", i+1)
		for n := range records {
			e.emu.Add("cld-"+key, "invoices", connectest.Invoice(fmt.Sprintf("%s-c-%04d", key, n), n, now.Add(-time.Hour)))
		}
		if err := e.db.Update(func(tx *store.Tx) error { return QueueInitialPulls(tx, key, "cld-"+key, now) }); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for n := range 2 {
		p := e.puller(n+1, 1)
		wg.Add(1)
		go func() { defer wg.Done(); _ = p.Run(ctx) }()
	}
	pulledAll := func() bool {
		var ps []store.Pull
		_ = e.db.View(func(tx *store.Tx) (err error) { ps, err = tx.Pulls(""); return err })
		done := 0
		for _, p := range ps {
			if !p.LastPullAt.IsZero() {
				done++
			}
		}
		return done == tenants
	}
	deadline := time.Now().Add(90 * time.Second) // a page of 100 is journaled on etcd: 2.5 s in all, 25 s under -race
	for !pulledAll() && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	wg.Wait()
	if !pulledAll() {
		var ps []store.Pull
		_ = e.db.View(func(tx *store.Tx) (err error) { ps, err = tx.Pulls(""); return err })
		for _, p := range ps {
			t.Logf("%s: %s, %d pages, last pull %s, error %q", p.Tenant, p.Status, p.Run.Pages, p.LastPullAt, p.LastError)
		}
		t.Fatal("not every queued pull finished within 90 s")
	}
	byPuller := map[int][]string{}
	for i := range tenants {
		key := fmt.Sprintf("t%d", i+1)
		pages := e.pulled[key]
		if len(pages) != 2 || pages[0] != pages[1] {
			t.Errorf("tenant %s: pages served to pullers %v, want 2 pages to one", key, pages)
		}
		if len(pages) > 0 {
			byPuller[pages[0]] = append(byPuller[pages[0]], key)
		}
		var invs []store.Invoice
		if err := e.db.View(func(tx *store.Tx) (err error) { invs, err = tx.Invoices(key); return err }); err != nil {
			t.Fatal(err)
		}
		if len(invs) != records {
			t.Errorf("tenant %s: %d invoices stored, want %d", key, len(invs), records)
		}
	}
	t.Logf("tenants per puller: %v", byPuller)
	if len(byPuller) < 2 {
		t.Errorf("one puller pulled every tenant (%v): the work did not spread", byPuller)
	}
}

// A replica that stops (serve shutting down: its Run ends, its handle
// closes) releases its tenants at once: another replica's worker takes
// them over well within the claims' 15 s lease and delivers the rest.
func TestOutboxTakenOverWhenAReplicaStops(t *testing.T) {
	const tenants, invoices = 2, 10
	e := newClusterEnv(t, tenants, invoices)
	e.emu.SetLatency(30 * time.Millisecond)
	first := e.worker(1, 2)
	ctx, stop := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() { defer close(stopped); _ = first.Run(ctx) }()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline) && len(e.items()[store.OutboxDone]) < 2; {
		time.Sleep(10 * time.Millisecond)
	}
	stop()
	<-stopped
	first.DB.Close()
	before := len(e.items()[store.OutboxDone])
	if before >= tenants*invoices {
		t.Fatalf("the first worker delivered all %d before it stopped", before)
	}

	start := time.Now()
	second := e.worker(2, 2)
	n, err := second.ProcessDue(context.Background())
	took := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	done := e.items()[store.OutboxDone]
	t.Logf("first worker delivered %d before it stopped; the second took over at once and delivered %d in %s", before, n, took)
	if len(done) != tenants*invoices {
		t.Fatalf("%d of %d delivered after the takeover", len(done), tenants*invoices)
	}
	if took > 5*time.Second {
		t.Errorf("the takeover took %s: the stopped replica's claims were not released", took)
	}
	for _, it := range done {
		if it.Attempts != 1 {
			t.Errorf("item %d: %d attempts, want 1", it.ID, it.Attempts)
		}
	}
	// A push in flight when the first stopped was abandoned unanswered and
	// sent again by the second: at most Concurrency of them reach Connec! twice.
	twice := 0
	for num, c := range e.created(tenants) {
		if c > 2 || c < 1 {
			t.Errorf("invoice %s created %d times", num, c)
		}
		if c == 2 {
			twice++
		}
	}
	t.Logf("invoices Connec! got twice (in flight at the stop): %d", twice)
	if twice > 2 {
		t.Errorf("%d invoices created twice, want at most the 2 in flight at the stop", twice)
	}
}

// A replica dies (here: hangs for good) after its create reached Connec!
// and before it recorded the answer; once its claim's lease runs out,
// another replica takes the tenant over. It finds the record the dead
// one's create made, records its Connec! id and creates nothing: Connec!
// holds the invoice once. When the hung replica wakes, its outcome is
// refused (fenced).
func TestCreateLostWithItsReplicaIsNotSentAgain(t *testing.T) {
	e := newClusterEnv(t, 1, 1)
	answered := make(chan struct{})
	wake := make(chan struct{})
	dying := e.worker(1, 1)
	dying.HTTPClient = &http.Client{Transport: hangAfter{rt: dying.HTTPClient.Transport, answered: answered, wake: wake}}
	hung := make(chan int)
	go func() {
		n, _ := dying.ProcessDue(context.Background())
		hung <- n
	}()
	select {
	case <-answered:
	case <-time.After(10 * time.Second):
		t.Fatal("the create never reached Connec!")
	}
	e.expireClaim("outbox/t1")

	taker := e.worker(2, 1)
	if n, err := taker.ProcessDue(context.Background()); err != nil || n != 1 {
		t.Fatalf("the taker delivered %d (%v), want 1", n, err)
	}
	close(wake)
	if n := <-hung; n != 0 {
		t.Errorf("the hung replica recorded %d deliveries after losing its claim, want 0", n)
	}
	recs := e.emu.Records("cld-t1", "invoices")
	if len(recs) != 1 || len(e.delivered["t1"]) != 1 || e.delivered["t1"][0] != 1 {
		t.Fatalf("Connec! holds %d invoices, created by workers %v; want 1, by the replica that died", len(recs), e.delivered["t1"])
	}
	done := e.items()[store.OutboxDone]
	if len(done) != 1 || !done[0].CreateSentAt.IsZero() {
		t.Fatalf("delivered %+v; want the item done, nothing in flight", done)
	}
	var row store.ConnectedObject
	if err := e.db.View(func(tx *store.Tx) (err error) {
		row, err = tx.ConnectedByLocal("t1", store.KindInvoice, done[0].LocalID)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if row.RemoteID != recs[0].ConnecID {
		t.Errorf("identity map has Connec! id %q, Connec! holds %q", row.RemoteID, recs[0].ConnecID)
	}
}

// hangAfter lets a create through to Connec!, then hangs until wake is
// closed and answers with an error: its caller never sees the answer.
type hangAfter struct {
	rt             http.RoundTripper
	answered, wake chan struct{}
}

func (h hangAfter) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := h.rt.RoundTrip(req)
	if req.Method != http.MethodPost || err != nil {
		return resp, err
	}
	resp.Body.Close()
	close(h.answered)
	<-h.wake
	return nil, errors.New("the replica died before it read the answer")
}
