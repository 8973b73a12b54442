package ui

import (
	"fmt"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/tenantdesk/tenantdesk/store"
	"github.com/tenantdesk/tenantdesk/tenant/admin"
)

// statusPoll is how often the status bar refreshes.
const statusPoll = time.Second

// statusBar is the bottom line (listener, last event, failed pushes, data
// file size) and the listener badge at the foot of the sidebar.
type statusBar struct {
	m *mainWindow

	dot      *canvas.Circle
	state    *widget.Label
	addr     *widget.Label
	line     *widget.Label
	size     *widget.Label
	failed   *widget.Button
	lastSeen admin.ListenerStatus
}

type statusSnapshot struct {
	listener admin.ListenerStatus
	last     *store.Event
	failed   int
	file     admin.DataFile
}

func newStatusBar(m *mainWindow) *statusBar {
	b := &statusBar{m: m}
	b.dot = canvas.NewCircle(theme.Color(theme.ColorNameDisabled))
	b.state = widget.NewLabelWithStyle("Stopped", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	b.addr = widget.NewLabel("")
	b.addr.SizeName = theme.SizeNameCaptionText
	b.addr.Truncation = fyne.TextTruncateEllipsis
	b.line = widget.NewLabel("")
	b.line.Truncation = fyne.TextTruncateEllipsis
	b.size = widget.NewLabel("")
	b.failed = widget.NewButtonWithIcon("", theme.WarningIcon(), func() { m.showScreen("invoices") })
	b.failed.Importance = widget.LowImportance
	b.failed.Hide()
	return b
}

// listenerBox is the sidebar's foot: a coloured dot, the state and the address.
func (b *statusBar) listenerBox() fyne.CanvasObject {
	dot := container.NewGridWrap(fyne.NewSize(12, 12), b.dot)
	row := container.NewHBox(container.NewCenter(dot), b.state)
	tap := widget.NewButton("", func() { b.m.showScreen("settings") })
	tap.Importance = widget.LowImportance
	return container.NewPadded(container.NewStack(tap, container.NewVBox(row, b.addr)))
}

func (b *statusBar) content() fyne.CanvasObject {
	return container.NewBorder(widget.NewSeparator(), nil, nil, container.NewHBox(b.failed, b.size), b.line)
}

// start polls the services until the window goes away.
func (b *statusBar) start() {
	go func() {
		t := time.NewTicker(statusPoll)
		defer t.Stop()
		for {
			snap := b.snapshot()
			uiDo(func() { b.apply(snap) })
			select {
			case <-b.m.ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
}

// snapshot reads everything the bar shows; it runs off the UI goroutine.
func (b *statusBar) snapshot() statusSnapshot {
	s := statusSnapshot{listener: b.m.svc.ListenerStatus(), file: b.m.svc.DataFile(), failed: -1}
	if evs, err := b.m.svc.RecentEvents(1); err == nil && len(evs) == 1 {
		s.last = &evs[0]
	}
	if items, err := b.m.svc.FailedPushes(); err == nil {
		s.failed = len(items)
	}
	return s
}

func (b *statusBar) apply(s statusSnapshot) {
	ls := s.listener
	var c fyne.ThemeColorName
	switch ls.State {
	case admin.ListenerRunning:
		c = theme.ColorNameSuccess
	case admin.ListenerFailed:
		c = theme.ColorNameError
	case admin.ListenerStarting, admin.ListenerStopping:
		c = theme.ColorNameWarning
	default:
		c = theme.ColorNameDisabled
	}
	b.dot.FillColor = theme.Color(c)
	b.dot.Refresh()
	b.state.SetText(ls.State.String())
	b.addr.SetText(ls.Addr)

	text := fmt.Sprintf("%s %s", ls.State, ls.Addr)
	if ls.State == admin.ListenerRunning {
		text = "Listening on " + ls.Addr + " (" + ls.PublicURL + ")"
	} else if ls.Err != nil {
		text = "Listener failed: " + ls.Err.Error()
	}
	if b.m.server != "" {
		text = "Server " + b.m.server + "   ·   " + text
	}
	if s.last != nil {
		text += "   ·   last event " + s.last.At.Local().Format("15:04:05") + " " + eventSummary(*s.last)
	} else {
		text += "   ·   no events yet"
	}
	b.line.SetText(text)
	if store.IsURL(s.file.Path) { // no file to measure: the Cluster screen has each member's size
		b.size.SetText("Data on etcd")
	} else {
		b.size.SetText("Data " + humanBytes(s.file.Size))
	}
	switch {
	case s.failed > 0:
		b.failed.SetText(fmt.Sprintf("%d failed push%s", s.failed, plural(s.failed, "es")))
		b.failed.Show()
	default:
		b.failed.Hide()
	}
	if ls.State != b.lastSeen.State {
		b.m.settings.listenerChanged(ls)
	}
	b.lastSeen = ls
}

func eventSummary(e store.Event) string {
	s := e.Kind
	if e.Tenant != "" {
		s = e.Tenant + " " + s
	}
	if e.Outcome == "failed" {
		s += " failed"
	}
	return s + ": " + e.Message
}

func plural(n int, suffix string) string {
	if n == 1 {
		return ""
	}
	return suffix
}

// humanBytes formats a size: 1536 → "1.5 KiB".
func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
