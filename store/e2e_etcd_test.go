//go:build etcde2e

package store

import (
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// TestE2EThreeMembersLeaderKilled (make test-etcd-e2e, SPEC §14): three
// Debian etcd-server members on loopback; 20 writers commit through the
// store while the leader is SIGKILLed. Every write acknowledged is found
// afterwards, and writes resume within 15 s.
func TestE2EThreeMembersLeaderKilled(t *testing.T) {
	bin, err := exec.LookPath("etcd")
	if err != nil {
		t.Skip("no etcd on PATH (make deps-etcd installs Debian's etcd-server)")
	}
	free := func() string {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		return l.Addr().String()
	}
	type member struct {
		name, client, peer string
		cmd                *exec.Cmd
	}
	var ms []*member
	var initial []string
	for i := range 3 {
		m := &member{name: fmt.Sprintf("m%d", i+1), client: free(), peer: free()}
		ms = append(ms, m)
		initial = append(initial, m.name+"=http://"+m.peer)
	}
	dir := t.TempDir()
	for _, m := range ms {
		m.cmd = exec.Command(bin, "--name", m.name, "--data-dir", filepath.Join(dir, m.name),
			"--listen-client-urls", "http://"+m.client, "--advertise-client-urls", "http://"+m.client,
			"--listen-peer-urls", "http://"+m.peer, "--initial-advertise-peer-urls", "http://"+m.peer,
			"--initial-cluster", strings.Join(initial, ","), "--initial-cluster-state", "new",
			"--initial-cluster-token", "tenantdesk-e2e")
		if err := m.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = m.cmd.Process.Kill(); _, _ = m.cmd.Process.Wait() })
	}
	url := "etcd://" + ms[0].client + "," + ms[1].client + "," + ms[2].client + "/e2e"
	var db *DB
	for start := time.Now(); ; time.Sleep(200 * time.Millisecond) {
		if db, err = OpenURL(url, TLSFiles{}, Options{}); err == nil {
			break
		}
		if time.Since(start) > 30*time.Second {
			t.Fatalf("cluster not up: %v", err)
		}
	}
	defer db.Close()
	members, err := db.Members()
	if err != nil {
		t.Fatal(err)
	}
	var leader *member
	for _, mem := range members {
		for _, m := range ms {
			if mem.Leader && mem.Name == m.name {
				leader = m
			}
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
	if err := leader.cmd.Process.Signal(syscall.SIGKILL); err != nil {
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
		leader.name, before, len(acked), found, errs.Load(), stall.Round(time.Millisecond))
	if found != len(acked) {
		t.Errorf("%d acknowledged writes lost", len(acked)-found)
	}
	if stall > 15*time.Second {
		t.Errorf("writes stalled %s after the leader died, want ≤ 15 s", stall)
	}
}
