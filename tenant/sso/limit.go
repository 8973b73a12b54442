package sso

import (
	"runtime"
	"strconv"
)

// busyRetryAfter is the Retry-After, in seconds, of a consume answered
// 503 because every verification slot was taken: a valid verification
// takes a few milliseconds, so the slots free up long before.
const busyRetryAfter = 1

// verifySlots bounds how many signature verifications (gosaml2's parse,
// canonicalisation and RSA check) run at once. A request that finds every
// slot taken is answered 503 at once instead of queueing: a flood of
// well-formed but hostile documents then costs at most the slots' cores,
// and the rest of the listener (metadata, webhooks) keeps its share.
type verifySlots chan struct{}

// newVerifySlots allows twice GOMAXPROCS verifications at once: enough to
// keep every core busy while a verification waits on the scheduler,
// never so many that a burst queues for seconds.
func newVerifySlots() verifySlots { return make(verifySlots, 2*runtime.GOMAXPROCS(0)) }

// acquire takes a slot without waiting; false when none is free.
func (v verifySlots) acquire() bool {
	select {
	case v <- struct{}{}:
		return true
	default:
		return false
	}
}

func (v verifySlots) release() { <-v }

var busyRetryAfterHeader = strconv.Itoa(busyRetryAfter)
