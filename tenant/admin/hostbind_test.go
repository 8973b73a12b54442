package admin

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/tenantdesk/tenantdesk/tenant"
	"github.com/tenantdesk/tenantdesk/tenant/settings"
)

// A stored api.key goes only to the host it was given for (SPEC §15): a
// save or a Test connection that moves api.host or connec.host with the
// mask in place of the key is refused, and nothing is sent or written;
// the same move with the key given again is saved.
func TestAStoredKeyDoesNotFollowAChangedHost(t *testing.T) {
	s := newService(t)
	var calls atomic.Int32
	attacker := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { calls.Add(1) }))
	defer attacker.Close()
	if _, err := s.SaveTenant(validConfig(t, "acme", "https://api.acme.example"), true); err != nil {
		t.Fatal(err)
	}
	answer, err := s.Tenant("acme")
	if err != nil || answer.API.Key.Reveal() != tenant.Mask {
		t.Fatalf("answer %q, %v", answer.API.Key.Reveal(), err)
	}
	gen := s.db.Generation()

	moved := answer
	moved.API.Host = attacker.URL
	if p, err := s.SaveTenant(moved, false); err == nil || p.Field("api.key") == "" {
		t.Fatalf("api.host moved with the mask: %v, %+v", err, p)
	}
	if _, err := s.TestConnection(context.Background(), moved); err == nil {
		t.Fatal("Test connection sent the stored key to a new api.host")
	}
	viaConnec := answer
	viaConnec.Connec.Host = attacker.URL
	if p, err := s.SaveTenant(viaConnec, false); err == nil || p.Field("api.key") == "" {
		t.Fatalf("connec.host moved with the mask: %v, %+v", err, p)
	}
	if calls.Load() != 0 || s.db.Generation() != gen {
		t.Fatalf("%d requests reached the new host, file written: %v", calls.Load(), s.db.Generation() != gen)
	}

	// The mask with the hosts unchanged keeps the key.
	renamed := answer
	renamed.DisplayName = "Acme, renamed"
	if _, err := s.SaveTenant(renamed, false); err != nil {
		t.Fatal(err)
	}
	if c, _ := s.registry().Get("acme"); c.API.Key.Reveal() != "s3cret-acme" || c.DisplayName != "Acme, renamed" {
		t.Fatalf("kept key %q, name %q", c.API.Key.Reveal(), c.DisplayName)
	}
	// A move with the key given again is the vendor's own choice.
	moved.API.Key = "s3cret-for-the-new-host"
	if _, err := s.SaveTenant(moved, false); err != nil {
		t.Fatal(err)
	}
	if c, _ := s.registry().Get("acme"); c.API.Key.Reveal() != "s3cret-for-the-new-host" || c.API.Host != attacker.URL {
		t.Fatalf("after a move with a key: %q at %s", c.API.Key.Reveal(), c.API.Host)
	}
}

// devpl-host moved alone drops the stored devpl-env-secret; moved with
// the secret given again, both are kept.
func TestChangingDevplHostDropsItsSecret(t *testing.T) {
	s := newService(t)
	s.getenv = func(string) (string, bool) { return "", false }
	for _, kv := range [][2]string{{"devpl-host", "https://developer.example.com"}, {"devpl-env-secret", "the-secret"}} {
		if err := s.SetSetting(kv[0], kv[1]); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.SetSetting("devpl-host", "https://developer.example.com"); err != nil { // the same host
		t.Fatal(err)
	}
	if c, _ := s.DevPlatform(); c.EnvSecret.Reveal() != "the-secret" {
		t.Fatalf("the same host dropped the secret: %q", c.EnvSecret.Reveal())
	}
	if err := s.SetSetting("devpl-host", "https://attacker.example"); err != nil {
		t.Fatal(err)
	}
	if c, _ := s.DevPlatform(); c.EnvSecret.Reveal() != "" {
		t.Fatalf("the secret followed devpl-host to %s", c.Host)
	}
	if err := s.SaveSettings(settingsChanges("devpl-host", "https://developer2.example.com", "devpl-env-secret", "second")); err != nil {
		t.Fatal(err)
	}
	if c, _ := s.DevPlatform(); c.EnvSecret.Reveal() != "second" || c.Host != "https://developer2.example.com" {
		t.Fatalf("host and secret given together: %s %q", c.Host, c.EnvSecret.Reveal())
	}
}

func settingsChanges(kv ...string) []settings.Change {
	var out []settings.Change
	for i := 0; i+1 < len(kv); i += 2 {
		out = append(out, settings.Change{Key: settings.Key(kv[i]), Value: kv[i+1]})
	}
	return out
}
