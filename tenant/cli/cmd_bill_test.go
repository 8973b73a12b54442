package cli

import (
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tenantdesk/tenantdesk/tenant/api/apitest"
)

func TestBillRunExitCodesAndNoDoubleBilling(t *testing.T) {
	fake := apitest.NewAccountAPI(t, map[string]string{"app-acme": secretKey + "-acme"})
	fake.FailPosts(func(int) int { return http.StatusServiceUnavailable })
	db := filepath.Join(t.TempDir(), "td.db")
	doc := strings.ReplaceAll(marketplaces(t, "acme"), "https://hub.acme.test", fake.URL())
	doc = strings.Replace(doc, `"marketplace":"acme"`, `"marketplace":"acme","billing":{"price_cents":4900,"currency":"AUD"}`, 1)
	importedDataFile(t, db, doc, billableGroups("acme", "cld-1", "cld-2")...)

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
