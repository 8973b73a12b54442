package server_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tenantdesk/tenantdesk/store"
	"github.com/tenantdesk/tenantdesk/tenant"
	"github.com/tenantdesk/tenantdesk/tenant/server"
	"github.com/tenantdesk/tenantdesk/tenant/sso/hubtest"
	"github.com/tenantdesk/tenantdesk/tenant/sso/ssotest"
)

// hubEnv is the real listener on loopback, its tenants imported from a
// developer-platform marketplaces document, and the hub emulator both
// tenants point at.
type hubEnv struct {
	t      *testing.T
	db     *store.DB
	public string // the listener's public URL (= app.host = sso.idm)
	hub    *hubtest.Hub
	docs   map[tenant.Key]marketplace
}

// marketplace is what the test needs of one document entry.
type marketplace struct {
	apiID, apiKey                                          string
	initPath, consumePath, groupPath, groupUserPath, notif string
}

// marketplaces: maestrano-uat tells itself apart with ?marketplace=, as the
// Java and PHP examples do; acme-prod with a path suffix, as maestrano-rails
// does (maestrano-protocol.md §1.6).
var marketplaces = map[tenant.Key]marketplace{
	"maestrano-uat": {"app-uat", "uat-secret-0123456789",
		"/maestrano/auth/saml/init?marketplace=maestrano-uat",
		"/maestrano/auth/saml/consume?marketplace=maestrano-uat",
		"/maestrano/account/groups/:id?marketplace=maestrano-uat",
		"/maestrano/account/groups/:group_id/users/:id?marketplace=maestrano-uat",
		"/maestrano/connec/notifications?marketplace=maestrano-uat"},
	"acme-prod": {"app-acme", "acme-secret-0123456789",
		"/maestrano/auth/saml/init/acme-prod",
		"/maestrano/auth/saml/consume/acme-prod",
		"/maestrano/account/groups/:id/acme-prod",
		"/maestrano/account/groups/:group_id/users/:id/acme-prod",
		"/maestrano/connec/notifications/acme-prod"},
}

