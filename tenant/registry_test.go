package tenant

import (
	"bytes"
	"encoding/json"
	"errors"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/tenantdesk/tenantdesk/store"
	"github.com/tenantdesk/tenantdesk/tenant/tenanttest"
)

func openRegistry(t *testing.T) (Registry, *time.Time) {
	t.Helper()
	db, err := store.Open(filepath.Join(t.TempDir(), "tenantdesk.db"), store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	now := testNow
	return Registry{DB: db, PublicURL: testPublicURL, Now: func() time.Time { return now }}, &now
}

func storedTenant(t *testing.T, r Registry, key string) (store.Tenant, error) {
	t.Helper()
	var st store.Tenant
	err := r.DB.View(func(tx *store.Tx) error {
		var err error
		st, err = tx.Tenant(key)
		return err
	})
	return st, err
}

func TestRegistrySaveGetList(t *testing.T) {
	reg, now := openRegistry(t)
	certs := newCerts(t)
	acme := validConfig(t, certs.Valid)
	globex := validConfig(t, certs.Valid)
	globex.Key, globex.DisplayName, globex.API.Key = "globex", "Globex", "globex-secret"

	for _, c := range []Config{globex, acme} {
		if err := reg.Save(c); err != nil {
			t.Fatal(err)
		}
	}
	got, err := reg.Get("acme")
	if err != nil {
		t.Fatal(err)
	}
	acme.Normalize()
	if !reflect.DeepEqual(*got, acme) {
		t.Errorf("Get = %#v\nwant %#v", got.API, acme.API)
	}
	if got.API.Key.Reveal() != "s3cr3t-acme-key" {
		t.Error("the stored secret was lost")
	}
	list, err := reg.List()
	if err != nil || len(list) != 2 || list[0].Key != "acme" || list[1].Key != "globex" {
		t.Fatalf("List = %v, %v; want acme, globex", list, err)
	}

	// An update keeps the creation time and moves the update time.
	*now = now.Add(time.Hour)
	acme.DisplayName = "Acme Renamed"
	if err := reg.Save(acme); err != nil {
		t.Fatal(err)
	}
	st, err := storedTenant(t, reg, "acme")
	if err != nil {
		t.Fatal(err)
	}
	if !st.CreatedAt.Equal(testNow) || !st.UpdatedAt.Equal(testNow.Add(time.Hour)) {
		t.Errorf("created %v updated %v", st.CreatedAt, st.UpdatedAt)
	}
	if got, _ := reg.Get("acme"); got.DisplayName != "Acme Renamed" {
		t.Errorf("update not saved: %q", got.DisplayName)
	}

	if _, err := reg.Get("nobody"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Get(unknown) = %v, want ErrNotFound", err)
	}
}

func TestRegistrySaveRejectsInvalid(t *testing.T) {
	reg, _ := openRegistry(t)
	c := validConfig(t, newCerts(t).Expired)
	c.SSO.X509Fingerprint = ""
	c.API.Host = "http://hub.example.com"
	err := reg.Save(c)
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("Save = %v, want *ValidationError", err)
	}
	if ve.Problems.Field("api.host") == "" || ve.Problems.Field("sso.x509_certificate") == "" {
		t.Errorf("problems = %+v, want api.host and the certificate", ve.Problems.Errors)
	}
	if _, err := reg.Get("acme"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("an invalid tenant was written: %v", err)
	}
}

func TestRegistrySaveAllIsAllOrNothing(t *testing.T) {
	reg, _ := openRegistry(t)
	certs := newCerts(t)
	acme := validConfig(t, certs.Valid)
	if err := reg.Save(acme); err != nil {
		t.Fatal(err)
	}

	changed := acme
	changed.DisplayName = "Changed"
	fresh := validConfig(t, certs.Valid)
	fresh.Key = "fresh"
	bad := validConfig(t, certs.Valid)
	bad.Key, bad.Billing.PriceCents = "bad", -5

	tests := []struct {
		name  string
		batch []Config
		field string
	}{
		{"one invalid", []Config{changed, fresh, bad}, "tenants[2].billing.price_cents"},
		{"duplicate key", []Config{fresh, changed, fresh}, "tenants[2].key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := reg.SaveAll(tt.batch)
			var ie *ImportError
			if !errors.As(err, &ie) || len(ie.Problems) != 1 || ie.Problems[0].Field != tt.field {
				t.Fatalf("SaveAll = %v, want one problem on %s", err, tt.field)
			}
			if _, err := reg.Get("fresh"); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("fresh was written: %v", err)
			}
			if got, _ := reg.Get("acme"); got.DisplayName != "Acme Marketplace" {
				t.Errorf("acme was changed to %q", got.DisplayName)
			}
		})
	}

	// An import file with one bad tenant gives nothing to save at all.
	cs, err := ParseImport(fixture(t, "partly_invalid.json", certVars(certs)), testNow, testPublicURL)
	if err == nil || len(cs) != 0 {
		t.Fatalf("ParseImport = %d, %v", len(cs), err)
	}
	if list, _ := reg.List(); len(list) != 1 {
		t.Errorf("store holds %d tenants, want only acme", len(list))
	}

	// A valid file saves every tenant, secrets included, in one go.
	cs, err = ParseImport(fixture(t, "marketplaces.json", certVars(certs)), testNow, testPublicURL)
	if err != nil {
		t.Fatal(err)
	}
	if err := reg.SaveAll(cs); err != nil {
		t.Fatal(err)
	}
	got, err := reg.Get("maestrano-uat")
	if err != nil || got.API.Key.Reveal() != "8ddb7c3b-9f7a-4b23-9b6c-6d2f0f6f1a11" {
		t.Fatalf("imported tenant = %v, %v", got, err)
	}
}

