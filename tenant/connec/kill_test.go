package connec_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/tenantdesk/tenantdesk/store"
	"github.com/tenantdesk/tenantdesk/store/masterkeys"
	"github.com/tenantdesk/tenantdesk/tenant"
	"github.com/tenantdesk/tenantdesk/tenant/account"
	"github.com/tenantdesk/tenantdesk/tenant/connec"
	"github.com/tenantdesk/tenantdesk/tenant/connec/connectest"
)

// TestPullChildProcess is the process TestInitialSyncSurvivesSIGKILL
// kills: it works the pull queue of the data file it is given until it dies.
func TestPullChildProcess(t *testing.T) {
	path := os.Getenv("TENANTDESK_PULL_CHILD_DB")
	if path == "" {
		t.Skip("only run as the child of TestInitialSyncSurvivesSIGKILL")
	}
	db, err := store.Open(path, store.Options{Keys: masterkeys.File{Path: path + ".key"}}) // the key beside the file: both processes find it
	if err != nil {
		t.Fatal(err)
	}
	p := &connec.Puller{DB: db, Logger: slog.New(slog.DiscardHandler), Poll: 50 * time.Millisecond}
	_ = p.Run(context.Background())
}

func TestInitialSyncSurvivesSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a subprocess")
	}
	const n = 500 // 5 pages
	emu := connectest.New("app-acme", "s3cret")
	defer emu.Close()
	at := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	for i := 1; i <= n; i++ {
		emu.Add("cld-1", "invoices", connectest.Invoice(fmt.Sprintf("c-%04d", i), i, at.Add(time.Duration(i)*time.Second)))
	}
	emu.SetLatency(150 * time.Millisecond)

	path := filepath.Join(t.TempDir(), "tenantdesk.db")
	db, err := store.Open(path, store.Options{Keys: masterkeys.File{Path: path + ".key"}}) // the key beside the file: both processes find it
	if err != nil {
		t.Fatal(err)
	}
	cfg := &tenant.Config{Key: "acme", DisplayName: "Acme", Enabled: true,
		API:    tenant.API{ID: "app-acme", Key: "s3cret", Host: "https://hub.example.test"},
		Connec: tenant.Connec{Host: emu.URL}}
	doc, err := cfg.MarshalStored()
	if err != nil {
		t.Fatal(err)
	}
	// The group's first sign-in, as SSO consume commits it.
	err = db.Update(func(tx *store.Tx) error {
		if err := tx.PutTenant(store.Tenant{Key: "acme", Config: doc}); err != nil {
			return err
		}
		_, err := account.SignInTx(tx, account.SignIn{Tenant: "acme",
			Group: store.Group{UID: "cld-1", Name: "Doe Corp"},
			User:  store.User{UID: "usr-1", Email: "jane@doe.test", FirstName: "Jane"}, Role: "Admin"}, time.Now())
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	var st store.Pull
	if err := db.View(func(tx *store.Tx) (err error) { st, err = tx.Pull("acme", "cld-1", "invoices"); return }); err != nil {
		t.Fatalf("the first sign-in queued no pull: %v", err)
	}
	if st.Status != store.PullQueued || !st.Full {
		t.Fatalf("queued pull: %+v", st)
	}
	db.Close()

	child := exec.Command(os.Args[0], "-test.run=^TestPullChildProcess$", "-test.count=1")
	child.Env = append(os.Environ(), "TENANTDESK_PULL_CHILD_DB="+path)
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	// Kill it halfway: once it has asked for the third page.
	deadline := time.Now().Add(60 * time.Second)
	for {
		pages := 0
		for _, r := range emu.Requests() {
			if r.Method == http.MethodGet {
				pages++
			}
		}
		if pages >= 3 {
			break
		}
		if time.Now().After(deadline) {
			_ = child.Process.Kill()
			t.Fatal("the child never got to the third page")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := child.Process.Kill(); err != nil { // SIGKILL
		t.Fatal(err)
	}
	_ = child.Wait()

	db, err = store.Open(path, store.Options{Keys: masterkeys.File{Path: path + ".key"}}) // the key beside the file: both processes find it
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var invs []store.Invoice
	_ = db.View(func(tx *store.Tx) (err error) {
		if st, err = tx.Pull("acme", "cld-1", "invoices"); err != nil {
			return err
		}
		invs, err = tx.Invoices("acme")
		return err
	})
	if st.Cursor == "" || st.Run.Pages == 0 || len(invs) == 0 || len(invs) >= n {
		t.Fatalf("after the kill: %d invoices, state %+v; want a pull stopped halfway", len(invs), st)
	}
	t.Logf("killed after %d pages (%d invoices stored, %d linked)", st.Run.Pages, len(invs), st.Run.Linked)
	emu.ResetRequests()
	emu.SetLatency(0)

	// Restarted: the queue finishes the pull where it stopped.
	p := &connec.Puller{DB: db, Logger: slog.New(slog.DiscardHandler)}
	if done, err := p.ProcessDue(context.Background()); err != nil || done != 1 {
		t.Fatalf("resumed pull: %d done, %v", done, err)
	}
	first := ""
	for _, r := range emu.Requests() {
		if r.Method == http.MethodGet {
			first = r.Query.Get("$skip")
			break
		}
	}
	if want := fmt.Sprint(st.Run.Pages * connec.PageSize); first != want {
		t.Errorf("resumed at $skip=%q, want %s (the first page not stored)", first, want)
	}
	// Every record exactly once: one invoice, one identity row, one link.
	err = db.View(func(tx *store.Tx) error {
		invs, err := tx.Invoices("acme")
		if err != nil {
			return err
		}
		if len(invs) != n {
			return fmt.Errorf("%d invoices, want %d", len(invs), n)
		}
		numbers := map[string]bool{}
		for _, inv := range invs {
			if numbers[inv.Number] {
				return fmt.Errorf("invoice %s stored twice", inv.Number)
			}
			numbers[inv.Number] = true
		}
		for _, rec := range emu.Records("cld-1", "invoices") {
			row, err := tx.ConnectedByRemote("acme", rec.ConnecID)
			if err != nil {
				return fmt.Errorf("%s: %w", rec.ConnecID, err)
			}
			ours := 0
			for _, ref := range rec.External {
				if ref.Provider == "app-acme" && ref.Realm == "cld-1" && ref.ID == row.LocalID {
					ours++
				}
			}
			if ours != 1 || row.LinkedAt.IsZero() {
				return fmt.Errorf("%s: %d links to %s, linked at %v", rec.ConnecID, ours, row.LocalID, row.LinkedAt)
			}
		}
		if c, err := tx.CountConnected("acme", "invoices"); err != nil || c != n {
			return fmt.Errorf("%d identity rows for invoices, %v", c, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
