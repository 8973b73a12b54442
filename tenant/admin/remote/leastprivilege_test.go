package remote

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tenantdesk/tenantdesk/store"
	"github.com/tenantdesk/tenantdesk/tenant"
	"github.com/tenantdesk/tenantdesk/tenant/admin"
)

// A host-level setting sent to the admin address: 403 with one message
// whatever the value (an existing file, a missing one), and nothing
// stored. On the control socket the same change is made.
func TestAdminAddrRefusesHostLevelSettingsAlikeForEveryPath(t *testing.T) {
	svc := demoService(t)
	_, srv, token := adminAddrClient(t, svc)
	existing := filepath.Join(t.TempDir(), "key.pem")
	if err := os.WriteFile(existing, []byte("-----BEGIN PRIVATE KEY-----\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(t.TempDir(), "no-such-file.pem")
	post := func(changes string) (int, string) {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/v1/SaveSettings", strings.NewReader(changes))
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	gen := svc.DB().Generation()
	for _, key := range []string{"tls-cert", "tls-key"} {
		var answers []string
		for _, path := range []string{existing, missing, "/etc/shadow"} {
			code, body := post(`[{"Key":"` + key + `","Value":"` + path + `"}]`)
			if code != http.StatusForbidden {
				t.Fatalf("%s %s over the admin address: %d %s", key, path, code, body)
			}
			answers = append(answers, strings.ReplaceAll(body, path, "PATH"))
			if strings.Contains(body, "no such file") || strings.Contains(body, "cannot read") {
				t.Errorf("%s %s: the answer tells whether the file exists: %s", key, path, body)
			}
		}
		if answers[0] != answers[1] || answers[1] != answers[2] {
			t.Errorf("%s: the answers differ between an existing and a missing file:\n%s", key, strings.Join(answers, "\n"))
		}
	}
	for _, change := range []string{
		`[{"Key":"addr","Value":"0.0.0.0:80"}]`,
		`[{"Key":"trusted-proxies","Value":"0.0.0.0/0"}]`,
		`[{"Key":"public-url","Value":"https://td.example.net"},{"Key":"trusted-proxies","Unset":true}]`,
	} {
		if code, body := post(change); code != http.StatusForbidden || !strings.Contains(body, "only on the machine itself") {
			t.Errorf("%s over the admin address: %d %s", change, code, body)
		}
	}
	if svc.DB().Generation() != gen {
		t.Fatal("a refused host-level change wrote")
	}
	// What is not host-level still changes from afar.
	if code, body := post(`[{"Key":"public-url","Value":"https://td.example.net"}]`); code != http.StatusOK {
		t.Fatalf("public-url over the admin address: %d %s", code, body)
	}
	// On the machine itself (here: in process) the same change is made.
	if err := svc.SetSetting("tls-key", existing); err != nil {
		t.Fatalf("tls-key on the machine: %v", err)
	}
}

// No answer of the admin address carries a secret: every read method's
// answer is searched for every tenant's api.key, the developer-platform
// secret and the admin TLS private key. The remote backup holds them
// sealed only: none of them, and not the master key, in any form.
func TestNoAnswerCarriesASecretAndTheRemoteBackupHoldsThemSealed(t *testing.T) {
	keys := store.NewMemoryKeys()
	db, err := store.Open(filepath.Join(t.TempDir(), "r.db"), store.Options{NoSync: true, Keys: keys})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	svc := admin.New(db, admin.Options{PublicURL: "https://td.example.com"})
	if _, err := svc.SeedDemo(); err != nil {
		t.Fatal(err)
	}
	const devplSecret = "devpl-secret-9e61c0-never-shown"
	if err := svc.SetSetting("devpl-env-secret", devplSecret); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.AdminTLSCertificate(); err != nil { // the admin address's pair, kept sealed
		t.Fatal(err)
	}
	c, _, _ := adminAddrClient(t, svc)
	secrets := []string{devplSecret}
	var tlsKey []byte
	list, err := tenant.Registry{DB: db}.List()
	for _, cfg := range list {
		secrets = append(secrets, cfg.API.Key.Reveal())
	}
	if err == nil {
		err = db.View(func(tx *store.Tx) error {
			pair, err := tx.AdminAccess(store.AdminTLSPair)
			// 40 characters of the private key's base64 body.
			if i := bytes.Index(pair, []byte("PRIVATE KEY-----\n")); err == nil && i >= 0 {
				tlsKey = pair[i+17:][:40]
			}
			return err
		})
	}
	if err != nil || len(secrets) < 3 || len(tlsKey) != 40 {
		t.Fatalf("secrets of the demo: %d, TLS key %q, %v", len(secrets), tlsKey, err)
	}
	id, _, _ := db.VaultKey()
	master, err := keys.Find(id)
	if err != nil {
		t.Fatal(err)
	}

	var answers bytes.Buffer
	record := func(what string, v any, err error) {
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		b, _ := json.Marshal(v)
		answers.Write(b)
	}
	rows, err := c.Tenants()
	record("tenants", rows, err)
	for _, r := range rows {
		cfg, err := c.Tenant(r.Key)
		record("tenant "+string(r.Key), cfg, err)
		raw, _ := cfg.MarshalStored() // what a client holds, in full
		answers.Write(raw)
	}
	set, err := c.Settings()
	record("settings", set, err)
	one, err := c.Setting("devpl-env-secret")
	record("setting", one, err)
	dp, err := c.DevPlatform()
	record("devpl", dp, err)
	raw, _ := json.Marshal(dp.EnvSecret.Reveal())
	answers.Write(raw)
	doc, err := c.Export("")
	record("export", doc, err)
	pem, err := c.AdminCertificatePEM()
	record("admin cert", pem, err)
	record("data file", c.DataFile(), nil)

	var backup bytes.Buffer
	if _, err := c.Backup(context.Background(), &backup); err != nil {
		t.Fatal(err)
	}
	for what, data := range map[string][]byte{"the answers": answers.Bytes(), "the remote backup": backup.Bytes()} {
		for _, secret := range append(secrets, string(tlsKey)) {
			for _, form := range []string{secret, base64.StdEncoding.EncodeToString([]byte(secret))[:len(secret)]} {
				if bytes.Contains(data, []byte(form)) {
					t.Errorf("%s hold the secret %.12q… as %.16q…", what, secret, form)
				}
			}
		}
		for _, form := range [][]byte{master.Key, []byte(base64.StdEncoding.EncodeToString(master.Key)), []byte(base64.RawStdEncoding.EncodeToString(master.Key))} {
			if bytes.Contains(data, form) {
				t.Errorf("%s hold the master key", what)
			}
		}
	}
	if !bytes.Contains(answers.Bytes(), []byte(tenant.Mask)) {
		t.Error("no answer shows the mask: the test reads nothing")
	}
	// The backup opens, with the key, and its secrets are the real ones.
	path := filepath.Join(t.TempDir(), "remote-backup.db")
	if err := os.WriteFile(path, backup.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	copyDB, err := store.Open(path, store.Options{Keys: keys})
	if err != nil || copyDB.KeyErr() != nil {
		t.Fatalf("the remote backup with its key: %v, %v", err, copyDB.KeyErr())
	}
	defer copyDB.Close()
	restored, err := tenant.Registry{DB: copyDB}.List()
	if err != nil || len(restored) == 0 || restored[0].API.Key.Reveal() == "" {
		t.Fatalf("the remote backup lost the api.keys: %v", err)
	}
}
