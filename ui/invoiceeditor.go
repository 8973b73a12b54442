package ui

import (
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
	heading                   *widget.Label
	close                     *widget.Button // back to the list alone
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
	e.heading = widget.NewLabelWithStyle("", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	e.close = widget.NewButtonWithIcon("", theme.CancelIcon(), s.closeEditor)
	e.close.Importance = widget.LowImportance
	head := container.NewBorder(nil, nil, nil, e.close, e.heading)
	e.root = container.NewBorder(head, container.NewPadded(container.NewHBox(e.save)), nil, nil, container.NewVScroll(body))
	return e
}

func fixed(w float32, o fyne.CanvasObject) fyne.CanvasObject {
	return container.NewGridWrap(fyne.NewSize(w, o.MinSize().Height), o)
}

func (e *invoiceEditor) setTenants(keys []string) { e.tenant.SetOptions(keys) }

func (e *invoiceEditor) load(inv store.Invoice, isNew bool) {
	e.inv, e.isNew = inv, isNew
	e.heading.SetText("New invoice")
	if !isNew {
		e.heading.SetText("Invoice " + inv.Number)
	}
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
