package server_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tenantdesk/tenantdesk/store"
	"github.com/tenantdesk/tenantdesk/tenant"
)

func groupPath(k tenant.Key, group string) string {
	return strings.Replace(tenant.RouteGroup.Path(k), ":id", group, 1)
}

func memberPath(k tenant.Key, group, user string) string {
	return strings.NewReplacer(":group_id", group, ":id", user).Replace(tenant.RouteGroupUser.Path(k))
}

func wantSuccess(t *testing.T, res response) {
	t.Helper()
	if res.status != http.StatusOK || res.json(t)["success"] != true {
		t.Fatalf("want 200 {\"success\":true}, got %d %s", res.status, res.body)
	}
}

func TestGroupCancelled(t *testing.T) {
	acme := tenantCfg(t, "acme")
	e := newEnv(t, acme, tenantCfg(t, "globex"))
	c := creds(acme)
	// usr-1 only in cld-1; usr-2 also in cld-2; globex has its own cld-1.
	e.seedGroup("acme", "cld-1", "usr-1", "usr-2")
	e.seedGroup("acme", "cld-2", "usr-2")
	e.seedGroup("globex", "cld-1", "usr-1")
	e.update(func(tx *store.Tx) error {
		if err := tx.PutInvoice(store.Invoice{ID: "inv-x", Tenant: "acme", GroupUID: "cld-1", Number: "INV-X"}); err != nil {
			return err
		}
		_, err := tx.PutConnected(store.ConnectedObject{Tenant: "acme", GroupUID: "cld-1", LocalKind: store.KindInvoice,
			LocalID: "inv-x", Provider: "connec", Entity: "invoices", RemoteID: "c-x"})
		return err
	})

	wantSuccess(t, e.do("DELETE", groupPath(acme.Key, "cld-1"), &c, nil))

	var g store.Group
	e.view(func(tx *store.Tx) (err error) {
		g, err = tx.Group("acme", "cld-1")
		if err != nil {
			return err
		}
		ms, err := tx.GroupMemberships("acme", "cld-1")
		for _, m := range ms {
			if !m.Ended || m.EndedAt.IsZero() {
				t.Errorf("membership of %s not ended", m.UserUID)
			}
		}
		u1, _ := tx.User("acme", "usr-1")
		u2, _ := tx.User("acme", "usr-2")
		if !u1.Blocked {
			t.Error("usr-1 has no group left but is not blocked")
		}
		if u2.Blocked {
			t.Error("usr-2 still belongs to cld-2 but was blocked")
		}
		other, _ := tx.Group("globex", "cld-1")
		if other.Cancelled {
			t.Error("globex's cld-1 was cancelled by acme's webhook")
		}
		return err
	})
	if !g.Cancelled || g.CancelledAt.IsZero() {
		t.Fatalf("group not cancelled: %+v", g)
	}
	for _, r := range []struct {
		kind, id string
		inactive bool
	}{
		{store.KindGroup, "cld-1", true},
		{store.KindUser, "usr-1", true},
		{store.KindUser, "usr-2", false},
		{store.KindInvoice, "inv-x", true},
		{store.KindGroup, "cld-2", false},
	} {
		if got := e.connected("acme", r.kind, r.id).Inactive; got != r.inactive {
			t.Errorf("identity-map row of %s %s: inactive %v, want %v", r.kind, r.id, got, r.inactive)
		}
	}
	if got := e.connected("globex", store.KindGroup, "cld-1").Inactive; got {
		t.Error("globex's identity-map row went inactive")
	}
	evs := e.events()
	if len(evs) == 0 || evs[0].Kind != store.EventWebhook || evs[0].Tenant != "acme" {
		t.Fatalf("no webhook event: %+v", evs)
	}

	// Repeating it changes nothing and still answers 200.
	before := e.snapshot()
	time.Sleep(2 * time.Millisecond)
	wantSuccess(t, e.do("DELETE", groupPath(acme.Key, "cld-1"), &c, nil))
	if e.snapshot() != before {
		t.Error("a repeated cancellation changed data")
	}
	// An unknown group: 200, nothing written.
	wantSuccess(t, e.do("DELETE", groupPath(acme.Key, "cld-404"), &c, nil))
	if e.snapshot() != before {
		t.Error("cancelling an unknown group changed data")
	}
	var n int
	e.view(func(tx *store.Tx) error {
		_, err := tx.Group("acme", "cld-404")
		if !errors.Is(err, store.ErrNotFound) {
			t.Errorf("unknown group was created: %v", err)
		}
		gs, err := tx.Groups("acme")
		n = len(gs)
		return err
	})
	if n != 2 {
		t.Errorf("acme has %d groups, want 2", n)
	}
}

