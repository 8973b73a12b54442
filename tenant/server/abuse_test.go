package server_test

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tenantdesk/tenantdesk/store"
	"github.com/tenantdesk/tenantdesk/tenant"
	"github.com/tenantdesk/tenantdesk/tenant/guard"
	"github.com/tenantdesk/tenantdesk/tenant/server"
)

// guarded is a listener with the default back-off, over real HTTP.
type guarded struct {
	t   testing.TB
	db  *store.DB
	srv *server.Server
	url string
}

func newGuarded(t testing.TB, tenants ...tenant.Config) *guarded {
	t.Helper()
	db, err := store.Open(filepath.Join(t.TempDir(), "tenantdesk.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	e := &env{t: t, db: db}
	for _, c := range tenants {
		e.putTenant(c)
	}
	srv := server.New(db, publicURL, slog.New(slog.DiscardHandler))
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	return &guarded{t: t, db: db, srv: srv, url: hs.URL}
}

var client = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

func (g *guarded) send(method, path string, auth *[2]string, body string, header ...string) *http.Response {
	g.t.Helper()
	req, err := http.NewRequest(method, g.url+path, strings.NewReader(body))
	if err != nil {
		g.t.Fatal(err)
	}
	if auth != nil {
		req.SetBasicAuth(auth[0], auth[1])
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := client.Do(req)
	if err != nil {
		g.t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res
}

// 400 bad passwords in a row from one address: the first Threshold get
// 401, the rest 429 with a Retry-After of at most a minute; the right
// password from that address waits too (no oracle while backed off).
func TestBadPasswordsGetBackedOff(t *testing.T) {
	acme := tenantCfg(t, "acme")
	g := newGuarded(t, acme)
	path := tenant.RouteMetadata.Path(acme.Key)
	counts := map[int]int{}
	for i := range 400 {
		wrong := [2]string{acme.API.ID, fmt.Sprint("guess-", i)}
		res := g.send("GET", path, &wrong, "")
		counts[res.StatusCode]++
		if res.StatusCode == http.StatusTooManyRequests {
			ra, err := strconv.Atoi(res.Header.Get("Retry-After"))
			if err != nil || ra < 1 || ra > 60 {
				t.Fatalf("request %d: Retry-After %q, want 1..60 seconds", i, res.Header.Get("Retry-After"))
			}
		}
	}
	if counts[http.StatusUnauthorized] != guard.DefaultThreshold || counts[http.StatusTooManyRequests] != 400-guard.DefaultThreshold {
		t.Errorf("answers %v: want %d × 401 then 429", counts, guard.DefaultThreshold)
	}
	good := creds(acme)
	if res := g.send("GET", path, &good, ""); res.StatusCode != http.StatusTooManyRequests {
		t.Errorf("right password while backed off: %d, want 429", res.StatusCode)
	}
}

// Refused SSO logins count too.
func TestRefusedLoginsGetBackedOff(t *testing.T) {
	acme := tenantCfg(t, "acme")
	g := newGuarded(t, acme)
	path := tenant.RouteSAMLConsume.Path(acme.Key)
	var last *http.Response
	for range guard.DefaultThreshold + 1 {
		last = g.send("POST", path, nil, "SAMLResponse=bm90IHNhbWw%3D", "Content-Type", "application/x-www-form-urlencoded")
	}
	if last.StatusCode != http.StatusTooManyRequests || last.Header.Get("Retry-After") == "" {
		t.Errorf("consume after %d refusals: %d, Retry-After %q", guard.DefaultThreshold, last.StatusCode, last.Header.Get("Retry-After"))
	}
}

// X-Forwarded-For is believed only from a trusted proxy.
func TestForwardedForOnlyFromTrustedProxies(t *testing.T) {
	acme := tenantCfg(t, "acme")
	wrong := [2]string{acme.API.ID, "wrong"}
	path := tenant.RouteMetadata.Path(acme.Key)
	flood := func(g *guarded) map[int]int {
		counts := map[int]int{}
		for i := range 3 * guard.DefaultThreshold {
			// Each request claims another client.
			res := g.send("GET", path, &wrong, "", "X-Forwarded-For", fmt.Sprintf("203.0.113.%d", i))
			counts[res.StatusCode]++
		}
		return counts
	}
	untrusted := newGuarded(t, acme)
	if got := flood(untrusted); got[http.StatusTooManyRequests] == 0 {
		t.Errorf("a client choosing its own X-Forwarded-For escaped the back-off: %v", got)
	}
	trusted := newGuarded(t, acme)
	trusted.srv.SetTrustedProxies([]netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")})
	if got := flood(trusted); got[http.StatusUnauthorized] != 3*guard.DefaultThreshold {
		t.Errorf("distinct clients behind a trusted proxy were backed off together: %v", got)
	}
}

// A flood of failures from many addresses neither writes an event per
// request (nor commits one) nor pushes the real login out of the log.
func TestFailureFloodDoesNotPushRealEventsOut(t *testing.T) {
	acme := tenantCfg(t, "acme")
	g := newGuarded(t, acme)
	g.srv.SetTrustedProxies([]netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")})
	if err := g.db.Update(func(tx *store.Tx) error {
		_, err := tx.AppendEvent(store.Event{At: time.Now(), Tenant: "acme", Kind: store.EventLogin, Outcome: "ok",
			UserUID: "usr-1", GroupUID: "cld-1", Message: "usr-1 signed in to group cld-1 as Admin"})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	commitsBefore := g.db.Commits()
	const n = store.EventLogLimit + 500
	wrong := [2]string{acme.API.ID, "wrong"}
	for i := range n {
		path := tenant.RouteMetadata.Path(acme.Key)
		if i%2 == 1 {
			path = tenant.RouteMetadata.Path("nosuch") // unknown tenants count too
		}
		xff := fmt.Sprintf("198.51.%d.%d", i/250, i%250)
		if res := g.send("GET", path, &wrong, "", "X-Forwarded-For", xff); res.StatusCode != http.StatusUnauthorized {
			t.Fatalf("request %d: %d", i, res.StatusCode)
		}
	}
	if err := g.srv.Failures().Flush(); err != nil {
		t.Fatal(err)
	}
	commits := g.db.Commits() - commitsBefore
	flushes, written := g.srv.Failures().Stats()
	t.Logf("%d refused requests: %d commits, %d events", n, commits, written)
	if commits > 5 || written > 10 || flushes > 5 {
		t.Errorf("%d refused requests cost %d commits and %d events; want a handful", n, commits, written)
	}
	var evs []store.Event
	if err := g.db.View(func(tx *store.Tx) (err error) { evs, err = tx.RecentEvents(0); return err }); err != nil {
		t.Fatal(err)
	}
	var login bool
	total := 0
	for _, e := range evs {
		if e.Kind == store.EventLogin && e.Outcome == "ok" && e.UserUID == "usr-1" {
			login = true
		}
		if e.Kind == store.EventAuth {
			total += e.Count
		}
	}
	if !login {
		t.Error("the real login was pushed out of the log")
	}
	if total != n {
		t.Errorf("aggregated events count %d failures, want %d", total, n)
	}
}
