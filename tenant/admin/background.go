package admin

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/tenantdesk/tenantdesk/store"
)

// purgeInterval is how often expired sessions, AuthnRequests and replay
// entries are removed. Requests live 10 minutes, so a minute keeps at most
// a few minutes' worth of dead entries in the file.
const purgeInterval = time.Minute

// lockRetry is how often a replica without the background lock tries for
// it again; the holder's lease outlives it by 15 s at most.
const lockRetry = 2 * time.Second

// backgroundPart is one loop of the background work.
type backgroundPart struct {
	name string
	run  func(context.Context) error
}

// RunBackground does the work of the process that owns the store until
// ctx ends, and returns once all of it has stopped: the Connec! outbox
// (this Service's own worker, so Push now and Save reach the worker that
// runs, under one per-item lock), Connec! pulls, the developer-platform
// re-sync and the purge of expired logins. serve and the GUI's own
// instance both call it; a client of another process never does. A part
// that cannot start (a devpl-refresh that does not parse) is logged and
// the others go on, as the listener does.
//
// On etcd (SPEC §14) every replica runs the outbox and the pulls, which
// share the tenants by per-tenant claims (tenant/connec claims.go), and
// follows the settings others save (followSettings); the
// re-sync and the purges run on the one replica that holds
// store.LockBackground, and another takes them over within the lock's
// lease when it dies.
func (s *Service) RunBackground(ctx context.Context) {
	everywhere := []backgroundPart{
		{"outbox", s.outbox.Run},
		{"connec pulls", s.puller.Run},
	}
	onOne := []backgroundPart{
		{"developer-platform re-sync", s.runDevPlatformSync},
		{"purge expired logins", s.runPurges},
	}
	if !s.db.Etcd() {
		s.runParts(ctx, append(everywhere, onOne...))
		return
	}
	everywhere = append(everywhere, backgroundPart{"settings of other replicas", s.followSettings})
	s.runParts(ctx, append(everywhere, backgroundPart{"purges and re-sync", func(ctx context.Context) error {
		s.runOnOne(ctx, onOne)
		return nil
	}}))
}

// runParts runs each part on its own goroutine and waits for all.
func (s *Service) runParts(ctx context.Context, parts []backgroundPart) {
	var wg sync.WaitGroup
	for _, p := range parts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := p.run(ctx); err != nil && ctx.Err() == nil {
				s.log.Error(p.name+" not running", "err", err)
			}
		}()
	}
	wg.Wait()
}

// runOnOne runs parts while this replica holds store.LockBackground,
// trying for it every lockRetry while another holds it, until ctx ends.
// The parts stop when the lock is lost (its lease was not kept alive).
func (s *Service) runOnOne(ctx context.Context, parts []backgroundPart) {
	for ctx.Err() == nil {
		lock, err := s.db.TryLock(store.LockBackground)
		if err != nil {
			if !errors.Is(err, store.ErrLocked) {
				s.log.Warn("background lock", "err", err)
			}
			select {
			case <-ctx.Done():
			case <-time.After(lockRetry):
			}
			continue
		}
		// The message is what the cluster tests look for.
		s.log.Info("this replica runs the background work", "parts", "purges, developer-platform re-sync",
			"outbox_and_pulls", "every replica, by tenant")
		bctx, bcancel := context.WithCancel(ctx)
		go func() {
			select {
			case <-lock.Lost():
				s.log.Warn("background lock lost: stopping the purges and the re-sync here (another replica takes them over)")
				bcancel()
			case <-bctx.Done():
			}
		}()
		s.runParts(bctx, parts)
		bcancel()
		lock.Unlock()
	}
}

// runPurges purges expired logins once at start (what expired while no
// process had the file) and then every purgeEvery, until ctx ends. Each
// purge runs in short batches (store.DB.PurgeExpired), so requests keep
// flowing. It needs only the file and the clock, not the listener: the
// file stays small with the listener stopped too.
func (s *Service) runPurges(ctx context.Context) error {
	t := time.NewTicker(s.purgeEvery)
	defer t.Stop()
	for {
		p, err := s.db.PurgeExpired(s.now())
		switch {
		case err != nil:
			s.log.Error("purge expired logins", "err", err)
		case p.Total() > 0:
			s.log.Info("purged expired logins", "sessions", p.Sessions, "authn_requests", p.AuthnRequests, "replay_entries", p.Assertions)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// settingsPoll is how often a replica looks whether the store moved on:
// a setting saved anywhere is in force here within about a second, inside
// SPEC §14's 2 s. Looking costs nothing until the watch (store/watch.go)
// has seen a change.
const settingsPoll = 500 * time.Millisecond

// followSettings brings this replica's listener in line with settings
// saved by another process on the cluster (the CLI on the cluster, another
// replica's Settings screen), as SaveSettings does for this process's own:
// a changed public URL or trusted proxies restart the listener here. The
// re-sync reads its settings on its own (runDevPlatformSync).
func (s *Service) followSettings(ctx context.Context) error {
	t := time.NewTicker(settingsPoll)
	defer t.Stop()
	last := s.db.Generation()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		gen := s.db.Generation()
		if gen == last {
			continue
		}
		last = gen
		if err := s.applyListenerSettings(); err != nil {
			s.log.Error("settings saved elsewhere: apply to the listener", "err", err)
		}
	}
}
