package connec

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tenantdesk/tenantdesk/store"
)

// linkState is what the data file says of cld-1's invoices: pending links,
// the live link-back items, and how many identity-map rows are linked.
func (e *pullEnv) linkState() (pending int, live []store.OutboxItem, linked int) {
	e.t.Helper()
	err := e.db.View(func(tx *store.Tx) error {
		links, err := tx.PendingLinks("acme", "cld-1", "invoices", 0)
		if err != nil {
			return err
		}
		pending = len(links)
		for _, status := range []string{store.OutboxQueued, store.OutboxFailed} {
			items, err := tx.OutboxByStatus(status)
			if err != nil {
				return err
			}
			for _, it := range items {
				if it.LocalKind == KindLinkBack {
					live = append(live, it)
				}
			}
		}
		rows, err := tx.ConnectedInGroup("acme", "cld-1")
		for _, r := range rows {
			if !r.LinkedAt.IsZero() {
				linked++
			}
		}
		return err
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return pending, live, linked
}

func (e *pullEnv) notify(body []byte) {
	e.t.Helper()
	if err := e.db.Update(func(tx *store.Tx) error { _, err := Ingest(tx, e.cfg, body, e.clock.Now()); return err }); err != nil {
		e.t.Fatal(err)
	}
}

func (e *pullEnv) worker() *Worker {
	return &Worker{DB: e.db, HTTPClient: e.emu.Client(), Now: e.clock.Now, Logger: e.puller().Logger, BaseBackoff: time.Minute}
}

// Records a notification creates are linked back through the outbox: the
// notification's own transaction holds the pending links and one queued
// item, so they survive a restart; the Worker then sends each link once,
// and neither a repeated notification nor a later pull sends it again.
func TestNotificationRecordsAreLinkedBackOnceThroughTheQueue(t *testing.T) {
	e := newPullEnv(t)
	e.addInvoices(1, 120)
	body := notificationOf(t, e.emu, e.cfg)
	e.notify(body)
	if pending, live, linked := e.linkState(); pending != 120 || len(live) != 1 || linked != 0 {
		t.Fatalf("after the notification: %d pending, %d items, %d linked; want 120, 1, 0", pending, len(live), linked)
	}
	if n := e.emu.LinkOps(); n != 0 {
		t.Fatalf("%d link ops before the queue ran", n)
	}

	e.db.Close() // a restart between the 200 and the link back
	e.open()
	if n := e.process(e.worker()); n != 1 {
		t.Fatalf("delivered %d items, want the one link-back item", n)
	}
	if n := e.emu.LinkOps(); n != 120 {
		t.Fatalf("%d link ops, want 120", n)
	}
	e.checkExactlyOnce(120)
	if pending, live, linked := e.linkState(); pending != 0 || len(live) != 0 || linked != 120 {
		t.Fatalf("after the queue ran: %d pending, %d items, %d linked; want 0, 0, 120", pending, len(live), linked)
	}

	e.notify(body) // Connec! delivers the same notification again
	e.process(e.worker())
	res := e.pullNow(PullRequest{Tenant: "acme", Full: true})
	if n := e.emu.LinkOps(); n != 120 || res.Counts.Linked != 0 {
		t.Fatalf("%d link ops (pull linked %d) after a repeat and a pull, want still 120", n, res.Counts.Linked)
	}
	e.checkExactlyOnce(120)
}

// A Connec! that fails the link back leaves the links pending and the item
// queued with the outbox's backoff; once Connec! recovers they go out.
func TestLinkBackRetriesWithBackoff(t *testing.T) {
	e := newPullEnv(t)
	e.addInvoices(1, 3)
	e.emu.Fail(func(r *http.Request) bool {
		return r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/batch")
	}, http.StatusServiceUnavailable, 1)
	e.notify(notificationOf(t, e.emu, e.cfg))
	if n := e.process(e.worker()); n != 0 {
		t.Fatalf("delivered %d items while Connec! fails", n)
	}
	pending, live, _ := e.linkState()
	if pending != 3 || len(live) != 1 || live[0].Attempts != 1 || !live[0].NextAttemptAt.Equal(e.clock.Now().Add(time.Minute)) ||
		!strings.Contains(live[0].LastError, "503") {
		t.Fatalf("after a 503: %d pending, items %+v", pending, live)
	}
	if n := e.process(e.worker()); n != 0 || e.emu.LinkOps() != 0 {
		t.Fatalf("the item ran again before its backoff: %d delivered, %d ops", n, e.emu.LinkOps())
	}
	e.clock.Advance(time.Minute)
	if n := e.process(e.worker()); n != 1 || e.emu.LinkOps() != 3 {
		t.Fatalf("after the backoff: %d delivered, %d link ops; want 1, 3", n, e.emu.LinkOps())
	}
	if pending, live, linked := e.linkState(); pending != 0 || len(live) != 0 || linked != 3 {
		t.Fatalf("after the retry: %d pending, %d items, %d linked", pending, len(live), linked)
	}
}

func (e *pullEnv) process(w *Worker) int {
	e.t.Helper()
	n, err := w.ProcessDue(context.Background())
	if err != nil {
		e.t.Fatal(err)
	}
	return n
}
