//go:build etcde2e && unix

package cli

import (
	"io"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// balancer spreads the load's requests round-robin over the replicas, as
// a load balancer in front of them would: it sends a request again to the
// next replica after a connection error or a 5xx (nginx's
// proxy_next_upstream), and leaves a replica it could not connect to alone
// for failTimeout (nginx's max_fails=1 fail_timeout). It records what each
// attempt got, and which writes were acknowledged.
type balancer struct {
	replicas []string // HOST:PORT of each replica's listener
	client   *http.Client
	start    time.Time // when the load began
	next     atomic.Uint64

	downMu sync.Mutex
	down   map[string]time.Time // replica → until when it is left alone

	mu                                                   sync.Mutex
	oks                                                  []span // every 2xx attempt
	acked                                                []string
	sent, unavailable, other5xx, client4xx, clientErrors int
	first4xx                                             string
}

// span is one attempt, from its request to its answer, and the replica
// that answered.
type span struct {
	start, end time.Time
	addr       string
}

// write sends the write named number (newReq builds its request) until a
// replica answers 2xx, and records it as acknowledged then. It gives up
// when stop is closed: a write not yet acknowledged may still have
// committed, and is not counted. It reports whether the load goes on.
func (b *balancer) write(stop <-chan struct{}, number string, newReq func(string) (*http.Request, error)) bool {
	for tries := 1; ; tries++ {
		select {
		case <-stop:
			return false
		default:
		}
		req, err := newReq(number)
		if err != nil {
			panic(err)
		}
		addr := b.pick()
		req.URL.Host = addr // the Host header stays the public one
		start := time.Now()
		resp, err := b.client.Do(req)
		if err != nil {
			b.markDown(addr)
		}
		var body []byte
		if err == nil {
			body, _ = io.ReadAll(resp.Body)
			resp.Body.Close()
		}
		end := time.Now()
		b.mu.Lock()
		b.sent++
		switch {
		case err != nil:
			b.clientErrors++
		case resp.StatusCode/100 == 2:
			b.oks = append(b.oks, span{start, end, addr})
			b.acked = append(b.acked, number)
		case resp.StatusCode == http.StatusServiceUnavailable:
			b.unavailable++
		case resp.StatusCode >= 500:
			b.other5xx++
		default:
			b.client4xx++
			if b.first4xx == "" {
				b.first4xx = resp.Status + ": " + string(body)
			}
		}
		b.mu.Unlock()
		if err == nil && resp.StatusCode < 500 {
			return true // acknowledged, or refused for good (counted, reported)
		}
		if tries%len(b.replicas) == 0 { // every replica failed it once: wait a little
			select {
			case <-stop:
				return false
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
}

// failTimeout is how long a replica that refused a connection is left out.
const failTimeout = 5 * time.Second

// pick is the next replica in turn that is not left out (any, when all are).
func (b *balancer) pick() string {
	b.downMu.Lock()
	defer b.downMu.Unlock()
	now := time.Now()
	for range b.replicas {
		addr := b.replicas[b.next.Add(1)%uint64(len(b.replicas))]
		if now.After(b.down[addr]) {
			return addr
		}
	}
	return b.replicas[b.next.Add(1)%uint64(len(b.replicas))]
}

func (b *balancer) markDown(addr string) {
	b.downMu.Lock()
	defer b.downMu.Unlock()
	if b.down == nil {
		b.down = map[string]time.Time{}
	}
	b.down[addr] = time.Now().Add(failTimeout)
}

// answeredBy counts the 2xx answers of the replica on addr.
func (b *balancer) answeredBy(addr string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := 0
	for _, o := range b.oks {
		if o.addr == addr {
			n++
		}
	}
	return n
}

// acknowledged lists the writes answered 2xx.
func (b *balancer) acknowledged() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.acked)
}

// resumedAfter is how long after at the first 2xx of a request sent after
// at was answered.
func (b *balancer) resumedAfter(at time.Time) (time.Duration, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return resumeAfter(b.oks, at)
}

func resumeAfter(oks []span, at time.Time) (time.Duration, bool) {
	first := time.Time{}
	for _, s := range oks {
		if s.start.After(at) && (first.IsZero() || s.end.Before(first)) {
			first = s.end
		}
	}
	return first.Sub(at), !first.IsZero()
}

// loadStats are the figures of the load.
type loadStats struct {
	start                                                    time.Time
	duration                                                 time.Duration
	sent, ok, unavailable, other5xx, client4xx, clientErrors int
	// longestStall is the longest time without a 2xx answer; resume* how
	// long after each kill a request sent after it was first answered 2xx
	// (-1: never).
	longestStall, resumeReplica, resumeLeader time.Duration
	p50, p99, slowest                         time.Duration // of the 2xx answers
}

func (b *balancer) stats(replicaKilled, leaderKilled, end time.Time) loadStats {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := loadStats{start: b.start, duration: end.Sub(b.start), sent: b.sent, ok: len(b.oks),
		unavailable: b.unavailable, other5xx: b.other5xx, client4xx: b.client4xx, clientErrors: b.clientErrors}
	ends := []time.Time{b.start}
	for _, o := range b.oks {
		ends = append(ends, o.end)
	}
	ends = append(ends, end)
	slices.SortFunc(ends, func(x, y time.Time) int { return x.Compare(y) })
	for i := 1; i < len(ends); i++ {
		s.longestStall = max(s.longestStall, ends[i].Sub(ends[i-1]))
	}
	var took []time.Duration
	for _, o := range b.oks {
		took = append(took, o.end.Sub(o.start))
	}
	if len(took) > 0 {
		slices.Sort(took)
		s.p50, s.p99, s.slowest = took[len(took)/2], took[len(took)*99/100], took[len(took)-1]
	}
	s.resumeReplica, s.resumeLeader = -1, -1
	if d, ok := resumeAfter(b.oks, replicaKilled); ok {
		s.resumeReplica = d
	}
	if d, ok := resumeAfter(b.oks, leaderKilled); ok {
		s.resumeLeader = d
	}
	return s
}

func fmtResume(d time.Duration) string {
	if d < 0 {
		return "never"
	}
	return d.Round(time.Millisecond).String()
}
