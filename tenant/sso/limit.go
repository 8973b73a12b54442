package sso

import (
	"context"
	"runtime"
	"strconv"
	"sync/atomic"
	"time"
)

// busyRetryAfter is the Retry-After, in seconds, of a consume answered
// 503 because every verification slot was taken: a valid verification
// takes a few milliseconds, so the slots free up long before.
const busyRetryAfter = 1

var busyRetryAfterHeader = strconv.Itoa(busyRetryAfter)

// verifyWait is the longest a consume waits for a verification slot.
const verifyWait = 500 * time.Millisecond

// verifySlots bounds the consumes that parse and verify at once (form,
// base64, pre-scan, then gosaml2's parse, canonicalisation and RSA check:
// everything after the body is read) to half the cores, at least one: whatever strangers post at
// consume, the other half stays free for metadata, webhooks and the rest
// of the listener. A few more may wait, briefly, so that two real
// sign-ins arriving together both succeed; beyond those, a consume is
// answered 503 at once without being parsed.
type verifySlots struct {
	run     chan struct{}
	waiting atomic.Int64
	maxWait int64
}

func newVerifySlots() *verifySlots {
	procs := runtime.GOMAXPROCS(0)
	return newVerifySlotsN(max(1, procs/2), int64(2*procs))
}

func newVerifySlotsN(running int, waiting int64) *verifySlots {
	return &verifySlots{run: make(chan struct{}, running), maxWait: waiting}
}

// acquire takes a slot; false when none frees up within verifyWait, when
// too many already wait, or when ctx ends.
func (v *verifySlots) acquire(ctx context.Context) bool {
	select {
	case v.run <- struct{}{}:
		return true
	default:
	}
	if v.waiting.Add(1) > v.maxWait {
		v.waiting.Add(-1)
		return false
	}
	defer v.waiting.Add(-1)
	t := time.NewTimer(verifyWait)
	defer t.Stop()
	select {
	case v.run <- struct{}{}:
		return true
	case <-t.C:
	case <-ctx.Done():
	}
	return false
}

func (v *verifySlots) release() { <-v.run }
