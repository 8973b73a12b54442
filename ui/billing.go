package ui

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/tenantdesk/tenantdesk/store"
	"github.com/tenantdesk/tenantdesk/tenant/admin"
	"github.com/tenantdesk/tenantdesk/tenant/billing"
	"github.com/tenantdesk/tenantdesk/tenant/money"
)

// billingScreen previews and runs billing for a period.
type billingScreen struct {
	m *mainWindow

	period  *widget.Entry
	tenant  *widget.Select
	preview *widget.Button
	run     *widget.Button
	retry   *widget.Button
	cancel  *widget.Button
	// cancelBill cancels the selected submitted bill (after a
	// confirmation); rebill bills the selected cancelled group again.
	cancelBill *widget.Button
	rebill     *widget.Button
	selected   *admin.BillLine
	selHint    *widget.Label
	progress   *widget.ProgressBar
	status     *widget.Label
	lines      *dataTable[admin.BillLine]
	history    *dataTable[store.BillingRun]
	root       fyne.CanvasObject

	running   bool // UI-goroutine view of a run this screen started
	cancels   int  // bills cancelled from this screen (tests)
	runRebill []string
	notice    string // shown above the next preview's summary
	stopRun   context.CancelFunc
	runs      int // runs started from this screen (tests)
	lastSum   admin.BillingSummary
	counts    billCounts // what the progress bar says
	lastError error
	loads     loadSeq // history
	previews  loadSeq
}

func newBillingScreen(m *mainWindow) *billingScreen {
	s := &billingScreen{m: m}
	s.period = widget.NewEntry()
	s.period.SetText(admin.PreviousPeriod(time.Now()))
	s.period.Validator = func(v string) error { _, err := admin.ParsePeriod(v); return err }
	s.tenant = widget.NewSelect([]string{allTenants}, nil)
	s.tenant.SetSelected(allTenants)
	s.preview = widget.NewButtonWithIcon("Preview", theme.SearchIcon(), s.showPreview)
	s.run = widget.NewButtonWithIcon("Run billing", theme.MediaPlayIcon(), s.startRun)
	s.run.Importance = widget.HighImportance
	s.retry = widget.NewButtonWithIcon("Retry failed", theme.ViewRefreshIcon(), s.startRun)
	s.retry.Hide()
	s.cancel = widget.NewButtonWithIcon("Cancel", theme.CancelIcon(), func() {
		if s.stopRun != nil {
			s.stopRun()
		}
	})
	s.cancel.Hide()
	s.cancelBill = widget.NewButtonWithIcon("Cancel bill…", theme.DeleteIcon(), s.confirmCancelBill)
	s.cancelBill.Importance = widget.DangerImportance
	s.cancelBill.Disable()
	s.rebill = widget.NewButtonWithIcon("Bill again", theme.MediaReplayIcon(), s.billAgain)
	s.rebill.Hide()
	s.progress = widget.NewProgressBar()
	s.progress.TextFormatter = s.counts.text
	s.status = widget.NewLabel("Preview shows what a run would submit; nothing is sent until you click “Run billing”.")
	s.status.Wrapping = fyne.TextWrapWord

	s.lines = newDataTable("bills", "Nothing to bill for this period.\nBilling covers every active group of every enabled tenant:\nadd tenants, or wait for customers to sign in.",
		column[admin.BillLine]{title: "Tenant", width: 90, text: func(l admin.BillLine) string { return l.Tenant }},
		column[admin.BillLine]{title: "Group", width: 100, text: func(l admin.BillLine) string { return l.GroupUID }},
		column[admin.BillLine]{title: "Customer", width: 150, text: func(l admin.BillLine) string { return l.GroupName }},
		column[admin.BillLine]{title: "Amount", width: 110, text: func(l admin.BillLine) string {
			if l.Currency == "" {
				return ""
			}
			return money.Format(l.AmountCents, l.Currency)
		},
			compare: func(a, b admin.BillLine) int { return int(a.AmountCents - b.AmountCents) }},
		column[admin.BillLine]{title: "Description", width: 210, text: func(l admin.BillLine) string { return l.Description }},
		column[admin.BillLine]{title: "Result", width: 150, text: lineResult, importance: lineImportance},
		column[admin.BillLine]{title: "Bill id / error", width: 260, text: func(l admin.BillLine) string {
			if l.Error != "" {
				return l.Error
			}
			return l.RemoteID
		}},
	)
	s.lines.OnSelected = s.selectLine
	s.history = newDataTable("runs", "No billing runs yet.",
		column[store.BillingRun]{title: "Run", width: 50, text: func(r store.BillingRun) string { return fmt.Sprint(r.ID) }},
		column[store.BillingRun]{title: "Period", width: 80, text: func(r store.BillingRun) string { return r.Period }},
		column[store.BillingRun]{title: "Tenant", width: 80, text: func(r store.BillingRun) string {
			if r.Tenant == "" {
				return "all"
			}
			return r.Tenant
		}},
		column[store.BillingRun]{title: "Started", width: 140, text: func(r store.BillingRun) string { return shortTime(r.StartedAt) }},
		column[store.BillingRun]{title: "Took", width: 70, text: func(r store.BillingRun) string {
			if r.FinishedAt.IsZero() {
				return "…"
			}
			return r.FinishedAt.Sub(r.StartedAt).Round(100 * time.Millisecond).String()
		}},
		column[store.BillingRun]{title: "Submitted", width: 90, text: func(r store.BillingRun) string { return fmt.Sprint(r.Submitted) }},
		column[store.BillingRun]{title: "Skipped", width: 80, text: func(r store.BillingRun) string { return fmt.Sprint(r.Skipped) }},
		column[store.BillingRun]{title: "Failed", width: 70, text: func(r store.BillingRun) string { return fmt.Sprint(r.Failed) },
			importance: func(r store.BillingRun) widget.Importance {
				if r.Failed > 0 {
					return widget.DangerImportance
				}
				return widget.MediumImportance
			}},
		column[store.BillingRun]{title: "", width: 90, text: func(r store.BillingRun) string {
			if r.Cancelled {
				return "cancelled"
			}
			return ""
		}},
	)

	periodBox := container.NewHBox(widget.NewLabel("Period"), fixed(110, s.period), widget.NewLabel("Tenant"), fixed(150, s.tenant))
	top := container.NewBorder(nil, nil,
		container.NewHBox(widget.NewLabelWithStyle("Billing", fyne.TextAlignLeading, fyne.TextStyle{Bold: true}), periodBox),
		container.NewHBox(s.preview, s.retry, s.cancel, s.run), nil)
	s.selHint = widget.NewLabel(selectHintText)
	s.selHint.Importance = widget.LowImportance
	s.selHint.Truncation = fyne.TextTruncateEllipsis
	lineActions := container.NewBorder(nil, nil, nil, container.NewHBox(s.rebill, s.cancelBill), s.selHint)
	runBox := container.NewVBox(s.progress, s.status, lineActions)
	upper := container.NewBorder(runBox, nil, nil, nil, s.lines)
	lower := container.NewBorder(widget.NewLabelWithStyle("Run history", fyne.TextAlignLeading, fyne.TextStyle{Bold: true}), nil, nil, nil, s.history)
	split := container.NewVSplit(upper, lower)
	split.Offset = 0.68
	s.root = container.NewBorder(container.NewPadded(top), nil, nil, nil, split)
	return s
}

