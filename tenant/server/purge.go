package server

import (
	"context"
	"time"
)

// purgeInterval is how often the listener removes expired sessions,
// AuthnRequests and replay-cache entries. Requests live 10 minutes, so a
// minute keeps at most a few minutes' worth of dead entries in the file.
const purgeInterval = time.Minute

// purgeLoop purges once at start (what expired while the listener was
// stopped) and then every s.purgeEvery, until ctx ends. Each purge runs
// in short batches (store.DB.PurgeExpired), so requests keep flowing.
func (s *Server) purgeLoop(ctx context.Context) {
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
			return
		case <-t.C:
		}
	}
}
