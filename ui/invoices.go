package ui

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/tenantdesk/tenantdesk/store"
	"github.com/tenantdesk/tenantdesk/tenant/admin"
	"github.com/tenantdesk/tenantdesk/tenant/connec"
	"github.com/tenantdesk/tenantdesk/tenant/money"
)

// invoicesScreen lists invoices with their Connec! sync state, edits one,
// and lists failed pushes with a retry.
type invoicesScreen struct {
	m *mainWindow

	list     *dataTable[admin.InvoiceRow]
	sync     *syncPanel
	failed   *dataTable[store.OutboxItem]
	search   *widget.Entry
	tenant   *widget.Select
	editor   *invoiceEditor
	pushNow  *widget.Button
	retry    *widget.Button
	right    *fyne.Container
	hint     fyne.CanvasObject
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
		column[admin.InvoiceRow]{title: "Title", width: 180, text: func(r admin.InvoiceRow) string { return r.Title }},
	)
	s.list.OnSelected = s.edit
	s.failed = newDataTable("failed pushes", "No failed pushes: every queued change reached Connec!\nor is still being retried.",
		column[store.OutboxItem]{title: "Tenant", width: 80, text: func(it store.OutboxItem) string { return it.Tenant }},
		column[store.OutboxItem]{title: "Object", width: 140, text: func(it store.OutboxItem) string { return it.LocalKind + " " + it.LocalID }},
		column[store.OutboxItem]{title: "Tries", width: 60, text: func(it store.OutboxItem) string { return strconv.Itoa(it.Attempts) }},
		column[store.OutboxItem]{title: "Last error", width: 330, text: func(it store.OutboxItem) string { return it.LastError },
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

	hint := widget.NewLabel("Select an invoice to edit it, or click “New invoice”.")
	hint.Importance = widget.LowImportance
	s.hint = container.NewCenter(hint)
	s.right = container.NewStack(s.hint)

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
	split := container.NewHSplit(left, s.right)
	split.Offset = 0.56
	s.root = container.NewBorder(container.NewPadded(top), nil, nil, nil, split)
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
	s.right.Objects = []fyne.CanvasObject{s.editor.root}
	s.right.Refresh()
}

func (s *invoicesScreen) edit(r admin.InvoiceRow) {
	s.selected = &r
	s.pushNow.Enable()
	s.editor.load(r.Invoice, false)
	s.editor.sync.SetText(syncText(r))
	s.right.Objects = []fyne.CanvasObject{s.editor.root}
	s.right.Refresh()
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

// invoiceEditor is the create/edit form of an invoice, lines included.
type invoiceEditor struct {
	s                         *invoicesScreen
	tenant                    *widget.Select
	group, number, title, cur *widget.Entry
	status                    *widget.Select
	date, due                 *widget.Entry
	tax                       *widget.Entry
	lines                     []store.InvoiceLine
	units                     []*widget.Entry // each line's unit price as typed, read in the final currency
	lineBox                   *fyne.Container
	total                     *widget.Label
	sync                      *widget.Label
	problem                   *widget.Label
	save                      *widget.Button
	root                      fyne.CanvasObject
	inv                       store.Invoice
	isNew                     bool
}

func newInvoiceEditor(s *invoicesScreen) *invoiceEditor {
	e := &invoiceEditor{s: s}
	e.tenant = widget.NewSelect(nil, nil)
	e.group = widget.NewEntry()
	e.group.SetPlaceHolder("cld-… (the customer's group uid)")
	e.number = widget.NewEntry()
	e.title = widget.NewEntry()
	e.status = widget.NewSelect(admin.InvoiceStatuses, nil)
	e.cur = widget.NewEntry()
	e.date = widget.NewEntry()
	e.date.SetPlaceHolder("YYYY-MM-DD")
	e.due = widget.NewEntry()
	e.due.SetPlaceHolder("YYYY-MM-DD")
	e.tax = widget.NewEntry()
	e.tax.SetPlaceHolder("0.00")
	e.tax.OnChanged = func(string) { e.updateTotal() }
	e.lineBox = container.NewVBox()
	e.total = widget.NewLabelWithStyle("", fyne.TextAlignTrailing, fyne.TextStyle{Bold: true})
	e.sync = widget.NewLabel("")
	e.sync.Wrapping = fyne.TextWrapWord
	e.problem = widget.NewLabel("")
	e.problem.Importance = widget.DangerImportance
	e.problem.Wrapping = fyne.TextWrapWord
	e.problem.Hide()
	e.save = widget.NewButtonWithIcon("Save and queue push", theme.DocumentSaveIcon(), e.saveInvoice)
	e.save.Importance = widget.HighImportance
	addLine := widget.NewButtonWithIcon("Add line", theme.ContentAddIcon(), func() {
		e.lines = append(e.lines, store.InvoiceLine{Quantity: 1})
		e.renderLines()
	})
	form := widget.NewForm(
		widget.NewFormItem("Tenant", e.tenant), widget.NewFormItem("Group", e.group),
		widget.NewFormItem("Number", e.number), widget.NewFormItem("Title", e.title),
		widget.NewFormItem("Status", e.status), widget.NewFormItem("Currency", e.cur),
		widget.NewFormItem("Date", e.date), widget.NewFormItem("Due", e.due),
	)
	header := container.NewBorder(nil, nil, nil, container.NewHBox(fixed(56, widget.NewLabel("Qty")), fixed(92, widget.NewLabel("Unit price")), fixed(84, widget.NewLabel("Total")), fixed(36, widget.NewLabel(""))), widget.NewLabel("Description"))
	taxRow := container.NewBorder(nil, nil, widget.NewLabel("Tax"), nil, fixed(120, e.tax))
	body := container.NewVBox(form, widget.NewSeparator(),
		container.NewBorder(nil, nil, widget.NewLabelWithStyle("Lines", fyne.TextAlignLeading, fyne.TextStyle{Bold: true}), addLine),
		header, e.lineBox, container.NewBorder(nil, nil, taxRow, nil, e.total), e.sync, e.problem)
	e.root = container.NewBorder(nil, container.NewPadded(container.NewHBox(e.save)), nil, nil, container.NewVScroll(body))
	return e
}

func fixed(w float32, o fyne.CanvasObject) fyne.CanvasObject {
	return container.NewGridWrap(fyne.NewSize(w, o.MinSize().Height), o)
}

func (e *invoiceEditor) setTenants(keys []string) { e.tenant.SetOptions(keys) }

func (e *invoiceEditor) load(inv store.Invoice, isNew bool) {
	e.inv, e.isNew = inv, isNew
	e.tenant.SetSelected(inv.Tenant)
	if isNew {
		e.tenant.Enable()
		e.group.Enable()
	} else {
		e.tenant.Disable()
		e.group.Disable()
	}
	e.group.SetText(inv.GroupUID)
	e.number.SetText(inv.Number)
	e.title.SetText(inv.Title)
	e.status.SetSelected(inv.Status)
	e.cur.SetText(inv.Currency)
	e.date.SetText(dateOnly(inv.TransactionDate))
	e.due.SetText(dateOnly(inv.DueDate))
	e.tax.SetText("")
	if inv.TaxCents != 0 {
		e.tax.SetText(money.Amount(inv.TaxCents, inv.Currency))
	}
	e.lines = append([]store.InvoiceLine(nil), inv.Lines...)
	e.sync.SetText("")
	e.problem.Hide()
	e.renderLines()
}

// renderLines rebuilds the line rows from e.lines.
func (e *invoiceEditor) renderLines() {
	e.lineBox.Objects = nil
	e.units = e.units[:0]
	for i := range e.lines {
		i := i
		desc := widget.NewEntry()
		desc.SetText(e.lines[i].Description)
		desc.OnChanged = func(v string) { e.lines[i].Description = v }
		qty := widget.NewEntry()
		qty.SetText(strconv.FormatFloat(e.lines[i].Quantity, 'f', -1, 64))
		unit := widget.NewEntry()
		unit.SetText(money.Amount(e.lines[i].UnitPriceCents, e.currency()))
		e.units = append(e.units, unit)
		total := widget.NewLabel(money.Amount(e.lines[i].TotalCents, e.currency()))
		recompute := func(string) {
			q, qerr := strconv.ParseFloat(strings.TrimSpace(qty.Text), 64)
			u, uerr := money.Parse(unit.Text, e.currency())
			if qerr != nil || uerr != nil {
				total.SetText("?")
				return
			}
			e.lines[i].Quantity, e.lines[i].UnitPriceCents = q, u
			e.lines[i].TotalCents = int64(q*float64(u) + 0.5)
			total.SetText(money.Amount(e.lines[i].TotalCents, e.currency()))
			e.updateTotal()
		}
		qty.OnChanged, unit.OnChanged = recompute, recompute
		del := widget.NewButtonWithIcon("", theme.DeleteIcon(), func() {
			e.lines = append(e.lines[:i], e.lines[i+1:]...)
			e.renderLines()
		})
		e.lineBox.Add(container.NewBorder(nil, nil, nil,
			container.NewHBox(fixed(56, qty), fixed(92, unit), fixed(84, total), del), desc))
	}
	e.lineBox.Refresh()
	e.updateTotal()
}

func (e *invoiceEditor) updateTotal() {
	var net int64
	for _, l := range e.lines {
		net += l.TotalCents
	}
	tax, _ := money.Parse(e.tax.Text, e.currency())
	e.total.SetText("Total " + money.Format(net+tax, e.currency()))
}

// currency is the currency typed in the form: amounts are read and
// written in its minor units (ISO 4217).
func (e *invoiceEditor) currency() string { return strings.ToUpper(strings.TrimSpace(e.cur.Text)) }

// invoice reads the form.
func (e *invoiceEditor) invoice() (store.Invoice, error) {
	inv := e.inv
	inv.Tenant, inv.GroupUID = e.tenant.Selected, strings.TrimSpace(e.group.Text)
	inv.Number, inv.Title = strings.TrimSpace(e.number.Text), strings.TrimSpace(e.title.Text)
	inv.Status, inv.Currency = e.status.Selected, e.currency()
	var problems []string
	var err error
	if inv.TransactionDate, err = parseDate(e.date.Text); err != nil {
		problems = append(problems, "Date: "+err.Error())
	}
	if inv.DueDate, err = parseDate(e.due.Text); err != nil {
		problems = append(problems, "Due: "+err.Error())
	}
	if inv.TaxCents, err = money.Parse(e.tax.Text, inv.Currency); err != nil {
		problems = append(problems, "Tax: "+err.Error())
	}
	if inv.Tenant == "" {
		problems = append(problems, "Tenant: choose one")
	}
	if inv.GroupUID == "" {
		problems = append(problems, "Group: required")
	}
	inv.Lines = append([]store.InvoiceLine(nil), e.lines...)
	// Read the unit prices again in the currency as it stands now: it may
	// have changed after they were typed.
	for i := range inv.Lines {
		if i >= len(e.units) {
			break
		}
		u, err := money.Parse(e.units[i].Text, inv.Currency)
		if err != nil {
			problems = append(problems, fmt.Sprintf("Line %d unit price: %v", i+1, err))
			continue
		}
		l := &inv.Lines[i]
		l.UnitPriceCents, l.TotalCents = u, int64(math.Round(l.Quantity*float64(u)))
	}
	var net int64
	for _, l := range inv.Lines {
		net += l.TotalCents
	}
	inv.TotalCents = net + inv.TaxCents
	if len(problems) > 0 {
		return inv, errors.New(strings.Join(problems, "\n"))
	}
	return inv, nil
}

func (e *invoiceEditor) saveInvoice() {
	inv, err := e.invoice()
	if err != nil {
		e.problem.SetText(err.Error())
		e.problem.Show()
		return
	}
	e.save.Disable()
	background(func() (store.Invoice, error) { return e.s.m.svc.SaveInvoice(inv) }, func(saved store.Invoice, err error) {
		e.save.Enable()
		var bad *connec.InvalidInvoiceError
		switch {
		case errors.As(err, &bad):
			e.problem.SetText("Not saved:\n• " + strings.Join(bad.Problems, "\n• "))
			e.problem.Show()
			return
		case err != nil:
			e.problem.SetText("Not saved: " + err.Error())
			e.problem.Show()
			return
		}
		e.problem.Hide()
		e.load(saved, false)
		e.s.reload()
		dialog.ShowInformation("Invoice saved", fmt.Sprintf("%s saved; its push to %s's Connec! is queued.", saved.Number, saved.Tenant), e.s.m.win)
	})
}

func dateOnly(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.DateOnly)
}

func parseDate(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("want YYYY-MM-DD")
	}
	return t, nil
}
