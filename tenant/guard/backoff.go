package guard

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"
)

// Back-off defaults: more than Threshold failures from one address within
// Window get 429 until the window ends (so Retry-After is at most a minute).
const (
	DefaultThreshold = 10
	DefaultWindow    = time.Minute
	// DefaultMaxAddrs bounds the table: about 100 bytes an entry.
	DefaultMaxAddrs = 10000
)

// Backoff counts failures per client address in fixed windows. Memory is
// bounded by MaxAddrs: when full, ended windows are swept first, then an
// arbitrary entry makes room (an attacker with that many addresses can at
// worst reset one address's count).
type Backoff struct {
	Threshold int
	Window    time.Duration
	MaxAddrs  int

	mu sync.Mutex
	m  map[netip.Addr]*window
}

type window struct {
	start time.Time
	n     int
}

// NewBackoff returns a table with the default threshold, window and size.
func NewBackoff() *Backoff {
	return &Backoff{Threshold: DefaultThreshold, Window: DefaultWindow, MaxAddrs: DefaultMaxAddrs}
}

// Blocked reports whether addr has failed too often in its current window,
// and how long until it may try again (whole seconds, at least 1).
func (b *Backoff) Blocked(addr netip.Addr, now time.Time) (time.Duration, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	w := b.m[addr]
	if w == nil || w.n < b.Threshold {
		return 0, false
	}
	end := w.start.Add(b.Window)
	if !now.Before(end) {
		return 0, false
	}
	wait := (end.Sub(now) + time.Second - 1).Truncate(time.Second) // round up
	return min(wait, b.Window), true
}

// Fail counts one failure of addr.
func (b *Backoff) Fail(addr netip.Addr, now time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.m == nil {
		b.m = map[netip.Addr]*window{}
	}
	w := b.m[addr]
	if w != nil && now.Before(w.start.Add(b.Window)) {
		w.n++
		return
	}
	if w == nil && len(b.m) >= b.MaxAddrs {
		b.makeRoom(now)
	}
	b.m[addr] = &window{start: now, n: 1}
}

func (b *Backoff) makeRoom(now time.Time) {
	for a, w := range b.m {
		if !now.Before(w.start.Add(b.Window)) {
			delete(b.m, a)
		}
	}
	for a := range b.m {
		if len(b.m) < b.MaxAddrs {
			return
		}
		delete(b.m, a)
	}
}

// Len is the table's size.
func (b *Backoff) Len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.m)
}

// ClientAddr is the address a request is counted under: the TCP peer, or,
// when the peer is a trusted proxy, the nearest address in X-Forwarded-For
// that is not one (read from the right: a client can prepend anything).
// IPv6 addresses count per /64, the block one subscriber holds.
func ClientAddr(r *http.Request, trusted []netip.Prefix) netip.Addr {
	peer := parseAddr(r.RemoteAddr)
	if !peer.IsValid() || !isTrusted(peer, trusted) {
		return perSubscriber(peer)
	}
	var hops []string
	for _, h := range r.Header.Values("X-Forwarded-For") {
		hops = append(hops, strings.Split(h, ",")...)
	}
	client := peer
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			break // a garbled hop: trust nothing left of it
		}
		client = a.Unmap()
		if !isTrusted(client, trusted) {
			break
		}
	}
	return perSubscriber(client)
}

func parseAddr(hostport string) netip.Addr {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		host = hostport
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}
	}
	return a.Unmap()
}

func isTrusted(a netip.Addr, trusted []netip.Prefix) bool {
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

func perSubscriber(a netip.Addr) netip.Addr {
	if a.Is6() && !a.Is4In6() {
		p, _ := a.Prefix(64)
		return p.Addr()
	}
	return a
}
