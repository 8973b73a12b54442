package remote_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/tenantdesk/tenantdesk/store"
	"github.com/tenantdesk/tenantdesk/tenant"
	"github.com/tenantdesk/tenantdesk/tenant/admin"
	"github.com/tenantdesk/tenantdesk/tenant/admin/remote"
	"github.com/tenantdesk/tenantdesk/tenant/admin/remote/remotetest"
)

// transports give the admin API of a fresh demo data file three ways: in
// process, through the control socket, and through the admin address over
// TLS, as dex runs one storage suite on every backend. offMachine marks
// the transport that refuses the methods that work only on the machine
// itself (Restore, Compact, Rekey); fileOnly the one an etcd store has not
// (the control socket sits next to a data file; on etcd there is no owner).
var transports = []struct {
	name                 string
	offMachine, fileOnly bool
	open                 func(t *testing.T, svc *admin.Service) admin.API
}{
	{"in-process", false, false, func(t *testing.T, svc *admin.Service) admin.API { return svc }},
	{"socket", false, true, func(t *testing.T, svc *admin.Service) admin.API {
		ctx, cancel := context.WithCancel(context.Background())
		done, err := remote.ServeSocket(ctx, svc.DB().Path(), svc, remote.Info{Name: "suite"}, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cancel(); <-done })
		c, err := remote.DialSocket(ctx, svc.DB().Path())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(c.Close)
		return c
	}},
	{"tls", true, false, func(t *testing.T, svc *admin.Service) admin.API {
		url := remotetest.AdminServer(t, svc, "suite")
		token, err := svc.NewAdminToken()
		if err != nil {
			t.Fatal(err)
		}
		pem, err := svc.AdminCertificatePEM()
		if err != nil {
			t.Fatal(err)
		}
		trust, err := remote.CATLS([]byte(pem))
		if err != nil {
			t.Fatal(err)
		}
		c, err := remote.Dial(context.Background(), url, token, trust)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(c.Close)
		return c
	}},
}

// TestAdminSuite runs the same admin behaviours on every transport.
func TestAdminSuite(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			started := time.Now()
			db, err := store.Open(filepath.Join(t.TempDir(), "td.db"), store.Options{NoSync: true})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			svc := admin.New(db, admin.Options{PublicURL: "https://td.example.com", Addr: "127.0.0.1:0", Logger: slog.New(slog.DiscardHandler)})
			if _, err := svc.SeedDemo(); err != nil {
				t.Fatal(err)
			}
			api := tr.open(t, svc)

			list, err := api.Tenants()
			if err != nil || len(list) == 0 {
				t.Fatalf("tenants: %d, %v", len(list), err)
			}
			if _, err := api.Tenant("nosuch"); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("unknown tenant: %v, not store.ErrNotFound", err)
			}
			gen := svc.DB().Generation()
			_, err = api.SaveTenant(tenant.Config{Key: "fresh", API: tenant.API{Host: "ftp://nope"}}, true)
			var ve *tenant.ValidationError
			if !errors.As(err, &ve) || ve.Problems.Field("api.host") == "" {
				t.Errorf("invalid tenant: %v, want a ValidationError naming api.host", err)
			}
			if svc.DB().Generation() != gen {
				t.Error("an invalid save wrote")
			}
			rows, next, err := api.QueryConnectedAt(admin.IdmapFilter{}, "", 0, 2)
			if err != nil || len(rows) != 2 || next == "" {
				t.Errorf("first page: %d rows, next %q, %v", len(rows), next, err)
			}
			if after, n, err := api.SkipConnected(admin.IdmapFilter{}, "", 2); err != nil || n != 2 || after != next {
				t.Errorf("skip 2: after %q (page said %q), %d, %v", after, next, n, err)
			}
			var b bytes.Buffer
			if n, err := api.Backup(context.Background(), &b); err != nil || n == 0 || int64(b.Len()) != n {
				t.Errorf("backup: %d bytes said, %d got, %v", n, b.Len(), err)
			}
			// A data file is a cluster of none, said without an error.
			if cl, err := api.Cluster(); err != nil || cl.Backend != admin.BackendFile || cl.Location != db.Path() ||
				len(cl.Replicas)+len(cl.Members) != 0 {
				t.Errorf("cluster of a data file: %+v, %v", cl, err)
			}
			if st := api.ListenerStatus(); st.State != admin.ListenerStopped {
				t.Errorf("listener %v, want stopped", st.State)
			}
			// Compact: done by the owner on the machine itself, with
			// every tenant still there; refused over the admin address,
			// with nothing swapped.
			gen = svc.DB().Generation()
			res, err := api.Compact(context.Background())
			switch {
			case tr.offMachine:
				if err == nil || svc.DB().Generation() != gen {
					t.Errorf("compact over the admin address: %+v, %v; want refused, nothing written", res, err)
				}
			case err != nil || res.Before == 0 || res.After == 0 || res.After > res.Before:
				t.Errorf("compact: %+v, %v", res, err)
			default:
				if again, err := api.Tenants(); err != nil || len(again) != len(list) {
					t.Errorf("tenants after compact: %d, %v; want %d", len(again), err, len(list))
				}
			}
			// Rekey: done by the owner, the secrets still open under
			// the new key; refused over the admin address, the file's
			// key unchanged.
			oldKey, _, _ := svc.DB().VaultKey()
			rk, err := api.Rekey(context.Background())
			newKey, _, _ := svc.DB().VaultKey()
			switch {
			case tr.offMachine:
				if err == nil || newKey != oldKey {
					t.Errorf("rekey over the admin address: %+v, %v; want refused, key unchanged", rk, err)
				}
			case err != nil || rk.KeyID == "" || rk.KeyID == oldKey || newKey != rk.KeyID:
				t.Errorf("rekey: %+v, %v (key was %s, is %s)", rk, err, oldKey, newKey)
			default:
				err := svc.DB().View(func(tx *store.Tx) error {
					c, err := tenant.GetTx(tx, list[0].Key)
					if err == nil && c.API.Key == "" {
						err = errors.New("api.key empty")
					}
					return err
				})
				if err != nil {
					t.Errorf("a tenant's secret after rekey: %v", err)
				}
			}
			t.Logf("%s: %v", tr.name, time.Since(started))
		})
	}
}
