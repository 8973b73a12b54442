package store

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/tenantdesk/tenantdesk/store/etcdtest"
)

// The journal's gate (SPEC §14: nothing acknowledged is lost): while a
// big transaction's chunks are applied, no other commit goes through on
// what it read before them; a live writer's journal is its own to apply;
// a dead writer's is applied by the next writer its gate refuses.

const journalWrites = 150 // more than one etcd txn takes

// pauseAfterMark stops the next journaled commit between its mark and its
// apply: marked receives its name, and release lets it go on.
func pauseAfterMark(t *testing.T) (marked <-chan string, release func()) {
	m := make(chan string, 1)
	r := make(chan struct{})
	var once sync.Once
	release = func() { once.Do(func() { close(r) }) }
	journalMarked = func(name string) {
		m <- name
		<-r
	}
	t.Cleanup(func() { release(); journalMarked = nil })
	return m, release
}

// writeJournaled sets k-000 … k-149 to v in one UpdateLarge, in the background.
func writeJournaled(db *DB, v string) <-chan error {
	done := make(chan error, 1)
	go func() {
		done <- db.UpdateLarge(func(tx *Tx) error {
			for i := range journalWrites {
				if err := tx.PutSetting(Setting{Key: fmt.Sprintf("k-%03d", i), Value: v}); err != nil {
					return err
				}
			}
			return nil
		})
	}()
	return done
}

func waitMarked(t *testing.T, marked <-chan string) string {
	t.Helper()
	select {
	case name := <-marked:
		return name
	case <-time.After(20 * time.Second):
		t.Fatal("the journaled commit never reached its mark")
		return ""
	}
}

// appendTo reads k-000 and writes it back with suffix: a read-modify-write.
func appendTo(db *DB, suffix string) error {
	return db.Update(func(tx *Tx) error {
		m, err := tx.Settings()
		if err != nil {
			return err
		}
		return tx.PutSetting(Setting{Key: "k-000", Value: m["k-000"].Value + suffix})
	})
}

