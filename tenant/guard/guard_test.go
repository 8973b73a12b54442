package guard

import (
	"net/http"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/tenantdesk/tenantdesk/store"
	"github.com/tenantdesk/tenantdesk/tenant/settings"
)

var t0 = time.Date(2026, 3, 1, 10, 0, 30, 0, time.UTC)

func TestBackoffWindow(t *testing.T) {
	b := NewBackoff()
	a := netip.MustParseAddr("192.0.2.1")
	for i := range DefaultThreshold {
		if _, blocked := b.Blocked(a, t0); blocked {
			t.Fatalf("blocked after %d failures", i)
		}
		b.Fail(a, t0)
	}
	wait, blocked := b.Blocked(a, t0.Add(15*time.Second))
	if !blocked || wait != 45*time.Second {
		t.Errorf("after %d failures: blocked=%v wait=%s, want 45s", DefaultThreshold, blocked, wait)
	}
	if wait, _ := b.Blocked(a, t0.Add(59500*time.Millisecond)); wait != time.Second {
		t.Errorf("half a second before the end: wait %s, want 1s", wait)
	}
	if _, blocked := b.Blocked(a, t0.Add(time.Minute)); blocked {
		t.Error("still blocked once the window ended")
	}
	if _, blocked := b.Blocked(netip.MustParseAddr("192.0.2.2"), t0); blocked {
		t.Error("another address is blocked")
	}
}

func TestBackoffTableIsBounded(t *testing.T) {
	b := NewBackoff()
	b.MaxAddrs = 100
	for i := range 10000 {
		b.Fail(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), t0)
	}
	if n := b.Len(); n > 100 {
		t.Errorf("table holds %d addresses, want at most 100", n)
	}
}

func TestClientAddr(t *testing.T) {
	trusted, err := settings.ParseTrustedProxies("10.0.0.0/8, 192.0.2.7 ::1")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		peer, xff, want string
	}{
		{"198.51.100.1:5000", "", "198.51.100.1"},
		{"198.51.100.1:5000", "203.0.113.9", "198.51.100.1"},               // untrusted peer: header ignored
		{"10.1.2.3:443", "203.0.113.9", "203.0.113.9"},                     // trusted proxy
		{"10.1.2.3:443", "1.1.1.1, 203.0.113.9, 192.0.2.7", "203.0.113.9"}, // rightmost untrusted hop
		{"10.1.2.3:443", "garbage, 203.0.113.9", "203.0.113.9"},            // garbage left of the client
		{"10.1.2.3:443", "203.0.113.9, garbage", "10.1.2.3"},               // garbage from the proxy side
		{"[2001:db8:1:2:3:4:5:6]:80", "", "2001:db8:1:2::"},                // per /64
		{"[::ffff:198.51.100.1]:80", "", "198.51.100.1"},                   // v4-mapped
		{"[::1]:80", "2001:db8::1", "2001:db8::"},                          // trusted v6 proxy
		{"10.1.2.3:443", "10.9.9.9", "10.9.9.9"},                           // every hop trusted: the leftmost
		{"not an address", "203.0.113.9", "invalid IP"},
	} {
		r, _ := http.NewRequest("GET", "/", nil)
		r.RemoteAddr = c.peer
		if c.xff != "" {
			r.Header.Set("X-Forwarded-For", c.xff)
		}
		if got := ClientAddr(r, trusted).String(); got != c.want {
			t.Errorf("peer %s, XFF %q: %s, want %s", c.peer, c.xff, got, c.want)
		}
	}
}

func TestClip(t *testing.T) {
	if Clip("short") != "short" {
		t.Error("short string changed")
	}
	long := strings.Repeat("é", 300)
	got := Clip(long)
	if len(got) > MaxLogString+len("…(truncated)") || !utf8.ValidString(got) || !strings.HasSuffix(got, "…(truncated)") {
		t.Errorf("clipped to %d bytes, valid %v: %q", len(got), utf8.ValidString(got), got[len(got)-20:])
	}
}

// Failures of one tenant, kind and reason within a minute become one event
// with their count; FlushEnded leaves the running minute alone.
func TestFailuresAggregatePerMinute(t *testing.T) {
	db, err := store.Open(filepath.Join(t.TempDir(), "t.db"), store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	now := t0
	f := NewFailures(db, func() time.Time { return now }, nil)
	for range 500 {
		f.Add("acme", store.EventAuth, "bad_credentials", "bad credentials")
	}
	f.Add("acme", store.EventLogin, "signature", "refused")
	f.Add("", store.EventAuth, "unknown_tenant", "unknown tenant")
	now = t0.Add(time.Minute)
	f.Add("acme", store.EventAuth, "bad_credentials", "bad credentials")
	before := db.Commits()
	if err := f.FlushEnded(); err != nil {
		t.Fatal(err)
	}
	if f.Pending() != 1 {
		t.Errorf("pending after FlushEnded: %d, want the running minute's 1", f.Pending())
	}
	if err := f.Flush(); err != nil {
		t.Fatal(err)
	}
	if c := db.Commits() - before; c != 2 {
		t.Errorf("%d commits, want 2 (one per flush)", c)
	}
	var evs []store.Event
	_ = db.View(func(tx *store.Tx) (err error) { evs, err = tx.EventsAfter(0, 0); return err })
	if len(evs) != 4 {
		t.Fatalf("%d events, want 4: %+v", len(evs), evs)
	}
	first := evs[0]
	if first.Tenant != "" || first.Reason != "unknown_tenant" || first.Count != 1 {
		t.Errorf("first event %+v", first)
	}
	agg := evs[1]
	if agg.Tenant != "acme" || agg.Kind != store.EventAuth || agg.Count != 500 || !agg.At.Equal(t0.Truncate(time.Minute)) ||
		!strings.HasPrefix(agg.Message, "500× in the minute from 10:00") {
		t.Errorf("aggregate %+v", agg)
	}
	if last := evs[3]; last.Count != 1 || !last.At.Equal(t0.Add(time.Minute).Truncate(time.Minute)) {
		t.Errorf("next minute's event %+v", last)
	}
}
