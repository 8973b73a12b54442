package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tenantdesk/tenantdesk/store"
	"github.com/tenantdesk/tenantdesk/tenant"
	"github.com/tenantdesk/tenantdesk/tenant/server"
	"github.com/tenantdesk/tenantdesk/tenant/sso"
)

func TestHealthz(t *testing.T) {
	e := newEnv(t)
	res := e.do("GET", "/healthz", nil, nil)
	if res.status != http.StatusOK {
		t.Fatalf("healthz: %d %s", res.status, res.body)
	}
	// A probe only reads: 1,000 of them commit nothing and leave the file
	// as it was (issue 9: each probe used to commit a write).
	gen := e.db.Generation()
	info, err := os.Stat(e.db.Path())
	if err != nil {
		t.Fatal(err)
	}
	for range 1000 {
		if res := e.do("GET", "/healthz", nil, nil); res.status != http.StatusOK {
			t.Fatalf("healthz: %d %s", res.status, res.body)
		}
	}
	after, err := os.Stat(e.db.Path())
	if err != nil {
		t.Fatal(err)
	}
	if g := e.db.Generation(); g != gen || after.Size() != info.Size() || !after.ModTime().Equal(info.ModTime()) {
		t.Errorf("1,000 probes wrote: transaction %d -> %d, size %d -> %d, mtime %s -> %s",
			gen, g, info.Size(), after.Size(), info.ModTime(), after.ModTime())
	}
	// A database that cannot be read is reported, not hidden.
	if err := e.db.Close(); err != nil {
		t.Fatal(err)
	}
	res = e.do("GET", "/healthz", nil, nil)
	if res.status != http.StatusServiceUnavailable || res.json(t)["error"] == nil {
		t.Fatalf("healthz on a closed database: %d %s", res.status, res.body)
	}
}

func TestMetadata(t *testing.T) {
	acme := tenantCfg(t, "acme")
	e := newEnv(t, acme, tenantCfg(t, "globex"))
	c := creds(acme)
	res := e.do("GET", tenant.RouteMetadata.Path(acme.Key), &c, nil)
	if res.status != http.StatusOK {
		t.Fatalf("metadata: %d %s", res.status, res.body)
	}
	if ct := res.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	want, _ := json.Marshal(acme.Metadata(publicURL))
	if !jsonEqual(t, res.body, want) {
		t.Errorf("metadata:\n got %s\nwant %s", res.body, want)
	}
	if bytes.Contains(res.body, []byte(acme.API.Key.Reveal())) {
		t.Fatal("metadata leaks api.key")
	}
	m := res.json(t)
	if got := m["webhook"].(map[string]any)["account"].(map[string]any)["groups_path"]; got != "/mno-enterprise/acme/account/group/:id" {
		t.Errorf("groups_path %v", got)
	}

	// A changed configuration is served at once (the cache follows the store).
	acme.API.Host = "https://api2.acme.test"
	e.putTenant(acme)
	res = e.do("GET", tenant.RouteMetadata.Path(acme.Key), &c, nil)
	if got := res.json(t)["api"].(map[string]any)["host"]; got != "https://api2.acme.test" {
		t.Errorf("after update, api.host = %v", got)
	}
}

func jsonEqual(t *testing.T, a, b []byte) bool {
	t.Helper()
	var x, y any
	if err := json.Unmarshal(a, &x); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &y); err != nil {
		t.Fatal(err)
	}
	xa, _ := json.Marshal(x)
	ya, _ := json.Marshal(y)
	return bytes.Equal(xa, ya)
}

// routeCall is one request to every tenant route, for the matrix tests.
type routeCall struct {
	route  tenant.Route
	basic  bool
	method string
	path   func(tenant.Key) string
	body   string
}

