package server_test

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tenantdesk/tenantdesk/store"
	"github.com/tenantdesk/tenantdesk/tenant"
	"github.com/tenantdesk/tenantdesk/tenant/server"
)

// BenchmarkBadCredentialFlood: 16 clients send wrong passwords as fast as
// they can, each request from its own address (X-Forwarded-For from a
// trusted proxy), so the back-off never answers for the listener.
//
//	counted:      the listener as built: failures counted per minute
//	write-each:   the baseline, what it did before: the same listener plus
//	              one activity event per refusal through its group commit
//	good-creds:   the same flood with the right password (metadata reads)
//
// Reported: req/s, and commits (fsyncs) per 1,000 requests.
func BenchmarkBadCredentialFlood(b *testing.B) {
	for _, c := range []struct {
		name      string
		good      bool
		writeEach bool
	}{{"counted", false, false}, {"write-each", false, true}, {"good-creds", true, false}} {
		b.Run(c.name, func(b *testing.B) { benchFlood(b, c.good, c.writeEach) })
	}
}

func benchFlood(b *testing.B, good, writeEach bool) {
	const clients = 16
	acme := tenantCfg(b, "acme")
	db, err := store.Open(filepath.Join(b.TempDir(), "tenantdesk.db"), store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	(&env{t: b, db: db}).putTenant(acme)
	s := server.New(db, publicURL, slog.New(slog.DiscardHandler))
	s.SetTrustedProxies([]netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")})
	var h http.Handler = s.Handler()
	if writeEach {
		inner := h
		h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			inner.ServeHTTP(w, r)
			_ = server.WriteForTest(s, func(tx *store.Tx) error {
				_, err := tx.AppendEvent(store.Event{At: time.Now(), Tenant: "acme", Kind: store.EventError,
					Outcome: "failed", Reason: "Unauthorized", Message: "GET metadata: Invalid credentials"})
				return err
			})
		})
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients, MaxIdleConns: clients}}
	defer client.CloseIdleConnections()
	auth := [2]string{acme.API.ID, "wrong"}
	want := http.StatusUnauthorized
	if good {
		auth, want = creds(acme), http.StatusOK
	}
	path := srv.URL + tenant.RouteMetadata.Path(acme.Key)

	var next, bad atomic.Int64
	var wg sync.WaitGroup
	before := db.Commits()
	b.ResetTimer()
	start := time.Now()
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(b.N) {
					return
				}
				req, _ := http.NewRequest("GET", path, nil)
				req.SetBasicAuth(auth[0], auth[1])
				req.Header.Set("X-Forwarded-For", fmt.Sprintf("10.%d.%d.%d", byte(i>>16), byte(i>>8), byte(i)))
				res, err := client.Do(req)
				if err != nil {
					bad.Add(1)
					continue
				}
				_, _ = io.Copy(io.Discard, res.Body)
				res.Body.Close()
				if res.StatusCode != want {
					bad.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	if n := bad.Load(); n > 0 {
		b.Fatalf("%d of %d answers were not %d", n, b.N, want)
	}
	if err := s.Failures().Flush(); err != nil { // what the next minute's flush would write
		b.Fatal(err)
	}
	commits := db.Commits() - before
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "req/s")
	b.ReportMetric(float64(commits)*1000/float64(b.N), "commits/1k-req")
}
