package ui

import (
	"bufio"
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/storage"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/tenantdesk/tenantdesk/store"
	"github.com/tenantdesk/tenantdesk/tenant/admin"
)

const (
	allTenants  = "All tenants"
	allEntities = "All entities"
	// searchDelay debounces typing in search boxes.
	searchDelay = 250 * time.Millisecond
)

// knownEntities are offered in the entity filter; any other can be typed.
var knownEntities = []string{allEntities, "users", "organizations", "invoices", "items", "people", "payments", "sales_orders"}

// idmapScreen browses the identity map through a virtualised table.
type idmapScreen struct {
	m *mainWindow

	table  *dataTable[store.ConnectedObject]
	tenant *widget.Select
	entity *widget.SelectEntry
	search *widget.Entry
	order  *widget.Label
	detail *widget.Form
	local  *widget.Form
	note   *widget.Label
	export *widget.Button
	root   fyne.CanvasObject
	pager  *idmapPager
	cancel context.CancelFunc
	gen    int
	timer  *time.Timer
}

func newIdmapScreen(m *mainWindow) *idmapScreen {
	s := &idmapScreen{m: m}
	s.table = newDataTable("rows", "No identity-map rows match.\nRows appear when users sign in, webhooks arrive and invoices sync.\nTry another tenant or entity, or clear the search.",
		column[store.ConnectedObject]{title: "Tenant", width: 90, text: func(c store.ConnectedObject) string { return c.Tenant }},
		column[store.ConnectedObject]{title: "Entity", width: 110, text: func(c store.ConnectedObject) string { return c.Entity }},
		column[store.ConnectedObject]{title: "Name", width: 220, text: func(c store.ConnectedObject) string { return c.Name }},
		column[store.ConnectedObject]{title: "Local", width: 150, text: func(c store.ConnectedObject) string { return c.LocalKind + " " + c.LocalID }},
		column[store.ConnectedObject]{title: "Remote id", width: 200, text: func(c store.ConnectedObject) string { return c.RemoteID }},
		column[store.ConnectedObject]{title: "Group", width: 100, text: func(c store.ConnectedObject) string { return c.GroupUID }},
		column[store.ConnectedObject]{title: "Updated", width: 150, text: func(c store.ConnectedObject) string { return shortTime(c.UpdatedAt) }},
		column[store.ConnectedObject]{title: "State", width: 80, text: func(c store.ConnectedObject) string {
			switch {
			case c.LastError != "":
				return "error"
			case c.Inactive:
				return "inactive"
			}
			return "active"
		}, importance: func(c store.ConnectedObject) widget.Importance {
			switch {
			case c.LastError != "":
				return widget.DangerImportance
			case c.Inactive:
				return widget.LowImportance
			}
			return widget.SuccessImportance
		}},
	)
	s.table.OnSelected = s.showDetail
	s.tenant = widget.NewSelect([]string{allTenants}, nil)
	s.tenant.SetSelected(allTenants)
	s.tenant.OnChanged = func(string) { s.requery() }
	s.entity = widget.NewSelectEntry(knownEntities)
	s.entity.SetText(allEntities)
	s.entity.OnChanged = func(string) { s.debounce() }
	s.search = widget.NewEntry()
	s.search.SetPlaceHolder("Search by name prefix (Ctrl+F)")
	s.search.OnChanged = func(string) { s.debounce() }
	s.order = widget.NewLabel("")
	s.order.Importance = widget.LowImportance
	s.order.SizeName = theme.SizeNameCaptionText
	s.export = widget.NewButtonWithIcon("Export CSV…", theme.DownloadIcon(), s.exportCSV)

	s.detail = widget.NewForm()
	s.local = widget.NewForm()
	s.note = widget.NewLabel("Select a row to see it and the local record it maps.")
	s.note.Wrapping = fyne.TextWrapWord
	s.note.Importance = widget.LowImportance
	detailPane := container.NewVScroll(container.NewVBox(
		widget.NewLabelWithStyle("Row", fyne.TextAlignLeading, fyne.TextStyle{Bold: true}), s.detail,
		widget.NewLabelWithStyle("Local record", fyne.TextAlignLeading, fyne.TextStyle{Bold: true}), s.local, s.note))

	filters := container.NewHBox(
		container.NewGridWrap(fyne.NewSize(170, s.tenant.MinSize().Height), s.tenant),
		container.NewGridWrap(fyne.NewSize(170, s.entity.MinSize().Height), s.entity))
	top := container.NewBorder(nil, s.order,
		container.NewHBox(widget.NewLabelWithStyle("Identity map", fyne.TextAlignLeading, fyne.TextStyle{Bold: true}), filters),
		s.export, s.search)
	split := container.NewHSplit(s.table, detailPane)
	split.Offset = 0.70
	s.root = container.NewBorder(container.NewPadded(top), nil, nil, nil, split)
	return s
}

func (s *idmapScreen) content() fyne.CanvasObject { return s.root }

func (s *idmapScreen) shown() {
	s.m.loadTenantFilter(s.tenant, nil)
	s.requery()
}

// filter reads the filter widgets.
func (s *idmapScreen) filter() admin.IdmapFilter {
	f := admin.IdmapFilter{NamePrefix: strings.TrimSpace(s.search.Text)}
	if t := s.tenant.Selected; t != allTenants {
		f.Tenant = t
	}
	if e := strings.TrimSpace(s.entity.Text); e != allEntities {
		f.Entity = e
	}
	return f
}

