package ui

import (
	"context"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/driver/desktop"
)

// setupTray installs the system tray icon and menu when a tray can really
// show them, and reports whether it did.
//
// On Linux the tray is a D-Bus StatusNotifierItem. Without a session bus,
// or with no StatusNotifierWatcher on it, Fyne's systray fails to register
// and then crashes on quit (fyne-io/fyne#6403); a window hidden "to the
// tray" would also be unreachable. So the tray is installed only when a
// watcher answers on the bus.
func (m *mainWindow) setupTray() bool {
	desk, ok := m.app.(desktop.App)
	if !ok || !trayAvailable() {
		return false
	}
	show := fyne.NewMenuItem("Show Tenantdesk", func() { m.win.Show(); m.win.RequestFocus() })
	desk.SetSystemTrayMenu(fyne.NewMenu("Tenantdesk", show))
	desk.SetSystemTrayIcon(appIcon)
	desk.SetSystemTrayWindow(m.win)
	return true
}

// trayAvailable reports whether a system tray can show an icon.
func trayAvailable() bool {
	switch runtime.GOOS {
	case "windows", "darwin":
		return true
	case "android", "ios", "js", "wasip1":
		return false
	}
	if os.Getenv("DBUS_SESSION_BUS_ADDRESS") == "" || os.Getenv("TENANTDESK_NO_TRAY") != "" {
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	// dbus-send ships with every D-Bus install; without it we cannot
	// tell, and no tray is the safe answer.
	out, err := exec.CommandContext(ctx, "dbus-send", "--session", "--print-reply",
		"--dest=org.freedesktop.DBus", "/org/freedesktop/DBus",
		"org.freedesktop.DBus.NameHasOwner", "string:org.kde.StatusNotifierWatcher").Output()
	return err == nil && strings.Contains(string(out), "boolean true")
}
