package remote

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tenantdesk/tenantdesk/store"
	"github.com/tenantdesk/tenantdesk/store/storetest"
	"github.com/tenantdesk/tenantdesk/tenant"
	"github.com/tenantdesk/tenantdesk/tenant/admin"
)

func demoService(t testing.TB) *admin.Service {
	t.Helper()
	db, err := store.Open(filepath.Join(storetest.TempDir(t), "r.db"), store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	svc := admin.New(db, admin.Options{PublicURL: "https://td.example.com", Logger: slog.New(slog.DiscardHandler)})
	if _, err := svc.SeedDemo(); err != nil {
		t.Fatal(err)
	}
	return svc
}

// client speaks to svc over a real loopback HTTP server.
func client(t testing.TB, svc admin.API) *Client {
	srv := httptest.NewServer(Handler(svc, Info{Name: "test"}, nil, slog.New(slog.DiscardHandler)))
	t.Cleanup(srv.Close)
	return &Client{Name: "test", base: srv.URL, http: srv.Client()}
}

func TestErrorsKeepTheirIdentityAcrossTheWire(t *testing.T) {
	svc := demoService(t)
	c := client(t, svc)

	err := c.RemoveTenant("nosuch")
	if !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("remove of an unknown tenant: %v, not store.ErrNotFound", err)
	}
	if want := svc.RemoveTenant("nosuch"); err.Error() != want.Error() {
		t.Fatalf("message %q, in process %q", err, want)
	}

	bad := tenant.Config{Key: "fresh", API: tenant.API{Host: "ftp://nope"}}
	p, err := c.SaveTenant(bad, true)
	var ve *tenant.ValidationError
	if !errors.As(err, &ve) || ve.Problems.Field("api.host") == "" || p.Field("api.host") == "" {
		t.Fatalf("invalid tenant: err %v, problems %+v", err, p)
	}
	if list, _ := svc.Tenants(); len(list) != 3 {
		t.Fatalf("an invalid save wrote: %d tenants", len(list))
	}

	_, err = c.ImportTenants([]byte(`{"marketplaces":[]}`))
	var ie *tenant.ImportError
	if !errors.As(err, &ie) || len(ie.Problems) == 0 {
		t.Fatalf("import error: %v", err)
	}

	// The secret never crosses the admin API (SPEC §15): the answer
	// carries the mask, and a save of that answer keeps the stored key.
	before := storedKey(t, svc, "acme")
	cfg, err := c.Tenant("acme")
	if err != nil || cfg.API.Key.Reveal() != tenant.Mask {
		t.Fatalf("tenant through the wire: api.key %q, %v; want the mask", cfg.API.Key.Reveal(), err)
	}
	if _, err := c.SaveTenant(cfg, false); err != nil {
		t.Fatal(err)
	}
	if after := storedKey(t, svc, "acme"); after == "" || after != before {
		t.Fatal("a save through the wire changed the api.key")
	}
}

// storedKey is the api.key the data file holds for key, read as the
// listener reads it.
func storedKey(t *testing.T, svc *admin.Service, key tenant.Key) string {
	t.Helper()
	var k string
	err := svc.DB().View(func(tx *store.Tx) error {
		c, err := tenant.GetTx(tx, key)
		if err == nil {
			k = c.API.Key.Reveal()
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestBackupThroughTheWireIsAConsistentCopy(t *testing.T) {
	svc := demoService(t)
	c := client(t, svc)
	var buf bytes.Buffer
	n, err := c.Backup(context.Background(), &buf)
	if err != nil || n != int64(buf.Len()) || n == 0 {
		t.Fatalf("backup: %d bytes, buffer %d, %v", n, buf.Len(), err)
	}
	path := filepath.Join(t.TempDir(), "copy.db")
	if err := writeFile(path, buf.Bytes()); err != nil {
		t.Fatal(err)
	}
	copyDB, err := store.Open(path, store.Options{})
	if err != nil {
		t.Fatalf("the backup does not open: %v", err)
	}
	defer copyDB.Close()
	copied := admin.New(copyDB, admin.Options{})
	a, _ := copied.Tenants()
	b, _ := svc.Tenants()
	if len(a) != len(b) {
		t.Fatalf("backup has %d tenants, original %d", len(a), len(b))
	}
}

// FuzzHandler posts arbitrary bodies to the methods that take arguments:
// every answer is a JSON answer with 200 or 400, never a panic.
func FuzzHandler(f *testing.F) {
	names := []string{"Tenant", "ValidateTenant", "SaveTenant", "SetTenantEnabled", "ImportTenants",
		"QueryConnectedAt", "SkipConnected", "Connected", "ConnectedByRemote", "CountConnected",
		"Invoices", "Invoice", "Groups", "SaveInvoice", "Bills", "BillingPreview", "EventsAfter", "RecentEvents",
		"Export", "RegistrationURLs", "SyncStates", "NoSuchMethod"}
	for i, seed := range []string{`"acme"`, `{"config":{"key":"x"},"new":true}`, `{"filter":{},"limit":5}`, `null`, `[`, `3`, `{"period":"2026-13"}`} {
		f.Add(uint8(i), []byte(seed))
	}
	svc := demoService(f)
	h := Handler(svc, Info{}, nil, slog.New(slog.DiscardHandler))
	f.Fuzz(func(t *testing.T, which uint8, body []byte) {
		name := names[int(which)%len(names)]
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/v1/"+name, bytes.NewReader(body)))
		switch rec.Code {
		case http.StatusOK, http.StatusBadRequest, http.StatusNotFound:
		default:
			t.Fatalf("%s %q: status %d", name, body, rec.Code)
		}
		var a answer
		if err := json.Unmarshal(rec.Body.Bytes(), &a); err != nil {
			t.Fatalf("%s %q: answer is not JSON: %v", name, body, err)
		}
	})
}

// FuzzAnswer feeds the client arbitrary answers (a server, or something
// posing as one): a value or an error, never a panic; an answer with an
// error is an error with the wire's message, matching only the sentinels
// the wire names.
func FuzzAnswer(f *testing.F) {
	f.Add([]byte(`{"result":[{"key":"acme"}],"error":{"message":"x","kinds":["not_found"],"type":"import","detail":{"Problems":[{"field":"a","message":"b"}]}}}`))
	f.Add([]byte(`{"error":{"type":"invalid_tenant","detail":"nope"}}`))
	f.Add([]byte(`{"error":{"message":"no tenant","kinds":["not_found","canceled"]}}`))
	f.Add([]byte(`{"progress":{"done":3},"result":null}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var a answer
		if json.Unmarshal(data, &a) != nil {
			return
		}
		_, _ = finish[[]admin.TenantSummary]("Tenants", a)
		_, err := finish[admin.BillingSummary]("RunBilling", a)
		if a.Error == nil || errors.Is(err, ErrProtocol) {
			return
		}
		if err == nil || err.Error() != a.Error.Message {
			t.Fatalf("error %v, the wire said %q", err, a.Error.Message)
		}
		named := strings.Join(a.Error.Kinds, " ")
		for _, s := range sentinels {
			if errors.Is(err, s.err) && !strings.Contains(named, s.kind) {
				t.Fatalf("%v matches %s, which the wire did not name", err, s.kind)
			}
		}
	})
}

func writeFile(path string, b []byte) error { return os.WriteFile(path, b, 0o600) }
