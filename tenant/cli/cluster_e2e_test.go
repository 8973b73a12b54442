//go:build etcde2e && unix

package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tenantdesk/tenantdesk/store/etcdtest/cluster"
	"github.com/tenantdesk/tenantdesk/tenant"
	"github.com/tenantdesk/tenantdesk/tenant/api/apitest"
	"github.com/tenantdesk/tenantdesk/tenant/billing"
	"github.com/tenantdesk/tenantdesk/tenant/sso/hubtest"
	"github.com/tenantdesk/tenantdesk/tenant/sso/ssotest"
)

// TestE2EReplicasOnEtcd (make test-etcd-e2e, SPEC §14): the built
// tenantdesk binary as three `serve` replicas on a three-member Debian etcd
// cluster on loopback, set up with the CLI on the cluster, behind a
// round-robin balancer that retries on another replica after a connection
// error or a 5xx, as nginx's proxy_next_upstream does. Under a load of
// durable webhook writes with the tenants' API credentials (acme's Connec!
// notifications, one invoice each; globex's group cancellations of
// accounts signed in beforehand), the replica running the background work
// and then the etcd leader are SIGKILLed. Every write answered 2xx is found
// afterwards through `export`, and service resumes within 15 s of each
// kill. Across replicas: a login started on one replica is consumed on
// another and its session works on the third, a tenant changed through the
// CLI is in force on every replica within 2 s, of two billing runs started
// at once one bills and the other exits 1, and the background work is
// taken over.
func TestE2EReplicasOnEtcd(t *testing.T) {
	built := make(chan error, 1)
	bin := filepath.Join(t.TempDir(), "tenantdesk")
	go func() { built <- buildTenantdesk(bin) }()
	etcd := cluster.Start(t, 3)
	if err := <-built; err != nil {
		t.Fatal(err)
	}
	c := &e2eCluster{t: t, bin: bin, public: "http://" + cluster.FreeAddr(t),
		store: etcd.URL("tenantdesk"), keyFile: filepath.Join(t.TempDir(), "keys", "tenantdesk.key"), logs: e2eLogs(t)}

	m := newMarketplace(t, c.public)
	if code, out, errOut := c.cli(m.document("production"), "tenant", "import", "-"); code != 0 {
		t.Fatalf("tenant import on the cluster: exit %d\n%s%s", code, out, errOut)
	}
	for range 3 {
		c.startReplica(cluster.FreeAddr(t))
	}
	var status clusterStatus
	c.clusterStatus(&status)
	if len(status.Replicas) != 3 {
		t.Fatalf("cluster status lists %d replicas, want 3: %+v", len(status.Replicas), status.Replicas)
	}

	m.hub.SignIn("usr-1")
	login := c.loginAcrossReplicas(acme)
	// Globex's customer accounts, each signed in once by its admin (the
	// login made on one replica and consumed on the next), for the load to
	// cancel.
	signInErrs := make(chan error, len(m.globexGroups))
	for i, g := range m.globexGroups {
		go func() {
			jar, _ := cookiejar.New(nil)
			addrs := c.addrs()
			_, _, err := c.signIn(globex, "group_id="+g+"&user_uid=usr-"+g, addrs[i%3], addrs[(i+1)%3], jar)
			signInErrs <- err
		}()
	}
	for range m.globexGroups {
		if err := <-signInErrs; err != nil {
			t.Fatal(err)
		}
	}

	// The load, with a replica and then the etcd leader SIGKILLed.
	const writers = 16
	lb := &balancer{replicas: c.addrs(), client: &http.Client{Timeout: 10 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: 64}}}
	k := c.loadAndKill(m, etcd, lb, writers)

	// The killed replica comes back on its address: the balancer's three
	// replicas run again.
	c.startReplica(k.victim.addr)

	// Every write answered 2xx is in the store, as the CLI reads it: each
	// notified invoice, each cancelled group.
	var export struct {
		Invoices []struct{ Number string } `json:"invoices"`
		Groups   []struct {
			UID       string `json:"uid"`
			Cancelled bool   `json:"cancelled"`
		} `json:"groups"`
	}
	c.export("", &export)
	stored := map[string]bool{}
	for _, inv := range export.Invoices {
		stored[inv.Number] = true
	}
	for _, g := range export.Groups {
		if strings.HasPrefix(g.UID, "glx-") && g.Cancelled {
			stored[g.UID] = true
		}
	}
	acked := lb.acknowledged()
	var lost []string
	cancels := 0
	for _, n := range acked {
		if strings.HasPrefix(n, "glx-") {
			cancels++
		}
		if !stored[n] {
			lost = append(lost, n)
		}
	}

	// A tenant changed through the CLI is in force on every replica: the
	// metadata each one serves names the new environment.
	propagation := c.propagate(acme, acmeID, acmeKey, "production", "e2e-renamed", func() {
		if code, out, errOut := c.cli(m.document("e2e-renamed"), "tenant", "import", "-"); code != 0 {
			t.Fatalf("tenant import of the change: exit %d\n%s%s", code, out, errOut)
		}
	})

	// Two billing runs at once on the cluster: one bills, the other exits 1.
	runs := c.twoBillingRuns(m.accounts, time.Now().UTC().Format("2006-01"))

	// Every invoice the load created is linked back to Connec! (SPEC §7),
	// those of the killed replica's claim on acme's outbox too, once its
	// lease has run out (SPEC §14).
	var created []string
	for _, inv := range export.Invoices {
		created = append(created, "c-"+inv.Number)
	}
	links := m.linkedBack(created, 45*time.Second-time.Since(k.replicaKilled), k.replicaKilled)
	linkedAfter := time.Since(k.replicaKilled)
	if links.missing > 0 {
		t.Errorf("%d of the %d invoices created are not linked back to Connec! %s after the kill", links.missing, len(created), linkedAfter.Round(time.Second))
	}

	// Another replica (or the killed one, back) takes the purges and the
	// re-sync over once the dead holder's lease has run out.
	takeover := "not within 40 s of the kill"
	if addr, at, ok := c.backgroundSince(k.replicaKilled, 40*time.Second-time.Since(k.replicaKilled), false); ok {
		takeover = fmt.Sprintf("by %s, %s after the kill", addr, at.Sub(k.replicaKilled).Round(100*time.Millisecond))
	} else {
		t.Errorf("no replica took the background work over after its holder was SIGKILLed")
	}

	s := lb.stats(k.replicaKilled, k.leaderKilled, k.ended)
	t.Logf(`end-to-end on 3 replicas, 3 etcd members (SPEC §14):
  login: initialize on %s, consume on %s, session on %s: %s
  load: %d writers, %s; replica %s SIGKILLed at +%s, etcd leader %s SIGKILLed at +%s
  requests sent %d: 2xx %d (%.0f/s; p50 %s, p99 %s, slowest %s), 503 %d, other 5xx %d, 4xx %d, client errors %d (each retried on the next replica)
  writes acknowledged %d (%d notifications, %d group cancellations; %d answered by the replica then killed), found afterwards %d (stored in all %d, with those given up at the end)
  longest stall (no 2xx) %s; resumed after the replica kill in %s, after the leader kill in %s
  tenant change in force on every replica %s after the import exited (slowest replica; the import took %s)
  two bill runs at once: %s
  link-backs to Connec!: %d sent for %d invoices created, %d not linked %s after the replica's kill; %d linked twice (%d of them first before the kill, again after)
  background work (purges, re-sync) of the killed replica taken over %s`,
		c.addrs()[0], c.addrs()[1], c.addrs()[2], login,
		writers, s.duration.Round(time.Millisecond), k.victim.addr, k.replicaKilled.Sub(s.start).Round(time.Millisecond),
		k.leader, k.leaderKilled.Sub(s.start).Round(time.Millisecond),
		s.sent, s.ok, float64(s.ok)/s.duration.Seconds(), s.p50.Round(time.Millisecond), s.p99.Round(time.Millisecond), s.slowest.Round(time.Millisecond), s.unavailable, s.other5xx, s.client4xx, s.clientErrors,
		len(acked), len(acked)-cancels, cancels, lb.answeredBy(k.victim.addr), len(acked)-len(lost), len(stored),
		s.longestStall.Round(time.Millisecond), fmtResume(s.resumeReplica), fmtResume(s.resumeLeader),
		propagation.delay.Round(time.Millisecond), propagation.importTook.Round(time.Millisecond), runs,
		links.sent, len(created), links.missing, linkedAfter.Round(100*time.Millisecond), links.twice, links.across, takeover)

	if len(lost) > 0 {
		t.Errorf("%d writes answered 2xx are not in the store, e.g. %v", len(lost), lost[:min(5, len(lost))])
	}
	if s.client4xx > 0 {
		t.Errorf("%d writes refused with 4xx, e.g. %s", s.client4xx, lb.first4xx)
	}
	if s.ok == 0 || s.resumeReplica < 0 || s.resumeReplica > 15*time.Second {
		t.Errorf("writes did not resume within 15 s of the replica's SIGKILL (%s)", fmtResume(s.resumeReplica))
	}
	if s.resumeLeader < 0 || s.resumeLeader > 15*time.Second {
		t.Errorf("writes did not resume within 15 s of the etcd leader's SIGKILL (%s)", fmtResume(s.resumeLeader))
	}
	if propagation.delay > 2*time.Second {
		t.Errorf("the tenant change took %s to be in force on every replica, want ≤ 2 s", propagation.delay)
	}
}

