package ui

import (
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/widget"

	"github.com/tenantdesk/tenantdesk/store"
)

const (
	activityPoll = 500 * time.Millisecond
	activityKeep = 5000 // events kept in memory, newest
	activityPage = 500
	allKinds     = "All kinds"
)

// activityScreen is the live log of listener events.
type activityScreen struct {
	m *mainWindow

	table  *dataTable[store.Event]
	tenant *widget.Select
	kind   *widget.Select
	search *widget.Entry
	root   fyne.CanvasObject

	events  []store.Event // newest first; UI goroutine only
	lastSeq uint64        // poller goroutine only
}

func newActivityScreen(m *mainWindow) *activityScreen {
	s := &activityScreen{m: m}
	s.table = newDataTable("events", "No activity yet.\nSign-ins, webhooks, Connec! notifications, billing and errors\nappear here as they happen. Start the listener in Settings\nand register the tenant URLs (Tenants screen).",
		column[store.Event]{title: "Time", width: 150, text: func(e store.Event) string { return e.At.Local().Format("2006-01-02 15:04:05") },
			compare: func(a, b store.Event) int { return a.At.Compare(b.At) }},
		column[store.Event]{title: "Tenant", width: 90, text: func(e store.Event) string { return e.Tenant }},
		column[store.Event]{title: "Kind", width: 80, text: func(e store.Event) string { return e.Kind }},
		column[store.Event]{title: "Outcome", width: 80, text: func(e store.Event) string { return e.Outcome },
			importance: func(e store.Event) widget.Importance {
				switch e.Outcome {
				case "failed":
					return widget.DangerImportance
				case "ok":
					return widget.SuccessImportance
				}
				return widget.MediumImportance
			}},
		column[store.Event]{title: "Reason", width: 140, text: func(e store.Event) string { return e.Reason }},
		column[store.Event]{title: "Message", width: 520, text: func(e store.Event) string { return e.Message }},
	)
	s.tenant = widget.NewSelect([]string{allTenants}, nil)
	s.tenant.SetSelected(allTenants)
	s.tenant.OnChanged = func(string) { s.applyFilter() }
	s.kind = widget.NewSelect([]string{allKinds, store.EventLogin, store.EventWebhook, store.EventConnec,
		store.EventBilling, store.EventOutbox, store.EventError}, nil)
	s.kind.SetSelected(allKinds)
	s.kind.OnChanged = func(string) { s.applyFilter() }
	s.search = widget.NewEntry()
	s.search.SetPlaceHolder("Filter messages (Ctrl+F)")
	s.search.OnChanged = func(string) { s.applyFilter() }
	top := container.NewBorder(nil, nil,
		container.NewHBox(widget.NewLabelWithStyle("Activity", fyne.TextAlignLeading, fyne.TextStyle{Bold: true}),
			fixed(150, s.tenant), fixed(130, s.kind)), nil, s.search)
	s.root = container.NewBorder(container.NewPadded(top), nil, nil, nil, s.table)
	return s
}

func (s *activityScreen) content() fyne.CanvasObject { return s.root }

func (s *activityScreen) shown() {
	s.m.loadTenantFilter(s.tenant, nil)
}

// start polls EventsAfter off the UI goroutine until the window goes away.
func (s *activityScreen) start() {
	go func() {
		t := time.NewTicker(activityPoll)
		defer t.Stop()
		for {
			s.poll()
			select {
			case <-s.m.ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
}

// poll reads new events (oldest first) and prepends them on the UI goroutine.
func (s *activityScreen) poll() {
	var fresh []store.Event
	for {
		evs, err := s.m.svc.EventsAfter(s.lastSeq, activityPage)
		if err != nil || len(evs) == 0 {
			break
		}
		fresh = append(fresh, evs...)
		s.lastSeq = evs[len(evs)-1].Seq
		if len(evs) < activityPage {
			break
		}
	}
	if len(fresh) == 0 {
		return
	}
	if len(fresh) > activityKeep {
		fresh = fresh[len(fresh)-activityKeep:]
	}
	uiDo(func() {
		merged := make([]store.Event, 0, min(len(fresh)+len(s.events), activityKeep))
		for i := len(fresh) - 1; i >= 0; i-- {
			merged = append(merged, fresh[i])
		}
		merged = append(merged, s.events...)
		if len(merged) > activityKeep {
			merged = merged[:activityKeep]
		}
		s.events = merged
		s.table.SetRows(merged)
	})
}

func (s *activityScreen) applyFilter() {
	t, k := s.tenant.Selected, s.kind.Selected
	q := strings.ToLower(strings.TrimSpace(s.search.Text))
	if (t == allTenants || t == "") && (k == allKinds || k == "") && q == "" {
		s.table.SetFilter(nil)
		return
	}
	s.table.SetFilter(func(e store.Event) bool {
		if t != allTenants && t != "" && e.Tenant != t {
			return false
		}
		if k != allKinds && k != "" && e.Kind != k {
			return false
		}
		return q == "" || strings.Contains(strings.ToLower(e.Message+" "+e.Reason), q)
	})
}
