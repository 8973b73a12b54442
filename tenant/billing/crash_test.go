package billing

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/tenantdesk/tenantdesk/store"
	"github.com/tenantdesk/tenantdesk/tenant/api/apitest"
)

const crashDBEnv = "TENANTDESK_BILLING_CRASH_DB"

// TestCrashChild is the process that gets killed: it runs billing on the
// file the parent prepared, until the parent's fake API kills it.
func TestCrashChild(t *testing.T) {
	path := os.Getenv(crashDBEnv)
	if path == "" {
		t.Skip("runs only as the child of TestRerunAfterACrash")
	}
	db := openDB(t, path, false)
	_, err := Run(context.Background(), db, Options{Period: mustPeriod(t, "2026-11"), Concurrency: 4})
	t.Fatalf("child run finished (%v): it should have been killed", err)
}

// TestRerunAfterACrash kills a billing process (SIGKILL) right after the
// API created a bill and before the answer reached it, with other bills in
// flight; the next run must find those bills instead of sending them again.
func TestRerunAfterACrash(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a subprocess")
	}
	db, path := tempDB(t)
	f := apitest.NewAccountAPI(t, nil)
	f.SetLatency(5 * time.Millisecond)
	addTenant(t, db, f, "acme", true, 4900)
	groups := addGroups(t, db, "acme", 40)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashDBEnv+"="+path)
	childGone := make(chan struct{})
	var child atomic.Pointer[os.Process]
	f.AfterCreate(func(created int) {
		if created == 15 {
			for child.Load() == nil { // Start has not returned yet
				time.Sleep(time.Millisecond)
			}
			child.Load().Kill()
			<-childGone // the child never reads this answer
		}
	})
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	child.Store(cmd.Process)
	err := cmd.Wait()
	close(childGone)
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("child ended with %v, want killed", err)
	}
	_, _, createdBeforeCrash := f.Counts()

	db = openDB(t, path, false)
	defer db.Close()
	var pending int
	for _, r := range ledgerRows(t, db, "2026-11") {
		if r.Status == store.BillPending {
			pending++
		}
	}
	if pending == 0 {
		t.Fatal("the crash left no pending row: the test did not crash mid-bill")
	}
	sum, err := Run(context.Background(), db, Options{Period: mustPeriod(t, "2026-11")})
	if err != nil {
		t.Fatalf("rerun: %v", err)
	}
	f.ExactlyOne(t, groups)
	rows := ledgerRows(t, db, "2026-11")
	for _, g := range groups {
		if rows[g].Status != store.BillSubmitted || rows[g].RemoteID != f.Bills()[g][0].ID {
			t.Errorf("%s: ledger %+v, API %+v", g, rows[g], f.Bills()[g])
		}
	}
	if sum.Adopted == 0 {
		t.Errorf("rerun adopted no bill; %d were created before the crash, %d rows pending", createdBeforeCrash, pending)
	}
	t.Logf("crash after %d bills created: %d rows pending; rerun adopted %d, submitted %d", createdBeforeCrash, pending, sum.Adopted, sum.Submitted-sum.Adopted)
}
