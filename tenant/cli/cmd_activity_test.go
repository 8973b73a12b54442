package cli

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tenantdesk/tenantdesk/store"
)

func TestActivityNewestFirstWithLoginUIDs(t *testing.T) {
	db := filepath.Join(t.TempDir(), "td.db")
	s, err := store.Open(db, testStoreOptions())
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 3, 9, 0, 0, 0, time.UTC)
	err = s.Update(func(tx *store.Tx) error {
		for _, e := range []store.Event{
			{At: at, Tenant: "acme", Kind: store.EventLogin, Outcome: "ok", UserUID: "usr-1", GroupUID: "cld-1", Message: "usr-1 signed in to group cld-1 as Admin"},
			{At: at.Add(time.Minute), Tenant: "globex", Kind: store.EventWebhook, Outcome: "ok", Reason: "group-cancelled", Message: "group cld-9 cancelled: 0 memberships ended"},
			{At: at.Add(2 * time.Minute), Tenant: "acme", Kind: store.EventAuth, Outcome: "failed", Reason: "bad_credentials", Count: 412, Message: "412× in the minute from 09:02: Basic-auth request refused: bad credentials"},
		} {
			if _, err := tx.AppendEvent(e); err != nil {
				return err
			}
		}
		return nil
	})
	s.Close()
	if err != nil {
		t.Fatal(err)
	}

	code, out, errOut := cli(t, "", "--db", db, "activity")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 4 || !strings.HasPrefix(lines[0], "TIME") {
		t.Fatalf("table:\n%s", out)
	}
	for i, want := range []string{"bad_credentials", "group-cancelled", "signed in"} {
		if !strings.Contains(lines[i+1], want) {
			t.Errorf("row %d %q: want %q (newest first)", i+1, lines[i+1], want)
		}
	}
	if f := strings.Fields(lines[3]); len(f) < 8 || f[6] != "usr-1" || f[7] != "cld-1" {
		t.Errorf("login row does not name user and group: %q", lines[3])
	}
	if f := strings.Fields(lines[1]); len(f) < 6 || f[5] != "412" {
		t.Errorf("aggregated row lacks its count: %q", lines[1])
	}

	code, out, errOut = cli(t, "", "--db", db, "activity", "--tenant", "acme", "--limit", "1", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var evs []store.Event
	if err := json.Unmarshal([]byte(out), &evs); err != nil {
		t.Fatalf("--json: %v\n%s", err, out)
	}
	if len(evs) != 1 || evs[0].Tenant != "acme" || evs[0].Count != 412 {
		t.Errorf("--tenant acme --limit 1: %+v", evs)
	}
	code, out, _ = cli(t, "", "--db", db, "activity", "--tenant", "acme", "--json")
	if err := json.Unmarshal([]byte(out), &evs); code != 0 || err != nil || len(evs) != 2 || evs[1].UserUID != "usr-1" || evs[1].GroupUID != "cld-1" {
		t.Errorf("--tenant acme: exit %d, %v, %+v", code, err, evs)
	}

	for _, bad := range [][]string{{"--limit", "-1"}, {"--tenant", "Not A Key"}, {"extra"}} {
		if code, _, errOut := cli(t, "", append([]string{"--db", db, "activity"}, bad...)...); code == 0 || errOut == "" {
			t.Errorf("activity %v: exit %d, stderr %q", bad, code, errOut)
		}
	}
}
