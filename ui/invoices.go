package ui

import (
	"context"
	"strconv"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/tenantdesk/tenantdesk/store"
	"github.com/tenantdesk/tenantdesk/tenant/admin"
	"github.com/tenantdesk/tenantdesk/tenant/money"
)

// invoicesScreen lists invoices with their Connec! sync state, edits one,
// and lists failed pushes with a retry.
type invoicesScreen struct {
	m *mainWindow

	list    *dataTable[admin.InvoiceRow]
	sync    *syncPanel
	failed  *dataTable[store.OutboxItem]
	search  *widget.Entry
	tenant  *widget.Select
	editor  *invoiceEditor
	pushNow *widget.Button
	retry   *widget.Button
	// body shows the list alone, or beside the editor while one is open
	// (editing): no pane is kept empty for an editor that is not there.
	body     *fyne.Container
	left     fyne.CanvasObject
	split    *container.Split
	editing  bool
	root     fyne.CanvasObject
	selected *admin.InvoiceRow
	failSel  *store.OutboxItem
	loads    loadSeq
}

func newInvoicesScreen(m *mainWindow) *invoicesScreen {
	s := &invoicesScreen{m: m}
	s.list = newDataTable("invoices", "No invoices yet.\nClick “New invoice” to write one for a customer;\ninvoices a tenant shares through Connec! appear here too.",
		column[admin.InvoiceRow]{title: "Number", width: 90, text: func(r admin.InvoiceRow) string { return r.Number }},
		column[admin.InvoiceRow]{title: "Tenant", width: 75, text: func(r admin.InvoiceRow) string { return r.Tenant }},
		column[admin.InvoiceRow]{title: "Sync", width: 110, text: func(r admin.InvoiceRow) string { return r.Sync },
			importance: syncImportance},
		column[admin.InvoiceRow]{title: "Total", width: 110, text: func(r admin.InvoiceRow) string { return money.Format(r.TotalCents, r.Currency) },
			compare: func(a, b admin.InvoiceRow) int { return int(a.TotalCents - b.TotalCents) }},
		column[admin.InvoiceRow]{title: "Date", width: 95, text: func(r admin.InvoiceRow) string { return dateOnly(r.TransactionDate) },
			compare: func(a, b admin.InvoiceRow) int { return a.TransactionDate.Compare(b.TransactionDate) }},
		column[admin.InvoiceRow]{title: "Group", width: 90, text: func(r admin.InvoiceRow) string { return r.GroupUID }},
		column[admin.InvoiceRow]{title: "Title", width: 180, fill: true, text: func(r admin.InvoiceRow) string { return r.Title }},
	)
	s.list.OnSelected = s.edit
	s.failed = newDataTable("failed pushes", "No failed pushes: every queued change reached Connec!\nor is still being retried.",
		column[store.OutboxItem]{title: "Tenant", width: 80, text: func(it store.OutboxItem) string { return it.Tenant }},
		column[store.OutboxItem]{title: "Object", width: 140, text: func(it store.OutboxItem) string { return it.LocalKind + " " + it.LocalID }},
		column[store.OutboxItem]{title: "Tries", width: 60, text: func(it store.OutboxItem) string { return strconv.Itoa(it.Attempts) }},
		column[store.OutboxItem]{title: "Last error", width: 330, fill: true, text: func(it store.OutboxItem) string { return it.LastError },
			importance: func(store.OutboxItem) widget.Importance { return widget.DangerImportance }},
		column[store.OutboxItem]{title: "Updated", width: 140, text: func(it store.OutboxItem) string { return shortTime(it.UpdatedAt) }},
	)
	s.failed.OnSelected = func(it store.OutboxItem) { s.failSel = &it; s.retry.Enable() }

	s.search = widget.NewEntry()
	s.search.SetPlaceHolder("Filter by number, title or group (Ctrl+F)")
	s.search.OnChanged = func(string) { s.applyFilter() }
	s.tenant = widget.NewSelect([]string{allTenants}, nil)
	s.tenant.SetSelected(allTenants)
	s.tenant.OnChanged = func(string) {
		s.applyFilter()
		if s.sync != nil {
			s.sync.reload()
		}
	}

	s.editor = newInvoiceEditor(s)
	s.pushNow = widget.NewButtonWithIcon("Push now", theme.UploadIcon(), s.push)
	s.pushNow.Disable()
	s.retry = widget.NewButtonWithIcon("Retry", theme.ViewRefreshIcon(), s.retryFailed)
	s.retry.Disable()
	newBtn := widget.NewButtonWithIcon("New invoice", theme.ContentAddIcon(), s.newInvoice)
	newBtn.Importance = widget.HighImportance

	top := container.NewBorder(nil, nil,
		container.NewHBox(widget.NewLabelWithStyle("Invoices", fyne.TextAlignLeading, fyne.TextStyle{Bold: true}),
			container.NewGridWrap(fyne.NewSize(160, s.tenant.MinSize().Height), s.tenant)),
		container.NewHBox(s.pushNow, newBtn), s.search)
	failedBox := container.NewBorder(
		container.NewBorder(nil, nil, widget.NewLabelWithStyle("Failed pushes", fyne.TextAlignLeading, fyne.TextStyle{Bold: true}), s.retry),
		nil, nil, nil, s.failed)
	s.sync = newSyncPanel(m, func() string {
		if t := s.tenant.Selected; t != allTenants {
			return t
		}
		return ""
	})
	left := container.NewVSplit(s.list, container.NewAppTabs(
		container.NewTabItemWithIcon("Connec! sync", theme.DownloadIcon(), s.sync.root),
		container.NewTabItemWithIcon("Failed pushes", theme.WarningIcon(), failedBox)))
	left.Offset = 0.62
	s.left = left
	s.split = container.NewHSplit(layout.NewSpacer(), s.editor.root)
	s.split.Offset = 0.56
	s.body = container.NewStack(left)
	s.root = container.NewBorder(container.NewPadded(top), nil, nil, nil, s.body)
	return s
}

