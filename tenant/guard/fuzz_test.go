package guard

import (
	"net/http"
	"testing"
	"time"

	"github.com/tenantdesk/tenantdesk/tenant/settings"
)

// FuzzClientAddr: X-Forwarded-For and the peer address are outside input.
// Whatever they hold, the address is valid or the zero Addr, never one a
// client chose unless a trusted proxy vouched for it, and a back-off
// table keyed by it stays bounded.
func FuzzClientAddr(f *testing.F) {
	f.Add("10.0.0.1:443", "203.0.113.9")
	f.Add("198.51.100.1:5000", "1.1.1.1, 2.2.2.2")
	f.Add("[::1]:80", "2001:db8::1, ::ffff:10.0.0.2")
	f.Add("garbage", ",,,")
	trusted, err := settings.ParseTrustedProxies("10.0.0.0/8 ::1")
	if err != nil {
		f.Fatal(err)
	}
	b := NewBackoff()
	b.MaxAddrs = 64
	f.Fuzz(func(t *testing.T, peer, xff string) {
		r := &http.Request{RemoteAddr: peer, Header: http.Header{"X-Forwarded-For": {xff}}}
		a := ClientAddr(r, trusted)
		p := parseAddr(peer)
		if p.IsValid() && !isTrusted(p, trusted) && a != perSubscriber(p) {
			t.Fatalf("untrusted peer %q: counted as %s", peer, a)
		}
		if !p.IsValid() && a.IsValid() {
			t.Fatalf("unparsable peer %q: counted as %s", peer, a)
		}
		b.Fail(a, time.Unix(0, 0))
		if b.Len() > b.MaxAddrs {
			t.Fatalf("table grew to %d", b.Len())
		}
	})
}