func newHubEnv(t *testing.T) *hubEnv {
	t.Helper()
	signer, _, err := ssotest.SharedSigners()
	if err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(filepath.Join(t.TempDir(), "tenantdesk.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e := &hubEnv{t: t, db: db, public: "http://" + ln.Addr().String(), docs: marketplaces}
	logger := slog.New(slog.DiscardHandler)
	if testing.Verbose() {
		logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	srv := httptest.NewUnstartedServer(server.New(db, e.public, logger).Handler())
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)

	e.hub = hubtest.New(signer)
	t.Cleanup(e.hub.Close)
	for _, m := range marketplaces {
		e.hub.AddApp(m.apiID, m.apiKey)
	}
	e.hub.AddGroup(hubtest.Group{UID: "cld-1", Name: "Uat Co", AppID: "app-uat"})
	e.hub.AddGroup(hubtest.Group{UID: "cld-2", Name: "Acme Co", AppID: "app-acme"})
	e.hub.AddUser(hubtest.User{UID: "usr-1", Email: "ann@example.com", Name: "Ann", Surname: "Lee", Country: "AU",
		Groups: map[string]string{"cld-1": "Admin", "cld-2": "Member"}})
	e.hub.AddUser(hubtest.User{UID: "usr-2", Email: "bob@example.com", Name: "Bob", Surname: "Ray", Country: "AU",
		Groups: map[string]string{"cld-1": "Member"}})

	if err := e.importDocument(e.document()); err != nil {
		t.Fatal(err)
	}
	return e
}

// document is the developer platform's marketplaces document, in its own
// shape (maestrano-protocol.md §1.4), nothing tuned by hand.
func (e *hubEnv) document() []byte {
	var entries []map[string]any
	for _, key := range []tenant.Key{"maestrano-uat", "acme-prod"} {
		m := e.docs[key]
		entries = append(entries, map[string]any{
			"nid": "tenantdesk", "marketplace": string(key), "environment": string(key),
			"app": map[string]any{"host": e.public},
			"api": map[string]any{"id": m.apiID, "key": m.apiKey, "host": e.hub.URL(), "base": "/api/v1/"},
			"sso": map[string]any{"idm": e.public, "init_path": m.initPath, "consume_path": m.consumePath,
				"idp": e.hub.URL(), "x509_certificate": e.hub.CertPEM()},
			"connec": map[string]any{"host": "https://api-connec.example.com", "base_path": "/api/v2", "timeout": 300},
			"webhooks": map[string]any{
				"account": map[string]any{"group_path": m.groupPath, "group_user_path": m.groupUserPath},
				"connec":  map[string]any{"external_ids": true, "initialization_path": nil, "notification_path": m.notif},
			},
		})
	}
	b, err := json.Marshal(map[string]any{"marketplaces": entries})
	if err != nil {
		e.t.Fatal(err)
	}
	return b
}

// importDocument does what `tenant import` does: parse, then save all or
// nothing.
func (e *hubEnv) importDocument(doc []byte) error {
	cs, err := tenant.ParseImport(doc, time.Now(), e.public)
	if err != nil {
		return err
	}
	return tenant.Registry{DB: e.db, PublicURL: e.public}.SaveAll(cs)
}

func (e *hubEnv) browser() *hubtest.Browser {
	jar, _ := cookiejar.New(nil)
	return &hubtest.Browser{Client: &http.Client{
		Jar:           jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

func (e *hubEnv) get(b *hubtest.Browser, url string) (int, string) {
	e.t.Helper()
	resp, err := b.Client.Get(url)
	if err != nil {
		e.t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp.StatusCode, string(body)
}

func status(t *testing.T, what string, resp *http.Response, err error, want int) string {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != want {
		t.Fatalf("%s: status %d, want %d: %s", what, resp.StatusCode, want, body)
	}
	return string(body)
}

// TestHubEndToEnd drives the real listener with the hub emulator: sign in
// through the registered init path (the hub posts to the registered
// consume path), then the hub calls the registered webhook paths.
func TestHubEndToEnd(t *testing.T) {
	e := newHubEnv(t)
	uat := e.docs["maestrano-uat"]

	e.hub.SignIn("usr-1")
	// The assertion's mno_session_recheck has passed at once: every use of
	// the session asks the hub (the SDKs' session check).
	e.hub.Recheck = -time.Second
	b := e.browser()
	resp, err := b.SignIn(e.public + uat.initPath + "&group_id=cld-1")
	body := status(t, "sign-in through the registered init path", resp, err, http.StatusFound)
	if b.ACS != e.public+uat.consumePath {
		t.Errorf("the hub posted to %s, want the registered consume URL %s", b.ACS, e.public+uat.consumePath)
	}
	if want := tenant.RouteSession.URL(e.public, "maestrano-uat"); resp.Header.Get("Location") != want {
		t.Errorf("after login to %q, want %q (%s)", resp.Header.Get("Location"), want, body)
	}
	code, body := e.get(b, tenant.RouteSession.URL(e.public, "maestrano-uat"))
	if code != http.StatusOK || !strings.Contains(body, `"usr-1"`) || !strings.Contains(body, `"cld-1"`) {
		t.Fatalf("session: %d %s", code, body)
	}

	// The other tenant, told apart by its path suffix, on the same hub.
	b2 := e.browser()
	resp, err = b2.SignIn(e.public + e.docs["acme-prod"].initPath)
	status(t, "sign-in to acme-prod", resp, err, http.StatusFound)
	if code, body := e.get(b2, tenant.RouteSession.URL(e.public, "acme-prod")); code != http.StatusOK || !strings.Contains(body, `"cld-2"`) {
		t.Fatalf("acme-prod session: %d %s", code, body)
	}

	// Connec! notification on the registered path.
	resp, err = e.hub.Notify(e.public, uat.notif, uat.apiID, uat.apiKey,
		strings.NewReader(notification(inv("c-1", "cld-1", "2026-01-01T00:00:00Z", "INV-1"))))
	body = status(t, "notification", resp, err, http.StatusOK)
	if !strings.Contains(body, `"stored":1`) {
		t.Errorf("notification answer %s, want one stored", body)
	}

	// Member removal, then group cancellation, on the registered paths.
	resp, err = e.hub.DeleteGroupUser(e.public, uat.groupUserPath, "cld-1", "usr-2", uat.apiID, uat.apiKey)
	status(t, "group user webhook", resp, err, http.StatusOK)
	resp, err = e.hub.DeleteGroup(e.public, e.docs["acme-prod"].groupPath, "cld-2", "app-acme", e.docs["acme-prod"].apiKey)
	status(t, "group webhook", resp, err, http.StatusOK)
	err = e.db.View(func(tx *store.Tx) error {
		g, err := tx.Group("acme-prod", "cld-2")
		if err != nil || !g.Cancelled {
			return fmt.Errorf("acme-prod cld-2 after the group webhook: %+v, %v", g, err)
		}
		if g, err := tx.Group("maestrano-uat", "cld-1"); err != nil || g.Cancelled {
			return fmt.Errorf("maestrano-uat cld-1 touched by acme-prod's webhook: %+v, %v", g, err)
		}
		if inv, err := tx.Invoices("maestrano-uat"); err != nil || len(inv) != 1 {
			return fmt.Errorf("maestrano-uat invoices %d, %v; want the notified one", len(inv), err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// The cancelled group's session is over.
	if code, _ := e.get(b2, tenant.RouteSession.URL(e.public, "acme-prod")); code != http.StatusUnauthorized {
		t.Errorf("acme-prod session after cancellation: %d, want 401", code)
	}

	// A registered path acts for its own tenant only: uat's path with
	// acme's credentials is refused, and an unknown ?marketplace= is 404.
	resp, err = e.hub.DeleteGroup(e.public, uat.groupPath, "cld-1", "app-acme", e.docs["acme-prod"].apiKey)
	status(t, "uat group path with acme's credentials", resp, err, http.StatusUnauthorized)
	resp, err = e.hub.DeleteGroup(e.public, "/maestrano/account/groups/:id?marketplace=nobody", "cld-1", uat.apiID, uat.apiKey)
	status(t, "unknown marketplace", resp, err, http.StatusNotFound)

	// Ann signs out at the marketplace: her session here ends at its next
	// use, and the answer names the registered init URL to sign in again.
	if code, body := e.get(b, tenant.RouteSession.URL(e.public, "maestrano-uat")); code != http.StatusOK {
		t.Fatalf("uat session before sign-out at the hub: %d %s", code, body)
	}
	checks, _ := e.hub.SessionChecks()
	e.hub.Logout("usr-1")
	code, body = e.get(b, tenant.RouteSession.URL(e.public, "maestrano-uat"))
	if code != http.StatusUnauthorized || !strings.Contains(body, fmt.Sprintf(`"init_url":%q`, e.public+uat.initPath)) {
		t.Fatalf("uat session after sign-out at the hub: %d %s; want 401 naming %s", code, body, e.public+uat.initPath)
	}
	if after, _ := e.hub.SessionChecks(); after != checks+1 {
		t.Errorf("sign-out noticed with %d hub calls, want 1", after-checks)
	}

	// Signing out here ends the session and signs out at the hub.
	e.hub.SignIn("usr-1")
	resp, err = b.SignIn(e.public + uat.initPath + "&group_id=cld-1")
	status(t, "sign in again", resp, err, http.StatusFound)
	resp, err = b.Client.Get(tenant.RouteLogout.URL(e.public, "maestrano-uat"))
	status(t, "logout", resp, err, http.StatusFound)
	if loc := resp.Header.Get("Location"); loc != e.hub.URL()+"/app_logout?user_uid=usr-1" {
		t.Fatalf("logout redirects to %q", loc)
	}
	resp, err = b.Client.Get(resp.Header.Get("Location"))
	status(t, "hub app_logout", resp, err, http.StatusOK)
	if lo := e.hub.Logouts(); len(lo) == 0 || lo[len(lo)-1] != "usr-1" {
		t.Errorf("hub logouts %v", lo)
	}
	if code, _ := e.get(b, tenant.RouteSession.URL(e.public, "maestrano-uat")); code != http.StatusUnauthorized {
		t.Errorf("session after logout: %d", code)
	}
}

// TestImportRefusesTwoTenantsClaimingOnePath: all or nothing, every
// clash listed, against the file itself and against stored tenants.
func TestImportRefusesTwoTenantsClaimingOnePath(t *testing.T) {
	e := newHubEnv(t)
	clash := map[tenant.Key]marketplace{}
	for k, m := range marketplaces {
		clash[k] = m
	}
	acme := clash["acme-prod"]
	acme.consumePath = clash["maestrano-uat"].consumePath
	acme.groupPath = "/maestrano/account/groups/:id/maestrano-uat/../x"
	acme.notif = clash["maestrano-uat"].notif
	clash["acme-prod"] = acme
	e.docs = clash
	err := e.importDocument(e.document())
	var ie *tenant.ImportError
	if !errors.As(err, &ie) {
		t.Fatalf("import of clashing paths: %v, want an ImportError", err)
	}
	msg := err.Error()
	for _, want := range []string{"marketplaces[1].sso.consume_path", "marketplaces[1].webhooks.connec.notification_path",
		"marketplaces[1].webhooks.account.group_path: must not contain '.' or '..'"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error does not name %s:\n%s", want, msg)
		}
	}

	// A new tenant claiming a stored tenant's path is refused too, and
	// nothing of the file is written.
	doc := fmt.Sprintf(`{"marketplaces":[{"marketplace":"third","api":{"id":"app-3","key":"k3-0123456789","host":%q},
		"sso":{"idp":%q,"x509_certificate":%q,"init_path":%q}}]}`,
		e.hub.URL(), e.hub.URL(), e.hub.CertPEM(), marketplaces["acme-prod"].initPath)
	err = e.importDocument([]byte(doc))
	if !errors.As(err, &ie) || !strings.Contains(err.Error(), `tenant "acme-prod"`) {
		t.Fatalf("import claiming a stored path: %v", err)
	}
	if err := e.db.View(func(tx *store.Tx) error { _, err := tx.Tenant("third"); return err }); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("refused import wrote tenant third: %v", err)
	}
}

// TestHubResponseForOneTenantRefusedByAnother: both tenants trust the same
// hub and, on one listener, share the default Audience (our origin with a
// slash), so what keeps maestrano-uat's response out of acme-prod is the
// Destination (acme-prod's registered consume URL), Recipient and the
// pending request: posted to acme-prod, it is refused and signs no one in.
func TestHubResponseForOneTenantRefusedByAnother(t *testing.T) {
	e := newHubEnv(t)
	uat, acme := e.docs["maestrano-uat"], e.docs["acme-prod"]
	e.hub.SignIn("usr-1")
	b := e.browser()
	resp, err := b.Client.Get(e.public + uat.initPath + "&group_id=cld-1")
	status(t, "uat init", resp, err, http.StatusFound)
	resp, err = b.Client.Get(resp.Header.Get("Location"))
	page := status(t, "hub", resp, err, http.StatusOK)
	if !strings.Contains(page, e.public+uat.consumePath) {
		t.Fatalf("the hub's form does not post to uat's registered consume URL: %.300s", page)
	}
	stolen := strings.Replace(page, `action="`+html.EscapeString(e.public+uat.consumePath)+`"`,
		`action="`+html.EscapeString(e.public+acme.consumePath)+`"`, 1)
	resp, err = b.PostForm(stolen)
	body := status(t, "uat's response posted to acme-prod", resp, err, http.StatusForbidden)
	if !strings.Contains(body, `<code id="reason">tenant_mismatch</code>`) {
		t.Errorf("refused for another reason: %s", body)
	}
	if code, _ := e.get(b, tenant.RouteSession.URL(e.public, "acme-prod")); code != http.StatusUnauthorized {
		t.Errorf("acme-prod session after the refused response: %d", code)
	}
}
