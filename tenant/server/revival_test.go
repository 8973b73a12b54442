package server_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/tenantdesk/tenantdesk/store"
	"github.com/tenantdesk/tenantdesk/tenant"
)

// The hub issues a response; before the browser posts it, the hub's
// member-removal webhook arrives. The older assertion does not sign the
// removed member back in (SPEC §5), end to end through the real listener.
func TestAssertionIssuedBeforeRemovalWebhookIsRefused(t *testing.T) {
	e := newHubEnv(t)
	uat := e.docs["maestrano-uat"]
	e.hub.SignIn("usr-2")
	b := e.browser()
	resp, err := b.SignIn(e.public + uat.initPath + "&group_id=cld-1")
	status(t, "first sign-in", resp, err, http.StatusFound)

	// Second sign-in: the hub answers its form, and the browser waits.
	resp, err = b.Client.Get(e.public + uat.initPath + "&group_id=cld-1")
	status(t, "init", resp, err, http.StatusFound)
	resp, err = b.Client.Get(resp.Header.Get("Location"))
	page := status(t, "hub", resp, err, http.StatusOK)

	resp, err = e.hub.DeleteGroupUser(e.public, uat.groupUserPath, "cld-1", "usr-2", uat.apiID, uat.apiKey)
	status(t, "member-removal webhook", resp, err, http.StatusOK)

	resp, err = b.PostForm(page)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(string(body), "removed_later") {
		t.Fatalf("older assertion after the removal: %d %s; want 403 removed_later", resp.StatusCode, body)
	}
	if code, _ := e.get(b, tenant.RouteSession.URL(e.public, "maestrano-uat")); code != http.StatusUnauthorized {
		t.Errorf("session after the removal: %d, want 401", code)
	}
	err = e.db.View(func(tx *store.Tx) error {
		m, err := tx.Membership("maestrano-uat", "cld-1", "usr-2")
		if err == nil && !m.Ended {
			t.Error("the membership was reactivated")
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// Login CSRF end to end: the attacker starts a login in their browser and
// has the victim's browser post the hub's form. Refused; the attacker's own
// browser can still finish it.
func TestHubFormPostedByAnotherBrowserIsRefused(t *testing.T) {
	e := newHubEnv(t)
	uat := e.docs["maestrano-uat"]
	e.hub.SignIn("usr-1")
	attacker, victim := e.browser(), e.browser()
	resp, err := attacker.Client.Get(e.public + uat.initPath + "&group_id=cld-1")
	status(t, "init", resp, err, http.StatusFound)
	resp, err = attacker.Client.Get(resp.Header.Get("Location"))
	page := status(t, "hub", resp, err, http.StatusOK)

	resp, err = victim.PostForm(page)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(string(body), "other_browser") {
		t.Fatalf("form posted by another browser: %d %s; want 403 other_browser", resp.StatusCode, body)
	}
	if code, _ := e.get(victim, tenant.RouteSession.URL(e.public, "maestrano-uat")); code != http.StatusUnauthorized {
		t.Errorf("the victim's browser got a session: %d", code)
	}
	resp, err = attacker.PostForm(page)
	status(t, "the browser that started it", resp, err, http.StatusFound)
}
