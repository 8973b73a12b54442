package server_test

// SPEC §11's rows for N replicas on etcd (§14), each against one bbolt
// serve in the same run:
//
//	BenchmarkWebhookReplicas        3 replicas on one etcd vs one bbolt serve, 50 clients (target ≥ 0.5×)
//	BenchmarkCachedAuthReadReplica  a replica's cached metadata read vs the bbolt serve's (target ≥ 0.8×)
//	BenchmarkNotification10kEtcd    10,000 invoices through a replica vs a raw bbolt put (target ≤ 10×)
//
// The etcd member is embedded (store/etcdtest) and syncs its log as a
// production member does; it shares the 2 cores with the replicas and the
// load generator.

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tenantdesk/tenantdesk/store"
	"github.com/tenantdesk/tenantdesk/store/etcdtest"
	"github.com/tenantdesk/tenantdesk/tenant"
	"github.com/tenantdesk/tenantdesk/tenant/admin"
	"github.com/tenantdesk/tenantdesk/tenant/server"
)

// openReplica opens a store handle of its own on member m under prefix,
// as each serve replica does.
func openReplica(b *testing.B, m *etcdtest.Member, prefix string) *store.DB {
	db, err := store.OpenURL("etcd://"+m.Endpoint+"/"+prefix, store.TLSFiles{}, store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = db.Close() })
	return db
}

// startServe starts db's listener as serve does (admin.Service's
// listener on a loopback port) and returns its base URL.
func startServe(b *testing.B, db *store.DB) string {
	svc := admin.New(db, admin.Options{Addr: "127.0.0.1:0", PublicURL: publicURL, Logger: slog.New(slog.DiscardHandler)})
	if err := svc.StartListener(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = svc.StopListener(ctx)
	})
	return "http://" + svc.ListenerStatus().Addr
}

// BenchmarkWebhookReplicas: 50 keep-alive clients removing members
// (durable writes, as BenchmarkWebhookParallel), first against one bbolt
// serve, then spread round-robin over 3 serve replicas, each with its own
// store handle on one etcd member. Each loop sends webhookRound requests
// to each; x-bolt is the replicas' rate over the bbolt serve's.
func BenchmarkWebhookReplicas(b *testing.B) {
	const webhookRound = 3000
	acme := tenantCfg(b, "acme")
	bolt, err := store.Open(filepath.Join(b.TempDir(), "tenantdesk.db"), store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = bolt.Close() })
	m := etcdtest.Start(b)
	replicas := []*store.DB{openReplica(b, m, "bench"), openReplica(b, m, "bench"), openReplica(b, m, "bench")}
	(&env{t: b, db: bolt}).putTenant(acme)
	(&env{t: b, db: replicas[0]}).putTenant(acme)
	boltBase := []string{startServe(b, bolt)}
	var etcdBases []string
	for _, db := range replicas {
		etcdBases = append(etcdBases, startServe(b, db))
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 50, MaxIdleConns: 150}}
	defer client.CloseIdleConnections()
	c := creds(acme)

	var boltT, etcdT, boltCPU, etcdCPU time.Duration
	var boltP99, etcdP99 []float64
	rounds := 0
	for b.Loop() {
		b.StopTimer()
		from := rounds * webhookRound
		putMembers(b, bolt, from, webhookRound)
		putMembers(b, replicas[0], from, webhookRound)
		boltURLs, etcdURLs := memberURLs(boltBase, from, webhookRound), memberURLs(etcdBases, from, webhookRound)
		b.StartTimer()
		cpu0 := cpuTime(b)
		elapsed, p99 := fireDeletes(b, client, boltURLs, c)
		cpu1 := cpuTime(b)
		boltT, boltP99, boltCPU = boltT+elapsed, append(boltP99, ms(p99)), boltCPU+cpu1-cpu0
		elapsed, p99 = fireDeletes(b, client, etcdURLs, c)
		etcdT, etcdP99, etcdCPU = etcdT+elapsed, append(etcdP99, ms(p99)), etcdCPU+cpuTime(b)-cpu1
		b.StopTimer()
		checkEnded(b, bolt, from, webhookRound)
		checkEnded(b, replicas[1], from, webhookRound) // through another replica's handle
		rounds++
		b.StartTimer()
	}
	n := float64(rounds * webhookRound)
	var requests, runs int64
	for _, db := range replicas {
		r, u := db.EtcdStats()
		requests, runs = requests+r, runs+u
	}
	// What a request cost on etcd, the untimed set-up and checks included.
	b.ReportMetric(float64(requests)/n, "etcd-rpcs/req")
	b.ReportMetric(float64(runs)/n, "etcd-runs/req")
	b.ReportMetric(n/boltT.Seconds(), "bolt-req/s")
	b.ReportMetric(n/etcdT.Seconds(), "etcd-req/s")
	b.ReportMetric(boltT.Seconds()/etcdT.Seconds(), "x-bolt")
	// What the process spent per request, clients, replicas and the etcd
	// member included: the rate follows the cores the others leave, this
	// does not.
	b.ReportMetric(float64(boltCPU.Microseconds())/n, "bolt-cpu-µs/req")
	b.ReportMetric(float64(etcdCPU.Microseconds())/n, "etcd-cpu-µs/req")
	b.ReportMetric(median(boltP99), "bolt-p99-ms")
	b.ReportMetric(median(etcdP99), "etcd-p99-ms")
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// BenchmarkCachedAuthReadReplica: the whole listener handler's metadata read
// (tenant lookup, Basic auth, answer) on a replica on etcd, whose tenants
// are cached until the store's watch reports a change, beside the same
// on a bbolt file, in alternating batches (etcd/bolt is the median ratio;
// the target is a rate ≥ 0.8 × bbolt's, so etcd/bolt ≤ 1.25).
func BenchmarkCachedAuthReadReplica(b *testing.B) {
	acme := tenantCfg(b, "acme")
	bolt := newEnv(b, acme, tenantCfg(b, "globex"))
	m := etcdtest.Start(b)
	etcd := newEnvOn(b, openReplica(b, m, "bench"), acme, tenantCfg(b, "globex"))
	handlers := map[string]http.Handler{
		"bolt": server.New(bolt.db, publicURL, slog.New(slog.DiscardHandler)).Handler(),
		"etcd": server.New(etcd.db, publicURL, slog.New(slog.DiscardHandler)).Handler(),
	}
	c := creds(acme)
	req, _ := http.NewRequest("GET", publicURL+tenant.RouteMetadata.Path(acme.Key), nil)
	req.SetBasicAuth(c[0], c[1])
	w := &discardWriter{h: http.Header{}}
	b.ReportAllocs()
	alternate(b, 1000, nil, "bolt", "etcd", func(key string) {
		clear(w.h)
		w.status = 0
		handlers[key].ServeHTTP(w, req)
		if w.status != http.StatusOK {
			b.Fatalf("metadata on %s: %d", key, w.status)
		}
	})
}