func syncImportance(r admin.InvoiceRow) widget.Importance {
	switch r.Sync {
	case admin.SyncFailed:
		return widget.DangerImportance
	case admin.SyncQueued:
		return widget.WarningImportance
	case admin.SyncSynced, admin.SyncPulled:
		return widget.SuccessImportance
	}
	return widget.LowImportance
}

func (s *invoicesScreen) content() fyne.CanvasObject { return s.root }

func (s *invoicesScreen) shown() {
	s.m.loadTenantFilter(s.tenant, s.editor.setTenants)
	s.reload()
}

func (s *invoicesScreen) reload() {
	current := s.loads.next()
	s.sync.reload()
	background(func() ([]admin.InvoiceRow, error) { return s.m.svc.Invoices("") }, func(rows []admin.InvoiceRow, err error) {
		if !current() {
			return
		}
		if err != nil {
			s.m.showError("Could not read invoices", err)
			return
		}
		s.list.SetRows(rows)
	})
	background(s.m.svc.FailedPushes, func(items []store.OutboxItem, err error) {
		if !current() {
			return
		}
		if err != nil {
			s.m.showError("Could not read the outbox", err)
			return
		}
		s.failSel = nil
		s.retry.Disable()
		s.failed.table.UnselectAll()
		s.failed.SetRows(items)
	})
}

func (s *invoicesScreen) applyFilter() {
	q := strings.ToLower(strings.TrimSpace(s.search.Text))
	t := s.tenant.Selected
	if q == "" && (t == allTenants || t == "") {
		s.list.SetFilter(nil)
		return
	}
	s.list.SetFilter(func(r admin.InvoiceRow) bool {
		if t != allTenants && t != "" && r.Tenant != t {
			return false
		}
		return q == "" || strings.Contains(strings.ToLower(r.Number+" "+r.Title+" "+r.GroupUID), q)
	})
}

func (s *invoicesScreen) newInvoice() {
	s.selected = nil
	s.pushNow.Disable()
	s.list.table.UnselectAll()
	s.editor.load(store.Invoice{Currency: "AUD", Status: "DRAFT", TransactionDate: time.Now()}, true)
	s.openEditor()
}

func (s *invoicesScreen) edit(r admin.InvoiceRow) {
	s.selected = &r
	s.pushNow.Enable()
	s.editor.load(r.Invoice, false)
	s.editor.sync.SetText(syncText(r))
	s.openEditor()
}

// openEditor puts the editor beside the list.
func (s *invoicesScreen) openEditor() {
	if s.editing {
		return
	}
	s.editing = true
	s.split.Leading = s.left
	s.split.Refresh()
	s.body.Objects = []fyne.CanvasObject{s.split}
	s.body.Refresh()
}

// closeEditor gives the list (and the sync panel under it) the whole width.
func (s *invoicesScreen) closeEditor() {
	s.selected = nil
	s.pushNow.Disable()
	s.list.table.UnselectAll()
	if !s.editing {
		return
	}
	s.editing = false
	s.split.Leading = layout.NewSpacer()
	s.body.Objects = []fyne.CanvasObject{s.left}
	s.body.Refresh()
}

func syncText(r admin.InvoiceRow) string {
	s := "Sync: " + r.Sync
	if r.RemoteID != "" {
		s += " · Connec! id " + r.RemoteID
	}
	if r.LastError != "" {
		s += "\nLast error: " + r.LastError
	}
	return s
}

func (s *invoicesScreen) push() {
	if s.selected == nil {
		return
	}
	id := s.selected.ID
	s.pushNow.Disable()
	background(func() (struct{}, error) {
		ctx, cancel := context.WithTimeout(s.m.ctx, 90*time.Second)
		defer cancel()
		return struct{}{}, s.m.svc.PushNow(ctx, id)
	}, func(_ struct{}, err error) {
		s.pushNow.Enable()
		if err != nil {
			s.m.showError("Push failed", err)
		}
		s.reload()
	})
}

func (s *invoicesScreen) retryFailed() {
	if s.failSel == nil {
		return
	}
	id := s.failSel.ID
	s.retry.Disable()
	background(func() (struct{}, error) { return struct{}{}, s.m.svc.RetryPush(s.m.ctx, id) }, func(_ struct{}, err error) {
		if err != nil {
			s.m.showError("Retry failed", err)
		}
		s.reload()
	})
}

func dateOnly(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.DateOnly)
}