// The marketplaces of the test: acme's Connec! sends the notifications of
// the load; globex cancels customer accounts (its groups bill nothing).
const (
	acme, acmeID, acmeKey       = "acme", "app-acme", "acme-e2e-secret-0123456789"
	globex, globexID, globexKey = "globex", "app-globex", "globex-e2e-secret-0123456789"
)

// marketplace is what the tenants' side runs: the hub signs the logins,
// the account API takes the bills (holding each POST while the test says
// so), and Connec! answers pulls with nothing and takes every link-back of
// the records the load creates (SPEC §7: each linked back once, in
// batches).
type marketplace struct {
	public   string
	hub      *hubtest.Hub
	accounts *apitest.AccountAPI
	connec   *httptest.Server

	mu       sync.Mutex
	links    int                    // link-backs received
	linkedTo map[string][]time.Time // when each Connec! id was linked back
	// m.globexGroups are globex's customer accounts, each with its own admin
	// usr-<group> at the hub.
	globexGroups []string
}

func newMarketplace(t *testing.T, public string) *marketplace {
	signer, _, err := ssotest.SharedSigners()
	if err != nil {
		t.Fatal(err)
	}
	m := &marketplace{public: public, hub: hubtest.New(signer), accounts: apitest.NewAccountAPI(t, nil), linkedTo: map[string][]time.Time{}}
	t.Cleanup(m.hub.Close)
	m.connec = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.Method == http.MethodGet {
			_, _ = io.WriteString(w, `{"invoices":[]}`)
			return
		}
		var batch struct{ Ops []struct{ URL string } }
		if err := json.NewDecoder(r.Body).Decode(&batch); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		m.mu.Lock()
		m.links += len(batch.Ops)
		for _, op := range batch.Ops {
			id := path.Base(op.URL)
			m.linkedTo[id] = append(m.linkedTo[id], time.Now())
		}
		m.mu.Unlock()
		results := strings.Repeat(`{"status":200,"body":{}},`, len(batch.Ops))
		_, _ = io.WriteString(w, `{"results":[`+strings.TrimSuffix(results, ",")+`]}`)
	}))
	t.Cleanup(m.connec.Close)
	for _, app := range [][2]string{{acmeID, acmeKey}, {globexID, globexKey}} {
		m.hub.AddApp(app[0], app[1])
		m.accounts.SetCredentials(app[0], app[1])
	}
	m.hub.AddGroup(hubtest.Group{UID: "cld-1", Name: "Acme Co", AppID: acmeID})
	m.hub.AddUser(hubtest.User{UID: "usr-1", Email: "ann@example.com", Name: "Ann", Surname: "Lee", Country: "AU",
		Groups: map[string]string{"cld-1": "Admin"}})
	for i := range 20 {
		g := fmt.Sprintf("glx-%02d", i)
		m.globexGroups = append(m.globexGroups, g)
		m.hub.AddGroup(hubtest.Group{UID: g, Name: "Globex customer " + g, AppID: globexID})
		m.hub.AddUser(hubtest.User{UID: "usr-" + g, Email: g + "@example.com", Name: "Admin", Surname: g, Country: "AU",
			Groups: map[string]string{g: "Admin"}})
	}
	return m
}

