package billing

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tenantdesk/tenantdesk/store"
	"github.com/tenantdesk/tenantdesk/store/masterkeys"
	"github.com/tenantdesk/tenantdesk/tenant"
	"github.com/tenantdesk/tenantdesk/tenant/api/apitest"
)

func openDB(t testing.TB, path string, noSync bool) *store.DB {
	t.Helper()
	// The key file beside the data file: the crash test's child process
	// opens the same file and must find its key.
	db, err := store.Open(path, store.Options{NoSync: noSync, Keys: masterkeys.File{Path: path + ".key"}})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	return db
}

func tempDB(t testing.TB) (*store.DB, string) {
	path := filepath.Join(t.TempDir(), "tenantdesk.db")
	db := openDB(t, path, false)
	t.Cleanup(func() { db.Close() })
	return db, path
}

// addTenant stores a tenant whose account API is the fake, registered
// with the fake unless badKey is set.
func addTenant(t testing.TB, db *store.DB, f *apitest.AccountAPI, key string, enabled bool, priceCents int64) *tenant.Config {
	t.Helper()
	cfg := addTenantConfig(f, key)
	cfg.Enabled, cfg.Billing.PriceCents = enabled, priceCents
	putTenant(t, db, cfg)
	return cfg
}

// addTenantConfig is a tenant whose account API is the fake, and registers
// its credentials there.
func addTenantConfig(f *apitest.AccountAPI, key string) *tenant.Config {
	cfg := &tenant.Config{Key: tenant.Key(key), DisplayName: strings.ToUpper(key[:1]) + key[1:], Enabled: true,
		API: tenant.API{ID: "app-" + key, Key: tenant.Secret("key-" + key), Host: f.URL()}}
	f.SetCredentials(cfg.API.ID, string(cfg.API.Key))
	return cfg
}

func putTenant(t testing.TB, db *store.DB, cfg *tenant.Config) {
	t.Helper()
	doc, err := cfg.MarshalStored()
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *store.Tx) error {
		return tx.PutTenant(store.Tenant{Key: string(cfg.Key), Config: doc, CreatedAt: time.Now(), UpdatedAt: time.Now()})
	})
	if err != nil {
		t.Fatalf("put tenant: %v", err)
	}
}

// addGroups stores n groups of a tenant, uid cld-<tenant>-<i>, and returns their uids.
func addGroups(t testing.TB, db *store.DB, tenantKey string, n int) []string {
	t.Helper()
	uids := make([]string, n)
	err := db.Update(func(tx *store.Tx) error {
		for i := range n {
			uids[i] = fmt.Sprintf("cld-%s-%05d", tenantKey, i)
			g := store.Group{Tenant: tenantKey, UID: uids[i], Name: fmt.Sprintf("Customer %d", i),
				CreatedAt: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
			if err := tx.PutGroup(g); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("put groups: %v", err)
	}
	return uids
}

func ledgerRows(t testing.TB, db *store.DB, period string) map[string]store.Bill {
	t.Helper()
	rows := map[string]store.Bill{}
	err := db.View(func(tx *store.Tx) error {
		bills, err := tx.Bills(period, "")
		for _, b := range bills {
			rows[b.GroupUID] = b
		}
		return err
	})
	if err != nil {
		t.Fatalf("read ledger: %v", err)
	}
	return rows
}

func mustPeriod(t testing.TB, s string) Period {
	t.Helper()
	p, err := ParsePeriod(s)
	if err != nil {
		t.Fatal(err)
	}
	return p
}
