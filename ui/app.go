// Package ui is Tenantdesk's Fyne GUI: a main window with a sidebar of
// screens (overview, tenants, identity map, invoices, billing, activity,
// cluster, settings) and a status bar. Each screen is one struct holding
// its widgets, whose methods are the callbacks. The package holds no
// protocol logic and never touches bbolt or the network itself: it calls
// tenant/admin, always off the UI goroutine, and brings results back with
// fyne.Do.
package ui

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/app"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/tenantdesk/tenantdesk/assets"
	"github.com/tenantdesk/tenantdesk/tenant/admin"
)

// AppID is the Fyne application id (as in FyneApp.toml); preferences are
// stored under it.
const AppID = "io.tenantdesk.app"

// Options configure Run.
type Options struct {
	// StartListener starts the embedded listener when the window opens
	// (the double-click path).
	StartListener bool
	// Screen is the screen shown first: overview, tenants, identity,
	// invoices, billing, activity, cluster or settings. Empty reads
	// TENANTDESK_SCREEN, then the last screen used.
	Screen string
	Logger *slog.Logger
	// Server names the Tenantdesk process svc talks to when it is not
	// this one (the owner of the data file, or a remote server): the
	// window shows it in its title and status bar, and neither starts nor
	// stops a listener of its own.
	Server string
	// Version is shown in Help → About (FyneApp.toml's version).
	Version string

	secondary bool // a window opened by Connect to server…
}

// Run shows the main window and blocks until the app quits, or until ctx
// ends (SIGINT/SIGTERM in main), which quits it cleanly. The listener is
// stopped gracefully before Run returns.
func Run(ctx context.Context, svc admin.API, opt Options) error {
	a := app.NewWithID(AppID)
	a.SetIcon(appIcon)
	if opt.Screen == "" {
		opt.Screen = os.Getenv("TENANTDESK_SCREEN")
	}
	m := newMainWindow(a, svc, opt)
	go func() {
		// A file whose key is missing opens all the same: say so once.
		if locked := svc.DataFile().SecretsLocked; locked != "" {
			uiDo(func() { m.showError("The secrets of this data file are locked", errors.New(locked)) })
		}
	}()
	if opt.StartListener {
		go func() {
			if err := svc.StartListener(); err != nil {
				m.log.Error("start listener", "err", err)
				uiDo(func() { m.showError("Listener did not start", err) })
			}
		}()
	}
	go func() {
		select {
		case <-ctx.Done():
			uiDo(m.quit)
		case <-m.ctx.Done():
		}
	}()
	m.win.ShowAndRun()
	m.stop()
	if opt.Server != "" {
		return nil // the listener is the server's, not this window's
	}
	stopCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return svc.StopListener(stopCtx)
}

// appIcon is the embedded application icon.
var appIcon = fyne.NewStaticResource("icon.png", assets.IconPNG)

// screen is one entry of the sidebar.
type screen interface {
	// content is the screen's widget tree, built once.
	content() fyne.CanvasObject
	// shown is called each time the screen is navigated to; it reloads
	// what may have changed.
	shown()
}

type screenEntry struct {
	id, title string
	icon      fyne.Resource
	screen    screen
}

// reloadWhileShown calls reload on the UI goroutine every `every` while
// screen is the one on show, until the window goes: the live screens'
// refresh (Overview, Cluster).
func (m *mainWindow) reloadWhileShown(screen screen, every time.Duration, reload func()) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-m.ctx.Done():
			return
		case <-t.C:
			uiDo(func() {
				if m.current >= 0 && m.entries[m.current].screen == screen {
					reload()
				}
			})
		}
	}
}

// mainWindow is the one window of the app: sidebar, current screen and
// status bar.
type mainWindow struct {
	app fyne.App
	win fyne.Window
	svc admin.API
	log *slog.Logger
	// server names the Tenantdesk process this window works on when it
	// is not this one (Connect to server…, or the owner of the data
	// file): shown in the title and the status bar.
	server string
	// secondary windows (Connect to server…) close alone; the first
	// window's close quits the app.
	secondary bool
	onClose   func() // a secondary window's clean-up (drop its connection)
	version   string
	quitting  *quitAsk // the open quit question (Ctrl+Q), if any

	// ctx ends when the window goes away; every poller of the UI stops on it.
	ctx  context.Context
	stop context.CancelFunc

	entries []screenEntry
	current int
	sidebar *widget.List
	body    *fyne.Container
	status  *statusBar
	tray    bool // a system tray icon is installed

	overview *overviewScreen
	tenants  *tenantsScreen
	idmap    *idmapScreen
	invoices *invoicesScreen
	billing  *billingScreen
	activity *activityScreen
	cluster  *clusterScreen
	settings *settingsScreen
}