// linkBacks is what Connec! received of the link-backs of some records.
type linkBacks struct {
	sent, missing int
	// twice counts the records linked back more than once, across counts
	// those of them first linked before a moment and again after it.
	twice, across int
}

// linkedBack waits up to within until each of the Connec! ids has been
// linked back, and says what came; across is the replica's kill.
func (m *marketplace) linkedBack(ids []string, within time.Duration, across time.Time) linkBacks {
	for deadline := time.Now().Add(within); ; time.Sleep(200 * time.Millisecond) {
		m.mu.Lock()
		l := linkBacks{sent: m.links}
		for _, id := range ids {
			at := m.linkedTo[id]
			switch {
			case len(at) == 0:
				l.missing++
			case len(at) > 1:
				l.twice++
				if at[0].Before(across) && at[len(at)-1].After(across) {
					l.across++
				}
			}
		}
		m.mu.Unlock()
		if l.missing == 0 || time.Now().After(deadline) {
			return l
		}
	}
}

// document is the developer platform's marketplaces document of both
// tenants, with environment as their environment.
func (m *marketplace) document(environment string) string {
	market := func(key, id, secret string, price int) map[string]any {
		return map[string]any{
			"marketplace": key, "environment": environment,
			"app":     map[string]any{"host": m.public},
			"api":     map[string]any{"id": id, "key": secret, "host": m.accounts.URL(), "base": "/api/v1/"},
			"sso":     map[string]any{"idm": m.public, "idp": m.hub.URL(), "x509_certificate": m.hub.CertPEM()},
			"connec":  map[string]any{"host": m.connec.URL, "base_path": "/api/v2", "timeout": 300},
			"billing": map[string]any{"price_cents": price, "currency": "AUD"},
		}
	}
	b, err := json.Marshal(map[string]any{"marketplaces": []any{
		market(acme, acmeID, acmeKey, 4900), market(globex, globexID, globexKey, 0)}})
	if err != nil {
		panic(err)
	}
	return string(b)
}

