package ui

import "sync"

// latest brings the newest of a stream of values (a run's progress, sent
// from its worker goroutines) to the UI goroutine with at most one hand-off
// waiting at a time. A run that reports faster than the window draws then
// never queues a backlog that the bar works through long after the run,
// one step at a time; and the last value always arrives.
type latest[T any] struct {
	show func(T)      // on the UI goroutine
	do   func(func()) // hands a function to the UI goroutine (uiDo)

	mu      sync.Mutex
	v       T
	pending bool
}

func newLatest[T any](show func(T)) *latest[T] { return &latest[T]{show: show, do: uiDo} }

// put keeps v as the newest value and, unless a hand-off is already
// waiting, hands one to the UI goroutine. Safe from any goroutine.
func (l *latest[T]) put(v T) {
	l.mu.Lock()
	l.v = v
	if l.pending {
		l.mu.Unlock()
		return
	}
	l.pending = true
	l.mu.Unlock()
	l.do(func() {
		l.mu.Lock()
		v := l.v
		l.pending = false
		l.mu.Unlock()
		l.show(v)
	})
}
