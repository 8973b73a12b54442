package store

import (
	"errors"
	"testing"

	"github.com/tenantdesk/tenantdesk/store/etcdtest"
)

// A replica whose claims' lease runs out (stalled, cut off) loses every
// claim at once: another replica takes them, and the first one's fenced
// writes are refused and write nothing. Its next claim has a new lease.
// A handle closed (a replica stopping) releases its claims at once.
func TestEtcdClaimTakeoverAndFencing(t *testing.T) {
	url := etcdtest.URL(t)
	stalled, taker := openEtcd(t, url), openEtcd(t, url)
	acme, err := stalled.TryClaim("outbox/acme")
	if err != nil {
		t.Fatal(err)
	}
	beta, err := stalled.TryClaim("outbox/beta")
	if err != nil {
		t.Fatal(err)
	}
	if acme.lease != beta.lease {
		t.Errorf("two claims of one handle on leases %x and %x, want one", acme.lease, beta.lease)
	}
	if _, err := taker.TryClaim("outbox/acme"); !errors.Is(err, ErrLocked) {
		t.Fatalf("claim held elsewhere: %v, want ErrLocked", err)
	}

	stalled.expireClaimsForTest()
	select {
	case <-acme.Lost():
	default:
		t.Error("Lost not closed when the claims' lease ran out")
	}
	for _, name := range []string{"outbox/acme", "outbox/beta"} {
		l, err := taker.TryClaim(name)
		if err != nil {
			t.Fatalf("take over %s after the holder's lease ran out: %v", name, err)
		}
		defer l.Unlock()
	}
	err = acme.Fenced().Update(func(tx *Tx) error {
		return tx.PutSetting(Setting{Key: "late", Value: "from the stalled replica"})
	})
	if !errors.Is(err, ErrLockLost) {
		t.Fatalf("fenced write after the lease ran out: %v, want ErrLockLost", err)
	}
	if err := taker.View(func(tx *Tx) error {
		all, err := tx.Settings()
		if _, landed := all["late"]; landed {
			t.Error("the stalled replica's write landed")
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	acme.Unlock() // the taker's claim stays: it is not this claim any more
	if c, _ := taker.Claimed("outbox/"); !c["outbox/acme"] {
		t.Error("the stalled replica's Unlock removed the taker's claim")
	}

	fresh, err := stalled.TryClaim("outbox/globex")
	if err != nil {
		t.Fatalf("claim on a new lease: %v", err)
	}
	if fresh.lease == acme.lease {
		t.Error("a claim after the loss reused the lost lease")
	}
	// Closing the handle releases its claims at once.
	stalled.Close()
	l, err := taker.TryClaim("outbox/globex")
	if err != nil {
		t.Fatalf("claim of a closed handle: %v", err)
	}
	l.Unlock()
}