// notification is acme's Connec! notification of one invoice, numbered number.
func notification(public, number string) (*http.Request, error) {
	body := fmt.Sprintf(`{"invoices":[{"id":[{"id":%q,"provider":"connec","realm":"org-1"}],"group_id":"cld-1",`+
		`"resource_type":"invoices","transaction_number":%q,"title":"Load","status":"AUTHORISED","type":"CUSTOMER",`+
		`"updated_at":"2026-12-01T00:00:00Z","amount":{"total_amount":11.0,"tax_amount":1.0,"currency":"AUD"}}]}`,
		"c-"+number, number)
	req, err := http.NewRequest(http.MethodPost, tenant.RouteConnecReceive.URL(public, acme), strings.NewReader(body))
	if err == nil {
		req.SetBasicAuth(acmeID, acmeKey)
		req.Header.Set("Content-Type", "application/json")
	}
	return req, err
}

// cancellation is globex's group webhook cancelling group (SPEC §6).
func cancellation(public, group string) (*http.Request, error) {
	req, err := http.NewRequest(http.MethodDelete, strings.Replace(tenant.RouteGroup.URL(public, globex), ":id", group, 1), nil)
	if err == nil {
		req.SetBasicAuth(globexID, globexKey)
	}
	return req, err
}

// kills is what loadAndKill did: the replica and the etcd member it
// SIGKILLed, when, and when the load ended.
type kills struct {
	victim                             *e2eReplica
	leader                             string
	replicaKilled, leaderKilled, ended time.Time
}