func lineResult(l admin.BillLine) string {
	switch {
	case l.Status == store.BillSubmitted && l.Action != billing.ActionSkip:
		if l.Adopted {
			return "submitted (found)"
		}
		return "submitted"
	case l.Status == store.BillFailed:
		return "failed"
	case l.Status == store.BillPending:
		return "pending"
	case l.Status == store.BillCancelled && l.Action == billing.ActionCancelled:
		return "cancelled"
	}
	return string(l.Action)
}

// lineRank orders run results: failed, then the rest.
func lineRank(l admin.BillLine) int {
	if l.Status == store.BillFailed || l.Error != "" {
		return 0
	}
	return 1
}

func lineImportance(l admin.BillLine) widget.Importance {
	switch {
	case l.Status == store.BillFailed || l.Error != "":
		return widget.DangerImportance
	case l.Status == store.BillSubmitted && l.Action != billing.ActionSkip:
		return widget.SuccessImportance
	case l.Action == billing.ActionCancelled:
		return widget.WarningImportance
	case l.Action == billing.ActionSkip || l.Action == billing.ActionNothing || l.Action == billing.ActionDirect:
		return widget.LowImportance
	}
	return widget.MediumImportance
}

func (s *billingScreen) content() fyne.CanvasObject { return s.root }

func (s *billingScreen) shown() {
	s.m.loadTenantFilter(s.tenant, nil)
	s.reloadHistory()
	if !s.running {
		s.showPreview()
	}
}

func (s *billingScreen) selectedTenant() string {
	if s.tenant.Selected == allTenants {
		return ""
	}
	return s.tenant.Selected
}

func (s *billingScreen) reloadHistory() {
	current := s.loads.next()
	background(func() ([]store.BillingRun, error) { return s.m.svc.BillingHistory(50) }, func(runs []store.BillingRun, err error) {
		if err == nil && current() {
			s.history.SetRows(runs)
		}
	})
}

