package sso

import (
	"encoding/base64"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/tenantdesk/tenantdesk/store"
	"github.com/tenantdesk/tenantdesk/tenant"
)

// reasonOf reads the reason code off an error page.
func reasonOf(t *testing.T, resp *http.Response) Reason {
	t.Helper()
	body := readBody(t, resp)
	_, after, ok := strings.Cut(body, `<code id="reason">`)
	code, _, ok2 := strings.Cut(after, "</code>")
	if !ok || !ok2 {
		t.Fatalf("no reason code in %d %q", resp.StatusCode, body)
	}
	return Reason(code)
}

// atBodyLimit is the largest hostile document of its kind whose consume
// form fits the body limit.
func atBodyLimit(kind string) []byte {
	for size := MaxResponseBytes * 3 / 4; ; size -= 256 {
		doc := hostileDoc(kind, size)
		form := url.Values{"SAMLResponse": {base64.StdEncoding.EncodeToString(doc)}}.Encode()
		if len(form) <= MaxResponseBytes {
			return doc
		}
	}
}

// TestHostileDocumentsRefused posts issue 9's probes through the real
// listener: at the body limit they are refused by the pre-scan (400,
// malformed); over it, 413 before anything is parsed. Nothing is written
// but the audit event.
func TestHostileDocumentsRefused(t *testing.T) {
	h := newHarness(t)
	for _, kind := range []string{"lt", "nested", "namespaces"} {
		for _, c := range []struct {
			doc    []byte
			status int
			reason Reason
		}{
			{atBodyLimit(kind), http.StatusBadRequest, ReasonMalformed},
			{hostileDoc(kind, 1<<20), http.StatusRequestEntityTooLarge, ReasonTooLarge},
		} {
			resp := h.consume("acme", base64.StdEncoding.EncodeToString(c.doc))
			if got := reasonOf(t, resp); resp.StatusCode != c.status || got != c.reason {
				t.Errorf("%s, %d bytes: %d %s, want %d %s", kind, len(c.doc), resp.StatusCode, got, c.status, c.reason)
			}
			if sessionCookieOf(resp) != nil {
				t.Errorf("%s: cookie set", kind)
			}
		}
	}
	h.assertNothingWritten("acme", "usr-1", "cld-1")
}

// TestConsumeBusy takes every verification slot and fills the queue, as
// a flood of hostile but well-formed documents would, and posts a valid
// response: 503 at once with Retry-After and no cookie; the response is
// not spent, so it signs in once a slot is free. With a free place in the
// queue, a consume waits for a slot instead.
func TestConsumeBusy(t *testing.T) {
	h := newHarness(t)
	h.svc.verifications = newVerifySlotsN(1, 1)
	_, reqID := h.initialize("acme", "")
	saml := h.response("acme", reqID, time.Time{}, attrs())

	if !h.svc.verifications.acquire(t.Context()) {
		t.Fatal("no free slot")
	}
	h.svc.verifications.waiting.Add(1) // someone waits already
	start := time.Now()
	resp := h.consume("acme", saml)
	if reason := reasonOf(t, resp); resp.StatusCode != http.StatusServiceUnavailable || reason != ReasonBusy {
		t.Fatalf("consume with every slot taken: %d %s", resp.StatusCode, reason)
	}
	if waited := time.Since(start); waited >= verifyWait {
		t.Errorf("a full queue answered after %s, not at once", waited)
	}
	if ra := resp.Header.Get("Retry-After"); ra != "1" {
		t.Errorf("Retry-After %q", ra)
	}
	if sessionCookieOf(resp) != nil {
		t.Error("cookie set on a shed request")
	}
	h.assertNothingWritten("acme", "usr-1", "cld-1")

	// A place in the queue: the consume waits for the slot we free.
	h.svc.verifications.waiting.Add(-1)
	go func() {
		time.Sleep(50 * time.Millisecond)
		h.svc.verifications.release()
	}()
	resp = h.consume("acme", saml)
	body := readBody(t, resp)
	if resp.StatusCode != http.StatusFound || sessionCookieOf(resp) == nil {
		t.Fatalf("consume once a slot is free: %d %s", resp.StatusCode, body)
	}
}

// initializeRaw calls the initialize handler directly with a raw query.
func (h *harness) initializeRaw(key tenant.Key, rawQuery string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodGet, tenant.RouteSAMLInit.URL(h.srv.URL, key)+"?"+rawQuery, nil)
	w := httptest.NewRecorder()
	h.svc.Initialize(w, r, h.tenant(key))
	return w
}

