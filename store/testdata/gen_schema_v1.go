//go:build ignore

// gen_schema_v1 writes schema-v1.db: a data file in the layout of the first
// release (schema 1: plain JSON values, an identity map with only a
// remote-id index whose values held the row id). It is checked in so that
// TestOpenMigratesSchemaV1 keeps proving that old files still open.
// It deliberately uses bbolt directly and none of the store package, so
// that later changes to the store cannot change what "schema 1" means.
//
//	go run ./store/testdata/gen_schema_v1.go
package main

import (
	"encoding/binary"
	"encoding/json"
	"log"
	"os"
	"time"

	"go.etcd.io/bbolt"
)

const out = "store/testdata/schema-v1.db"

func be64(n uint64) []byte {
	b := make([]byte, 8)
	binary.BigEndian.PutUint64(b, n)
	return b
}

func doc(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		log.Fatal(err)
	}
	return b
}

func main() {
	_ = os.Remove(out)
	db, err := bbolt.Open(out, 0o600, &bbolt.Options{Timeout: time.Second})
	if err != nil {
		log.Fatal(err)
	}
	at := time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)
	err = db.Update(func(tx *bbolt.Tx) error {
		b := func(name string) *bbolt.Bucket {
			bk, err := tx.CreateBucket([]byte(name))
			if err != nil {
				log.Fatal(err)
			}
			return bk
		}
		must := func(err error) {
			if err != nil {
				log.Fatal(err)
			}
		}
		must(b("meta").Put([]byte("schema-version"), be64(1)))
		must(b("tenants").Put([]byte("acme"), doc(map[string]any{
			"key": "acme", "config": map[string]any{"name": "Acme Marketplace", "enabled": true},
			"created_at": at, "updated_at": at,
		})))
		must(b("users").Put([]byte("acme\x00usr-1"), doc(map[string]any{
			"tenant": "acme", "uid": "usr-1", "real_uid": "usr-1", "email": "jane@example.com",
			"first_name": "Jane", "last_name": "Doe", "created_at": at, "updated_at": at,
		})))
		must(b("groups").Put([]byte("acme\x00cld-1"), doc(map[string]any{
			"tenant": "acme", "uid": "cld-1", "name": "Jane's Bakery", "currency": "AUD",
			"created_at": at, "updated_at": at,
		})))
		must(b("memberships").Put([]byte("acme\x00cld-1\x00usr-1"), doc(map[string]any{
			"tenant": "acme", "group_uid": "cld-1", "user_uid": "usr-1", "role": "Admin",
			"created_at": at, "updated_at": at,
		})))
		must(b("memberships-user").Put([]byte("acme\x00usr-1\x00cld-1"), nil))
		inv := b("invoices")
		must(inv.SetSequence(1))
		must(inv.Put([]byte("inv-000001"), doc(map[string]any{
			"id": "inv-000001", "tenant": "acme", "group_uid": "cld-1", "number": "INV-1",
			"title": "March", "status": "AUTHORISED", "currency": "AUD",
			"lines":       []map[string]any{{"description": "Bread", "quantity": 2, "unit_price_cents": 450, "total_cents": 900}},
			"total_cents": 900, "tax_cents": 90, "created_at": at, "updated_at": at,
		})))
		must(b("invoices-tenant").Put([]byte("acme\x00inv-000001"), nil))
		idmap, remote := b("idmap"), b("idmap-remote")
		rows := []map[string]any{
			{"id": 1, "tenant": "acme", "group_uid": "cld-1", "local_kind": "group", "local_id": "cld-1",
				"provider": "tenantdesk", "entity": "organizations", "remote_id": "org-9", "name": "Jane's Bakery"},
			{"id": 2, "tenant": "acme", "group_uid": "cld-1", "local_kind": "invoice", "local_id": "inv-000001",
				"provider": "tenantdesk", "entity": "invoices", "remote_id": "c0ffee-1", "name": "INV-1"},
			{"id": 3, "tenant": "acme", "group_uid": "cld-1", "local_kind": "user", "local_id": "usr-1",
				"provider": "tenantdesk", "entity": "people", "remote_id": "p-7", "name": "Jane Doe"},
		}
		for i, r := range rows {
			id := uint64(i + 1)
			r["created_at"], r["updated_at"] = at, at
			must(idmap.Put(be64(id), doc(r)))
			must(remote.Put([]byte(r["tenant"].(string)+"\x00"+r["remote_id"].(string)), be64(id)))
		}
		must(idmap.SetSequence(uint64(len(rows))))
		ev := b("events")
		must(ev.SetSequence(1))
		must(ev.Put(be64(1), doc(map[string]any{"seq": 1, "at": at, "tenant": "acme", "kind": "login", "outcome": "ok", "message": "jane@example.com signed in"})))
		return nil
	})
	if err != nil {
		log.Fatal(err)
	}
	if err := db.Close(); err != nil {
		log.Fatal(err)
	}
}