func TestMemberRemovedRealMode(t *testing.T) {
	acme := tenantCfg(t, "acme")
	e := newEnv(t, acme)
	c := creds(acme)
	e.seedGroup("acme", "cld-1", "usr-1")
	e.seedGroup("acme", "cld-2", "usr-1")

	wantSuccess(t, e.do("DELETE", memberPath(acme.Key, "cld-1", "usr-1"), &c, nil))
	e.view(func(tx *store.Tx) error {
		m, err := tx.Membership("acme", "cld-1", "usr-1")
		if err != nil || !m.Ended {
			t.Errorf("membership cld-1 not ended: %+v %v", m, err)
		}
		u, _ := tx.User("acme", "usr-1")
		if u.Blocked {
			t.Error("user blocked while still in cld-2")
		}
		return nil
	})
	if e.connected("acme", store.KindUser, "usr-1").Inactive {
		t.Error("user row inactive while still in cld-2")
	}

	wantSuccess(t, e.do("DELETE", memberPath(acme.Key, "cld-2", "usr-1"), &c, nil))
	e.view(func(tx *store.Tx) error {
		u, err := tx.User("acme", "usr-1")
		if err != nil || !u.Blocked {
			t.Errorf("user with no group left is not blocked: %+v %v", u, err)
		}
		return nil
	})
	if !e.connected("acme", store.KindUser, "usr-1").Inactive {
		t.Error("blocked user's identity-map row is still active")
	}

	before := e.snapshot()
	wantSuccess(t, e.do("DELETE", memberPath(acme.Key, "cld-2", "usr-1"), &c, nil))
	wantSuccess(t, e.do("DELETE", memberPath(acme.Key, "cld-9", "usr-9"), &c, nil))
	if e.snapshot() != before {
		t.Error("repeated or unknown removal changed data")
	}
}

func TestMemberRemovedVirtualMode(t *testing.T) {
	acme := tenantCfg(t, "acme")
	acme.SSO.CreationMode = tenant.ModeVirtual
	e := newEnv(t, acme)
	c := creds(acme)
	e.seedGroup("acme", "cld-1", "usr-1.cld-1", "usr-2.cld-1")
	e.seedGroup("acme", "cld-2", "usr-1.cld-2")

	// The platform sends the real uid; the local one is uid.group.
	wantSuccess(t, e.do("DELETE", memberPath(acme.Key, "cld-1", "usr-1"), &c, nil))
	e.view(func(tx *store.Tx) error {
		if _, err := tx.User("acme", "usr-1.cld-1"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("virtual user usr-1.cld-1 still there: %v", err)
		}
		if _, err := tx.User("acme", "usr-1.cld-2"); err != nil {
			t.Errorf("the same person's virtual user of cld-2 is gone: %v", err)
		}
		if _, err := tx.User("acme", "usr-2.cld-1"); err != nil {
			t.Errorf("another member was removed: %v", err)
		}
		m, err := tx.Membership("acme", "cld-1", "usr-1.cld-1")
		if err != nil || !m.Ended {
			t.Errorf("membership not ended: %+v %v", m, err)
		}
		return nil
	})
	row := e.connected("acme", store.KindUser, "usr-1.cld-1")
	if !row.Inactive {
		t.Error("removed virtual user's identity-map row is active")
	}
	if e.connected("acme", store.KindUser, "usr-1.cld-2").Inactive {
		t.Error("other virtual user's row went inactive")
	}

	before := e.snapshot()
	wantSuccess(t, e.do("DELETE", memberPath(acme.Key, "cld-1", "usr-1"), &c, nil))
	if e.snapshot() != before {
		t.Error("a repeated removal changed data")
	}
}

func TestVirtualGroupCancelBlocksItsUsers(t *testing.T) {
	acme := tenantCfg(t, "acme")
	acme.SSO.CreationMode = tenant.ModeVirtual
	e := newEnv(t, acme)
	c := creds(acme)
	e.seedGroup("acme", "cld-1", "usr-1.cld-1")
	e.seedGroup("acme", "cld-2", "usr-1.cld-2")
	wantSuccess(t, e.do("DELETE", groupPath(acme.Key, "cld-1"), &c, nil))
	e.view(func(tx *store.Tx) error {
		u1, _ := tx.User("acme", "usr-1.cld-1")
		u2, _ := tx.User("acme", "usr-1.cld-2")
		if !u1.Blocked || u2.Blocked {
			t.Errorf("blocked: cld-1 user %v (want true), cld-2 user %v (want false)", u1.Blocked, u2.Blocked)
		}
		return nil
	})
}

func TestMalformedWebhookIDs(t *testing.T) {
	acme := tenantCfg(t, "acme")
	e := newEnv(t, acme)
	c := creds(acme)
	before := e.snapshot()
	for _, p := range []string{
		groupPath(acme.Key, strings.Repeat("x", 200)),
		memberPath(acme.Key, "cld-1", "usr-1;drop"),
		memberPath(acme.Key, "cld%201", "usr-1"),
	} {
		res := e.do("DELETE", p, &c, nil)
		if res.status != http.StatusBadRequest || res.json(t)["error"] == nil {
			t.Errorf("%s: %d %s", p, res.status, res.body)
		}
	}
	if e.snapshot() != before {
		t.Error("malformed webhook wrote data")
	}
}
