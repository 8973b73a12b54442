package ui

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/tenantdesk/tenantdesk/store"
	"github.com/tenantdesk/tenantdesk/tenant/admin"
	"github.com/tenantdesk/tenantdesk/tenant/settings"
)

// settingsScreen holds the settings kept in the data file (listener,
// TLS, developer platform), the listener's controls, the data file and
// the appearance.
type settingsScreen struct {
	m *mainWindow

	fields          map[settings.Key]*settingField
	addr, publicURL *widget.Entry
	save            *widget.Button
	saveStatus      *widget.Label
	state           *widget.Label
	start, stop     *widget.Button
	path, size      *widget.Label
	data            *widget.Card // the data file's, or the etcd store's
	theme           *widget.RadioGroup
	root            fyne.CanvasObject
	loads           loadSeq
	values          map[settings.Key]settings.Value // as last loaded
}

// settingField is one setting's entry, where its value comes from, and
// its validation message.
type settingField struct {
	key     settings.Key
	entry   *widget.Entry
	source  *widget.Label
	problem *widget.Label
}

// settingLabels are the form's names for the settings.
var settingLabels = map[settings.Key]string{
	settings.Addr: "Address", settings.PublicURL: "Public URL",
	settings.TLSCert: "TLS certificate file", settings.TLSKey: "TLS key file", settings.TrustedProxies: "Trusted proxies",
	settings.DevplHost: "Host", settings.DevplAPIPath: "API path", settings.DevplEnvName: "Environment name",
	settings.DevplEnvKey: "Environment key", settings.DevplEnvSecret: "Environment secret", settings.DevplRefresh: "Re-sync every",
}

func (s *settingsScreen) newField(key settings.Key, secret bool) *widget.FormItem {
	f := &settingField{key: key, entry: widget.NewEntry()}
	if secret {
		f.entry = widget.NewPasswordEntry()
	}
	f.source = widget.NewLabel("")
	f.source.Wrapping = fyne.TextWrapWord
	f.source.SizeName = theme.SizeNameCaptionText
	f.problem = widget.NewLabel("")
	f.problem.Importance = widget.DangerImportance
	f.problem.Wrapping = fyne.TextWrapWord
	f.problem.Hide()
	s.fields[key] = f
	return widget.NewFormItem(settingLabels[key], container.NewVBox(f.entry, f.source, f.problem))
}