// BenchmarkNotification10kEtcd stores 10,000 new invoices per round
// through POST …/connec/receive on a replica on etcd (journaled chunks,
// every one committed before the 200), and times in the same round a raw
// bbolt put of the same records (x-raw-put, the target) and the same
// notification through a bbolt serve (x-bolt).
func BenchmarkNotification10kEtcd(b *testing.B) {
	acme := tenantCfg(b, "acme")
	bolt := newEnv(b, acme)
	m := etcdtest.Start(b)
	etcd := newEnvOn(b, openReplica(b, m, "bench"), acme)
	raw := openRaw(b)
	c := creds(acme)
	post := func(e *env, body string) time.Duration {
		req, _ := http.NewRequest("POST", e.srv.URL+tenant.RouteConnecReceive.Path(acme.Key), strings.NewReader(body))
		req.SetBasicAuth(c[0], c[1])
		start := time.Now()
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		out, _ := io.ReadAll(res.Body)
		res.Body.Close()
		took := time.Since(start)
		if res.StatusCode != http.StatusOK || !strings.Contains(string(out), fmt.Sprintf(`"stored":%d`, benchInvoices)) {
			b.Fatalf("notification: %d %.200s", res.StatusCode, out)
		}
		return took
	}
	var etcdT, boltT, rawT time.Duration
	var rpcs0, runs0 int64
	// Round 0 is a warm-up (a store that already holds data, as in use).
	for i := 0; i <= b.N; i++ {
		if i == 1 {
			b.ResetTimer()
			etcdT, boltT, rawT = 0, 0, 0
		}
		b.StopTimer()
		recs := invoiceRecords(i)
		body := notification(recs...)
		rawT += rawPut(b, raw, i, recs)
		boltT += post(bolt, body)
		if i == 1 {
			rpcs0, runs0 = etcd.db.EtcdStats()
		}
		b.StartTimer()
		etcdT += post(etcd, body)
	}
	rpcs, runs := etcd.db.EtcdStats()
	b.ReportMetric(float64(rpcs-rpcs0)/float64(b.N), "etcd-rpcs/op")
	b.ReportMetric(float64(runs-runs0)/float64(b.N), "etcd-runs/op")
	b.ReportMetric(float64(etcdT.Milliseconds())/float64(b.N), "etcd-ms")
	b.ReportMetric(float64(rawT.Microseconds())/1000/float64(b.N), "raw-put-ms")
	b.ReportMetric(float64(etcdT)/float64(rawT), "x-raw-put")
	b.ReportMetric(float64(etcdT)/float64(boltT), "x-bolt")
}
