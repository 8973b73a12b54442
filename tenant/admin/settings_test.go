package admin

import (
	"context"
	"errors"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tenantdesk/tenantdesk/store"
	"github.com/tenantdesk/tenantdesk/tenant/settings"
)

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// A saved address and public URL restart the running listener on them,
// and a new Service on the reopened file starts with them.
func TestSaveSettingsRestartsListenerAndSurvivesReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "td.db")
	db, err := store.Open(path, store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	s := New(db, Options{Addr: "127.0.0.1:0"})
	if err := s.StartListener(); err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	err = s.SaveSettings([]settings.Change{{Key: settings.Addr, Value: addr}, {Key: settings.PublicURL, Value: "https://td.example.com"}})
	if err != nil {
		t.Fatal(err)
	}
	st := s.ListenerStatus()
	if st.State != ListenerRunning || st.Addr != addr || st.PublicURL != "https://td.example.com" {
		t.Fatalf("listener after save: %+v", st)
	}
	resp, err := http.Get("http://" + addr + "/healthz")
	if err != nil {
		t.Fatalf("listener not on the saved address: %v", err)
	}
	resp.Body.Close()
	if err := s.StopListener(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	db, err = store.Open(path, store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	s = New(db, Options{})
	if s.Addr() != addr || s.PublicURL() != "https://td.example.com" {
		t.Fatalf("reopened service starts on %s / %s", s.Addr(), s.PublicURL())
	}
	// A variable beats the stored address.
	s = New(db, Options{Settings: settings.Overrides{Getenv: func(k string) string {
		if k == "TENANTDESK_ADDR" {
			return "127.0.0.1:9999"
		}
		return ""
	}}})
	if s.Addr() != "127.0.0.1:9999" {
		t.Fatalf("TENANTDESK_ADDR ignored: %s", s.Addr())
	}
}

func TestSaveSettingsBadValueChangesNothing(t *testing.T) {
	s := newService(t)
	err := s.SaveSettings([]settings.Change{{Key: settings.PublicURL, Value: "https://ok.example.com"}, {Key: settings.Addr, Value: "no-port"}})
	var se *settings.Error
	if !errors.As(err, &se) || se.Key != settings.Addr {
		t.Fatalf("error %v, want an addr error", err)
	}
	list, err := s.Settings()
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range list {
		if v.HasStored {
			t.Fatalf("%s stored although the save was refused", v.Key)
		}
	}
	if s.PublicURL() != "https://td.example.com" {
		t.Fatalf("public URL changed to %s", s.PublicURL())
	}
	if err := s.SetSetting(string(settings.DevplEnvSecret), "shh-secret"); err != nil {
		t.Fatal(err)
	}
	v, _ := s.Setting(string(settings.DevplEnvSecret))
	if strings.Contains(v.Value+v.Stored, "shh") {
		t.Fatalf("Setting shows the secret: %+v", v)
	}
	r, _ := s.ResolvedSettings()
	if c, _ := r.Devpl(); c.EnvSecret.Reveal() != "shh-secret" {
		t.Fatal("the in-process resolution must carry the secret")
	}
}

// The developer-platform sync reads what `settings set devpl-*` stored,
// under the MNO_DEVPL_* variables.
func TestDevPlatformReadsStoredSettings(t *testing.T) {
	s := newService(t)
	s.getenv = func(name string) (string, bool) {
		if name == "MNO_DEVPL_ENV_KEY" {
			return "from-env", true
		}
		return "", false
	}
	// The host first: a later change of devpl-host drops the stored
	// secret (SPEC §15).
	for _, kv := range [][2]string{{string(settings.DevplHost), "https://devpl.example.com"}, {string(settings.DevplEnvKey), "stored-key"},
		{string(settings.DevplEnvSecret), "stored-secret"}, {string(settings.DevplRefresh), "2h"}} {
		if err := s.SetSetting(kv[0], kv[1]); err != nil {
			t.Fatal(err)
		}
	}
	c, err := s.DevPlatform()
	if err != nil {
		t.Fatal(err)
	}
	if c.Host != "https://devpl.example.com" || c.EnvKey != "from-env" || string(c.EnvSecret) != "stored-secret" || c.Refresh.String() != "2h0m0s" {
		t.Fatalf("developer platform config %+v", c)
	}
}
