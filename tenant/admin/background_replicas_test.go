package admin

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tenantdesk/tenantdesk/store"
	"github.com/tenantdesk/tenantdesk/store/etcdtest"
	"github.com/tenantdesk/tenantdesk/tenant"
	"github.com/tenantdesk/tenantdesk/tenant/connec"
	"github.com/tenantdesk/tenantdesk/tenant/connec/connectest"
	"github.com/tenantdesk/tenantdesk/tenant/settings"
)

// tagged notes which Service's outbox pushed to which group.
type tagged struct {
	service int
	mu      *sync.Mutex
	pushes  map[string][]int // group → services
}

func (tg tagged) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(r)
	if err == nil && r.Method == http.MethodPost && resp.StatusCode == http.StatusCreated {
		group := strings.Split(strings.Trim(r.URL.Path, "/"), "/")[2]
		tg.mu.Lock()
		tg.pushes[group] = append(tg.pushes[group], tg.service)
		tg.mu.Unlock()
	}
	return resp, err
}

// Two serve replicas' Services on one etcd store, both running
// RunBackground (SPEC §14): both run the outbox, which shares the 8
// tenants' 16 invoices between them, each pushed once; the purge runs on
// the one replica holding the background lock.
func TestRunBackgroundOnReplicas(t *testing.T) {
	url := etcdtest.URL(t)
	open := func() *store.DB {
		db, err := store.OpenURL(url, store.TLSFiles{}, store.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}
	emu := connectest.New("app-r", "s3cret")
	defer emu.Close()
	emu.SetLatency(20 * time.Millisecond)
	db := open()
	now := time.Now()
	const tenants, invoices = 8, 2
	for i := range tenants {
		key := fmt.Sprintf("r%d", i+1)
		cfg := tenant.Config{Key: tenant.Key(key), DisplayName: key, Enabled: true,
			API:    tenant.API{ID: "app-r", Key: "s3cret", Host: "https://hub.example.test"},
			Connec: tenant.Connec{Host: emu.URL}}
		doc, err := cfg.MarshalStored()
		if err != nil {
			t.Fatal(err)
		}
		if err := db.Update(func(tx *store.Tx) error {
			return errors.Join(tx.PutTenant(store.Tenant{Key: key, Config: doc}),
				tx.PutGroup(store.Group{Tenant: key, UID: "cld-" + key, Name: key}))
		}); err != nil {
			t.Fatal(err)
		}
		for n := range invoices {
			if _, err := connec.SaveInvoice(db, store.Invoice{Tenant: key, GroupUID: "cld-" + key, Number: fmt.Sprintf("%s-%d", key, n),
				Currency: "AUD", Lines: []store.InvoiceLine{{Description: "Hosting", Quantity: 1, UnitPriceCents: 1000}}}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := db.Update(func(tx *store.Tx) error {
		return tx.PutSession(store.Session{ID: "old", Tenant: "r1", ExpiresAt: now.Add(-time.Minute)})
	}); err != nil {
		t.Fatal(err)
	}

	var mu sync.Mutex
	pushes := map[string][]int{}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for n := range 2 {
		s := New(open(), Options{PublicURL: "https://td.example.com", Addr: "127.0.0.1:0"})
		s.outbox.HTTPClient = &http.Client{Transport: tagged{service: n + 1, mu: &mu, pushes: pushes}}
		s.outbox.Poll = 50 * time.Millisecond
		wg.Add(1)
		go func() { defer wg.Done(); s.RunBackground(ctx) }()
	}
	done := func() int {
		var items []store.OutboxItem
		_ = db.View(func(tx *store.Tx) (err error) { items, err = tx.OutboxByStatus(store.OutboxDone); return err })
		return len(items)
	}
	purged := func() bool {
		var err error
		_ = db.View(func(tx *store.Tx) error { _, err = tx.Session("old"); return nil })
		return errors.Is(err, store.ErrNotFound)
	}
	deadline := time.Now().Add(30 * time.Second)
	for (done() < tenants*invoices || !purged()) && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if _, err := open().TryLock(store.LockBackground); !errors.Is(err, store.ErrLocked) {
		t.Errorf("background lock while both run: %v, want held by one of them", err)
	}
	cancel()
	wg.Wait()

	if n := done(); n != tenants*invoices {
		t.Fatalf("%d of %d invoices delivered", n, tenants*invoices)
	}
	if !purged() {
		t.Error("the expired session was not purged")
	}
	byService := map[int]int{}
	for group, ss := range pushes {
		if len(ss) != invoices {
			t.Errorf("group %s: %d pushes, want %d", group, len(ss), invoices)
		}
		for _, s := range ss {
			byService[s]++
		}
	}
	t.Logf("pushes per Service: %v", byService)
	if len(byService) != 2 {
		t.Errorf("pushes per Service %v: want both replicas' outboxes to work", byService)
	}
}

// A setting saved on the cluster by another process (here a CLI's own
// handle) is in force on every replica within 2 s (SPEC §14): both
// replicas' listeners serve the new public URL, each without a restart of
// its process.
func TestSettingSavedElsewhereInForceOnEveryReplica(t *testing.T) {
	url := etcdtest.URL(t)
	open := func() *store.DB {
		db, err := store.OpenURL(url, store.TLSFiles{}, store.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); wg.Wait() })
	var replicas []*Service
	for range 2 {
		s := New(open(), Options{Settings: settings.Overrides{Flags: map[settings.Key]string{settings.Addr: "127.0.0.1:0"}}})
		if err := s.StartListener(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.StopListener(context.Background()) })
		wg.Add(1)
		go func() { defer wg.Done(); s.RunBackground(ctx) }()
		replicas = append(replicas, s)
	}
	const next = "https://lb.example.com"
	saved := time.Now()
	if err := settings.Apply(open(), []settings.Change{{Key: settings.PublicURL, Value: next}}, saved); err != nil {
		t.Fatal(err)
	}
	for i, s := range replicas {
		st := s.ListenerStatus()
		for (st.PublicURL != next || st.State != ListenerRunning) && time.Since(saved) < 2*time.Second {
			time.Sleep(10 * time.Millisecond)
			st = s.ListenerStatus()
		}
		if st.PublicURL != next || st.State != ListenerRunning {
			t.Fatalf("replica %d 2 s after the setting was saved: %s on %q, want running on %s", i+1, st.State, st.PublicURL, next)
		}
		resp, err := http.Get("http://" + st.Addr + "/healthz")
		if err != nil {
			t.Fatalf("replica %d after the change: %v", i+1, err)
		}
		resp.Body.Close()
		t.Logf("replica %d serves %s %v after the save", i+1, next, time.Since(saved).Round(time.Millisecond))
	}
}