func settingsOf(t *testing.T, db *DB) map[string]Setting {
	t.Helper()
	var m map[string]Setting
	if err := db.View(func(tx *Tx) (err error) {
		m, err = tx.Settings()
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return m
}

// checkJournalDone fails unless every journal write is there (k-000 as
// want, the others as v) and no journal, gate or journal claim is left.
func checkJournalDone(t *testing.T, db *DB, v, want string) {
	t.Helper()
	m := settingsOf(t, db)
	if m["k-000"].Value != want {
		t.Errorf("k-000 = %q, want %q", m["k-000"].Value, want)
	}
	wrong := 0
	for i := 1; i < journalWrites; i++ {
		if m[fmt.Sprintf("k-%03d", i)].Value != v {
			wrong++
		}
	}
	if wrong > 0 {
		t.Errorf("%d of the journal's other %d writes missing", wrong, journalWrites-1)
	}
	s := db.etcd
	for _, dir := range []string{etcdJournalDir, etcdApplyingDir, etcdClaimsDir + "journal/"} {
		resp, err := s.cli.Get(t.Context(), s.prefix+dir, clientv3.WithPrefix(), clientv3.WithCountOnly())
		if err != nil || resp.Count != 0 {
			t.Errorf("%d keys left under %s (%v)", resp.Count, dir, err)
		}
	}
}

// A read-modify-write of a key the journal writes, run between the mark
// and the apply, waits for the whole journal and builds on its value,
// instead of committing on the old value and being overwritten.
func TestEtcdJournalGateKeepsAConcurrentUpdate(t *testing.T) {
	url := etcdtest.URL(t)
	writer, other := openEtcd(t, url), openEtcd(t, url)
	if err := other.Update(func(tx *Tx) error { return tx.PutSetting(Setting{Key: "k-000", Value: "old"}) }); err != nil {
		t.Fatal(err)
	}
	marked, release := pauseAfterMark(t)
	done := writeJournaled(writer, "journal")
	waitMarked(t, marked)
	appended := make(chan error, 1)
	go func() { appended <- appendTo(other, "+other") }()
	// Without the gate the update commits now, on "old"; with it, it waits.
	var err error
	finished := false
	select {
	case err = <-appended:
		finished = true
	case <-time.After(300 * time.Millisecond):
	}
	release()
	if err := <-done; err != nil {
		t.Fatalf("journaled commit: %v", err)
	}
	if !finished {
		err = <-appended
	}
	if err != nil {
		t.Fatalf("the concurrent update: %v", err)
	}
	checkJournalDone(t, other, "journal", "journal+other")
}

// Open while a live writer is between its mark and its apply leaves its
// journal alone; the writer then applies it and lifts the gate.
func TestEtcdJournalOfALiveWriterLeftToIt(t *testing.T) {
	url := etcdtest.URL(t)
	writer := openEtcd(t, url)
	marked, release := pauseAfterMark(t)
	done := writeJournaled(writer, "journal")
	waitMarked(t, marked)
	opened := openEtcd(t, url)
	if n := len(settingsOf(t, opened)); n != 0 {
		t.Errorf("Open applied a live writer's journal: %d settings before its apply", n)
	}
	release()
	if err := <-done; err != nil {
		t.Fatalf("journaled commit: %v", err)
	}
	checkJournalDone(t, opened, "journal", "journal")
}

// A writer whose lease runs out between its mark and its apply (a dead
// replica): the next writer its gate refuses applies the journal, then
// commits on top of it; the dead writer's late chunks are fenced off.
func TestEtcdJournalOfADeadWriterRecoveredByTheNextWriter(t *testing.T) {
	url := etcdtest.URL(t)
	writer, other := openEtcd(t, url), openEtcd(t, url)
	marked, release := pauseAfterMark(t)
	done := writeJournaled(writer, "journal")
	waitMarked(t, marked)
	writer.expireClaimsForTest()
	_, runsBefore := other.EtcdStats()
	if err := appendTo(other, "+other"); err != nil {
		t.Fatalf("update after the writer died: %v", err)
	}
	if _, runs := other.EtcdStats(); runs-runsBefore < 2 {
		t.Errorf("the update ran %d times: its first commit was not refused by the gate", runs-runsBefore)
	}
	checkJournalDone(t, other, "journal", "journal+other")
	release()
	if err := <-done; !errors.Is(err, ErrLockLost) {
		t.Errorf("the dead writer's apply: %v, want ErrLockLost", err)
	}
	if v := settingsOf(t, other)["k-000"].Value; v != "journal+other" {
		t.Errorf("after the dead writer's late apply k-000 = %q, want journal+other", v)
	}
}

// A view that starts while a journal is being applied, with part of its
// chunks already written, sees the store as it was before the journal's
// mark, and a view after the apply sees all of it: never half.
func TestEtcdViewSeesAJournalWholeOrNotAtAll(t *testing.T) {
	url := etcdtest.URL(t)
	writer, reader := openEtcd(t, url), openEtcd(t, url)
	if err := writer.Update(func(tx *Tx) error { return tx.PutSetting(Setting{Key: "k-000", Value: "old"}) }); err != nil {
		t.Fatal(err)
	}
	marked, release := pauseAfterMark(t)
	done := writeJournaled(writer, "journal")
	name := waitMarked(t, marked)
	// The journal's first writes land, as if its first chunk had.
	s := writer.etcd
	resp, err := s.cli.Get(t.Context(), s.prefix+etcdJournalDir+name+"/chunk-00000000")
	if err != nil || len(resp.Kvs) != 1 {
		t.Fatalf("the journal's first record: %v, %v", resp, err)
	}
	ops, err := decodeOps(resp.Kvs[0].Value)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.cli.Txn(t.Context()).Then(ops[:2]...).Commit(); err != nil {
		t.Fatal(err)
	}
	m := settingsOf(t, reader)
	if len(m) != 1 || m["k-000"].Value != "old" {
		t.Errorf("a view during the apply saw %d settings, k-000 = %q; want the 1 from before the journal, old", len(m), m["k-000"].Value)
	}
	release()
	if err := <-done; err != nil {
		t.Fatalf("journaled commit: %v", err)
	}
	checkJournalDone(t, reader, "journal", "journal")
}
