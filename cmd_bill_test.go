package main

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tenantdesk/tenantdesk/store"
	"github.com/tenantdesk/tenantdesk/tenant/api/apitest"
)

func TestBillRunExitCodesAndNoDoubleBilling(t *testing.T) {
	fake := apitest.NewAccountAPI(t, map[string]string{"app-acme": secretKey + "-acme"})
	fake.FailPosts(func(int) int { return http.StatusServiceUnavailable })
	db := filepath.Join(t.TempDir(), "td.db")
	doc := strings.ReplaceAll(marketplaces(t, "acme"), "https://hub.acme.test", fake.URL())
	doc = strings.Replace(doc, `"marketplace":"acme"`, `"marketplace":"acme","billing":{"price_cents":4900,"currency":"AUD"}`, 1)
	file := filepath.Join(t.TempDir(), "m.json")
	if err := os.WriteFile(file, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := cli(t, "", "--db", db, "tenant", "import", file); code != 0 {
		t.Fatalf("import: %s", errOut)
	}
	s, err := store.Open(db, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	err = s.Update(func(tx *store.Tx) error {
		for _, g := range []string{"cld-1", "cld-2"} {
			if err := tx.PutGroup(store.Group{Tenant: "acme", UID: g, Name: g, CreatedAt: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}); err != nil {
				return err
			}
		}
		return nil
	})
	s.Close()
	if err != nil {
		t.Fatal(err)
	}

	code, out, _ := cli(t, "", "--db", db, "bill", "preview", "--period", "2026-10")
	if code != 0 || strings.Count(out, "acme") != 2 || !strings.Contains(out, "49.00") {
		t.Fatalf("preview: code %d\n%s", code, out)
	}
	code, out, _ = cli(t, "", "--db", db, "bill", "run", "--period", "2026-10")
	if code == 0 {
		t.Fatalf("a run whose bills all failed exited 0:\n%s", out)
	}
	fake.FailPosts(nil)
	for range 2 { // the retry, then a rerun that must send nothing
		if code, out, errOut := cli(t, "", "--db", db, "bill", "run", "--period", "2026-10"); code != 0 {
			t.Fatalf("run: code %d\n%s\n%s", code, out, errOut)
		}
	}
	fake.ExactlyOne(t, []string{"cld-1", "cld-2"})
}