func TestRegistryRemoveLeavesOrphans(t *testing.T) {
	reg, _ := openRegistry(t)
	acme := validConfig(t, newCerts(t).Valid)
	if err := reg.Save(acme); err != nil {
		t.Fatal(err)
	}
	err := reg.DB.Update(func(tx *store.Tx) error {
		return tx.PutGroup(store.Group{Tenant: "acme", UID: "cld-1", Name: "Customer", CreatedAt: testNow, UpdatedAt: testNow})
	})
	if err != nil {
		t.Fatal(err)
	}
	orphans := func() []Key {
		var out []Key
		if err := reg.DB.View(func(tx *store.Tx) error {
			var err error
			out, err = Orphaned(tx)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return out
	}
	if o := orphans(); len(o) != 0 {
		t.Fatalf("orphans before removal: %v", o)
	}
	if err := reg.Remove("acme"); err != nil {
		t.Fatal(err)
	}
	if _, err := reg.Get("acme"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Get after Remove = %v", err)
	}
	if err := reg.DB.View(func(tx *store.Tx) error { _, err := tx.Group("acme", "cld-1"); return err }); err != nil {
		t.Errorf("the group went with the tenant: %v", err)
	}
	if o := orphans(); !reflect.DeepEqual(o, []Key{"acme"}) {
		t.Errorf("orphans = %v, want [acme]", o)
	}
	if err := reg.Remove("acme"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("second Remove = %v, want ErrNotFound", err)
	}
}

func TestFromStored(t *testing.T) {
	c := validConfig(t, newCerts(t).Valid)
	st, err := ToStored(&c, testNow)
	if err != nil {
		t.Fatal(err)
	}
	doc := st.Config
	if bytes.Contains(doc, []byte(c.API.Key.Reveal())) {
		t.Fatalf("the stored document holds the key itself: %s", doc)
	}
	tests := []struct {
		name string
		t    store.Tenant
		ok   bool
	}{
		{"ok", st, true},
		{"key mismatch", store.Tenant{Key: "other", Config: doc}, false},
		{"corrupt", store.Tenant{Key: "acme", Config: []byte(`{"key":`)}, false},
		{"wrong type", store.Tenant{Key: "acme", Config: []byte(`{"key":"acme","api":{"key":7}}`)}, false},
	}
	for _, tt := range tests {
		got, err := FromStored(tt.t)
		if tt.ok != (err == nil) {
			t.Errorf("%s: FromStored error = %v", tt.name, err)
		}
		if tt.ok && got.API.Key.Reveal() != c.API.Key.Reveal() {
			t.Errorf("%s: secret lost", tt.name)
		}
	}
}

// BenchmarkFromStored measures decoding a stored tenant, which the listener
// does on authenticated reads, against plain JSON decoding of the same
// document into a map (the baseline).
func BenchmarkFromStored(b *testing.B) {
	c := validConfig(b, tenanttest.NewCert(b, "idp", testNow.AddDate(-1, 0, 0), testNow.AddDate(1, 0, 0)))
	doc, err := c.MarshalStored()
	if err != nil {
		b.Fatal(err)
	}
	st := store.Tenant{Key: "acme", Config: doc}
	b.Run("FromStored", func(b *testing.B) {
		for b.Loop() {
			if _, err := FromStored(st); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("baseline-json-map", func(b *testing.B) {
		for b.Loop() {
			var m map[string]any
			if err := json.Unmarshal(doc, &m); err != nil {
				b.Fatal(err)
			}
		}
	})
}
