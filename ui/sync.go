package ui

import (
	"fmt"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/tenantdesk/tenantdesk/store"
	"github.com/tenantdesk/tenantdesk/tenant/admin"
	"github.com/tenantdesk/tenantdesk/tenant/connec"
)

// syncPanel shows the Connec! pull state of each (tenant, group,
// collection) and pulls now, with progress, off the UI goroutine.
type syncPanel struct {
	m        *mainWindow
	table    *dataTable[admin.SyncState]
	pullNow  *widget.Button
	full     *widget.Check
	progress *widget.ProgressBar
	status   *widget.Label
	root     fyne.CanvasObject
	selected *admin.SyncState
	running  bool
	loads    loadSeq
	// tenant is the invoices screen's tenant filter ("" = every tenant).
	tenant func() string
}

func newSyncPanel(m *mainWindow, tenantFilter func() string) *syncPanel {
	p := &syncPanel{m: m, tenant: tenantFilter}
	p.table = newDataTable("groups", "Nothing pulled from Connec! yet.\nA group's first sign-in queues its first pull; “Pull now” pulls every group now.",
		column[admin.SyncState]{title: "Tenant", width: 75, text: func(s admin.SyncState) string { return s.Tenant }},
		column[admin.SyncState]{title: "Group", width: 90, text: func(s admin.SyncState) string { return s.GroupUID }},
		column[admin.SyncState]{title: "Collection", width: 85, text: func(s admin.SyncState) string { return s.Collection }},
		column[admin.SyncState]{title: "Last pull", width: 140, text: func(s admin.SyncState) string { return shortTime(s.LastPullAt) },
			compare: func(a, b admin.SyncState) int { return a.LastPullAt.Compare(b.LastPullAt) }},
		column[admin.SyncState]{title: "Stored", width: 60, text: func(s admin.SyncState) string { return fmt.Sprint(s.Last.Stored) },
			compare: func(a, b admin.SyncState) int { return a.Last.Stored - b.Last.Stored }},
		column[admin.SyncState]{title: "Unchanged", width: 92, text: func(s admin.SyncState) string { return fmt.Sprint(s.Last.Unchanged) }},
		column[admin.SyncState]{title: "Skipped", width: 72, text: func(s admin.SyncState) string { return fmt.Sprint(s.Last.Skipped) },
			importance: func(s admin.SyncState) widget.Importance {
				if s.Last.Skipped > 0 {
					return widget.WarningImportance
				}
				return widget.MediumImportance
			}},
		column[admin.SyncState]{title: "State", width: 260, fill: true, text: syncStateText, importance: syncStateImportance},
	)
	p.table.OnSelected = p.selectState
	p.pullNow = widget.NewButtonWithIcon("Pull now", theme.DownloadIcon(), p.pull)
	p.full = widget.NewCheck("Full", nil)
	p.progress = widget.NewProgressBar()
	p.progress.Hide()
	p.status = widget.NewLabel("")
	p.status.Wrapping = fyne.TextWrapWord
	p.status.Hide()
	top := container.NewBorder(nil, nil,
		widget.NewLabelWithStyle("Connec! sync", fyne.TextAlignLeading, fyne.TextStyle{Bold: true}),
		container.NewHBox(p.full, p.pullNow), p.progress)
	p.root = container.NewBorder(top, p.status, nil, nil, p.table)
	p.updateButton()
	return p
}

// syncStateText says where a pull stands: stopped, failing, queued,
// halfway, or fine.
func syncStateText(s admin.SyncState) string {
	switch {
	case s.Stopped != "" || s.Status == store.PullStopped:
		return "stopped: Connec! refused the credentials (401)"
	case s.LastError != "" && s.Status == store.PullQueued:
		return fmt.Sprintf("retrying (%d): %s", s.Attempts, s.LastError)
	case s.LastError != "":
		return "failed: " + s.LastError
	case s.Status == store.PullQueued && s.LastPullAt.IsZero():
		return "initial pull queued"
	case s.Status == store.PullQueued:
		return "queued"
	case s.Cursor != "":
		return fmt.Sprintf("halfway (%d pages read)", s.Run.Pages)
	}
	return fmt.Sprintf("in step · %d linked back", s.Last.Linked)
}

