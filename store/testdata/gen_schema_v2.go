//go:build ignore

// gen_schema_v2 wrote schema-v2.db: a data file of the last release that
// kept its secrets in plain text (schema 2, commit 4057c1f). It holds one
// tenant with an api.key, the developer-platform secret, an admin token
// hash and the admin address's TLS pair, a group and an identity-map row.
// TestOpenSealsSchemaV2 proves that such a file is sealed on first open.
//
// It used the packages of that commit; run with later code it would write
// the current schema, so the checked-in file is the fixture, not this
// program. It is kept to say how the file was made:
//
//	git checkout 4057c1f && go run ./store/testdata/gen_schema_v2.go
package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"log"
	"log/slog"
	"math/big"
	"os"
	"time"

	"github.com/tenantdesk/tenantdesk/store"
	"github.com/tenantdesk/tenantdesk/tenant"
	"github.com/tenantdesk/tenantdesk/tenant/admin"
	"github.com/tenantdesk/tenantdesk/tenant/settings"
)

const out = "store/testdata/schema-v2.db"

// The secrets the migration test looks for (and must not find) in the
// sealed file.
const (
	apiKey      = "v2-acme-api-key-5f1c9e"
	devplSecret = "v2-devpl-secret-8d2a47"
)

func main() {
	_ = os.Remove(out)
	at := time.Date(2026, 12, 6, 9, 0, 0, 0, time.UTC)
	db, err := store.Open(out, store.Options{})
	must(err)
	cfg := tenant.Config{
		Key: "acme", DisplayName: "Acme Marketplace", Enabled: true,
		API:    tenant.API{ID: "app-acme", Key: apiKey, Host: "https://hub.acme.test"},
		SSO:    tenant.SSO{IdP: "https://hub.acme.test", X509Certificate: idpCert(at)},
		Connec: tenant.Connec{Host: "https://connec.acme.test"},
	}
	must(tenant.Registry{DB: db, Now: func() time.Time { return at }}.Save(cfg))
	must(settings.Apply(db, []settings.Change{
		{Key: settings.DevplHost, Value: "https://developer.acme.test"},
		{Key: settings.DevplEnvKey, Value: "v2-devpl-key"},
		{Key: settings.DevplEnvSecret, Value: devplSecret},
	}, at))
	svc := admin.New(db, admin.Options{Logger: slog.New(slog.DiscardHandler), Now: func() time.Time { return at },
		Addr: "127.0.0.1:0", PublicURL: "http://127.0.0.1:8765"})
	_, err = svc.NewAdminToken()
	must(err)
	_, err = svc.AdminTLSCertificate()
	must(err)
	must(db.Update(func(tx *store.Tx) error {
		if err := tx.PutGroup(store.Group{Tenant: "acme", UID: "cld-1", Name: "Acme Org"}); err != nil {
			return err
		}
		_, err := tx.PutConnected(store.ConnectedObject{Tenant: "acme", GroupUID: "cld-1", LocalKind: "invoice",
			LocalID: "inv-000001", Provider: "connec", Entity: "invoices", RemoteID: "c-1", Name: "INV-1",
			CreatedAt: at, UpdatedAt: at})
		return err
	}))
	must(db.Close())
	// A fresh file is grown to 16 MB; the fixture needs only its pages.
	_, err = store.Compact(out, at, store.Options{})
	must(err)
}

func idpCert(at time.Time) string {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "hub.acme.test"},
		NotBefore: at.AddDate(-1, 0, 0), NotAfter: at.AddDate(20, 0, 0), KeyUsage: x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	must(err)
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

func must(err error) {
	if err != nil {
		log.Fatal(err)
	}
}