// loadAndKill runs the load through lb: writers goroutines of acme's
// notifications and one of globex's cancellations. After 3 s it SIGKILLs
// the replica running the background work (the outbox's link-backs of the
// records the load creates, pulls, purges), so that another must take it
// over; 4 s later the etcd leader. The load goes on until writes have run
// again for 4 s after the second kill, or for 25 s.
func (c *e2eCluster) loadAndKill(m *marketplace, etcd *cluster.Cluster, lb *balancer, writers int) kills {
	c.t.Helper()
	lb.start = time.Now()
	var wg sync.WaitGroup
	stop := make(chan struct{})
	// The writers stop however this ends (a Fatal too).
	stopLoad := sync.OnceFunc(func() { close(stop); wg.Wait() })
	defer stopLoad()
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; ; n++ {
				if !lb.write(stop, fmt.Sprintf("INV-%02d-%06d", w, n), func(n string) (*http.Request, error) { return notification(c.public, n) }) {
					return
				}
			}
		}()
	}
	// Beside them, globex cancels one customer account every 300 ms (the
	// group webhook, SPEC §6), through the same balancer.
	wg.Add(1)
	go func() {
		defer wg.Done()
		for _, g := range m.globexGroups {
			if !lb.write(stop, g, func(g string) (*http.Request, error) { return cancellation(c.public, g) }) {
				return
			}
			select {
			case <-stop:
				return
			case <-time.After(300 * time.Millisecond):
			}
		}
	}()
	time.Sleep(3 * time.Second)
	holder, _, ok := c.backgroundSince(time.Time{}, 10*time.Second, true)
	if !ok {
		c.t.Fatal("no replica says it runs the background work")
	}
	victim := c.replicas[slices.Index(c.addrs(), holder)]
	replicaKilled := time.Now()
	victim.kill()
	time.Sleep(4 * time.Second)
	var status clusterStatus
	c.clusterStatus(&status)
	var leader *cluster.Member
	for _, mem := range status.Members {
		if mem.Leader {
			leader = etcd.Member(mem.Name)
		}
	}
	if leader == nil {
		c.t.Fatalf("cluster status names no leader: %+v", status.Members)
	}
	leaderKilled := time.Now()
	if err := leader.Kill(); err != nil {
		c.t.Fatal(err)
	}
	// Load on until writes have run again for 4 s, or 25 s have passed.
	for time.Since(leaderKilled) < 25*time.Second {
		if r, ok := lb.resumedAfter(leaderKilled); ok && time.Since(leaderKilled) > r+4*time.Second {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	stopLoad()
	return kills{victim: victim, leader: leader.Name, replicaKilled: replicaKilled, leaderKilled: leaderKilled, ended: time.Now()}
}

// e2eCluster is the replicas of the test and what the CLI needs to reach
// their store.
type e2eCluster struct {
	t        *testing.T
	bin      string
	public   string // the balancer's URL: every replica's --public-url
	store    string // the etcd:// URL
	keyFile  string // the master key file every replica and verb shares
	logs     string // each replica's stderr, kept for a failure's message
	replicas []*e2eReplica
}

// global flags of every command: the cluster, its key, the public URL.
func (c *e2eCluster) global() []string {
	return []string{"--store", c.store, "--key-file", c.keyFile, "--public-url", c.public}
}

// cli runs a verb of the built binary on the cluster.
func (c *e2eCluster) cli(stdin string, args ...string) (int, string, string) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, c.bin, append(c.global(), args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode(), out.String(), errOut.String()
	} else if err != nil {
		c.t.Fatalf("%v: %v", args, err)
	}
	return 0, out.String(), errOut.String()
}

type clusterStatus struct {
	Replicas []struct {
		Addr string `json:"addr"`
	} `json:"replicas"`
	Members []struct {
		Name   string `json:"name"`
		Leader bool   `json:"leader"`
	} `json:"members"`
}

