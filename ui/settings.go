package ui

import (
	"context"
	"fmt"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/tenantdesk/tenantdesk/tenant/admin"
)

// settingsScreen holds the listener, the data file and the appearance.
type settingsScreen struct {
	m *mainWindow

	addr, publicURL *widget.Entry
	state           *widget.Label
	start, stop     *widget.Button
	path, size      *widget.Label
	theme           *widget.RadioGroup
	root            fyne.CanvasObject
}

func newSettingsScreen(m *mainWindow) *settingsScreen {
	s := &settingsScreen{m: m}
	s.addr = widget.NewEntry()
	s.addr.SetText(m.svc.Addr())
	s.publicURL = widget.NewEntry()
	s.publicURL.SetText(m.svc.PublicURL())
	s.publicURL.SetPlaceHolder("https://tenantdesk.example.com (what the tenants reach)")
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
		container.NewVBox(
			widget.NewForm(widget.NewFormItem("Address", s.addr), widget.NewFormItem("Public URL", s.publicURL)),
			s.state, container.NewHBox(s.start, s.stop)))
	data := widget.NewCard("Data file", "One bbolt file holds tenants, users, the identity map, invoices, bills and activity.",
		container.NewVBox(widget.NewForm(widget.NewFormItem("Location", s.path), widget.NewFormItem("Size", s.size)), container.NewHBox(copyPath)))
	look := widget.NewCard("Appearance", "", widget.NewForm(widget.NewFormItem("Theme", s.theme)))
	title := widget.NewLabelWithStyle("Settings", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	s.root = container.NewBorder(container.NewPadded(title), nil, nil, nil,
		container.NewVScroll(container.NewPadded(container.NewVBox(listener, data, look))))
	return s
}

func (s *settingsScreen) content() fyne.CanvasObject { return s.root }

func (s *settingsScreen) shown() {
	s.listenerChanged(s.m.svc.ListenerStatus())
	background(func() (admin.DataFile, error) { return s.m.svc.DataFile(), nil }, func(f admin.DataFile, _ error) {
		s.path.SetText(f.Path)
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
		s.addr.Disable()
		s.publicURL.Disable()
		s.stop.Enable()
	} else {
		s.start.Enable()
		s.addr.Enable()
		s.publicURL.Enable()
		s.stop.Disable()
	}
}

func errText(err error) string {
	if err == nil {
		return "unknown error"
	}
	return err.Error()
}

func (s *settingsScreen) startListener() {
	addr, pub := s.addr.Text, s.publicURL.Text
	s.start.Disable()
	background(func() (admin.ListenerStatus, error) {
		if err := s.m.svc.SetListenerAddress(addr, pub); err != nil {
			return admin.ListenerStatus{}, err
		}
		err := s.m.svc.StartListener()
		return s.m.svc.ListenerStatus(), err
	}, func(st admin.ListenerStatus, err error) {
		if err != nil {
			s.m.showError("Listener did not start", err)
			st = s.m.svc.ListenerStatus()
		}
		s.publicURL.SetText(s.m.svc.PublicURL())
		s.listenerChanged(st)
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