func allRoutes() []routeCall {
	p := func(rt tenant.Route, repl ...string) func(tenant.Key) string {
		return func(k tenant.Key) string { return strings.NewReplacer(repl...).Replace(rt.Path(k)) }
	}
	return []routeCall{
		{tenant.RouteMetadata, true, "GET", p(tenant.RouteMetadata), ""},
		{tenant.RouteSAMLInit, false, "GET", p(tenant.RouteSAMLInit), ""},
		{tenant.RouteSAMLConsume, false, "POST", p(tenant.RouteSAMLConsume), ""},
		{tenant.RouteSPMetadata, false, "GET", p(tenant.RouteSPMetadata), ""},
		{tenant.RouteSession, false, "GET", p(tenant.RouteSession), ""},
		{tenant.RouteGroup, true, "DELETE", p(tenant.RouteGroup, ":id", "cld-1"), ""},
		{tenant.RouteGroupUser, true, "DELETE", p(tenant.RouteGroupUser, ":group_id", "cld-1", ":id", "usr-1"), ""},
		{tenant.RouteConnecReceive, true, "POST", p(tenant.RouteConnecReceive), notification(inv("c-1", "cld-1", "2026-01-01T00:00:00Z", "INV-1"))},
		{tenant.RouteLogout, false, "GET", p(tenant.RouteLogout), ""},
	}
}

func TestEveryRouteIsCovered(t *testing.T) {
	seen := map[tenant.Route]bool{}
	for _, rc := range allRoutes() {
		seen[rc.route] = true
	}
	for _, rt := range tenant.Routes() {
		if !seen[rt] {
			t.Errorf("route %s missing from the test matrix", rt.Pattern())
		}
	}
}

// Routes without credentials tell an unknown tenant (404) from a disabled
// one (403). Basic-auth routes answer both exactly like bad credentials
// (SPEC §12): same status, body and headers, so they reveal no tenant.
func TestUnknownAndDisabledTenant(t *testing.T) {
	acme := tenantCfg(t, "acme")
	off := tenantCfg(t, "initech")
	off.Enabled = false
	e := newEnv(t, acme, off)
	for _, rc := range allRoutes() {
		t.Run(rc.route.Label(), func(t *testing.T) {
			if rc.basic {
				wrong := [2]string{acme.API.ID, "wrong"}
				bad := e.do(rc.method, rc.path(acme.Key), &wrong, strings.NewReader(rc.body))
				if bad.status != http.StatusUnauthorized {
					t.Fatalf("bad credentials: %d %s", bad.status, bad.body)
				}
				c := creds(off)
				for _, call := range []struct {
					what string
					key  tenant.Key
					auth *[2]string
				}{{"unknown tenant", "nosuch", &wrong}, {"unknown tenant", "zz-9", nil}, {"disabled tenant", off.Key, &c}} {
					res := e.do(rc.method, rc.path(call.key), call.auth, strings.NewReader(rc.body))
					if res.status != bad.status || string(res.body) != string(bad.body) ||
						res.header.Get("WWW-Authenticate") != bad.header.Get("WWW-Authenticate") ||
						res.header.Get("Content-Type") != bad.header.Get("Content-Type") {
						t.Errorf("%s %s: %d %s %v; want exactly the bad-credentials answer %d %s %v",
							call.what, rc.path(call.key), res.status, res.body, res.header, bad.status, bad.body, bad.header)
					}
				}
				return
			}
			for _, key := range []tenant.Key{"nosuch", "zz-9"} {
				res := e.do(rc.method, rc.path(key), nil, strings.NewReader(rc.body))
				if res.status != http.StatusNotFound || res.json(t)["error"] != "unknown tenant" {
					t.Errorf("%s %s: %d %s", rc.method, rc.path(key), res.status, res.body)
				}
			}
			res := e.do(rc.method, rc.path(off.Key), nil, strings.NewReader(rc.body))
			if res.status != http.StatusForbidden || res.json(t)["error"] == nil {
				t.Errorf("disabled tenant: %d %s", res.status, res.body)
			}
		})
	}
}

