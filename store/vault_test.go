package store_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tenantdesk/tenantdesk/store"
	"github.com/tenantdesk/tenantdesk/store/etcdtest"
)

// The secrets testdata/schema-v2.db holds in plain text (gen_schema_v2.go).
const (
	v2APIKey      = "v2-acme-api-key-5f1c9e"
	v2DevplSecret = "v2-devpl-secret-8d2a47"
)

// secretForms are the ways a secret could sit in a file: as it is, and
// in base64 (standard, URL, raw) at each of the three alignments a value
// may start at inside a longer encoded run.
func secretForms(secret string) []string {
	forms := []string{secret}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding} {
		for pad := range 3 {
			s := enc.EncodeToString([]byte(strings.Repeat("\x00", pad) + secret))
			s = strings.TrimRight(s, "=")
			// Drop the characters that mix in the padding or the tail.
			from, to := (pad*4+2)/3, len(s)-4
			if to > from+8 {
				forms = append(forms, s[from:to])
			}
		}
	}
	return forms
}

// assertNoSecrets fails when any form of any secret is in data.
func assertNoSecrets(t *testing.T, what string, data []byte, secrets ...string) {
	t.Helper()
	for _, secret := range secrets {
		for _, form := range secretForms(secret) {
			if bytes.Contains(data, []byte(form)) {
				t.Errorf("%s holds the secret %q as %q", what, secret, form)
			}
		}
	}
}

func fileSum(t *testing.T, path string) [32]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(b)
}