func (s *billingScreen) showPreview() {
	period, tenantKey := s.period.Text, s.selectedTenant()
	if _, err := admin.ParsePeriod(period); err != nil {
		s.status.SetText(err.Error())
		return
	}
	current := s.previews.next()
	background(func() ([]admin.BillLine, error) { return s.m.svc.BillingPreview(period, tenantKey) }, func(lines []admin.BillLine, err error) {
		if !current() || s.running {
			return
		}
		if err != nil {
			s.status.SetText("Preview failed: " + err.Error())
			return
		}
		due, failed := 0, 0
		for _, l := range lines {
			if l.Due() {
				due++
			}
			if l.Status == store.BillFailed {
				failed++
			}
		}
		s.lines.SetRows(lines)
		s.selectLine(admin.BillLine{})
		s.showCounts(countBills(lines))
		text := fmt.Sprintf("Preview of %s: %d bill%s to send, nothing sent yet.", period, due, plural(due, "s"))
		if s.notice != "" {
			text, s.notice = s.notice+"\n"+text, ""
		}
		s.status.SetText(text)
		if failed > 0 {
			s.retry.SetText(fmt.Sprintf("Retry %d failed", failed))
			s.retry.Show()
		} else {
			s.retry.Hide()
		}
	})
}

// startRun runs billing off the UI goroutine. The buttons are disabled for
// the run, and the service refuses a second run anyway (ErrRunInProgress).
func (s *billingScreen) startRun() {
	if s.running {
		return
	}
	period, tenantKey := s.period.Text, s.selectedTenant()
	if _, err := admin.ParsePeriod(period); err != nil {
		s.status.SetText(err.Error())
		return
	}
	rebill := s.runRebill
	s.runRebill = nil
	s.running = true
	s.selectLine(admin.BillLine{})
	s.previews.next()
	s.runs++
	s.run.Disable()
	s.retry.Disable()
	s.preview.Disable()
	s.cancel.Show()
	// Bills submitted by earlier runs count as submitted from the start;
	// the run's progress adds to them.
	before := countBills(s.lines.all)
	s.showCounts(billCounts{bills: before.bills, submitted: before.bills - before.due})
	s.status.SetText("Billing " + period + "…")
	ctx, cancel := context.WithCancel(s.m.ctx)
	s.stopRun = cancel
	progress := newLatest(func(p admin.BillingProgress) {
		done := before.bills - before.due
		s.showCounts(billCounts{bills: done + p.Total, submitted: done + p.Done - p.Failed, failed: p.Failed})
		s.status.SetText(fmt.Sprintf("Billing %s: %d of %d sent, %d failed. Last: %s %s.", period, p.Done, p.Total, p.Failed, p.Line.GroupUID, lineResult(p.Line)))
	}).put
	background(func() (admin.BillingSummary, error) {
		defer cancel()
		return s.m.svc.RunBilling(ctx, period, tenantKey, progress, rebill...)
	}, func(sum admin.BillingSummary, err error) {
		s.running = false
		s.stopRun = nil
		s.lastSum, s.lastError = sum, err
		s.run.Enable()
		s.retry.Enable()
		s.preview.Enable()
		s.cancel.Hide()
		if errors.Is(err, admin.ErrRunInProgress) {
			s.status.SetText("A billing run is already going; wait for it to finish.")
			return
		}
		if sum.Lines != nil {
			// Failed bills first: they are what needs a look.
			lines := slices.Clone(sum.Lines)
			slices.SortStableFunc(lines, func(a, b admin.BillLine) int {
				return cmp.Compare(lineRank(a), lineRank(b))
			})
			s.lines.SetRows(lines)
		}
		if sum.Lines != nil {
			s.showCounts(countBills(sum.Lines))
		}
		text := fmt.Sprintf("Run %d of %s: %d submitted, %d skipped (already billed), %d failed in %s.",
			sum.RunID, period, sum.Submitted, sum.Skipped, sum.Failed, sum.Duration.Round(time.Millisecond))
		if err != nil && !errors.Is(err, billing.ErrIncomplete) {
			text += " " + err.Error()
		}
		s.status.SetText(text)
		if sum.Failed > 0 {
			s.retry.SetText(fmt.Sprintf("Retry %d failed", sum.Failed))
			s.retry.Show()
		} else {
			s.retry.Hide()
		}
		s.reloadHistory()
	})
}

