package connec

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/tenantdesk/tenantdesk/store"
	"github.com/tenantdesk/tenantdesk/tenant"
	"github.com/tenantdesk/tenantdesk/tenant/connec/connectest"
)

// BenchmarkPull10kInvoices pulls 10,000 invoices (100 pages, then their
// links back in batches of 50) from the emulator at 20 ms per request, into
// a fresh data file each time, and reports it beside the ideal of the same
// run: pages × latency plus the measured notification ingest of the same
// records (Ingest of one body holding all of them, one transaction).
// SPEC §11 / issue 11 target: pull ≤ 2 × ideal.
func BenchmarkPull10kInvoices(b *testing.B) {
	const n, latency = 10_000, 20 * time.Millisecond
	emu := connectest.New("app-acme", "s3cret")
	defer emu.Close()
	at := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	for i := 1; i <= n; i++ {
		emu.Add("cld-1", "invoices", connectest.Invoice(fmt.Sprintf("c-%05d", i), i, at.Add(time.Duration(i)*time.Second)))
	}
	cfg := acmeOn(emu)
	body := notificationOf(b, emu, cfg)
	pages := (n + PageSize - 1) / PageSize

	fresh := func() *store.DB {
		db, err := store.Open(filepath.Join(b.TempDir(), "tenantdesk.db"), store.Options{})
		if err != nil {
			b.Fatal(err)
		}
		putAcme(b, db, cfg)
		return db
	}
	var pullTotal, ingestTotal time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		db := fresh()
		start := time.Now()
		if err := db.Update(func(tx *store.Tx) error {
			_, err := Ingest(tx, cfg, body, time.Now())
			return err
		}); err != nil {
			b.Fatal(err)
		}
		ingestTotal += time.Since(start)
		db.Close()

		db = fresh()
		emu.ResetRequests()
		// The records' links of the previous round are dropped by a fresh
		// emulator state: pull against records that carry no link yet.
		unlink(emu)
		emu.SetLatency(latency)
		p := &Puller{DB: db, HTTPClient: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 8}}, Logger: slog.New(slog.DiscardHandler)}
		b.StartTimer()
		start = time.Now()
		res, err := p.PullNow(context.Background(), PullRequest{Tenant: "acme", Group: "cld-1"}, nil)
		elapsed := time.Since(start)
		b.StopTimer()
		emu.SetLatency(0)
		if err != nil || len(res) != 1 || !res[0].Complete || res[0].Counts.Stored != n || res[0].Counts.Linked != n {
			b.Fatalf("pull: %v %+v", err, res)
		}
		pullTotal += elapsed
		db.Close()
	}
	pull := pullTotal / time.Duration(b.N)
	ingest := ingestTotal / time.Duration(b.N)
	ideal := time.Duration(pages)*latency + ingest
	b.ReportMetric(float64(pull.Milliseconds()), "pull-ms")
	b.ReportMetric(float64(ingest.Milliseconds()), "ingest-ms")
	b.ReportMetric(float64(ideal.Milliseconds()), "ideal-ms")
	b.ReportMetric(float64(pull)/float64(ideal), "x-ideal")
}

// notificationOf reads every record of cld-1's invoices as the emulator
// serves them and wraps them as one notification body.
func notificationOf(b testing.TB, emu *connectest.Server, cfg *tenant.Config) []byte {
	var all []json.RawMessage
	next := emu.URL + "/api/v2/cld-1/invoices?$top=1000"
	for next != "" {
		req, _ := http.NewRequest(http.MethodGet, next, nil)
		req.SetBasicAuth(cfg.API.ID, string(cfg.API.Key))
		req.Header.Set("CONNEC-EXTERNAL-IDS", "true")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var page struct {
			Invoices   []json.RawMessage `json:"invoices"`
			Pagination struct {
				Next string `json:"next"`
			} `json:"pagination"`
		}
		if err := json.Unmarshal(raw, &page); err != nil {
			b.Fatal(err)
		}
		all = append(all, page.Invoices...)
		next = page.Pagination.Next
	}
	body, err := json.Marshal(map[string]any{"invoices": all})
	if err != nil {
		b.Fatal(err)
	}
	return body
}

// unlink forgets the links the previous round sent.
func unlink(emu *connectest.Server) { emu.Unlink() }
