package cli

import (
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tenantdesk/tenantdesk/store"
	"github.com/tenantdesk/tenantdesk/tenant/connec/connectest"
)

func TestConnecPullCountsAndExitCodes(t *testing.T) {
	emu := connectest.New("app-acme", secretKey+"-acme")
	defer emu.Close()
	at := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	for i := 1; i <= 150; i++ {
		emu.Add("cld-1", "invoices", connectest.Invoice(fmt.Sprintf("c-%03d", i), i, at))
	}
	db := filepath.Join(t.TempDir(), "td.db")
	doc := strings.ReplaceAll(marketplaces(t, "acme"), "https://connec.acme.test", emu.URL)
	importedDataFile(t, db, doc, store.Group{Tenant: "acme", UID: "cld-1", Name: "Doe Corp"})

	code, out, errOut := cli(t, "", "--db", db, "connec", "pull")
	if code != 0 || !strings.Contains(out, "invoices: 150 stored, 0 unchanged, 0 skipped") || !strings.Contains(out, "acme    cld-1  invoices    150") {
		t.Fatalf("first pull: code %d\n%s\n%s", code, out, errOut)
	}
	code, out, _ = cli(t, "", "--db", db, "connec", "pull", "--tenant", "acme", "--group", "cld-1", "--full")
	if code != 0 || !strings.Contains(out, "invoices: 0 stored, 150 unchanged, 0 skipped") {
		t.Fatalf("second pull: code %d\n%s", code, out)
	}
	emu.FailPage("invoices", 100, http.StatusUnauthorized, 1)
	code, out, errOut = cli(t, "", "--db", db, "connec", "pull", "--full")
	if code == 0 || !strings.Contains(out, "incomplete") || !strings.Contains(errOut, "did not read every page") {
		t.Fatalf("pull with a refused page exited %d\n%s\n%s", code, out, errOut)
	}
	for _, bad := range [][]string{{"connec"}, {"connec", "pull", "--tenant", "Not A Key"}, {"connec", "pull", "--group", "cld 1"}, {"connec", "pull", "--tenant", "nope"}} {
		if code, _, errOut := cli(t, "", append([]string{"--db", db}, bad...)...); code == 0 || errOut == "" {
			t.Errorf("%v: exit %d, stderr %q", bad, code, errOut)
		}
	}
}

// connec pull through the running instance prints what it prints on a
// closed file, with the same exit code.
func TestConnecPullThroughTheOwnerIsTheSameAsOnAClosedFile(t *testing.T) {
	emu := connectest.New("app-acme", secretKey+"-acme")
	defer emu.Close()
	for i := 1; i <= 120; i++ {
		emu.Add("cld-1", "invoices", connectest.Invoice(fmt.Sprintf("c-%03d", i), i, time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)))
	}
	dir := t.TempDir()
	seed, db := filepath.Join(dir, "seed.db"), filepath.Join(dir, "td.db")
	importedDataFile(t, seed, strings.ReplaceAll(marketplaces(t, "acme"), "https://connec.acme.test", emu.URL),
		store.Group{Tenant: "acme", UID: "cld-1", Name: "Doe Corp"})
	for _, args := range [][]string{{"connec", "pull"}, {"connec", "pull", "--tenant", "nope"}, {"connec", "pull", "--group", "cld-404", "--tenant", "acme"}} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			args := append([]string{"--db", db}, args...)
			copyFile(t, seed, db)
			emu.Unlink()
			code, out, errOut := cli(t, "", args...)
			copyFile(t, seed, db)
			emu.Unlink()
			owner(t, db)
			code2, out2, errOut2 := cli(t, "", args...)
			if code != code2 || out != out2 || errOut != errOut2 {
				t.Fatalf("closed file: exit %d\n%s%s\nthrough the owner: exit %d\n%s%s", code, out, errOut, code2, out2, errOut2)
			}
			t.Logf("exit %d\n%s%s", code, out, errOut)
		})
	}
}
