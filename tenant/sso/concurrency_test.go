package sso

import (
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/crewjam/saml"

	"github.com/tenantdesk/tenantdesk/store"
	"github.com/tenantdesk/tenantdesk/tenant"
	"github.com/tenantdesk/tenantdesk/tenant/sso/ssotest"
)

// One response posted by several browsers at once logs in exactly once.
func TestConcurrentReplayLogsInOnce(t *testing.T) {
	h := newHarness(t)
	_, id := h.initialize("acme", "")
	samlResponse := h.response("acme", id, time.Time{}, attrs())
	const n = 6
	codes := make(chan int, n)
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := h.postConsume(&http.Client{CheckRedirect: h.client.CheckRedirect}, "acme", samlResponse)
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			codes <- resp.StatusCode
		}()
	}
	wg.Wait()
	close(codes)
	ok := 0
	for c := range codes {
		switch c {
		case http.StatusFound:
			ok++
		case http.StatusForbidden, http.StatusServiceUnavailable: // replay, or shed (TestConsumeBusy)
		default:
			t.Errorf("status %d", c)
		}
	}
	if ok != 1 {
		t.Errorf("%d logins from one response, want 1", ok)
	}
}

// Different users of several tenants log in at once; each gets its own
// records, and the SP cache is shared safely (run with -race).
func TestConcurrentLogins(t *testing.T) {
	h := newHarness(t)
	// Room for every login at once: this test is about the store and the
	// SP cache, not about shedding (TestConsumeBusy).
	h.svc.verifications = newVerifySlotsN(64, 64)
	type login struct {
		key  string
		uid  string
		resp string
	}
	var logins []login
	for i := range 8 {
		key := []string{"acme", "globex"}[i%2]
		uid := fmt.Sprintf("usr-%d", i)
		_, id := h.initialize(tenant.Key(key), "")
		logins = append(logins, login{key, uid, h.response(tenant.Key(key), id, time.Time{}, attrs("uid", uid))})
	}
	var wg sync.WaitGroup
	for _, l := range logins {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := h.postConsume(&http.Client{CheckRedirect: h.client.CheckRedirect}, tenant.Key(l.key), l.resp)
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusFound {
				t.Errorf("%s %s: %d", l.key, l.uid, resp.StatusCode)
			}
		}()
	}
	wg.Wait()
	err := h.db.View(func(tx *store.Tx) error {
		for _, l := range logins {
			if _, err := tx.Membership(l.key, "cld-1", l.uid); err != nil {
				t.Errorf("%s %s: %v", l.key, l.uid, err)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestAuthnRequestExpires(t *testing.T) {
	h := newHarness(t)
	base := time.Now()
	h.svc.SetClock(func() time.Time { return base })
	_, id := h.initialize("acme", "")
	later := base.Add(RequestTTL + time.Second)
	h.svc.SetClock(func() time.Time { return later })
	h.assertRefused(h.consume("acme", h.response("acme", id, later, attrs())), ReasonInResponseTo)
	h.assertNothingWritten("acme", "usr-1", "cld-1")
}

// The IdP's SessionNotOnOrAfter shortens our session.
func TestSessionCappedByIdP(t *testing.T) {
	h := newHarness(t)
	_, id := h.initialize("acme", "")
	end := time.Now().Add(time.Hour).Truncate(time.Second).UTC()
	doc := h.document("acme", ssotest.Login{InResponseTo: id, Edit: func(a *saml.Assertion) {
		a.AuthnStatements[0].SessionNotOnOrAfter = &end
	}})
	resp := h.consume("acme", encode(t, doc))
	mustFound(t, resp)
	c := sessionCookieOf(resp)
	err := h.db.View(func(tx *store.Tx) error {
		s, err := tx.Session(c.Value)
		if err == nil && !s.ExpiresAt.Equal(end) {
			t.Errorf("session expires %s, want the IdP's %s", s.ExpiresAt, end)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}
