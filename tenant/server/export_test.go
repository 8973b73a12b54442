package server

import (
	"time"

	"github.com/tenantdesk/tenantdesk/store"
)

// SetClock replaces the listener's clock.
func SetClock(s *Server, now func() time.Time) { s.now = now }

// Commit strategies for BenchmarkWebhookParallel's baselines.
const (
	CommitGroup = "group"  // groupCommit (what the listener uses)
	CommitBatch = "batch"  // store.DB.Batch (bbolt's timer-based batching)
	CommitEach  = "update" // one store.DB.Update per request
)

// SetCommitStrategy swaps how small writes commit (benchmarks only).
func SetCommitStrategy(s *Server, strategy string) {
	switch strategy {
	case CommitBatch:
		s.write = s.db.Batch
	case CommitEach:
		s.write = s.db.Update
	default:
		s.write = s.commits.do
	}
}

// WriteForTest runs fn through the listener's group commit.
func WriteForTest(s *Server, fn func(*store.Tx) error) error { return s.write(fn) }

// CommitStats is how many group commits ran and how many writes they held.
func CommitStats(s *Server) (commits, writes int64) {
	return s.commits.commits.Load(), s.commits.writes.Load()
}
