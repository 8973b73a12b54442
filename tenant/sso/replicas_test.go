package sso

import (
	"io"
	"net/http"
	"net/http/httptest"
	neturl "net/url"
	"sync"
	"testing"
	"time"

	"github.com/tenantdesk/tenantdesk/store"
	"github.com/tenantdesk/tenantdesk/store/etcdtest"
	"github.com/tenantdesk/tenantdesk/tenant"
)

func openEtcd(t *testing.T, url string) *store.DB {
	t.Helper()
	db, err := store.OpenURL(url, store.TLSFiles{}, store.Options{Budget: &store.DefaultTxBudget})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// replica serves the session route of a second Service on its own handle
// of h's store, as another serve replica does, and returns its base URL.
// The harness's cookie jar sends the session cookie to it too (cookies
// are per host, not per port).
func (h *harness) replica(t *testing.T, db *store.DB) string {
	svc := New(db, h.srv.URL, testLogger(t))
	mux := http.NewServeMux()
	mux.HandleFunc(tenant.RouteSession.Pattern(), func(w http.ResponseWriter, r *http.Request) {
		cfg := h.tenant(tenant.Key(r.PathValue("tenant")))
		if cfg == nil {
			http.NotFound(w, r)
			return
		}
		svc.Session(w, r, cfg)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv.URL
}

// sessionCookie is the session id the harness's browser holds for u.
func (h *harness) sessionCookie(t *testing.T, u string) string {
	t.Helper()
	pu, _ := neturl.Parse(u)
	for _, c := range h.client.Jar.Cookies(pu) {
		if c.Name == CookieName {
			return c.Value
		}
	}
	t.Fatal("no session cookie")
	return ""
}

// TestSessionCheckClaimedByOneReplica: two replicas (two Services on two
// handles of one etcd store) and 100 concurrent uses of one session whose
// recheck has passed, half on each: the hub is called exactly once, and
// every use gets its answer (SPEC §14: the hub recheck is claimed by one).
func TestSessionCheckClaimedByOneReplica(t *testing.T) {
	url := etcdtest.URL(t)
	h := newHarnessOn(t, openEtcd(t, url))
	hub := withHub(t, h, nil)
	hub.Recheck = -time.Minute
	sessURL := hubLogin(t, h)
	other := tenant.RouteSession.URL(h.replica(t, openEtcd(t, url)), "hub")
	hub.Recheck = 3 * time.Minute
	hub.CheckDelay.Store(int64(300 * time.Millisecond)) // every use arrives while it runs

	const n = 100
	var wg sync.WaitGroup
	codes := make([]int, n)
	start := make(chan struct{})
	for i := range n {
		u := sessURL
		if i%2 == 1 {
			u = other
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			resp, err := h.client.Get(u)
			if err != nil {
				t.Error(err)
				return
			}
			codes[i] = resp.StatusCode
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}()
	}
	close(start)
	wg.Wait()
	ok := [2]int{}
	for i, c := range codes {
		if c == http.StatusOK {
			ok[i%2]++
		}
	}
	all, _ := hub.SessionChecks()
	t.Logf("%d concurrent uses over two replicas: %d and %d answered 200, %d call(s) to the hub", n, ok[0], ok[1], all)
	if all != 1 || ok[0]+ok[1] != n {
		t.Fatalf("%d calls to the hub, %d+%d of %d answers 200; want exactly 1 call and all 200", all, ok[0], ok[1], n)
	}
	// Settled: the next uses on either replica ask nothing.
	for _, u := range []string{sessURL, other} {
		if code, _ := h.sessionStatus(u); code != http.StatusOK {
			t.Errorf("use after the check: %d", code)
		}
	}
	if again, _ := hub.SessionChecks(); again != 1 {
		t.Errorf("uses after the check asked the hub again (%d calls)", again)
	}
}

// TestSessionCheckFailsClosedWithoutTheClaimersOutcome: a check claimed
// by a replica that then gives no outcome (it died after claiming) is not
// asked of the hub again while the claim lasts: the use is refused (fail
// closed), and once the claim has run out the next use checks anew.
func TestSessionCheckFailsClosedWithoutTheClaimersOutcome(t *testing.T) {
	url := etcdtest.URL(t)
	h := newHarnessOn(t, openEtcd(t, url))
	hub := withHub(t, h, nil)
	hub.Recheck = -time.Minute
	sessURL := hubLogin(t, h)
	hub.Recheck = 3 * time.Minute
	h.svc.checks.timeout = 100 * time.Millisecond // the claim lasts 100 ms + checkClaimMargin
	dead := openEtcd(t, url)
	id := h.sessionCookie(t, sessURL)
	if err := dead.Update(func(tx *store.Tx) error {
		s, err := tx.Session(id)
		if err != nil {
			return err
		}
		s.CheckBy, s.CheckUntil = "dead-replica", time.Now().Add(checkClaimMargin)
		return tx.PutSession(s)
	}); err != nil {
		t.Fatal(err)
	}
	if code, _ := h.sessionStatus(sessURL); code != http.StatusUnauthorized {
		t.Errorf("use while a dead replica's claim lasts: %d, want 401 (fail closed)", code)
	}
	if all, _ := hub.SessionChecks(); all != 0 {
		t.Errorf("the hub was asked %d times while another replica held the check", all)
	}
	// The refused use cleared the browser's cookie; the session itself
	// is still there, and its next use, the claim run out, checks anew.
	var sess store.Session
	if err := h.db.View(func(tx *store.Tx) (err error) { sess, err = tx.Session(id); return err }); err != nil {
		t.Fatalf("session after a refused use: %v", err)
	}
	time.Sleep(time.Until(sess.CheckUntil))
	req, _ := http.NewRequest(http.MethodGet, sessURL, nil)
	req.AddCookie(&http.Cookie{Name: CookieName, Value: id})
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if all, _ := hub.SessionChecks(); resp.StatusCode != http.StatusOK || all != 1 {
		t.Errorf("use after the claim ran out: %d with %d hub calls, want 200 with 1", resp.StatusCode, all)
	}
}