func TestTrickyTenantKeysAreRefused(t *testing.T) {
	acme := tenantCfg(t, "acme")
	e := newEnv(t, acme)
	c := creds(acme)
	for _, path := range []string{
		"/mno-enterprise/ACME/metadata",
		"/mno-enterprise/acme%2F..%2Facme/metadata",
		"/mno-enterprise/%61cme/metadata", // "acme", but encoded
		"/mno-enterprise/-acme/metadata",
		"/mno-enterprise/acme%00/metadata",
		"/mno-enterprise/" + strings.Repeat("a", 65) + "/metadata",
	} {
		res := e.do("GET", path, &c, nil)
		// 401: a key that is no tenant's answers like bad credentials.
		if res.status != http.StatusUnauthorized && res.status != http.StatusBadRequest {
			t.Errorf("%s: %d %s", path, res.status, res.body)
		}
		if res.status == http.StatusOK {
			t.Errorf("%s served metadata", path)
		}
	}
	// Encoded characters in a webhook id are refused too, and write nothing.
	before := e.snapshot()
	res := e.do("DELETE", "/mno-enterprise/acme/account/group/cld%2F1", &c, nil)
	if res.status != http.StatusBadRequest {
		t.Errorf("encoded group id: %d %s", res.status, res.body)
	}
	if e.snapshot() != before {
		t.Error("refused request wrote data")
	}
}

func TestCredentialsMatrix(t *testing.T) {
	keys := []string{"acme", "globex", "initech"}
	var cfgs []tenant.Config
	for _, k := range keys {
		cfgs = append(cfgs, tenantCfg(t, k))
	}
	e := newEnv(t, cfgs...)
	for _, c := range cfgs {
		e.seedGroup(string(c.Key), "cld-1", "usr-1")
	}
	before := e.snapshot()
	for _, rc := range allRoutes() {
		if !rc.basic {
			continue
		}
		for _, target := range cfgs {
			attempts := map[string]*[2]string{
				"none":          nil,
				"empty":         {"", ""},
				"wrong key":     {target.API.ID, "nope"},
				"key as id":     {target.API.Key.Reveal(), target.API.ID},
				"id, other key": {target.API.ID, target.API.Key.Reveal() + "x"},
			}
			for _, other := range cfgs {
				if other.Key != target.Key {
					c := creds(other)
					attempts["tenant "+string(other.Key)] = &c
					mixed := [2]string{target.API.ID, other.API.Key.Reveal()}
					attempts["id of target, key of "+string(other.Key)] = &mixed
				}
			}
			for name, auth := range attempts {
				res := e.do(rc.method, rc.path(target.Key), auth, strings.NewReader(rc.body))
				if res.status != http.StatusUnauthorized || res.json(t)["error"] != "Invalid credentials" {
					t.Errorf("%s on %s with %s: %d %s", rc.route.Label(), target.Key, name, res.status, res.body)
				}
				if !strings.HasPrefix(res.header.Get("WWW-Authenticate"), "Basic ") {
					t.Errorf("%s: no WWW-Authenticate", rc.route.Label())
				}
			}
		}
	}
	if e.snapshot() != before {
		t.Fatal("a request with wrong credentials changed data")
	}
	// And the right credentials work on every Basic route.
	for _, rc := range allRoutes() {
		if !rc.basic {
			continue
		}
		c := creds(cfgs[1])
		if res := e.do(rc.method, rc.path(cfgs[1].Key), &c, strings.NewReader(rc.body)); res.status != http.StatusOK {
			t.Errorf("%s with the right credentials: %d %s", rc.route.Label(), res.status, res.body)
		}
	}
}

