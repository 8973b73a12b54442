package ui

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/tenantdesk/tenantdesk/tenant/admin/remote"
)

// Preference keys of Connect to server… (UI settings: the last server
// asked for, and each server's pinned certificate).
const (
	prefServerURL = "server.url"
	prefPinPrefix = "server.pin." // + host:port → SHA-256 fingerprint
)

// windowTitle names the server a window works on, when it is not this
// process.
func windowTitle(server string) string {
	if server == "" {
		return "Tenantdesk"
	}
	return "Tenantdesk — " + server
}

// serverBadge names the server under the app's name in the sidebar, so
// that it is in sight whatever the window manager does with the title.
func serverBadge(server string) fyne.CanvasObject {
	l := widget.NewLabelWithStyle(server, fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	l.Importance = widget.HighImportance
	l.Wrapping = fyne.TextWrapWord
	return container.NewBorder(nil, nil, widget.NewIcon(theme.ComputerIcon()), nil, l)
}

// connectForm is File → Connect to server…: the admin address of a
// `serve --admin-addr` and its token. The server's certificate is pinned
// on first use, after the user has compared its fingerprint.
type connectForm struct {
	m                *mainWindow
	url, token       *widget.Entry
	urlErr, tokenErr *widget.Label
	status           *widget.Label
	connect          *widget.Button
	dialog           *dialog.CustomDialog
	// pin shows the certificate pinned for the host typed, with Forget:
	// a server whose certificate was replaced on purpose is trusted
	// afresh on the next connect.
	pin    *widget.Label
	forget *widget.Button
	pinRow *fyne.Container

	// trust is the pending first-use question: the certificate's
	// fingerprint, and what to do with the answer.
	trust       *dialog.ConfirmDialog
	fingerprint string
	answer      func(bool)

	opened *mainWindow // the server's window, once connected
}

func (m *mainWindow) connectToServer() { m.newConnectForm().dialog.Show() }

func (m *mainWindow) newConnectForm() *connectForm {
	f := &connectForm{m: m}
	f.url = widget.NewEntry()
	f.url.SetPlaceHolder("https://server.example.com:8766")
	f.url.SetText(m.app.Preferences().String(prefServerURL))
	f.token = widget.NewPasswordEntry()
	f.token.SetPlaceHolder("tdk_… (tenantdesk admin-token on the server)")
	f.urlErr, f.tokenErr = fieldError(), fieldError()
	f.status = widget.NewLabel("")
	f.status.Wrapping = fyne.TextWrapWord
	f.status.Hide()
	f.pin = widget.NewLabel("")
	f.pin.Importance = widget.LowImportance
	f.pin.Truncation = fyne.TextTruncateEllipsis
	f.forget = widget.NewButtonWithIcon("Forget", theme.DeleteIcon(), f.confirmForget)
	f.pinRow = container.NewBorder(nil, nil, nil, f.forget, f.pin)
	f.url.OnChanged = func(string) { f.showPin() }
	f.showPin()
	form := container.New(layout.NewFormLayout(),
		widget.NewLabel("Server URL"), container.NewVBox(f.url, f.urlErr, f.pinRow),
		widget.NewLabel("Admin token"), container.NewVBox(f.token, f.tokenErr),
	)
	cancel := widget.NewButton("Cancel", func() { f.dialog.Hide() })
	f.connect = widget.NewButtonWithIcon("Connect", theme.LoginIcon(), f.submit)
	f.connect.Importance = widget.HighImportance
	f.token.OnSubmitted = func(string) { f.submit() }
	f.dialog = dialog.NewCustomWithoutButtons("Connect to server", container.NewVBox(form, f.status), m.win)
	f.dialog.SetButtons([]fyne.CanvasObject{cancel, f.connect})
	f.dialog.Resize(fyne.NewSize(620, 300))
	return f
}

// host is the host:port of the URL typed, "" when it is none.
func (f *connectForm) host() string {
	u, err := url.Parse(strings.TrimSpace(f.url.Text))
	if err != nil {
		return ""
	}
	return u.Host
}

// showPin shows the certificate pinned for the host typed, if any.
func (f *connectForm) showPin() {
	host := f.host()
	fp := ""
	if host != "" {
		fp = f.m.app.Preferences().String(prefPinPrefix + host)
	}
	if fp == "" {
		f.pinRow.Hide()
		return
	}
	f.pin.SetText("Trusted certificate of " + host + ": SHA-256 " + fp)
	f.pinRow.Show()
}

// confirmForget asks, then drops the pinned certificate of the host typed;
// the next Connect shows the server's certificate again before any token
// is sent.
func (f *connectForm) confirmForget() {
	host := f.host()
	if host == "" {
		return
	}
	dialog.ShowConfirm("Forget the certificate of "+host+"?",
		"Tenantdesk stops trusting the certificate it pinned for "+host+".\n"+
			"The next connection shows the server's certificate and asks again, before the token is sent.",
		func(ok bool) {
			if ok {
				f.forgetPin(host)
			}
		}, f.m.win)
}

func (f *connectForm) forgetPin(host string) {
	f.m.app.Preferences().RemoveValue(prefPinPrefix + host)
	setFieldError(f.urlErr, "")
	f.showPin()
}

func fieldError() *widget.Label {
	l := widget.NewLabel("")
	l.Importance = widget.DangerImportance
	l.Wrapping = fyne.TextWrapWord
	l.Hide()
	return l
}

func setFieldError(l *widget.Label, msg string) {
	l.SetText(msg)
	if msg == "" {
		l.Hide()
	} else {
		l.Show()
	}
}

// submit checks the fields, then connects off the UI goroutine.
func (f *connectForm) submit() {
	raw := strings.TrimSpace(f.url.Text)
	token := strings.TrimSpace(f.token.Text)
	urlMsg, tokenMsg := "", ""
	u, err := url.Parse(raw)
	switch {
	case raw == "":
		urlMsg = "Enter the server's admin address, e.g. https://server.example.com:8766."
	case err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http"):
		urlMsg = "Not a URL: want https://HOST:PORT (the server's --admin-addr)."
	case u.Scheme != "https":
		urlMsg = "The admin API speaks https only."
	}
	if token == "" {
		tokenMsg = "Enter the token `tenantdesk admin-token` printed on the server."
	}
	setFieldError(f.urlErr, urlMsg)
	setFieldError(f.tokenErr, tokenMsg)
	if urlMsg != "" || tokenMsg != "" {
		return
	}
	host := u.Host
	serverURL := "https://" + host
	pin := f.m.app.Preferences().String(prefPinPrefix + host)
	f.busy("Connecting to " + host + "…")
	go func() {
		ctx, cancel := context.WithTimeout(f.m.ctx, 20*time.Second)
		defer cancel()
		if pin == "" {
			// First use: look at the certificate before the token is sent.
			fp, err := remote.ProbeCertificate(ctx, host)
			uiDo(func() {
				if err != nil {
					f.failed(err, false)
					return
				}
				f.askTrust(host, fp, func(ok bool) {
					if !ok {
						f.idle("")
						return
					}
					f.m.app.Preferences().SetString(prefPinPrefix+host, fp)
					f.showPin()
					f.submit()
				})
			})
			return
		}
		c, err := remote.Dial(ctx, serverURL, token, remote.PinnedTLS(pin, nil))
		uiDo(func() {
			if err != nil {
				f.failed(err, true)
				return
			}
			f.m.app.Preferences().SetString(prefServerURL, serverURL)
			f.idle("")
			f.dialog.Hide()
			f.opened = f.m.openServerWindow(c)
		})
	}()
}

// askTrust shows the certificate of a server seen for the first time.
func (f *connectForm) askTrust(host, fp string, answer func(bool)) {
	f.fingerprint, f.answer = fp, answer
	msg := widget.NewLabel("First connection to " + host + ". Its certificate's SHA-256 fingerprint is:\n\n" +
		fp + "\n\nCompare it with the one `tenantdesk serve --admin-addr` logged on the server " +
		"(or `tenantdesk admin-cert | openssl x509 -noout -fingerprint -sha256`). Trust this server from now on?")
	msg.Wrapping = fyne.TextWrapWord
	f.trust = dialog.NewCustomConfirm("Trust this server?", "Trust", "Cancel", msg, f.answerTrust, f.m.win)
	f.trust.Resize(fyne.NewSize(640, 300))
	f.trust.Show()
}

func (f *connectForm) answerTrust(ok bool) {
	answer := f.answer
	f.trust, f.fingerprint, f.answer = nil, "", nil
	if answer != nil {
		answer(ok)
	}
}

func (f *connectForm) busy(msg string) {
	f.connect.Disable()
	f.status.Importance = widget.MediumImportance
	f.status.SetText(msg)
	f.status.Show()
}

func (f *connectForm) idle(msg string) {
	f.connect.Enable()
	f.status.SetText(msg)
	if msg == "" {
		f.status.Hide()
	}
}

// failed puts a connection error beside the field it is about.
func (f *connectForm) failed(err error, tokenSent bool) {
	f.idle("")
	switch {
	case errors.Is(err, remote.ErrUnauthorized):
		setFieldError(f.tokenErr, "The server refused this token (wrong, replaced or revoked).")
	case tokenSent && strings.Contains(err.Error(), "certificate changed"):
		setFieldError(f.urlErr, err.Error()+". If the server's certificate was replaced on purpose, "+
			"click Forget and connect again.")
	default:
		setFieldError(f.urlErr, "Cannot reach the server: "+err.Error())
	}
}

// openServerWindow opens a window that works on the server's tenants,
// identity map, billing and activity, with its name in the title and the
// status bar. Closing it drops the connection only.
func (m *mainWindow) openServerWindow(c *remote.Client) *mainWindow {
	name := c.Name
	if c.Info.Name != "" && !strings.HasPrefix(name, c.Info.Name) {
		name = c.Info.Name + " (" + c.Name + ")"
	}
	w := newMainWindow(m.app, c, Options{Server: name, Logger: m.log, Screen: "tenants", secondary: true})
	w.onClose = c.Close
	w.win.Show()
	return w
}

// closeSecondary closes a server window without quitting the app.
func (m *mainWindow) closeSecondary() {
	m.stop()
	if m.onClose != nil {
		m.onClose()
	}
	m.win.Close()
}