// Preference keys (UI settings only).
const (
	prefWidth  = "window.width"
	prefHeight = "window.height"
	prefScreen = "window.screen"
	prefTheme  = "theme"
)

func newMainWindow(a fyne.App, svc admin.API, opt Options) *mainWindow {
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	ctx, stop := context.WithCancel(context.Background())
	m := &mainWindow{app: a, svc: svc, log: opt.Logger, ctx: ctx, stop: stop, current: -1, version: opt.Version,
		server: opt.Server, secondary: opt.secondary}
	m.win = a.NewWindow(windowTitle(opt.Server))
	applyTheme(a, a.Preferences().StringWithFallback(prefTheme, themeSystem))

	m.overview = newOverviewScreen(m)
	m.tenants = newTenantsScreen(m)
	m.idmap = newIdmapScreen(m)
	m.invoices = newInvoicesScreen(m)
	m.billing = newBillingScreen(m)
	m.activity = newActivityScreen(m)
	m.cluster = newClusterScreen(m)
	m.settings = newSettingsScreen(m)
	m.entries = []screenEntry{
		{"overview", "Overview", theme.HomeIcon(), m.overview},
		{"tenants", "Tenants", theme.AccountIcon(), m.tenants},
		{"identity", "Identity map", theme.GridIcon(), m.idmap},
		{"invoices", "Invoices", theme.DocumentIcon(), m.invoices},
		{"billing", "Billing", theme.StorageIcon(), m.billing},
		{"activity", "Activity", theme.HistoryIcon(), m.activity},
		{"cluster", "Cluster", theme.ComputerIcon(), m.cluster},
		{"settings", "Settings", theme.SettingsIcon(), m.settings},
	}
	m.status = newStatusBar(m)
	m.body = container.NewStack()
	m.sidebar = widget.NewList(
		func() int { return len(m.entries) },
		func() fyne.CanvasObject {
			return container.NewHBox(widget.NewIcon(theme.AccountIcon()), widget.NewLabel("Identity map"))
		},
		func(id widget.ListItemID, o fyne.CanvasObject) {
			box := o.(*fyne.Container)
			box.Objects[0].(*widget.Icon).SetResource(m.entries[id].icon)
			box.Objects[1].(*widget.Label).SetText(m.entries[id].title)
		},
	)
	m.sidebar.OnSelected = func(id widget.ListItemID) { m.show(id) }

	title := widget.NewLabelWithStyle("Tenantdesk", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	var head fyne.CanvasObject = container.NewPadded(title)
	if m.server != "" {
		head = container.NewPadded(container.NewVBox(title, serverBadge(m.server)))
	}
	side := container.NewBorder(head, m.status.listenerBox(), nil, nil, m.sidebar)
	split := container.NewHSplit(side, m.body)
	split.Offset = 0.14
	m.win.SetContent(container.NewBorder(nil, m.status.content(), nil, nil, split))
	m.win.SetMainMenu(m.mainMenu())
	m.addShortcuts()
	m.win.SetCloseIntercept(m.closeRequested)
	m.restoreSize()
	if !m.secondary {
		m.win.SetMaster()
		m.tray = m.server == "" && m.setupTray()
	}

	first := m.screenIndex(opt.Screen)
	if first < 0 {
		first = m.screenIndex(a.Preferences().String(prefScreen))
	}
	if first < 0 {
		first = 0
	}
	m.sidebar.Select(first)
	m.status.start()
	m.activity.start()
	return m
}

func (m *mainWindow) screenIndex(id string) int {
	id = strings.ToLower(strings.TrimSpace(id))
	for i, e := range m.entries {
		if e.id == id || (id == "idmap" && e.id == "identity") {
			return i
		}
	}
	return -1
}

// show switches the body to screen i.
func (m *mainWindow) show(i int) {
	if i < 0 || i >= len(m.entries) {
		return
	}
	if m.current != i {
		m.current = i
		m.body.Objects = []fyne.CanvasObject{m.entries[i].screen.content()}
		m.body.Refresh()
		m.app.Preferences().SetString(prefScreen, m.entries[i].id)
	}
	m.entries[i].screen.shown()
}

// showScreen navigates by id (menus, shortcuts).
func (m *mainWindow) showScreen(id string) {
	switch i := m.screenIndex(id); {
	case i < 0:
	case i == m.current:
		m.show(i) // the list does not re-select its selected item; reload anyway
	default:
		m.sidebar.Select(i)
	}
}

func (m *mainWindow) mainMenu() *fyne.MainMenu {
	newTenant := fyne.NewMenuItem("New tenant", func() { m.showScreen("tenants"); m.tenants.newTenant() })
	newTenant.Shortcut = &desktop.CustomShortcut{KeyName: fyne.KeyN, Modifier: fyne.KeyModifierShortcutDefault}
	find := fyne.NewMenuItem("Find", m.focusSearch)
	find.Shortcut = &desktop.CustomShortcut{KeyName: fyne.KeyF, Modifier: fyne.KeyModifierShortcutDefault}
	// Our own Quit item, so that Fyne adds none that would quit without
	// asking.
	quit := fyne.NewMenuItem("Quit", m.quitRequested)
	quit.IsQuit = true
	quit.Shortcut = &desktop.CustomShortcut{KeyName: fyne.KeyQ, Modifier: fyne.KeyModifierShortcutDefault}
	var goItems []*fyne.MenuItem
	for i, e := range m.entries {
		id := e.id
		it := fyne.NewMenuItem(e.title, func() { m.showScreen(id) })
		it.Shortcut = &desktop.CustomShortcut{KeyName: fyne.KeyName(string(rune('1' + i))), Modifier: fyne.KeyModifierShortcutDefault}
		goItems = append(goItems, it)
	}
	return fyne.NewMainMenu(
		fyne.NewMenu("File",
			newTenant,
			fyne.NewMenuItem("Import tenants…", func() { m.showScreen("tenants"); m.tenants.importFile() }),
			fyne.NewMenuItem("New invoice", func() { m.showScreen("invoices"); m.invoices.newInvoice() }),
			fyne.NewMenuItemSeparator(),
			fyne.NewMenuItem("Export identity map as CSV…", func() { m.showScreen("identity"); m.idmap.exportCSV() }),
			fyne.NewMenuItemSeparator(),
			fyne.NewMenuItem("Connect to server…", m.connectToServer),
			fyne.NewMenuItemSeparator(),
			fyne.NewMenuItem("Backup…", m.backupFile),
			fyne.NewMenuItem("Restore…", m.restoreFile),
			quit,
		),
		fyne.NewMenu("Edit", find),
		fyne.NewMenu("Go", goItems...),
		fyne.NewMenu("Help", fyne.NewMenuItem("About Tenantdesk", m.showAbout)),
	)
}

// addShortcuts registers the window's keyboard shortcuts: the menu ones
// (so they work where the menu is hidden too) and Delete.
func (m *mainWindow) addShortcuts() {
	c := m.win.Canvas()
	c.AddShortcut(&desktop.CustomShortcut{KeyName: fyne.KeyN, Modifier: fyne.KeyModifierShortcutDefault},
		func(fyne.Shortcut) { m.showScreen("tenants"); m.tenants.newTenant() })
	c.AddShortcut(&desktop.CustomShortcut{KeyName: fyne.KeyF, Modifier: fyne.KeyModifierShortcutDefault},
		func(fyne.Shortcut) { m.focusSearch() })
	for i := range m.entries {
		id := m.entries[i].id
		c.AddShortcut(&desktop.CustomShortcut{KeyName: fyne.KeyName(string(rune('1' + i))), Modifier: fyne.KeyModifierShortcutDefault},
			func(fyne.Shortcut) { m.showScreen(id) })
	}
	// Delete reaches the canvas only when no entry has the focus, so it
	// never fights with editing text.
	c.AddShortcut(&desktop.CustomShortcut{KeyName: fyne.KeyQ, Modifier: fyne.KeyModifierShortcutDefault},
		func(fyne.Shortcut) { m.quitRequested() })
	c.SetOnTypedKey(func(ev *fyne.KeyEvent) {
		if m.typedKeyWhileAsking(ev) {
			return
		}
		if ev.Name == fyne.KeyDelete && m.current >= 0 && m.entries[m.current].id == "tenants" {
			m.tenants.confirmDelete()
		}
	})
}

// focusSearch puts the cursor in the current screen's search box.
func (m *mainWindow) focusSearch() {
	if m.current < 0 {
		return
	}
	var target fyne.Focusable
	switch m.entries[m.current].screen {
	case m.tenants:
		target = m.tenants.search
	case m.idmap:
		target = m.idmap.search
	case m.invoices:
		target = m.invoices.search
	case m.activity:
		target = m.activity.search
	}
	if target != nil {
		m.win.Canvas().Focus(target)
	}
}

// restoreSize applies the remembered window size.
func (m *mainWindow) restoreSize() {
	p := m.app.Preferences()
	w := float32(p.FloatWithFallback(prefWidth, 1200))
	h := float32(p.FloatWithFallback(prefHeight, 740))
	// Clamp: a size saved on a bigger screen must not push the window
	// off a smaller one.
	m.win.Resize(fyne.NewSize(min(max(w, 800), 1920), min(max(h, 500), 1080)))
}

func (m *mainWindow) rememberSize() {
	s := m.win.Canvas().Size()
	if s.Width >= 400 && s.Height >= 300 && s.Width <= 4096 && s.Height <= 4096 {
		m.app.Preferences().SetFloat(prefWidth, float64(s.Width))
		m.app.Preferences().SetFloat(prefHeight, float64(s.Height))
	}
}

// closeRequested asks what to do when the window closes with the listener
// running: keep serving from the tray (where there is one) or quit.
func (m *mainWindow) closeRequested() {
	m.rememberSize()
	if m.secondary {
		m.closeSecondary()
		return
	}
	st := m.svc.ListenerStatus()
	if st.State != admin.ListenerRunning || m.server != "" {
		m.quit()
		return
	}
	msg := widget.NewLabel("The listener is answering tenants on " + st.PublicURL + ".\n" +
		"Quitting stops it: sign-ins and webhooks fail until Tenantdesk runs again.")
	msg.Wrapping = fyne.TextWrapWord
	var d *dialog.CustomDialog
	buttons := []fyne.CanvasObject{
		widget.NewButton("Cancel", func() { d.Hide() }),
	}
	if m.tray {
		msg.SetText(msg.Text + "\nKeep it running in the system tray instead?")
		buttons = append(buttons, widget.NewButtonWithIcon("Keep running in tray", theme.VisibilityOffIcon(), func() {
			d.Hide()
			m.win.Hide()
		}))
	}
	quit := widget.NewButtonWithIcon("Stop listener and quit", theme.LogoutIcon(), func() { d.Hide(); m.quit() })
	quit.Importance = widget.DangerImportance
	buttons = append(buttons, quit)
	d = dialog.NewCustomWithoutButtons("Quit Tenantdesk?", container.NewPadded(msg), m.win)
	d.SetButtons(buttons)
	d.Resize(fyne.NewSize(520, 200))
	d.Show()
}

// quit stops the pollers and ends the app; Run then stops the listener.
func (m *mainWindow) quit() {
	m.rememberSize()
	m.stop()
	m.app.Quit()
}

// showError shows err in a dialog titled what.
func (m *mainWindow) showError(what string, err error) {
	l := widget.NewLabel(err.Error())
	l.Wrapping = fyne.TextWrapWord
	d := dialog.NewCustom(what, "Close", container.NewVScroll(l), m.win)
	d.Resize(fyne.NewSize(560, 240))
	d.Show()
}

// loadSeq drops the result of a load that a newer load of the same thing
// has overtaken (background loads finish in any order). Both of its calls
// happen on the UI goroutine.
type loadSeq struct{ n int }

// next starts a load and returns the check its result must pass.
func (l *loadSeq) next() (current func() bool) {
	l.n++
	n := l.n
	return func() bool { return n == l.n }
}

// uiDo hands fn to the UI goroutine (fyne.Do). It is a variable so that
// tests on Fyne's test driver, which runs fn at once on the calling
// goroutine, can serialise these callbacks with the test's own steps.
var uiDo = fyne.Do

// background runs work off the UI goroutine and hands its outcome to done
// on the UI goroutine.
// loadTenantFilter fills a tenant filter with "All tenants" and every
// tenant key, off the UI goroutine, then hands the keys to then (if set).
func (m *mainWindow) loadTenantFilter(sel *widget.Select, then func(keys []string)) {
	background(m.svc.Tenants, func(list []admin.TenantSummary, err error) {
		if err != nil {
			m.log.Warn("list tenants", "err", err)
			return
		}
		opts := []string{allTenants}
		for _, t := range list {
			opts = append(opts, string(t.Key))
		}
		sel.SetOptions(opts)
		if then != nil {
			then(opts[1:])
		}
	})
}

func background[T any](work func() (T, error), done func(T, error)) {
	go func() {
		v, err := work()
		uiDo(func() { done(v, err) })
	}()
}