func TestSSORoutesReachTheSSOService(t *testing.T) {
	acme := tenantCfg(t, "acme")
	e := newEnv(t, acme)
	res := e.do("GET", tenant.RouteSPMetadata.Path(acme.Key), nil, nil)
	if res.status != http.StatusOK || !bytes.Contains(res.body, []byte("EntityDescriptor")) {
		t.Errorf("SP metadata: %d %.200s", res.status, res.body)
	}
	if !bytes.Contains(res.body, []byte(tenant.RouteSAMLConsume.URL(publicURL, acme.Key))) {
		t.Errorf("SP metadata lacks the consume URL: %.400s", res.body)
	}
	res = e.do("GET", tenant.RouteSAMLInit.Path(acme.Key)+"?group_id=cld-1", nil, nil)
	loc := res.header.Get("Location")
	if res.status != http.StatusFound || !strings.HasPrefix(loc, acme.SSOURL()) || !strings.Contains(loc, "SAMLRequest=") {
		t.Errorf("initialize: %d Location %q", res.status, loc)
	}
	res = e.do("GET", tenant.RouteSession.Path(acme.Key), nil, nil)
	if res.status != http.StatusUnauthorized {
		t.Errorf("session without cookie: %d %s", res.status, res.body)
	}
	res = e.do("POST", tenant.RouteSAMLConsume.Path(acme.Key), nil, strings.NewReader("SAMLResponse=bm90IHhtbA%3D%3D"))
	if res.status < 400 || res.status >= 500 || res.header.Get("Set-Cookie") != "" {
		t.Errorf("consume of garbage: %d, cookie %q", res.status, res.header.Get("Set-Cookie"))
	}
}

func TestBodyLimits(t *testing.T) {
	acme := tenantCfg(t, "acme")
	e := newEnv(t, acme)
	c := creds(acme)
	before := e.snapshot()
	cases := []struct {
		name   string
		method string
		path   string
		size   int
	}{
		{"connec over 16 MiB", "POST", tenant.RouteConnecReceive.Path(acme.Key), 16<<20 + 1},
		{"SAML over 256 KiB", "POST", tenant.RouteSAMLConsume.Path(acme.Key), sso.MaxResponseBytes + 1},
		{"webhook over 64 KiB", "DELETE", "/mno-enterprise/acme/account/group/cld-1", 64<<10 + 1},
		{"metadata over 64 KiB", "GET", tenant.RouteMetadata.Path(acme.Key), 64<<10 + 1},
	}
	for _, tc := range cases {
		body := bytes.Repeat([]byte(" "), tc.size)
		// With a Content-Length: refused up front.
		res := e.do(tc.method, tc.path, &c, bytes.NewReader(body))
		if res.status != http.StatusRequestEntityTooLarge || res.json(t)["error"] == nil {
			t.Errorf("%s: %d %s", tc.name, res.status, res.body)
		}
	}
	// Without a Content-Length (chunked): stopped while reading.
	res := e.do("POST", tenant.RouteConnecReceive.Path(acme.Key), &c,
		io.MultiReader(strings.NewReader(`{"items":[`), strings.NewReader(strings.Repeat(" ", 16<<20)), strings.NewReader("]}")))
	if res.status != http.StatusRequestEntityTooLarge {
		t.Errorf("chunked connec body over the limit: %d %s", res.status, res.body)
	}
	if e.snapshot() != before {
		t.Fatal("an oversize request wrote data")
	}
}