func syncStateImportance(s admin.SyncState) widget.Importance {
	switch {
	case s.Stopped != "" || s.Status == store.PullStopped || s.Status == store.PullFailed:
		return widget.DangerImportance
	case s.LastError != "" || s.Status == store.PullQueued || s.Cursor != "":
		return widget.WarningImportance
	}
	return widget.SuccessImportance
}

// selectState offers a pull of the selected group and says its whole
// state under the table, where a long error has room to wrap.
func (p *syncPanel) selectState(s admin.SyncState) {
	p.selected = &s
	p.updateButton()
	if p.running {
		return
	}
	p.status.SetText(s.Tenant + " " + s.GroupUID + " " + s.Collection + ": " + syncStateText(s))
	p.status.Importance = syncStateImportance(s)
	p.status.Refresh()
	p.status.Show()
}

func (p *syncPanel) updateButton() {
	switch {
	case p.running:
		p.pullNow.Disable()
		p.pullNow.SetText("Pulling…")
	case p.selected != nil:
		p.pullNow.Enable()
		p.pullNow.SetText("Pull " + p.selected.GroupUID + " now")
	default:
		p.pullNow.Enable()
		p.pullNow.SetText("Pull now")
	}
}

func (p *syncPanel) reload() {
	current := p.loads.next()
	tk := p.tenant()
	background(func() ([]admin.SyncState, error) { return p.m.svc.SyncStates(tk) }, func(rows []admin.SyncState, err error) {
		if !current() {
			return
		}
		if err != nil {
			p.m.showError("Could not read the Connec! sync state", err)
			return
		}
		p.table.SetRows(rows)
	})
}

// pull pulls the selected group (or every group of the tenant filter)
// now; progress arrives from the pull's goroutine through uiDo.
func (p *syncPanel) pull() {
	if p.running {
		return
	}
	req := connec.PullRequest{Tenant: p.tenant(), Full: p.full.Checked}
	if p.selected != nil {
		req.Tenant, req.Group = p.selected.Tenant, p.selected.GroupUID
	}
	p.running = true
	p.updateButton()
	p.progress.SetValue(0)
	p.progress.Show()
	p.status.SetText("Pulling from Connec!…")
	p.status.Importance = widget.MediumImportance
	p.status.Show()
	background(func() ([]admin.PullRow, error) {
		return p.m.svc.PullConnec(p.m.ctx, req, newLatest(func(pr connec.PullProgress) {
			read := pr.Counts.Stored + pr.Counts.Unchanged + pr.Counts.Skipped
			if pr.Total > 0 {
				p.progress.SetValue(min(1, float64(read)/float64(pr.Total)))
			}
			p.status.SetText(fmt.Sprintf("%s %s %s: page %d, %d records read…", pr.Tenant, pr.GroupUID, pr.Collection, pr.Counts.Pages, read))
		}).put)
	}, func(rows []admin.PullRow, err error) {
		p.running = false
		p.updateButton()
		p.progress.SetValue(1)
		p.progress.Hide()
		if err != nil {
			p.status.SetText("Pull failed: " + err.Error())
			p.status.Importance = widget.DangerImportance
			p.status.Refresh()
			p.reload()
			return
		}
		p.status.SetText(pullSummary(rows))
		p.status.Importance = widget.SuccessImportance
		for _, r := range rows {
			if !r.Complete {
				p.status.Importance = widget.DangerImportance
			}
		}
		p.status.Refresh()
		p.m.invoices.reload() // the invoices, and this table
	})
}

// pullSummary is one line for the status under the table.
func pullSummary(rows []admin.PullRow) string {
	if len(rows) == 0 {
		return "Nothing to pull: no enabled tenant with Connec!, or no active group."
	}
	var c store.PullCounts
	var failed []string
	for _, r := range rows {
		c.Stored += r.Counts.Stored
		c.Unchanged += r.Counts.Unchanged
		c.Skipped += r.Counts.Skipped
		c.Linked += r.Counts.Linked
		if !r.Complete {
			failed = append(failed, fmt.Sprintf("%s %s %s: %s", r.Tenant, r.GroupUID, r.Collection, r.Error))
		}
	}
	s := fmt.Sprintf("Pulled %d group collection(s): %d stored, %d unchanged, %d skipped, %d linked back.",
		len(rows), c.Stored, c.Unchanged, c.Skipped, c.Linked)
	if len(failed) > 0 {
		s += "\nNot every page was read (it resumes there): " + strings.Join(failed, "; ")
	}
	return s
}
