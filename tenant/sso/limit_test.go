package sso

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
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

// TestConsumeBusy takes every verification slot, as a flood of hostile
// but well-formed documents would, and posts a valid response: 503 at
// once with Retry-After and no cookie; the response is not spent, so it
// signs in once a slot is free.
func TestConsumeBusy(t *testing.T) {
	h := newHarness(t)
	_, reqID := h.initialize("acme", "")
	saml := h.response("acme", reqID, time.Time{}, attrs())

	held := 0
	for h.svc.verifications.acquire() {
		held++
	}
	if held < 2 {
		t.Fatalf("only %d verification slots", held)
	}
	resp := h.consume("acme", saml)
	if reason := reasonOf(t, resp); resp.StatusCode != http.StatusServiceUnavailable || reason != ReasonBusy {
		t.Fatalf("consume with every slot taken: %d %s", resp.StatusCode, reason)
	}
	if ra := resp.Header.Get("Retry-After"); ra != "1" {
		t.Errorf("Retry-After %q", ra)
	}
	if sessionCookieOf(resp) != nil {
		t.Error("cookie set on a shed request")
	}
	h.assertNothingWritten("acme", "usr-1", "cld-1")

	for range held {
		h.svc.verifications.release()
	}
	resp = h.consume("acme", saml)
	body := readBody(t, resp)
	if resp.StatusCode != http.StatusFound || sessionCookieOf(resp) == nil {
		t.Fatalf("consume once a slot is free: %d %s", resp.StatusCode, body)
	}
}
