package ui

import (
	"context"
	"fmt"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/tenantdesk/tenantdesk/tenant/admin"
)

// Desktop conventions: Ctrl+Q, About, Backup….

// quitAsk is the open "Quit Tenantdesk?" question, if any: Ctrl+Q asks
// once, and Enter (or a second Ctrl+Q) confirms it.
type quitAsk struct {
	d       *dialog.CustomDialog
	confirm func()
}

// quitRequested is Ctrl+Q and File → Quit: quit at once when nothing is
// at stake; when a billing run is in progress or the listener is serving,
// ask once first.
func (m *mainWindow) quitRequested() {
	if m.quitting != nil {
		m.quitting.confirm()
		return
	}
	var reasons []string
	if m.svc.BillingRunning() {
		reasons = append(reasons, "A billing run is in progress: quitting cancels it (bills already submitted stay submitted; a rerun picks up the rest).")
	}
	if st := m.svc.ListenerStatus(); st.State == admin.ListenerRunning && m.server == "" {
		reasons = append(reasons, "The listener is answering tenants on "+st.PublicURL+": sign-ins and webhooks fail until Tenantdesk runs again.")
	}
	if len(reasons) == 0 {
		m.quit()
		return
	}
	msg := widget.NewLabel(strings.Join(reasons, "\n") + "\n\nPress Enter to quit, Escape to stay.")
	msg.Wrapping = fyne.TextWrapWord
	ask := &quitAsk{}
	cancel := widget.NewButton("Cancel", func() { ask.d.Hide() })
	quit := widget.NewButtonWithIcon("Quit", theme.LogoutIcon(), func() { ask.confirm() })
	quit.Importance = widget.DangerImportance
	ask.d = dialog.NewCustomWithoutButtons("Quit Tenantdesk?", container.NewPadded(msg), m.win)
	ask.d.SetButtons([]fyne.CanvasObject{cancel, quit})
	ask.d.SetOnClosed(func() { m.quitting = nil })
	ask.confirm = func() {
		m.quitting = nil
		ask.d.Hide()
		m.quit()
	}
	ask.d.Resize(fyne.NewSize(560, 220))
	m.quitting = ask
	ask.d.Show()
}

// typedKeyWhileAsking lets Enter confirm and Escape cancel the quit
// question; it reports whether it used the key.
func (m *mainWindow) typedKeyWhileAsking(ev *fyne.KeyEvent) bool {
	if m.quitting == nil {
		return false
	}
	switch ev.Name {
	case fyne.KeyReturn, fyne.KeyEnter:
		m.quitting.confirm()
		return true
	case fyne.KeyEscape:
		m.quitting.d.Hide()
		return true
	}
	return false
}

// showAbout is Help → About Tenantdesk.
func (m *mainWindow) showAbout() {
	name := widget.NewLabelWithStyle("Tenantdesk", fyne.TextAlignCenter, fyne.TextStyle{Bold: true})
	ver := widget.NewLabelWithStyle("Version "+m.version, fyne.TextAlignCenter, fyne.TextStyle{})
	what := widget.NewLabel("The vendor's side of a multi-tenant Maestrano integration: one configuration per marketplace, " +
		"SSO and webhooks on tenant-scoped routes, the identity map, billing and Connec! invoices.")
	what.Wrapping = fyne.TextWrapWord
	what.Alignment = fyne.TextAlignCenter
	df := m.svc.DataFile()
	file := widget.NewLabel("Data file: " + df.Path)
	file.Wrapping = fyne.TextWrapBreak
	if m.server != "" {
		file.SetText("Working on: " + m.server)
	}
	icon := widget.NewIcon(appIcon)
	content := container.NewVBox(container.NewCenter(container.NewGridWrap(fyne.NewSize(64, 64), icon)), name, ver, what, file)
	d := dialog.NewCustom("About Tenantdesk", "Close", content, m.win)
	d.Resize(fyne.NewSize(480, 320))
	d.Show()
}

// backupFile is File → Backup…: a consistent copy of the data file, made
// by the process that owns it, written beside the chosen name and renamed
// into place.
func (m *mainWindow) backupFile() {
	save := dialog.NewFileSave(func(w fyne.URIWriteCloser, err error) {
		if err != nil || w == nil {
			return
		}
		path := w.URI().Path()
		_ = w.Close()
		background(func() (int64, error) {
			n, err := admin.BackupToFile(context.Background(), m.svc, path)
			if err != nil {
				return 0, fmt.Errorf("backup to %s: %w", path, err)
			}
			return n, nil
		}, func(n int64, err error) {
			if err != nil {
				m.showError("Backup failed", err)
				return
			}
			dialog.ShowInformation("Backup made", fmt.Sprintf("%s\n%s, a consistent copy of the data file.", path, humanBytes(n)), m.win)
		})
	}, m.win)
	save.SetFileName("tenantdesk-" + time.Now().Format("2006-01-02") + ".db")
	save.Show()
}

// restoreFile is File → Restore…: pick a backup, check it whole here
// (admin.InspectBackup) so that a bad one is refused before anything is
// asked, confirm, then restore it through the admin API, which checks it
// again and swaps it in under the running listener. The window stays.
func (m *mainWindow) restoreFile() {
	open := dialog.NewFileOpen(func(r fyne.URIReadCloser, err error) {
		if err != nil || r == nil {
			return
		}
		path := r.URI().Path()
		_ = r.Close()
		m.restoreFrom(path)
	}, m.win)
	open.Show()
}

// restoreFrom checks the backup picked at path and, when it is whole,
// asks to restore it.
func (m *mainWindow) restoreFrom(path string) {
	background(func() (admin.BackupInfo, error) { return admin.InspectBackup(path) }, func(info admin.BackupInfo, err error) {
		if err != nil {
			m.restoreRefused(err)
			return
		}
		m.confirmRestore(info)
	})
}

// restoreRefused says why a backup was refused, and what the user has
// still and can do next: the reason alone (a store error) leaves them
// wondering whether their data survived.
func (m *mainWindow) restoreRefused(err error) {
	m.showError("Not restored: nothing changed", fmt.Errorf("%w\n\n%s", err, restoreRefusedNext(m.svc.DataFile().Path)))
}

// restoreRefusedNext is the part of a refusal that does not depend on the
// reason.
func restoreRefusedNext(current string) string {
	return "The data file in use, " + current + ", is as it was, and Tenantdesk keeps running on it. " +
		"Pick another backup with File → Restore…"
}

// confirmRestore asks before the swap, then restores.
func (m *mainWindow) confirmRestore(info admin.BackupInfo) {
	current := m.svc.DataFile().Path
	msg := fmt.Sprintf("Replace the data file with\n%s\n(schema %d, %s, saved %s)?\n\n"+
		"The listener keeps running. The current file is kept as\n%s",
		info.Path, info.Schema, humanBytes(info.Size), info.Modified.Local().Format("2006-01-02 15:04"), current+".before-restore")
	d := dialog.NewConfirm("Restore from backup?", msg, func(ok bool) {
		if !ok {
			return
		}
		background(func() (admin.Restored, error) { return m.svc.Restore(m.ctx, info.Path) }, func(r admin.Restored, err error) {
			if err != nil {
				m.restoreRefused(err)
				return
			}
			m.show(m.current) // the screen reloads from the restored file
			dialog.ShowInformation("Restored", fmt.Sprintf("The data file now holds the backup\n%s\n(%s). The previous file is kept as\n%s",
				r.From, humanBytes(r.Size), r.Previous), m.win)
		})
	}, m.win)
	d.SetConfirmText("Restore")
	d.Show()
}