func (s *idmapScreen) debounce() {
	if s.timer != nil {
		s.timer.Stop()
	}
	s.timer = time.AfterFunc(searchDelay, func() { uiDo(s.requery) })
}

// requery counts the rows of the filter off the UI goroutine, then swaps a
// fresh pager in. An older query still counting is cancelled.
func (s *idmapScreen) requery() {
	if s.cancel != nil {
		s.cancel()
	}
	ctx, cancel := context.WithCancel(s.m.ctx)
	s.cancel = cancel
	s.gen++
	gen := s.gen
	f := s.filter()
	if f.NamePrefix != "" {
		s.order.SetText("Counting matches… Rows are in name order.")
	}
	background(func() (int, error) { return s.m.svc.CountConnected(ctx, f) }, func(n int, err error) {
		if gen != s.gen {
			return
		}
		if err != nil {
			if ctx.Err() == nil {
				s.m.showError("Could not read the identity map", err)
			}
			return
		}
		if f.NamePrefix != "" {
			s.order.SetText("Rows are in name order (the name index); columns do not re-sort at this size.")
		} else {
			s.order.SetText("Rows are by tenant and entity, each in the order they were created (the tenant/entity index); search by name for name order.")
		}
		s.pager = newIdmapPager(ctx, s.m.svc, f, n, func() {
			if gen == s.gen {
				s.table.table.Refresh()
			}
		})
		orderedBy := -1
		if f.NamePrefix != "" {
			orderedBy = 2 // Name: the name index
		}
		s.table.setSource(s.pager, orderedBy)
		s.table.table.UnselectAll()
		s.table.table.ScrollToTop()
	})
}

// showDetail loads the row and its local record.
func (s *idmapScreen) showDetail(row store.ConnectedObject) {
	id := row.ID
	background(func() (admin.ConnectedDetail, error) { return s.m.svc.Connected(id) }, func(d admin.ConnectedDetail, err error) {
		if err != nil {
			s.note.SetText("Could not read row " + strconv.FormatUint(id, 10) + ": " + err.Error())
			return
		}
		r := d.Row
		fields := []admin.Field{
			{Label: "Id", Value: strconv.FormatUint(r.ID, 10)}, {Label: "Tenant", Value: r.Tenant}, {Label: "Group", Value: r.GroupUID},
			{Label: "Name", Value: r.Name}, {Label: "Local", Value: r.LocalKind + " " + r.LocalID},
			{Label: "Provider", Value: r.Provider}, {Label: "Entity", Value: r.Entity}, {Label: "Remote id", Value: r.RemoteID},
			{Label: "Created", Value: shortTime(r.CreatedAt)}, {Label: "Updated", Value: shortTime(r.UpdatedAt)},
			{Label: "Last push", Value: shortTime(r.LastPushAt)}, {Label: "Last pull", Value: shortTime(r.LastPullAt)},
			{Label: "Push", Value: onOff(!r.PushDisabled)}, {Label: "Pull", Value: onOff(!r.PullDisabled)},
			{Label: "Inactive", Value: fmt.Sprint(r.Inactive)},
		}
		if r.LastError != "" {
			fields = append(fields, admin.Field{Label: "Last error", Value: r.LastError})
		}
		fillForm(s.detail, fields)
		fillForm(s.local, d.Local)
		switch {
		case d.LocalMissing && r.LocalKind == store.KindRecord:
			s.note.SetText("The record's data is not stored locally.")
		case d.LocalMissing:
			s.note.SetText("The local " + r.LocalKind + " no longer exists.")
		default:
			s.note.SetText("")
		}
	})
}

func fillForm(f *widget.Form, fields []admin.Field) {
	f.Items = nil
	for _, fl := range fields {
		v := widget.NewLabel(fl.Value)
		v.Wrapping = fyne.TextWrapBreak
		v.Selectable = true
		f.Items = append(f.Items, widget.NewFormItem(fl.Label, v))
	}
	f.Refresh()
}

// exportCSV streams the filtered rows to a CSV file.
func (s *idmapScreen) exportCSV() {
	f := s.filter()
	d := dialog.NewFileSave(func(w fyne.URIWriteCloser, err error) {
		if err != nil {
			s.m.showError("Could not create the file", err)
			return
		}
		if w == nil {
			return
		}
		s.export.Disable()
		background(func() (int, error) {
			bw := bufio.NewWriterSize(w, 64<<10)
			n, err := s.m.svc.ExportConnectedCSV(s.m.ctx, f, bw)
			if ferr := bw.Flush(); err == nil {
				err = ferr
			}
			if cerr := w.Close(); err == nil {
				err = cerr
			}
			return n, err
		}, func(n int, err error) {
			s.export.Enable()
			if err != nil {
				s.m.showError("Export failed", err)
				return
			}
			dialog.ShowInformation("Export done", fmt.Sprintf("Wrote %s rows to %s.", thousands(n), w.URI().Path()), s.m.win)
		})
	}, s.m.win)
	d.SetFileName("identity-map.csv")
	d.SetFilter(storage.NewExtensionFileFilter([]string{".csv"}))
	d.Resize(fyne.NewSize(800, 560))
	d.Show()
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

// shortTime formats a time for tables, in local time; zero is empty.
func shortTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Local().Format("2006-01-02 15:04")
}
