package server_test

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tenantdesk/tenantdesk/store"
	"github.com/tenantdesk/tenantdesk/tenant"
	"github.com/tenantdesk/tenantdesk/tenant/server"
	"github.com/tenantdesk/tenantdesk/tenant/tenanttest"
)

const publicURL = "http://tenantdesk.test"

// env is one listener over a real bbolt file, served over real HTTP.
type env struct {
	t   testing.TB
	db  *store.DB
	srv *httptest.Server
}

func newEnv(t testing.TB, tenants ...tenant.Config) *env {
	t.Helper()
	db, err := store.Open(filepath.Join(t.TempDir(), "tenantdesk.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return newEnvOn(t, db, tenants...)
}

// newEnvOn is newEnv on a store already open (an etcd replica's handle).
func newEnvOn(t testing.TB, db *store.DB, tenants ...tenant.Config) *env {
	t.Helper()
	e := &env{t: t, db: db}
	for _, c := range tenants {
		e.putTenant(c)
	}
	logger := slog.New(slog.DiscardHandler)
	if testing.Verbose() {
		logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	srv := server.New(db, publicURL, logger)
	// These tests send many bad credentials from one address on purpose;
	// the back-off has its own tests (abuse_test.go).
	srv.Backoff().Threshold = 1 << 30
	e.srv = httptest.NewServer(srv.Handler())
	t.Cleanup(e.srv.Close)
	return e
}

var (
	certOnce sync.Once
	certPEM  string
)

// idpCert is a self-signed certificate standing for a tenant's IdP.
func idpCert(t testing.TB) string {
	certOnce.Do(func() {
		certPEM = tenanttest.Certificate(t, time.Now().Add(-time.Hour), time.Now().Add(365*24*time.Hour))
	})
	return certPEM
}

// tenantCfg is an enabled tenant with its own credentials.
func tenantCfg(t testing.TB, key string) tenant.Config {
	return tenant.Config{
		Key:         tenant.Key(key),
		DisplayName: strings.ToUpper(key) + " Marketplace",
		Enabled:     true,
		API:         tenant.API{ID: "app-" + key, Key: tenant.Secret("secret-" + key + "-0123456789"), Host: "https://api." + key + ".test"},
		SSO: tenant.SSO{
			IdP:             "https://idp." + key + ".test",
			X509Certificate: idpCert(t),
			CreationMode:    tenant.ModeReal,
		},
		Connec: tenant.Connec{Host: "https://connec." + key + ".test"},
	}
}

func (e *env) putTenant(c tenant.Config) {
	e.t.Helper()
	doc, err := c.MarshalStored()
	if err != nil {
		e.t.Fatal(err)
	}
	now := time.Now().UTC()
	if err := e.db.Update(func(tx *store.Tx) error {
		return tx.PutTenant(store.Tenant{Key: string(c.Key), Config: doc, CreatedAt: now, UpdatedAt: now})
	}); err != nil {
		e.t.Fatal(err)
	}
}

func creds(c tenant.Config) [2]string { return [2]string{c.API.ID, c.API.Key.Reveal()} }

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("answer %d is not JSON: %v: %s", r.status, err, r.body)
	}
	return m
}

// do sends one request; auth is {user, password} or nil.
func (e *env) do(method, path string, auth *[2]string, body io.Reader) response {
	e.t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, body)
	if err != nil {
		e.t.Fatal(err)
	}
	if auth != nil {
		req.SetBasicAuth(auth[0], auth[1])
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := client.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return response{status: res.StatusCode, header: res.Header, body: b}
}

func (e *env) view(fn func(tx *store.Tx) error) {
	e.t.Helper()
	if err := e.db.View(fn); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) update(fn func(tx *store.Tx) error) {
	e.t.Helper()
	if err := e.db.Update(fn); err != nil {
		e.t.Fatal(err)
	}
}

// snapshot is every domain object of the file, for "nothing written" checks
// (the activity log is left out: failures are recorded there on purpose).
func (e *env) snapshot() string {
	e.t.Helper()
	var out []any
	e.view(func(tx *store.Tx) error {
		gs, err := tx.Groups("")
		if err != nil {
			return err
		}
		out = append(out, gs)
		for _, g := range gs {
			ms, err := tx.GroupMemberships(g.Tenant, g.UID)
			if err != nil {
				return err
			}
			out = append(out, ms)
		}
		invs, err := tx.Invoices("")
		if err != nil {
			return err
		}
		out = append(out, invs)
		rows, _, err := tx.QueryConnected(store.IdmapQuery{Limit: 100000})
		if err != nil {
			return err
		}
		out = append(out, rows)
		n, err := tx.CountConnected("", "")
		out = append(out, n)
		return err
	})
	b, err := json.Marshal(out)
	if err != nil {
		e.t.Fatal(err)
	}
	return string(b)
}

// seedGroup stores a group with members (local uids) and identity-map rows
// for the group and each user.
func (e *env) seedGroup(tk, groupUID string, users ...string) {
	e.t.Helper()
	now := time.Now().UTC().Add(-time.Hour)
	e.update(func(tx *store.Tx) error {
		if err := tx.PutGroup(store.Group{Tenant: tk, UID: groupUID, Name: groupUID, CreatedAt: now, UpdatedAt: now}); err != nil {
			return err
		}
		if _, err := tx.ConnectedByLocal(tk, store.KindGroup, groupUID); err != nil {
			if _, err := tx.PutConnected(store.ConnectedObject{Tenant: tk, GroupUID: groupUID, LocalKind: store.KindGroup,
				LocalID: groupUID, Provider: "maestrano", Entity: "groups", RemoteID: groupUID, Name: groupUID, CreatedAt: now}); err != nil {
				return err
			}
		}
		for _, u := range users {
			real, _, _ := strings.Cut(u, ".")
			if err := tx.PutUser(store.User{Tenant: tk, UID: u, RealUID: real, Email: real + "@example.test",
				Virtual: strings.Contains(u, "."), CreatedAt: now, UpdatedAt: now}); err != nil {
				return err
			}
			if err := tx.PutMembership(store.Membership{Tenant: tk, GroupUID: groupUID, UserUID: u, Role: "Member", CreatedAt: now, UpdatedAt: now}); err != nil {
				return err
			}
			if _, err := tx.ConnectedByLocal(tk, store.KindUser, u); err != nil {
				if _, err := tx.PutConnected(store.ConnectedObject{Tenant: tk, GroupUID: groupUID, LocalKind: store.KindUser,
					LocalID: u, Provider: "maestrano", Entity: "users", RemoteID: u, Name: u, CreatedAt: now}); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

func (e *env) connected(tk, kind, local string) store.ConnectedObject {
	e.t.Helper()
	var row store.ConnectedObject
	e.view(func(tx *store.Tx) (err error) {
		row, err = tx.ConnectedByLocal(tk, kind, local)
		return err
	})
	return row
}

func (e *env) events() []store.Event {
	e.t.Helper()
	var evs []store.Event
	e.view(func(tx *store.Tx) (err error) {
		evs, err = tx.RecentEvents(100)
		return err
	})
	return evs
}