// selectLine offers the actions of the selected bill: Cancel for a
// submitted one, Bill again for a cancelled one. The zero line clears it.
func (s *billingScreen) selectLine(l admin.BillLine) {
	s.selected = nil
	s.cancelBill.Disable()
	s.rebill.Hide()
	s.selHint.Importance = widget.LowImportance
	s.selHint.SetText(selectHintText)
	if l.GroupUID == "" || s.running {
		return
	}
	s.selected = &l
	who := fmt.Sprintf("%s (%s, tenant %s)", firstNonEmptyText(l.GroupName, l.GroupUID), l.GroupUID, l.Tenant)
	switch {
	case l.Status == store.BillSubmitted && l.RemoteID != "":
		s.cancelBill.Enable()
		s.selHint.Importance = widget.MediumImportance
		s.selHint.SetText("Selected: bill " + l.RemoteID + " of " + who + ", submitted.")
	case l.Action == billing.ActionCancelled:
		s.rebill.SetText("Bill " + l.GroupUID + " again")
		s.rebill.Show()
		s.selHint.Importance = widget.MediumImportance
		s.selHint.SetText("Selected: " + who + ", whose bill " + l.RemoteID + " was cancelled; runs leave it alone until you bill it again.")
	}
}

const selectHintText = "Select a submitted bill to cancel it, or a cancelled one to bill it again."

// confirmCancelBill asks, then cancels the selected bill at the tenant's
// API off the UI goroutine; the ledger and the list follow.
func (s *billingScreen) confirmCancelBill() {
	if s.selected == nil || s.running {
		return
	}
	l, period := *s.selected, s.period.Text
	dialog.ShowConfirm("Cancel bill "+l.RemoteID+"?",
		fmt.Sprintf("The bill of %s (%s, tenant %s) for %s, %s, is cancelled at the marketplace.\n"+
			"Later billing runs of %s leave this customer alone unless you bill them again.",
			firstNonEmptyText(l.GroupName, l.GroupUID), l.GroupUID, l.Tenant, period, money.Format(l.AmountCents, l.Currency), period),
		func(ok bool) {
			if ok {
				s.cancelSelected(period, l)
			}
		}, s.m.win)
}

func (s *billingScreen) cancelSelected(period string, l admin.BillLine) {
	s.cancelBill.Disable()
	s.status.SetText("Cancelling bill " + l.RemoteID + "…")
	background(func() (store.Bill, error) {
		ctx, cancel := context.WithTimeout(s.m.ctx, time.Minute)
		defer cancel()
		return s.m.svc.CancelBill(ctx, period, l.Tenant, l.GroupUID)
	}, func(b store.Bill, err error) {
		if err != nil {
			s.status.SetText("Not cancelled (nothing changed): " + err.Error())
			s.selectLine(l)
			return
		}
		s.cancels++
		s.notice = fmt.Sprintf("Bill %s of %s for %s cancelled. Runs of %s leave this group alone; select it and click “Bill again” to bill it once more.",
			b.RemoteID, b.GroupUID, b.Period, b.Period)
		s.status.SetText(s.notice)
		s.showPreview()
	})
}

// billAgain runs billing for the selected cancelled group only.
func (s *billingScreen) billAgain() {
	if s.selected == nil || s.running {
		return
	}
	s.runRebill = []string{s.selected.GroupUID}
	s.startRun()
}

func firstNonEmptyText(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// billCounts is what the progress bar says about a period's bills: those
// submitted (by this run or earlier ones) and those failed, of every bill
// the period has or is due to have. Rows with nothing to send (price 0,
// removed tenants, cancelled bills) are not bills and not counted.
type billCounts struct {
	bills, submitted, failed int
	due                      int // still to send (preview)
}

func countBills(lines []admin.BillLine) billCounts {
	var c billCounts
	for _, l := range lines {
		switch {
		case l.Action == billing.ActionSkip:
			c.bills++
			c.submitted++
		case l.Due():
			c.bills++
			c.due++
			switch l.Status {
			case store.BillSubmitted:
				c.submitted++
			case store.BillFailed:
				c.failed++
			}
		}
	}
	return c
}

// text is the progress bar's label.
func (c *billCounts) text() string {
	if c.bills == 0 {
		return "No bills for this period"
	}
	t := fmt.Sprintf("%d of %d bill%s submitted", c.submitted, c.bills, plural(c.bills, "s"))
	if c.failed > 0 {
		t += fmt.Sprintf(" · %d failed", c.failed)
	}
	return t
}

// showCounts puts c on the bar: it fills with the submitted bills.
func (s *billingScreen) showCounts(c billCounts) {
	s.counts = c
	s.progress.Max = float64(max(c.bills, 1))
	s.progress.SetValue(float64(c.submitted))
}