// sealedV2 is a copy of the schema-2 fixture, opened once with keys (so
// sealed) and closed again.
func sealedV2(t *testing.T, keys store.MasterKeys) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "v2.db")
	copyFile(t, "testdata/schema-v2.db", path)
	raw, _ := os.ReadFile(path)
	if !bytes.Contains(raw, []byte(v2APIKey)) || !bytes.Contains(raw, []byte(v2DevplSecret)) {
		t.Fatal("the fixture does not hold its secrets in plain text: it proves nothing")
	}
	db, err := store.Open(path, store.Options{Keys: keys})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestOpenSealsSchemaV2(t *testing.T) {
	keys := store.NewMemoryKeys()
	path := sealedV2(t, keys)

	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	assertNoSecrets(t, "the migrated file", raw, v2APIKey, v2DevplSecret)
	if bytes.Contains(raw, []byte("PRIVATE KEY")) {
		t.Error("the migrated file holds the admin TLS private key in PEM")
	}

	db, err := store.Open(path, store.Options{Keys: keys})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.KeyErr(); err != nil {
		t.Fatalf("opened with its key: %v", err)
	}
	err = db.View(func(tx *store.Tx) error {
		acme, err := tx.Tenant("acme")
		if err != nil {
			return err
		}
		if acme.Secrets["api.key"] != v2APIKey || strings.Contains(string(acme.Config), v2APIKey) {
			t.Errorf("acme: secrets %v, config %s", acme.Secrets, acme.Config)
		}
		set, err := tx.Settings()
		if err != nil {
			return err
		}
		if s := set["devpl-env-secret"]; s.Value != v2DevplSecret || !s.Secret {
			t.Errorf("devpl-env-secret = %+v", s)
		}
		if s := set["devpl-env-key"]; s.Value != "v2-devpl-key" || s.Secret {
			t.Errorf("devpl-env-key = %+v (not a secret: stays plain)", s)
		}
		pair, err := tx.AdminAccess(store.AdminTLSPair)
		if err != nil || !bytes.Contains(pair, []byte("PRIVATE KEY")) {
			t.Errorf("admin TLS pair: %d bytes, %v", len(pair), err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// A copy of the file on a machine without its key: one error naming the
// key, everything but the secrets readable, and the file not changed by
// opening, reading or a refused write.
func TestAFileWithoutItsKeyIsReadableAndNotWritten(t *testing.T) {
	path := sealedV2(t, store.NewMemoryKeys())
	before := fileSum(t, path)

	db, err := store.Open(path, store.Options{Keys: store.NewMemoryKeys()})
	if err != nil {
		t.Fatalf("a file without its key must open: %v", err)
	}
	var ke *store.KeyError
	if err := db.KeyErr(); !errors.As(err, &ke) || ke.KeyID == "" || !strings.Contains(err.Error(), ke.KeyID) ||
		!strings.Contains(err.Error(), "--key-file") {
		t.Fatalf("KeyErr = %v; want one message naming the key and how to give it", err)
	}
	err = db.View(func(tx *store.Tx) error {
		ts, err := tx.Tenants()
		if err != nil {
			return err
		}
		if len(ts) != 1 || ts[0].Key != "acme" || !ts[0].SecretsLocked || ts[0].Secrets != nil {
			t.Errorf("tenants without the key: %+v", ts)
		}
		row, err := tx.ConnectedByRemote("acme", "c-1")
		if err != nil || row.Name != "INV-1" {
			t.Errorf("identity map without the key: %+v, %v", row, err)
		}
		set, err := tx.Settings()
		if err != nil {
			return err
		}
		if s := set["devpl-env-secret"]; !s.Locked || s.Value != "" {
			t.Errorf("sealed setting without the key: %+v", s)
		}
		if s := set["devpl-host"]; s.Value != "https://developer.acme.test" {
			t.Errorf("plain setting without the key: %+v", s)
		}
		if _, err := tx.AdminAccess(store.AdminTLSPair); !errors.Is(err, store.ErrKeyUnavailable) {
			t.Errorf("admin TLS pair without the key: %v", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *store.Tx) error {
		return tx.PutTenant(store.Tenant{Key: "acme", Config: []byte(`{}`), Secrets: map[string]string{"api.key": "new"}})
	})
	if !errors.Is(err, store.ErrKeyUnavailable) {
		t.Fatalf("a secret written without the key: %v", err)
	}
	err = db.Update(func(tx *store.Tx) error {
		return tx.PutGroup(store.Group{Tenant: "acme", UID: "cld-2", Name: "Another"})
	})
	if !errors.Is(err, store.ErrKeyUnavailable) {
		t.Fatalf("a write of non-secret data without the key: %v", err)
	}
	if _, err := db.Rekey(); !errors.Is(err, store.ErrKeyUnavailable) {
		t.Fatalf("rekey without the key: %v", err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if fileSum(t, path) != before {
		t.Fatal("the file changed although its key was missing")
	}
}

func TestRekeySealsUnderANewKeyAndKeepsTheValues(t *testing.T) {
	keys := store.NewMemoryKeys()
	path := sealedV2(t, keys)
	backup := filepath.Join(t.TempDir(), "before-rekey.db")
	copyFile(t, path, backup)

	db, err := store.Open(path, store.Options{Keys: keys})
	if err != nil {
		t.Fatal(err)
	}
	oldID, _, _ := db.VaultKey()
	var oldSealed string
	_ = db.View(func(tx *store.Tx) error {
		acme, err := tx.Tenant("acme")
		oldSealed = acme.Sealed["api.key"]
		return err
	})
	mk, err := db.Rekey()
	if err != nil {
		t.Fatal(err)
	}
	newID, _, _ := db.VaultKey()
	if mk.ID == oldID || newID != mk.ID || len(mk.Key) != 0 {
		t.Fatalf("rekey: old %s, new %s, recorded %s, key returned: %d bytes", oldID, mk.ID, newID, len(mk.Key))
	}
	check := func(db *store.DB) {
		t.Helper()
		err := db.View(func(tx *store.Tx) error {
			acme, err := tx.Tenant("acme")
			if err != nil {
				return err
			}
			if acme.Secrets["api.key"] != v2APIKey || acme.Sealed["api.key"] == oldSealed {
				t.Errorf("after rekey: secret %q, sealed value changed: %v", acme.Secrets["api.key"], acme.Sealed["api.key"] != oldSealed)
			}
			set, err := tx.Settings()
			if err == nil && set["devpl-env-secret"].Value != v2DevplSecret {
				t.Errorf("devpl-env-secret after rekey: %+v", set["devpl-env-secret"])
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	check(db)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db, err = store.Open(path, store.Options{Keys: keys})
	if err != nil || db.KeyErr() != nil {
		t.Fatalf("reopen after rekey: %v, %v", err, db.KeyErr())
	}
	check(db)
	db.Close()

	// A backup made before the rekey still opens with the old key, which
	// a rekey does not delete.
	old, err := store.Open(backup, store.Options{Keys: keys})
	if err != nil || old.KeyErr() != nil {
		t.Fatalf("backup from before the rekey: %v, %v", err, old.KeyErr())
	}
	old.Close()
}

// A sealed value moved to another record does not open there.
func TestASealedValueIsBoundToItsRecord(t *testing.T) {
	db := openTemp(t)
	err := db.Update(func(tx *store.Tx) error {
		for _, k := range []string{"acme", "globex"} {
			if err := tx.PutTenant(store.Tenant{Key: k, Config: []byte(`{}`), Secrets: map[string]string{"api.key": "key-of-" + k}}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var acme store.Tenant
	_ = db.View(func(tx *store.Tx) (err error) { acme, err = tx.Tenant("acme"); return err })
	err = db.Update(func(tx *store.Tx) error {
		return tx.PutTenantSealed(store.Tenant{Key: "globex", Config: []byte(`{}`), Sealed: acme.Sealed})
	})
	if err != nil {
		t.Fatal(err)
	}
	err = db.View(func(tx *store.Tx) error { _, err := tx.Tenant("globex"); return err })
	if !errors.Is(err, store.ErrCorrupt) {
		t.Fatalf("acme's sealed key read as globex's: %v", err)
	}
}

// Secrets stay sealed on etcd (SPEC §15 on a cluster): after a data file
// is copied to a member and a tenant with a secret is written there
// directly, neither the member's database nor its write-ahead log holds
// any form of a secret or the admin TLS key in PEM, and the store still
// opens them with the master key.
func TestSecretsSealedOnEtcd(t *testing.T) {
	keys := store.NewMemoryKeys()
	src, err := store.Open(sealedV2(t, keys), store.Options{Keys: keys})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	member := etcdtest.Start(t)
	dst, err := store.OpenURL("etcd://"+member.Endpoint, store.TLSFiles{}, store.Options{Keys: keys})
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	if _, err := store.Copy(dst, src); err != nil {
		t.Fatal(err)
	}
	const fresh = "etcd-beta-api-key-91ab3c"
	if err := dst.Update(func(tx *store.Tx) error {
		return tx.PutTenant(store.Tenant{Key: "beta", Config: []byte(`{"key":"beta"}`), Secrets: map[string]string{"api.key": fresh}})
	}); err != nil {
		t.Fatal(err)
	}
	err = dst.View(func(tx *store.Tx) error {
		acme, err := tx.Tenant("acme")
		if err != nil {
			return err
		}
		beta, err := tx.Tenant("beta")
		if err != nil {
			return err
		}
		if acme.Secrets["api.key"] != v2APIKey || beta.Secrets["api.key"] != fresh {
			t.Errorf("secrets read back on etcd: acme %v, beta %v", acme.Secrets, beta.Secrets)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	var files int
	err = filepath.WalkDir(member.Dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		raw, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		files++
		assertNoSecrets(t, "etcd's "+filepath.Base(path), raw, v2APIKey, v2DevplSecret, fresh)
		if bytes.Contains(raw, []byte("PRIVATE KEY")) {
			t.Errorf("etcd's %s holds the admin TLS private key in PEM", path)
		}
		return nil
	})
	if err != nil || files < 2 {
		t.Fatalf("read %d files of the member's directory: %v", files, err)
	}
}
