package billing

import (
	"fmt"

	"github.com/tenantdesk/tenantdesk/store"
)

// ledger is the one writer of a run's ledger rows. It commits whatever has
// queued up while the previous commit was syncing, in one transaction
// (group commit without a timer: unlike db.Batch it adds no delay when
// the writer is idle), so 16 workers cost about one fsync per round
// instead of one each.
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

func (l *ledger) loop() {
	defer close(l.done)
	for first := range l.reqs {
		batch := []ledgerWrite{first}
	gather:
		for len(batch) < 1024 {
			select {
			case w, ok := <-l.reqs:
				if !ok {
					break gather
				}
				batch = append(batch, w)
			default:
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
