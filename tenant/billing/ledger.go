package billing

import (
	"fmt"
	"time"

	"github.com/tenantdesk/tenantdesk/store"
)

// ledger is the one writer of a run's ledger rows. It commits whatever has
// queued up while the previous commit was syncing, in one transaction
// (group commit). A write that a caller waits for (the pending rows before
// their POSTs) is committed at once, unlike db.Batch, which waits up to its
// batch delay; outcome writes nobody waits for linger to share a commit.
type ledger struct {
	db   *store.DB
	reqs chan ledgerWrite
	done chan struct{}
	err  error // first failed asynchronous write; read after close
}

type ledgerWrite struct {
	rows  []store.Bill
	reply chan error // nil: asynchronous
}

func newLedger(db *store.DB) *ledger {
	l := &ledger{db: db, reqs: make(chan ledgerWrite, 256), done: make(chan struct{})}
	go l.loop()
	return l
}

// write commits rows and returns once they are durable.
func (l *ledger) write(rows ...store.Bill) error {
	reply := make(chan error, 1)
	l.reqs <- ledgerWrite{rows: rows, reply: reply}
	return <-reply
}

// writeAsync queues rows; a failure is reported by close.
func (l *ledger) writeAsync(rows ...store.Bill) {
	l.reqs <- ledgerWrite{rows: rows}
}

// close flushes every queued write and returns the first asynchronous
// failure. No write may follow.
func (l *ledger) close() error {
	close(l.reqs)
	<-l.done
	return l.err
}

// linger is how long a batch of asynchronous writes waits for company:
// they record outcomes, nothing waits on them, and fewer commits leave the
// disk to the pending writes that a POST does wait for.
const linger = 20 * time.Millisecond

func (l *ledger) loop() {
	defer close(l.done)
	timer := time.NewTimer(linger)
	for first := range l.reqs {
		batch := []ledgerWrite{first}
		urgent := first.reply != nil
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
		timer.Reset(linger)
	gather:
		for len(batch) < 4096 {
			if urgent {
				select {
				case w, ok := <-l.reqs:
					if !ok {
						break gather
					}
					batch = append(batch, w)
				default:
					break gather
				}
				continue
			}
			select {
			case w, ok := <-l.reqs:
				if !ok {
					break gather
				}
				batch = append(batch, w)
				urgent = w.reply != nil
			case <-timer.C:
				break gather
			}
		}
		err := l.commit(batch)
		if err != nil && len(batch) > 1 {
			// One bad row must not fail its neighbours: commit each alone.
			for _, w := range batch {
				l.finish(w, l.commit([]ledgerWrite{w}))
			}
			continue
		}
		for _, w := range batch {
			l.finish(w, err)
		}
	}
}

func (l *ledger) commit(batch []ledgerWrite) error {
	return l.db.Update(func(tx *store.Tx) error {
		for _, w := range batch {
			for _, b := range w.rows {
				if err := tx.PutBill(b); err != nil {
					return fmt.Errorf("ledger: %w", err)
				}
			}
		}
		return nil
	})
}

func (l *ledger) finish(w ledgerWrite, err error) {
	if w.reply != nil {
		w.reply <- err
		return
	}
	if err != nil && l.err == nil {
		l.err = err
	}
}
