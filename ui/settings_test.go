package ui

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"github.com/tenantdesk/tenantdesk/store"
	"github.com/tenantdesk/tenantdesk/tenant/admin"
	"github.com/tenantdesk/tenantdesk/tenant/settings"
)

// openWindowOn builds the main window over the data file at path, as a
// double-click would (nothing given: the service resolves the settings).
func openWindowOn(t *testing.T, path string, ov settings.Overrides) (*mainWindow, *admin.Service, func()) {
	t.Helper()
	a := test.NewTempApp(t)
	db, err := store.Open(path, store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	svc := admin.New(db, admin.Options{Settings: ov})
	var m *mainWindow
	onUI(func() {
		m = newMainWindow(a, svc, Options{Screen: "settings"})
		m.win.Resize(fyne.NewSize(1200, 900))
	})
	return m, svc, func() {
		m.stop()
		time.Sleep(20 * time.Millisecond)
		db.Close()
	}
}

// The Settings screen refuses a bad value beside its field and saves
// nothing; good values are saved, and the next start on the same file
// (a new window over the reopened file) shows them and uses them.
func TestSettingsScreenSavesAndShowsThemAfterARestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ui.db")
	m, svc, closeWin := openWindowOn(t, path, settings.Overrides{})
	s := m.settings
	eventually(t, "settings loaded", func() bool { return s.values != nil })
	onUI(func() {
		s.addr.SetText("127.0.0.1:9555")
		s.publicURL.SetText("not a url")
		s.fields[settings.DevplRefresh].entry.SetText("5s")
		test.Tap(s.save)
	})
	eventually(t, "problems shown", func() bool {
		return s.fields[settings.PublicURL].problem.Visible() && s.fields[settings.DevplRefresh].problem.Visible()
	})
	onUI(func() {
		if got := s.fields[settings.PublicURL].problem.Text; !strings.Contains(got, "not an http(s) URL") {
			t.Errorf("public URL message %q", got)
		}
		if got := s.fields[settings.DevplRefresh].problem.Text; !strings.Contains(got, "shorter than 1m0s") {
			t.Errorf("refresh message %q", got)
		}
		if s.fields[settings.Addr].problem.Visible() {
			t.Error("a good address is marked as a problem")
		}
	})
	if list, _ := svc.Settings(); anyStored(list) {
		t.Fatal("a refused save wrote something")
	}

	onUI(func() {
		s.publicURL.SetText("https://td.example.com")
		s.fields[settings.DevplRefresh].entry.SetText("1h")
		s.fields[settings.DevplEnvSecret].entry.SetText("gui-secret")
		test.Tap(s.save)
	})
	eventually(t, "saved", func() bool { return strings.HasPrefix(s.saveStatus.Text, "Saved ") })
	closeWin()

	// The next start: values come from the file; a variable overrides one
	// of them, and the screen says so.
	m, svc, closeWin = openWindowOn(t, path, settings.Overrides{Getenv: func(k string) string {
		if k == "TENANTDESK_ADDR" {
			return "127.0.0.1:9666"
		}
		return ""
	}})
	defer closeWin()
	s = m.settings
	eventually(t, "settings loaded after restart", func() bool { return s.values != nil })
	onUI(func() {
		if s.addr.Text != "127.0.0.1:9555" || s.publicURL.Text != "https://td.example.com" || s.fields[settings.DevplRefresh].entry.Text != "1h0m0s" {
			t.Errorf("after restart: addr %q public %q refresh %q", s.addr.Text, s.publicURL.Text, s.fields[settings.DevplRefresh].entry.Text)
		}
		if src := s.fields[settings.Addr].source.Text; !strings.Contains(src, "127.0.0.1:9666") || !strings.Contains(src, "TENANTDESK_ADDR") || !strings.Contains(src, "overrides") {
			t.Errorf("address source %q does not name the override", src)
		}
		sec := s.fields[settings.DevplEnvSecret].entry
		if sec.Text != "" || strings.Contains(sec.PlaceHolder, "gui-secret") {
			t.Errorf("secret shown: text %q placeholder %q", sec.Text, sec.PlaceHolder)
		}
	})
	if svc.PublicURL() != "https://td.example.com" || svc.Addr() != "127.0.0.1:9666" {
		t.Fatalf("service starts on %s / %s", svc.Addr(), svc.PublicURL())
	}
}

func anyStored(list []settings.Value) bool {
	for _, v := range list {
		if v.HasStored {
			return true
		}
	}
	return false
}

// Ctrl+Q with the listener serving asks once; Escape stays, Enter quits.
// With nothing at stake it quits at once.
func TestCtrlQAsksOnceAndEnterConfirms(t *testing.T) {
	m, svc := newTestWindow(t)
	if err := svc.StartListener(); err != nil {
		t.Fatal(err)
	}
	defer svc.StopListener(context.Background())
	c := m.win.Canvas()
	ctrlQ := &desktop.CustomShortcut{KeyName: fyne.KeyQ, Modifier: fyne.KeyModifierShortcutDefault}
	var overlays int
	onUI(func() {
		c.(fyne.Shortcutable).TypedShortcut(ctrlQ)
		overlays = len(c.Overlays().List())
	})
	if m.quitting == nil || overlays != 1 {
		t.Fatalf("Ctrl+Q with the listener running: question %v, %d overlays", m.quitting != nil, overlays)
	}
	onUI(func() { c.OnTypedKey()(&fyne.KeyEvent{Name: fyne.KeyEscape}) })
	if m.quitting != nil || m.ctx.Err() != nil {
		t.Fatal("Escape did not keep the app open")
	}
	onUI(func() {
		c.(fyne.Shortcutable).TypedShortcut(ctrlQ)
		if findButton(c.Overlays().Top(), "Quit") == nil {
			t.Error("no Quit button in the question")
		}
		c.OnTypedKey()(&fyne.KeyEvent{Name: fyne.KeyReturn})
	})
	if m.ctx.Err() == nil {
		t.Fatal("Enter did not quit")
	}
}

func TestCtrlQQuitsAtOnceWhenIdle(t *testing.T) {
	m, _ := newTestWindow(t)
	onUI(func() {
		m.win.Canvas().(fyne.Shortcutable).TypedShortcut(&desktop.CustomShortcut{KeyName: fyne.KeyQ, Modifier: fyne.KeyModifierShortcutDefault})
	})
	if m.quitting != nil || m.ctx.Err() == nil {
		t.Fatal("Ctrl+Q with nothing running should quit without asking")
	}
}

func TestAboutShowsTheVersion(t *testing.T) {
	m, _ := newTestWindow(t)
	m.version = "9.8.7"
	var found bool
	onUI(func() {
		m.showAbout()
		found = findLabel(m.win.Canvas().Overlays().Top(), "Version 9.8.7")
	})
	if !found {
		t.Fatal("About does not show the version")
	}
}

// findLabel reports whether a label with exactly text is in a widget tree.
func findLabel(o fyne.CanvasObject, text string) bool {
	switch w := o.(type) {
	case *widget.Label:
		if w.Text == text {
			return true
		}
	case *fyne.Container:
		for _, c := range w.Objects {
			if findLabel(c, text) {
				return true
			}
		}
	}
	if w, ok := o.(fyne.Widget); ok {
		if r := test.WidgetRenderer(w); r != nil {
			for _, c := range r.Objects() {
				if findLabel(c, text) {
					return true
				}
			}
		}
	}
	return false
}