// export reads `export` of the cluster (of one tenant, or all) into into.
func (c *e2eCluster) export(only string, into any) {
	c.t.Helper()
	args := []string{"export"}
	if only != "" {
		args = append(args, "--tenant", only)
	}
	code, out, errOut := c.cli("", args...)
	if code != 0 {
		c.t.Fatalf("export: exit %d: %s", code, errOut)
	}
	if err := json.Unmarshal([]byte(out), into); err != nil {
		c.t.Fatalf("export is not JSON: %v", err)
	}
}

// clusterStatus reads `cluster status --json` into into.
func (c *e2eCluster) clusterStatus(into *clusterStatus) {
	c.t.Helper()
	code, out, errOut := c.cli("", "cluster", "status", "--json")
	if code != 0 {
		c.t.Fatalf("cluster status: exit %d: %s", code, errOut)
	}
	*into = clusterStatus{}
	if err := json.Unmarshal([]byte(out), into); err != nil {
		c.t.Fatalf("cluster status --json: %v\n%s", err, out)
	}
}

// e2eReplica is one `serve` process.
type e2eReplica struct {
	addr   string
	cmd    *exec.Cmd
	exited chan struct{}
}

// startReplica starts `serve` on addr and waits for its "listening on"
// line; it is SIGKILLed, with its process group, when the test ends.
func (c *e2eCluster) startReplica(addr string) *e2eReplica {
	c.t.Helper()
	r := &e2eReplica{addr: addr, exited: make(chan struct{})}
	r.cmd = exec.Command(c.bin, append(c.global(), "--addr", addr, "serve")...)
	r.cmd.SysProcAttr = cluster.ProcAttr()
	logPath := c.logOf(addr)
	log, err := os.OpenFile(logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		c.t.Fatal(err)
	}
	r.cmd.Stderr = log
	stdout, err := r.cmd.StdoutPipe()
	if err != nil {
		c.t.Fatal(err)
	}
	if err := r.cmd.Start(); err != nil {
		c.t.Fatal(err)
	}
	listening := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		ok := false
		for sc.Scan() {
			if !ok && strings.HasPrefix(sc.Text(), "listening on ") {
				ok = true
				listening <- true
			}
		}
		if !ok {
			listening <- false
		}
		_ = r.cmd.Wait()
		log.Close()
		close(r.exited)
	}()
	c.t.Cleanup(func() {
		r.kill()
		<-r.exited
	})
	select {
	case ok := <-listening:
		if !ok {
			tail, _ := os.ReadFile(logPath)
			c.t.Fatalf("serve on %s exited before listening:\n%s", addr, tail)
		}
	case <-time.After(30 * time.Second):
		c.t.Fatalf("serve on %s not listening after 30 s (log %s)", addr, logPath)
	}
	if i := slices.IndexFunc(c.replicas, func(o *e2eReplica) bool { return o.addr == addr }); i >= 0 {
		c.replicas[i] = r
	} else {
		c.replicas = append(c.replicas, r)
	}
	return r
}

// logOf is the file of the stderr of the replicas on addr.
func (c *e2eCluster) logOf(addr string) string {
	return filepath.Join(c.logs, strings.ReplaceAll(addr, ":", "_")+".log")
}

// backgroundSince waits up to within for a replica to log, after after,
// that it takes the background work (store.LockBackground), and says which
// replica and when: the first to take it after after, or with latest the
// last to have taken it (the holder now).
func (c *e2eCluster) backgroundSince(after time.Time, within time.Duration, latest bool) (string, time.Time, bool) {
	for deadline := time.Now().Add(within); ; time.Sleep(200 * time.Millisecond) {
		var addr string
		var at time.Time
		for _, a := range c.addrs() {
			log, _ := os.ReadFile(c.logOf(a))
			for _, line := range strings.Split(string(log), "\n") {
				if !strings.Contains(line, `msg="this replica runs the background work"`) {
					continue
				}
				stamp, _, _ := strings.Cut(strings.TrimPrefix(line, "time="), " ")
				t, err := time.Parse(time.RFC3339Nano, stamp)
				if err == nil && t.After(after) && (at.IsZero() || latest == t.After(at)) {
					addr, at = a, t
				}
			}
		}
		if !at.IsZero() {
			return addr, at, true
		}
		if time.Now().After(deadline) {
			return "", time.Time{}, false
		}
	}
}