func TestGracefulShutdownFinishesInFlightRequest(t *testing.T) {
	acme := tenantCfg(t, "acme")
	db, err := store.Open(filepath.Join(t.TempDir(), "tenantdesk.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	e := &env{t: t, db: db}
	e.putTenant(acme)
	s := server.New(db, publicURL, slog.New(slog.DiscardHandler))

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addrc := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() { done <- s.ListenAndServe(ctx, "127.0.0.1:0", func(a net.Addr) { addrc <- a }) }()
	var addr net.Addr
	select {
	case addr = <-addrc:
	case err := <-done:
		t.Fatal(err)
	}

	// Start a notification whose body is still being sent.
	body := notification(inv("c-1", "cld-1", "2026-01-01T00:00:00Z", "INV-1"))
	pr, pw := io.Pipe()
	req, _ := http.NewRequest("POST", "http://"+addr.String()+tenant.RouteConnecReceive.Path(acme.Key), pr)
	req.SetBasicAuth(acme.API.ID, acme.API.Key.Reveal())
	req.ContentLength = int64(len(body))
	resc := make(chan *http.Response, 1)
	errc := make(chan error, 1)
	go func() {
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			errc <- err
			return
		}
		resc <- res
	}()
	if _, err := pw.Write([]byte(body[:10])); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond) // the server has read the headers: the connection is active

	cancel()
	// Shutdown has begun once new connections are refused.
	deadline := time.Now().Add(5 * time.Second)
	for {
		conn, err := net.DialTimeout("tcp", addr.String(), 100*time.Millisecond)
		if err != nil {
			break
		}
		conn.Close()
		if time.Now().After(deadline) {
			t.Fatal("listener still accepting after cancel")
		}
		time.Sleep(10 * time.Millisecond)
	}
	select {
	case err := <-done:
		t.Fatalf("ListenAndServe returned before the in-flight request finished: %v", err)
	default:
	}
	if _, err := pw.Write([]byte(body[10:])); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	select {
	case res := <-resc:
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			t.Fatalf("in-flight request: %d %s", res.StatusCode, b)
		}
	case err := <-errc:
		t.Fatalf("in-flight request failed: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("in-flight request never answered")
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("ListenAndServe: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("ListenAndServe did not return after shutdown")
	}
	var n int
	e.view(func(tx *store.Tx) error {
		invs, err := tx.Invoices("acme")
		n = len(invs)
		return err
	})
	if n != 1 {
		t.Fatalf("the in-flight notification stored %d invoices, want 1", n)
	}
}

func TestListenAndServeReportsABusyAddress(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	e := newEnv(t)
	s := server.New(e.db, publicURL, slog.New(slog.DiscardHandler))
	err = s.ListenAndServe(context.Background(), ln.Addr().String(), func(net.Addr) { t.Error("ready called") })
	if err == nil || !strings.Contains(err.Error(), ln.Addr().String()) {
		t.Fatalf("want an error naming the address, got %v", err)
	}
	var opErr *net.OpError
	if !errors.As(err, &opErr) {
		t.Errorf("error does not wrap the net error: %v", err)
	}
}

// The listener keeps decoded tenants between requests; a change to the
// stored tenant (disabled, key rotated, removed) applies to the very next
// request all the same.
func TestTenantChangeAppliesToTheNextRequest(t *testing.T) {
	acme := tenantCfg(t, "acme")
	e := newEnv(t, acme)
	path := tenant.RouteMetadata.Path(acme.Key)
	old := creds(acme)
	for range 2 { // the second answer comes from the cache
		if res := e.do("GET", path, &old, nil); res.status != http.StatusOK {
			t.Fatalf("metadata: %d %s", res.status, res.body)
		}
	}

	acme.Enabled = false
	e.putTenant(acme)
	if res := e.do("GET", path, &old, nil); res.status != http.StatusUnauthorized {
		t.Errorf("disabled tenant: %d %s, want 401", res.status, res.body)
	}

	acme.Enabled = true
	acme.API.Key = "rotated-key"
	e.putTenant(acme)
	if res := e.do("GET", path, &old, nil); res.status != http.StatusUnauthorized {
		t.Errorf("the key before its rotation: %d %s, want 401", res.status, res.body)
	}
	rotated := creds(acme)
	if res := e.do("GET", path, &rotated, nil); res.status != http.StatusOK {
		t.Errorf("the rotated key: %d %s, want 200", res.status, res.body)
	}

	e.update(func(tx *store.Tx) error { return tx.DeleteTenant(string(acme.Key)) })
	if res := e.do("GET", path, &rotated, nil); res.status != http.StatusUnauthorized {
		t.Errorf("removed tenant: %d %s, want 401", res.status, res.body)
	}
}
