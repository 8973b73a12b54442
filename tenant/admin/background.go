package admin

import (
	"context"
	"sync"
	"time"
)

// purgeInterval is how often expired sessions, AuthnRequests and replay
// entries are removed. Requests live 10 minutes, so a minute keeps at most
// a few minutes' worth of dead entries in the file.
const purgeInterval = time.Minute

// RunBackground does the work of the process that owns the data file until
// ctx ends, and returns once all of it has stopped: the Connec! outbox
// (this Service's own worker, so Push now and Save reach the worker that
// runs, under one per-item lock), Connec! pulls, the developer-platform
// re-sync and the purge of expired logins. serve and the GUI's own
// instance both call it; a client of another process never does. A part
// that cannot start (a devpl-refresh that does not parse) is logged and
// the others go on, as the listener does.
func (s *Service) RunBackground(ctx context.Context) {
	parts := []struct {
		name string
		run  func(context.Context) error
	}{
		{"outbox", s.outbox.Run},
		{"connec pulls", s.puller.Run},
		{"developer-platform re-sync", s.runDevPlatformSync},
		{"purge expired logins", s.runPurges},
	}
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
