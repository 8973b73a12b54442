//go:build etcde2e && unix

package store

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tenantdesk/tenantdesk/store/etcdtest/cluster"
)

// TestE2EThreeMembersLeaderKilled (make test-etcd-e2e, SPEC §14): three
// Debian etcd-server members on loopback; 20 writers commit through the
// store while the leader is SIGKILLed. Every write acknowledged is found
// afterwards, and writes resume within 15 s.
func TestE2EThreeMembersLeaderKilled(t *testing.T) {
	c := cluster.Start(t, 3)
	url := c.URL("e2e")
	db, err := OpenURL(url, TLSFiles{}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	members, err := db.Members()
	if err != nil {
		t.Fatal(err)
	}
	var leader *cluster.Member
	for _, mem := range members {
		if mem.Leader {
			leader = c.Member(mem.Name)
		}
	}
	if leader == nil {
		t.Fatalf("no leader among %+v", members)
	}

	const writers = 20
	var mu sync.Mutex
	var acked []string
	var errs atomic.Int64
	var lastOK atomic.Int64 // unix nanos of the latest commit
	var killedAt atomic.Int64
	var maxGap atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				k := fmt.Sprintf("w%02d-%06d", w, n)
				for {
					err := db.Update(func(tx *Tx) error { return tx.PutSetting(Setting{Key: k, Value: "x"}) })
					if err == nil {
						break
					}
					errs.Add(1) // may have committed: the re-run writes the same value
					select {
					case <-stop:
						return
					case <-time.After(100 * time.Millisecond):
					}
				}
				now := time.Now().UnixNano()
				if prev := lastOK.Swap(now); killedAt.Load() != 0 && prev != 0 {
					if gap := now - max(prev, killedAt.Load()); gap > maxGap.Load() {
						maxGap.Store(gap)
					}
				}
				mu.Lock()
				acked = append(acked, k)
				mu.Unlock()
			}
		}()
	}
	time.Sleep(3 * time.Second)
	mu.Lock()
	before := len(acked)
	mu.Unlock()
	killedAt.Store(time.Now().UnixNano())
	if err := leader.Kill(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(12 * time.Second)
	close(stop)
	wg.Wait()

	resumed := time.Duration(lastOK.Load() - killedAt.Load())
	if resumed <= 0 {
		t.Fatal("no write committed after the leader was killed")
	}
	stall := time.Duration(maxGap.Load())
	check, err := OpenURL(url, TLSFiles{}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer check.Close()
	var found int
	if err := check.View(func(tx *Tx) error {
		s, err := tx.Settings()
		for _, k := range acked {
			if _, ok := s[k]; ok {
				found++
			}
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Logf("leader %s SIGKILLed after %d writes; %d writes acknowledged in all, %d found afterwards; %d client errors retried; longest stall after the kill %s",
		leader.Name, before, len(acked), found, errs.Load(), stall.Round(time.Millisecond))
	if found != len(acked) {
		t.Errorf("%d acknowledged writes lost", len(acked)-found)
	}
	if stall > 15*time.Second {
		t.Errorf("writes stalled %s after the leader died, want ≤ 15 s", stall)
	}
}
