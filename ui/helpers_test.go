package ui

import (
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"

	"github.com/tenantdesk/tenantdesk/store"
	"github.com/tenantdesk/tenantdesk/tenant/admin"
)

// newTestWindow opens a real bbolt file and the real admin.Service, and
// builds the main window on Fyne's test app.
func newTestWindow(t *testing.T) (*mainWindow, *admin.Service) {
	t.Helper()
	a := test.NewTempApp(t)
	db, err := store.Open(filepath.Join(t.TempDir(), "ui.db"), store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	svc := admin.New(db, admin.Options{PublicURL: "https://td.example.com", Addr: "127.0.0.1:0"})
	var m *mainWindow
	onUI(func() {
		m = newMainWindow(a, svc, Options{Screen: "tenants"})
		m.win.Resize(fyne.NewSize(1200, 740))
	})
	t.Cleanup(func() {
		m.stop()
		time.Sleep(20 * time.Millisecond) // let pollers see the cancel before the db closes
		db.Close()
	})
	return m, svc
}

// eventually waits until cond holds (polled on the test goroutine, which
// is where the test driver runs fyne.Do callbacks too).
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		var ok bool
		onUI(func() { ok = cond() })
		if ok {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}

// uiMu stands in for the UI goroutine under the test driver: callbacks
// handed to uiDo and the test's own widget steps (onUI, eventually) take
// turns on it, as they would on the real driver's single goroutine.
var uiMu sync.Mutex

func init() {
	uiDo = func(fn func()) {
		uiMu.Lock()
		defer uiMu.Unlock()
		fn()
	}
}

// onUI runs a test step as if on the UI goroutine.
func onUI(fn func()) {
	uiMu.Lock()
	defer uiMu.Unlock()
	fn()
}

// seedItems writes n identity-map rows of acme's "items", named
// "Item 00000" on, in one transaction.
func seedItems(t *testing.T, svc *admin.Service, n int) {
	t.Helper()
	err := svc.DB().Update(func(tx *store.Tx) error {
		for i := 0; i < n; i++ {
			if _, err := tx.PutConnected(store.ConnectedObject{Tenant: "acme", LocalKind: store.KindRecord, LocalID: fmt.Sprint(i),
				Provider: "connec", Entity: "items", RemoteID: fmt.Sprintf("r-%05d", i), Name: fmt.Sprintf("Item %05d", i)}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
