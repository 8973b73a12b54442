package ui

import (
	"strings"
	"sync"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"github.com/tenantdesk/tenantdesk/tenant/admin"
)

// demoWindow is the main window over a data file holding the demo data.
func demoWindow(t *testing.T) (*mainWindow, *admin.Service) {
	t.Helper()
	m, svc := newTestWindow(t)
	if _, err := admin.SeedDemo(svc.DB(), time.Now()); err != nil {
		t.Fatal(err)
	}
	return m, svc
}

// The demo period has six bills: five submitted by the last run, one
// failed. The bar counts all six, as the table beside it shows them.
func TestBillingCountMatchesTheRows(t *testing.T) {
	m, _ := demoWindow(t)
	s := m.billing
	onUI(func() { m.showScreen("billing") })
	eventually(t, "the preview", func() bool { return s.lines.Len() == 6 })
	var text string
	var value, maxValue float64
	onUI(func() { text, value, maxValue = s.progress.TextFormatter(), s.progress.Value, s.progress.Max })
	if text != "5 of 6 bills submitted · 1 failed" || value != 5 || maxValue != 6 {
		t.Fatalf("bar says %q at %v of %v beside 6 rows; want 5 of 6 submitted, 1 failed", text, value, maxValue)
	}
}

// The tenant list's status is a drawn circle (filled: enabled, outline:
// disabled), never a glyph that a font may lack.
func TestTenantStatusIsDrawnAsADot(t *testing.T) {
	m, _ := demoWindow(t)
	onUI(func() { m.showScreen("tenants") })
	eventually(t, "the tenants", func() bool { return m.tenants.list.Len() == 3 })
	var on []bool
	onUI(func() {
		test.WidgetRenderer(m.tenants.list.table) // lay the cells out
		for row := 0; row < 3; row++ {
			cell := container0(t, m.tenants.list, row, 0)
			l, dot := cell.Objects[0].(*widget.Label), cell.Objects[1].(*statusDot)
			if l.Visible() || !dot.Visible() {
				t.Errorf("row %d: label shown %v (%q), dot shown %v", row, l.Visible(), l.Text, dot.Visible())
			}
			if strings.ContainsAny(l.Text, "●○") {
				t.Errorf("row %d still carries a glyph %q", row, l.Text)
			}
			on = append(on, dot.on)
		}
	})
	if len(on) != 3 || !on[0] || !on[1] || on[2] {
		t.Fatalf("dots on: %v; want acme and globex filled, initech (disabled) an outline", on)
	}
}

// container0 fills a fresh cell of table t as the table would, and returns it.
func container0[T any](t *testing.T, dt *dataTable[T], row, col int) *fyne.Container {
	t.Helper()
	o := dt.table.CreateCell()
	dt.updateCell(widget.TableCellID{Row: row, Col: col}, o)
	return o.(*fyne.Container)
}

// With no invoice open the list has the screen to itself; opening one puts
// the editor beside it, and closing it gives the width back.
func TestInvoiceEditorTakesRoomOnlyWhileOpen(t *testing.T) {
	m, _ := demoWindow(t)
	s := m.invoices
	onUI(func() { m.showScreen("invoices") })
	eventually(t, "the invoices", func() bool { return s.list.Len() == 9 })
	onUI(func() {
		if s.body.Objects[0] != s.left {
			t.Fatal("with nothing open the body is not the list alone")
		}
		row, _ := s.list.Row(0)
		s.edit(row)
		if s.body.Objects[0] != s.split || s.split.Leading != s.left || s.editor.number.Text != row.Number {
			t.Fatalf("after selecting %s: the editor is not beside the list (number %q)", row.Number, s.editor.number.Text)
		}
		test.Tap(s.editor.close)
		if s.body.Objects[0] != s.left || s.selected != nil || !s.pushNow.Disabled() {
			t.Fatal("Close did not give the list the whole width back")
		}
		s.newInvoice()
		if s.body.Objects[0] != s.split || s.editor.heading.Text != "New invoice" {
			t.Fatal("New invoice did not open the editor")
		}
	})
}

// The sync panel's State column takes the width the other columns leave.
func TestSyncStateColumnTakesTheSpareWidth(t *testing.T) {
	m, _ := demoWindow(t)
	p := m.invoices.sync
	onUI(func() { m.showScreen("invoices") })
	eventually(t, "the sync states", func() bool { return p.table.Len() == 6 })
	onUI(func() {
		w := test.NewWindow(p.table)
		defer w.Close()
		w.Resize(fyne.NewSize(1200, 300))
		state := len(p.table.cols) - 1
		var others float32
		for _, c := range p.table.cols[:state] {
			others += c.width
		}
		got := p.table.fillWidth
		if got <= p.table.cols[state].width || others+got > 1200 {
			t.Fatalf("State column %v wide beside %v of other columns in 1200; want the rest of the width", got, others)
		}
		// Selecting a row spells its whole state out under the table.
		row, _ := p.table.Row(1)
		p.selectState(row)
		if !p.status.Visible() || !strings.Contains(p.status.Text, syncStateText(row)) {
			t.Fatalf("status %q does not carry the state %q", p.status.Text, syncStateText(row))
		}
	})
}

// A run that reports faster than the window draws leaves no backlog: a
// thousand reports before the UI goroutine gets to them make one hand-off,
// and it shows the newest value.
func TestProgressHandsTheNewestValueOnce(t *testing.T) {
	var queued []func() // fyne.Do's queue: it runs later, on the UI goroutine
	var mu sync.Mutex
	var shown []int
	l := newLatest(func(v int) { shown = append(shown, v) })
	l.do = func(fn func()) { mu.Lock(); queued = append(queued, fn); mu.Unlock() }
	for i := 1; i <= 1000; i++ {
		l.put(i)
	}
	mu.Lock()
	run := queued
	queued = nil
	mu.Unlock()
	for _, fn := range run {
		fn()
	}
	if len(run) != 1 || len(shown) != 1 || shown[0] != 1000 {
		t.Fatalf("%d hand-offs showed %v; want one showing 1000", len(run), shown)
	}
	l.put(1001) // after the hand-off ran, the next report makes a new one
	if len(queued) != 1 {
		t.Fatalf("a report after the hand-off queued %d, want 1", len(queued))
	}
}