// kill SIGKILLs the replica's process group: no shutdown, no word to etcd.
func (r *e2eReplica) kill() {
	select {
	case <-r.exited:
	default:
		_ = syscall.Kill(-r.cmd.Process.Pid, syscall.SIGKILL)
	}
}

func (c *e2eCluster) addrs() []string {
	var out []string
	for _, r := range c.replicas {
		out = append(out, r.addr)
	}
	return out
}

// via is a client of one replica, as a balancer would route it: requests
// to the public URL go to addr (Host left as the public one), the rest
// (the hub) go where they say. Clients share jar, a browser's cookies.
func (c *e2eCluster) via(addr string, jar http.CookieJar) *http.Client {
	pub, _ := url.Parse(c.public)
	return &http.Client{
		Jar:           jar,
		Timeout:       10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Transport: roundTrip(func(r *http.Request) (*http.Response, error) {
			if r.URL.Host == pub.Host {
				r = r.Clone(r.Context())
				r.URL.Host = addr
			}
			return http.DefaultTransport.RoundTrip(r)
		}),
	}
}

type roundTrip func(*http.Request) (*http.Response, error)

func (f roundTrip) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// signIn is a browser's login to tenant key through the hub, initialize
// given query (group_id, and user_uid to pick the hub's user; both passed
// on to the hub): the AuthnRequest made by the replica on initAddr, the
// hub's response posted to the one on consumeAddr. It returns the hub's
// page (its form) and the consume's status.
func (c *e2eCluster) signIn(key tenant.Key, query, initAddr, consumeAddr string, jar http.CookieJar) (string, int, error) {
	resp, err := c.via(initAddr, jar).Get(tenant.RouteSAMLInit.URL(c.public, key) + "?" + query)
	if err != nil {
		return "", 0, err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		return "", 0, fmt.Errorf("initialize on %s: %s", initAddr, resp.Status)
	}
	resp, err = http.Get(resp.Header.Get("Location"))
	if err != nil {
		return "", 0, err
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	resp, err = (&hubtest.Browser{Client: c.via(consumeAddr, jar)}).PostForm(string(page))
	if err != nil {
		return "", 0, err
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		return string(page), resp.StatusCode, fmt.Errorf("consume on %s of a login initialized on %s: %s %s", consumeAddr, initAddr, resp.Status, body)
	}
	return string(page), resp.StatusCode, nil
}

// loginAcrossReplicas signs usr-1 in to cld-1 with the login started on
// the first replica and consumed on the second, reads the session on the
// third, and posts the same response again to the third, which must
// refuse it: the AuthnRequest is taken once across the cluster.
func (c *e2eCluster) loginAcrossReplicas(key tenant.Key) string {
	t := c.t
	t.Helper()
	jar, _ := cookiejar.New(nil)
	addrs := c.addrs()
	page, _, err := c.signIn(key, "group_id=cld-1", addrs[0], addrs[1], jar)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.via(addrs[2], jar).Get(tenant.RouteSession.URL(c.public, key))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"usr-1"`) {
		t.Fatalf("session on %s: %d %s", addrs[2], resp.StatusCode, body)
	}
	resp, err = (&hubtest.Browser{Client: c.via(addrs[2], jar)}).PostForm(page)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode < 400 || resp.StatusCode >= 500 {
		t.Fatalf("the same response posted again on %s: %d, want it refused", addrs[2], resp.StatusCode)
	}
	return fmt.Sprintf("200 for usr-1; the response replayed on the third: %d", resp.StatusCode)
}

// propagation is how long a change took to be served by every replica.
type propagation struct{ delay, importTook time.Duration }

// propagate reads every replica's metadata of tenant key, which must
// name environment from (so that each has the tenant in hand), runs change
// (a CLI verb), and polls every replica at once until each serves
// environment to, for up to 10 s. The delay is the slowest replica's,
// from change's end.
func (c *e2eCluster) propagate(key tenant.Key, apiID, apiKey, from, to string, change func()) propagation {
	c.t.Helper()
	environment := func(addr string) string {
		req, _ := http.NewRequest(http.MethodGet, tenant.RouteMetadata.URL(c.public, key), nil)
		req.SetBasicAuth(apiID, apiKey)
		resp, err := c.via(addr, nil).Do(req)
		if err != nil {
			return err.Error()
		}
		defer resp.Body.Close()
		var md struct{ Environment string }
		if err := json.NewDecoder(resp.Body).Decode(&md); err != nil {
			return resp.Status
		}
		return md.Environment
	}
	for _, addr := range c.addrs() {
		if env := environment(addr); env != from {
			c.t.Fatalf("replica %s serves environment %q before the change, want %q", addr, env, from)
		}
	}
	began := time.Now()
	change()
	changed := time.Now()
	delays := make(chan time.Duration, len(c.replicas))
	for _, addr := range c.addrs() {
		go func() {
			for {
				env := environment(addr)
				if env == to {
					delays <- time.Since(changed)
					return
				}
				if time.Since(changed) > 10*time.Second {
					c.t.Errorf("replica %s still serves environment %q 10 s after the change", addr, env)
					delays <- time.Since(changed)
					return
				}
				time.Sleep(10 * time.Millisecond)
			}
		}()
	}
	var slowest time.Duration
	for range c.replicas {
		slowest = max(slowest, <-delays)
	}
	return propagation{delay: slowest, importTook: changed.Sub(began)}
}

// twoBillingRuns starts two `bill run` at once and holds the account
// API's POSTs until one of them has exited: exactly one must exit 1
// saying another run is in progress, the other bill cld-1, once.
func (c *e2eCluster) twoBillingRuns(accounts *apitest.AccountAPI, period string) string {
	t := c.t
	t.Helper()
	gate := make(chan struct{})
	accounts.HoldPosts(gate)
	type result struct {
		code        int
		out, errOut string
	}
	results := make(chan result, 2)
	for range 2 {
		go func() {
			code, out, errOut := c.cli("", "bill", "run", "--period", period)
			results <- result{code, out, errOut}
		}()
	}
	var first result
	select {
	case first = <-results:
	case <-time.After(60 * time.Second):
		close(gate)
		t.Fatal("neither billing run ended while the API held its bill")
	}
	close(gate)
	second := <-results
	if first.code != 1 || !strings.Contains(first.errOut, billing.ErrRunInProgress.Error()) {
		t.Errorf("the run that ended first: exit %d, stderr %q; want exit 1 saying %q", first.code, first.errOut, billing.ErrRunInProgress)
	}
	if second.code != 0 {
		t.Errorf("the run that billed: exit %d\n%s%s", second.code, second.out, second.errOut)
	}
	accounts.ExactlyOne(t, []string{"cld-1"})
	return fmt.Sprintf("one exited %d (%q), the other %d; bills at the API %d",
		first.code, strings.TrimSpace(first.errOut), second.code, len(accounts.Bills()["cld-1"]))
}

// buildTenantdesk builds the binary with -tags ci (Fyne's software
// driver: serve opens no window), as make vet and make race build the
// packages, so that the build cache serves most of it.
func buildTenantdesk(out string) error {
	goBin, err := exec.LookPath("go")
	if err != nil {
		return err
	}
	cmd := exec.Command(goBin, "build", "-tags", "ci", "-o", out, "github.com/tenantdesk/tenantdesk")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build: %v\n%s", err, b)
	}
	return nil
}

// e2eLogs is where the replicas' stderr goes: $TENANTDESK_E2E_LOGS when
// set (kept, to read after a run), else the test's temporary directory.
func e2eLogs(t *testing.T) string {
	if dir := os.Getenv("TENANTDESK_E2E_LOGS"); dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	return t.TempDir()
}