func pendingRequests(t *testing.T, db *store.DB) []store.AuthnRequest {
	t.Helper()
	var out []store.AuthnRequest
	err := db.View(func(tx *store.Tx) error {
		var err error
		out, err = tx.PendingAuthnRequests("")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// Issue 9: 1,500 initialize calls with 30 KB group_id values grew the file
// by 32 MiB. A passed-on value over MaxParamBytes, or too many of them,
// is refused with 400 and nothing is written or passed on.
func TestInitializeBoundsParameters(t *testing.T) {
	h := newHarness(t)
	long := strings.Repeat("g", MaxParamBytes+1)
	many := strings.Repeat("x=1&", maxParams) + "x=1"
	for _, q := range []string{
		"group_id=" + strings.Repeat("g", 30<<10),
		"group_id=" + long,
		"group_id=cld-1&other=" + long,
		long + "=1",
		many,
	} {
		gen := h.db.Generation()
		w := h.initializeRaw("acme", q)
		if w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), string(ReasonParameter)) || w.Header().Get("Location") != "" {
			t.Errorf("initialize with %.40q…: %d %s", q, w.Code, w.Body)
		}
		if g := h.db.Generation(); g != gen {
			t.Errorf("refused initialize wrote (transaction %d -> %d)", gen, g)
		}
	}
	if n := len(pendingRequests(t, h.db)); n != 0 {
		t.Errorf("%d pending requests after refusals", n)
	}
	// At the caps: accepted, and group_id is kept.
	gid := strings.Repeat("g", MaxParamBytes)
	w := h.initializeRaw("acme", "group_id="+gid+strings.Repeat("&x=1", maxParams-1))
	if w.Code != http.StatusFound {
		t.Fatalf("initialize at the caps: %d %s", w.Code, w.Body)
	}
	if p := pendingRequests(t, h.db); len(p) != 1 || p[0].GroupID != gid {
		t.Errorf("pending after one initialize: %+v", p)
	}
}

// Request IDs sort by issue time, which is what lets the store evict a
// tenant's oldest pending request at the cap.
func TestRequestIDsSortByIssueTime(t *testing.T) {
	h := newHarness(t)
	base := time.Now()
	var ids []string
	for i := range 3 {
		h.svc.SetClock(func() time.Time { return base.Add(time.Duration(i) * time.Millisecond) })
		_, id := h.initialize("acme", "")
		ids = append(ids, id)
	}
	if !(ids[0] < ids[1] && ids[1] < ids[2]) || !strings.HasPrefix(ids[0], "_") {
		t.Errorf("request ids %q do not sort by issue time", ids)
	}
}

// TestDataFileFlatUnderInitializeFlood reproduces the growth first (3,000
// initializes with the largest group_id allowed and no purge: every one
// stays in the file), then runs 10,000 more at 250 a minute with the purge
// running once a minute, as the listener's timer does: the real bbolt
// file's pages (its high-water mark) and its size stay flat.
func TestDataFileFlatUnderInitializeFlood(t *testing.T) {
	if testing.Short() {
		t.Skip("13,000 initializes")
	}
	h := newHarnessWith(t, store.Options{NoSync: true})
	h.svc.log = slog.New(slog.DiscardHandler) // 12,500 lines would swamp the test log
	path := h.db.Path()
	// The file grows in steps of bbolt's 16 MiB allocation; the high-water
	// mark of its pages (store.DB.Size) shows each page it needs.
	type sizes struct{ used, file int64 }
	size := func() sizes {
		t.Helper()
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		return sizes{h.db.Size(), fi.Size()}
	}
	now := time.Now()
	h.svc.SetClock(func() time.Time { return now })
	query := "group_id=" + strings.Repeat("g", MaxParamBytes)
	flood := func(n int, perMinute int) {
		t.Helper()
		for i := 1; i <= n; i++ {
			if w := h.initializeRaw("acme", query); w.Code != http.StatusFound {
				t.Fatalf("initialize %d: %d %s", i, w.Code, w.Body)
			}
			if perMinute > 0 && i%perMinute == 0 {
				// the listener's timer: a minute passes, then it purges
				now = now.Add(time.Minute)
				h.svc.SetClock(func() time.Time { return now })
				if _, err := h.db.PurgeExpired(now); err != nil {
					t.Fatal(err)
				}
			}
		}
	}

	// At most perMinute × (RequestTTL/minute + 1) = 2,750 requests are
	// pending at once in the second flood, fewer than the first left.
	const warm, perMinute = 3000, 250
	start := size()
	flood(warm, 0)
	grown := size()
	if grown.used-start.used < 1<<20 {
		t.Fatalf("without a purge %d initializes grew the data by only %d bytes; the flood is not reproduced", warm, grown.used-start.used)
	}
	now = now.Add(RequestTTL)
	p, err := h.db.PurgeExpired(now)
	if err != nil || p.AuthnRequests != warm {
		t.Fatalf("purge after the flood: %+v %v", p, err)
	}
	before := size()
	flood(10000, perMinute)
	now = now.Add(RequestTTL)
	if _, err := h.db.PurgeExpired(now); err != nil {
		t.Fatal(err)
	}
	after := size()
	t.Logf("data/file bytes: %d/%d empty, %d/%d after %d initializes, %d/%d after the purge, %d/%d after 10,000 more with it",
		start.used, start.file, grown.used, grown.file, warm, before.used, before.file, after.used, after.file)
	// Flat: without the purge the 10,000 would have added 4× the growth
	// above (megabytes); allow bbolt a few pages of freelist and branch
	// reshuffling.
	if after.used > before.used+64<<10 || after.file > before.file {
		t.Errorf("file grew from %+v to %+v through 10,000 initializes with the purge running", before, after)
	}
	if n := len(pendingRequests(t, h.db)); n != 0 {
		t.Errorf("%d pending requests left after the last purge", n)
	}
}