func newSettingsScreen(m *mainWindow) *settingsScreen {
	s := &settingsScreen{m: m, fields: map[settings.Key]*settingField{}}
	listenerForm := widget.NewForm(s.newField(settings.Addr, false), s.newField(settings.PublicURL, false),
		s.newField(settings.TLSCert, false), s.newField(settings.TLSKey, false), s.newField(settings.TrustedProxies, false))
	devplForm := widget.NewForm(s.newField(settings.DevplHost, false), s.newField(settings.DevplAPIPath, false),
		s.newField(settings.DevplEnvName, false), s.newField(settings.DevplEnvKey, false),
		s.newField(settings.DevplEnvSecret, true), s.newField(settings.DevplRefresh, false))
	s.addr, s.publicURL = s.fields[settings.Addr].entry, s.fields[settings.PublicURL].entry
	s.publicURL.SetPlaceHolder("https://tenantdesk.example.com (what the tenants reach)")
	s.fields[settings.TrustedProxies].entry.SetPlaceHolder("10.0.0.1, 192.168.0.0/16 (reverse proxies in front)")
	s.fields[settings.DevplRefresh].entry.SetPlaceHolder("off (e.g. 1h)")
	s.save = widget.NewButtonWithIcon("Save settings", theme.DocumentSaveIcon(), s.saveSettings)
	s.save.Importance = widget.HighImportance
	s.saveStatus = widget.NewLabel("Saved in the data file: the next start (double-click or serve) uses them. Flags and environment variables still win.")
	s.saveStatus.Wrapping = fyne.TextWrapWord

	s.state = widget.NewLabelWithStyle("", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	s.state.Wrapping = fyne.TextWrapWord
	s.start = widget.NewButtonWithIcon("Start listener", theme.MediaPlayIcon(), s.startListener)
	s.start.Importance = widget.HighImportance
	s.stop = widget.NewButtonWithIcon("Stop listener", theme.MediaStopIcon(), s.stopListener)

	s.path = widget.NewLabel("")
	s.path.Selectable = true
	s.path.Wrapping = fyne.TextWrapBreak
	s.size = widget.NewLabel("")
	copyPath := widget.NewButtonWithIcon("Copy path", theme.ContentCopyIcon(), func() { m.app.Clipboard().SetContent(s.path.Text) })

	s.theme = widget.NewRadioGroup([]string{"System", "Light", "Dark"}, func(v string) {
		choice := map[string]string{"System": themeSystem, "Light": themeLight, "Dark": themeDark}[v]
		if choice == "" {
			return
		}
		m.app.Preferences().SetString(prefTheme, choice)
		applyTheme(m.app, choice)
	})
	s.theme.Horizontal = true
	s.theme.SetSelected(map[string]string{themeSystem: "System", themeLight: "Light", themeDark: "Dark"}[m.app.Preferences().StringWithFallback(prefTheme, themeSystem)])

	listener := widget.NewCard("Listener", "Tenants call this process for SSO, webhooks and Connec! notifications.",
		container.NewVBox(listenerForm, s.state, container.NewHBox(s.start, s.stop)))
	devpl := widget.NewCard("Developer platform", "Where `tenant sync` and Sync from developer platform fetch the marketplaces document.", devplForm)
	saveBar := container.NewBorder(nil, nil, nil, s.save, s.saveStatus)
	s.data = widget.NewCard("Data file", "One bbolt file holds tenants, users, the identity map, invoices, bills, activity and these settings.",
		container.NewVBox(widget.NewForm(widget.NewFormItem("Location", s.path), widget.NewFormItem("Size", s.size)), container.NewHBox(copyPath)))
	look := widget.NewCard("Appearance", "", widget.NewForm(widget.NewFormItem("Theme", s.theme)))
	title := widget.NewLabelWithStyle("Settings", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	s.root = container.NewBorder(container.NewPadded(title), container.NewPadded(saveBar), nil, nil,
		container.NewVScroll(container.NewPadded(container.NewVBox(listener, devpl, s.data, look))))
	return s
}

// loadSettings fills the form with what the data file keeps and says,
// under each field, where the value in effect comes from.
func (s *settingsScreen) loadSettings() {
	current := s.loads.next()
	background(s.m.svc.Settings, func(list []settings.Value, err error) {
		if !current() {
			return
		}
		if err != nil {
			s.saveStatus.SetText("Could not read the settings: " + err.Error())
			return
		}
		s.values = map[settings.Key]settings.Value{}
		for _, v := range list {
			s.values[v.Key] = v
			f := s.fields[v.Key]
			if f == nil {
				continue
			}
			f.entry.SetText(v.Stored)
			if v.Secret {
				f.entry.SetText("")
				f.entry.SetPlaceHolder("not set")
				if v.HasStored {
					f.entry.SetPlaceHolder("•••••••• kept — type to replace")
				}
			} else if !v.HasStored && f.key != settings.PublicURL && f.key != settings.TrustedProxies && f.key != settings.DevplRefresh {
				f.entry.SetPlaceHolder(v.Value)
			}
			f.source.SetText(sourceText(v))
			f.problem.SetText(v.Problem)
			f.problem.Hidden = v.Problem == ""
			f.problem.Refresh()
		}
	})
}

// sourceText says where the value in effect comes from.
func sourceText(v settings.Value) string {
	switch {
	case v.Overridden():
		return fmt.Sprintf("In effect: %s — from %s %s, which overrides the value saved here.", orNone(v.Value), v.Source, v.Origin)
	case v.Source == settings.FromFlag || v.Source == settings.FromEnv:
		return fmt.Sprintf("In effect: %s — from %s %s.", orNone(v.Value), v.Source, v.Origin)
	case v.Source == settings.FromStored:
		return "Saved in the data file."
	case v.Value == "":
		return "Not set."
	}
	return "Default: " + v.Value
}

func orNone(v string) string {
	if v == "" {
		return "(none)"
	}
	return v
}

// changes are the edits of the form against what was loaded: a cleared
// field unsets its key; a secret is only replaced when something is typed.
func (s *settingsScreen) changes(only ...settings.Key) []settings.Change {
	var out []settings.Change
	for _, d := range settings.Defs {
		f := s.fields[d.Key]
		if f == nil || (len(only) > 0 && !slices.Contains(only, d.Key)) {
			continue
		}
		text := strings.TrimSpace(f.entry.Text)
		v := s.values[d.Key]
		switch {
		case d.Secret && text == "":
		case text == "" && v.HasStored:
			out = append(out, settings.Change{Key: d.Key, Unset: true})
		case text != "" && (text != v.Stored || !v.HasStored):
			out = append(out, settings.Change{Key: d.Key, Value: text})
		}
	}
	return out
}

// showProblems puts each refused value's message under its field; what
// names no field goes to the status line.
func (s *settingsScreen) showProblems(err error) {
	for _, f := range s.fields {
		f.problem.SetText("")
		f.problem.Hide()
	}
	placed := false
	for _, se := range settingErrors(err) {
		if f := s.fields[se.Key]; f != nil {
			f.problem.SetText(se.Err.Error())
			f.problem.Show()
			placed = true
		}
	}
	if placed {
		s.saveStatus.SetText("Nothing saved: fix the fields marked in red.")
	} else {
		s.saveStatus.SetText("Nothing saved: " + err.Error())
	}
	s.saveStatus.Importance = widget.DangerImportance
	s.saveStatus.Refresh()
}

// settingErrors finds every *settings.Error in err's tree (several when
// more than one field is wrong).
func settingErrors(err error) []*settings.Error {
	var out []*settings.Error
	var walk func(error)
	walk = func(e error) {
		if e == nil {
			return
		}
		if se, ok := e.(*settings.Error); ok {
			out = append(out, se)
			return
		}
		switch u := e.(type) {
		case interface{ Unwrap() []error }:
			for _, x := range u.Unwrap() {
				walk(x)
			}
		case interface{ Unwrap() error }:
			walk(u.Unwrap())
		}
	}
	walk(err)
	return out
}

func (s *settingsScreen) saveSettings() {
	s.saveWith(s.changes(), nil)
}

// saveWith saves changes off the UI goroutine, shows the outcome, reloads
// the form, and then runs then (if set) after a successful save.
func (s *settingsScreen) saveWith(changes []settings.Change, then func()) {
	if len(changes) == 0 {
		if then != nil {
			then()
			return
		}
		s.saveStatus.SetText("Nothing to save: no field changed.")
		s.saveStatus.Importance = widget.MediumImportance
		s.saveStatus.Refresh()
		return
	}
	s.save.Disable()
	background(func() (admin.ListenerStatus, error) {
		err := s.m.svc.SaveSettings(changes)
		return s.m.svc.ListenerStatus(), err
	}, func(st admin.ListenerStatus, err error) {
		s.save.Enable()
		if err != nil && len(settingErrors(err)) > 0 {
			s.showProblems(err)
			s.listenerChanged(st)
			return
		}
		if err != nil { // saved, but the listener did not come back
			s.m.showError("Settings saved; the listener did not restart", err)
		}
		for _, f := range s.fields {
			f.problem.Hide()
		}
		names := make([]string, len(changes))
		for i, c := range changes {
			names[i] = string(c.Key)
		}
		s.saveStatus.SetText(fmt.Sprintf("Saved %s at %s.", strings.Join(names, ", "), time.Now().Format("15:04:05")))
		s.saveStatus.Importance = widget.SuccessImportance
		s.saveStatus.Refresh()
		s.listenerChanged(st)
		s.loadSettings()
		if then != nil && err == nil {
			then()
		}
	})
}

func (s *settingsScreen) content() fyne.CanvasObject { return s.root }

func (s *settingsScreen) shown() {
	s.listenerChanged(s.m.svc.ListenerStatus())
	s.loadSettings()
	background(func() (admin.DataFile, error) { return s.m.svc.DataFile(), nil }, func(f admin.DataFile, _ error) {
		s.path.SetText(f.Path)
		if store.IsURL(f.Path) { // no file to measure: each member's database size is on the Cluster screen
			s.data.SetTitle("Data store")
			s.data.SetSubTitle("An etcd cluster holds tenants, users, the identity map, invoices, bills, activity and these settings for every replica.")
			s.size.SetText("see each etcd member's database on the Cluster screen")
			return
		}
		s.size.SetText(fmt.Sprintf("%s (%d bytes)", humanBytes(f.Size), f.Size))
	})
}

// listenerChanged shows the listener's state and enables what makes sense.
func (s *settingsScreen) listenerChanged(st admin.ListenerStatus) {
	text := st.State.String()
	switch st.State {
	case admin.ListenerRunning:
		text = fmt.Sprintf("● Listening on %s since %s — tenants reach it at %s", st.Addr, st.Since.Local().Format("15:04:05"), st.PublicURL)
		s.state.Importance = widget.SuccessImportance
	case admin.ListenerFailed:
		text = "● Failed: " + errText(st.Err)
		s.state.Importance = widget.DangerImportance
	case admin.ListenerStopped:
		text = "○ Stopped — sign-ins and webhooks fail until it runs."
		s.state.Importance = widget.WarningImportance
	default:
		s.state.Importance = widget.MediumImportance
	}
	s.state.SetText(text)
	busy := st.State == admin.ListenerRunning || st.State == admin.ListenerStarting || st.State == admin.ListenerStopping
	if busy {
		s.start.Disable()
		s.stop.Enable()
	} else {
		s.start.Enable()
		s.stop.Disable()
	}
}

func errText(err error) string {
	if err == nil {
		return "unknown error"
	}
	return err.Error()
}

// startListener saves what the listener fields changed (so the next start
// of the app uses it too), then starts the listener.
func (s *settingsScreen) startListener() {
	s.start.Disable()
	s.saveWith(s.changes(settings.Addr, settings.PublicURL, settings.TLSCert, settings.TLSKey, settings.TrustedProxies), func() {
		background(func() (admin.ListenerStatus, error) {
			err := s.m.svc.StartListener()
			return s.m.svc.ListenerStatus(), err
		}, func(st admin.ListenerStatus, err error) {
			if err != nil {
				s.m.showError("Listener did not start", err)
				st = s.m.svc.ListenerStatus()
			}
			s.listenerChanged(st)
		})
	})
}

func (s *settingsScreen) stopListener() {
	s.stop.Disable()
	background(func() (admin.ListenerStatus, error) {
		ctx, cancel := context.WithTimeout(s.m.ctx, 20*time.Second)
		defer cancel()
		err := s.m.svc.StopListener(ctx)
		return s.m.svc.ListenerStatus(), err
	}, func(st admin.ListenerStatus, err error) {
		if err != nil {
			s.m.showError("Listener did not stop cleanly", err)
		}
		s.listenerChanged(st)
	})
}
