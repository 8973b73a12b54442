package connec

// This file is what the outbox Worker and the Puller share as owners of a
// Run loop: the nudge that wakes it, their clock and their logger.

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// wake is the nudge of a Run loop; the zero value is ready.
type wake struct {
	once sync.Once
	c    chan struct{}
}

func (w *wake) nudged() chan struct{} {
	w.once.Do(func() { w.c = make(chan struct{}, 1) })
	return w.c
}

// Nudge makes Run look for due work now instead of at its next poll
// (e.g. after SaveInvoice, or a notification that queued links back).
func (w *wake) Nudge() {
	select {
	case w.nudged() <- struct{}{}:
	default:
	}
}

// loop calls work at once, then every poll (default 1 s) and whenever
// nudged, until ctx ends.
func (w *wake) loop(ctx context.Context, poll time.Duration, work func()) {
	t := time.NewTicker(orDefault(poll, time.Second))
	defer t.Stop()
	for {
		work()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-w.nudged():
		}
	}
}

// utcNow is now() of an injectable clock (nil: the real one), in UTC.
func utcNow(now func() time.Time) time.Time {
	if now != nil {
		return now().UTC()
	}
	return time.Now().UTC()
}

func orDefaultLogger(l *slog.Logger) *slog.Logger {
	if l != nil {
		return l
	}
	return slog.Default()
}

func orDefault[T int | time.Duration](v, def T) T {
	if v > 0 {
		return v
	}
	return def
}
