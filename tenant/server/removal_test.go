package server_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tenantdesk/tenantdesk/store"
	"github.com/tenantdesk/tenantdesk/tenant"
	"github.com/tenantdesk/tenantdesk/tenant/sso"
)

// A removed tenant's sessions, pending requests and replay entries go with
// it: the same key added again does not bring an old session back.
func TestRemovedTenantReaddedHasNoOldSession(t *testing.T) {
	acme, globex := tenantCfg(t, "acme"), tenantCfg(t, "globex")
	e := newEnv(t, acme, globex)
	e.seedGroup("acme", "cld-1", "usr-1")
	e.seedGroup("globex", "cld-1", "usr-1")
	now := time.Now().UTC()
	sessAcme, sessGlobex := strings.Repeat("a", 64), strings.Repeat("b", 64)
	e.update(func(tx *store.Tx) error {
		for _, s := range []store.Session{
			{ID: sessAcme, Tenant: "acme", UserUID: "usr-1", GroupUID: "cld-1", Role: "Member", CreatedAt: now, ExpiresAt: now.Add(time.Hour)},
			{ID: sessGlobex, Tenant: "globex", UserUID: "usr-1", GroupUID: "cld-1", Role: "Member", CreatedAt: now, ExpiresAt: now.Add(time.Hour)},
		} {
			if err := tx.PutSession(s); err != nil {
				return err
			}
		}
		if err := tx.PutAuthnRequest(store.AuthnRequest{Tenant: "acme", ID: "_req", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
			return err
		}
		_, err := tx.RememberAssertion("acme", "_assertion", now.Add(time.Hour), now)
		return err
	})
	session := func(key, id string) int {
		req, _ := http.NewRequest(http.MethodGet, e.srv.URL+tenant.RouteSession.Path(tenant.Key(key)), nil)
		req.AddCookie(&http.Cookie{Name: sso.CookieName, Value: id})
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	if got := session("acme", sessAcme); got != http.StatusOK {
		t.Fatalf("session before removal: %d", got)
	}

	if err := (tenant.Registry{DB: e.db}).Remove("acme"); err != nil {
		t.Fatal(err)
	}
	e.putTenant(acme)

	if got := session("acme", sessAcme); got != http.StatusUnauthorized {
		t.Errorf("old session after the key was added again: %d, want 401", got)
	}
	if got := session("globex", sessGlobex); got != http.StatusOK {
		t.Errorf("another tenant's session: %d, want 200", got)
	}
	errRollback := errors.New("roll back the probes")
	err := e.db.Update(func(tx *store.Tx) error {
		if _, err := tx.ConsumeAuthnRequest("acme", "_req", now); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("pending request survived the removal: %v", err)
		}
		if fresh, err := tx.RememberAssertion("acme", "_assertion", now.Add(time.Hour), now); err != nil || !fresh {
			t.Errorf("replay entry survived the removal: fresh=%v err=%v", fresh, err)
		}
		return errRollback
	})
	if !errors.Is(err, errRollback) {
		t.Fatal(err)
	}
}
