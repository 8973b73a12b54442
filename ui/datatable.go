package ui

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"sync"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

// column declares one column of a dataTable once: its title, width, how a
// row shows in it, and (optionally) how it sorts and how it is styled.
type column[T any] struct {
	title string
	width float32
	text  func(T) string
	// compare sorts the column; nil sorts by text, and a table whose
	// source cannot sort (the paged identity map) ignores it.
	compare    func(a, b T) int
	importance func(T) widget.Importance
	// fill widens the column to the table's spare width (at least
	// width): the one column whose text runs long, such as a state.
	fill bool
	// dot draws the cell as a status dot instead of text: filled in the
	// importance's colour when on, an outline when off. A shape, not a
	// "●" glyph, which some fonts (Windows') lack.
	dot func(T) (on bool)
}

// rowSource gives a dataTable its rows. Row reports false for a row that
// is not loaded yet (the cell shows an ellipsis until it is).
type rowSource[T any] interface {
	Len() int
	Row(i int) (T, bool)
}

// sliceSource is an in-memory, already filtered and sorted page of rows.
type sliceSource[T any] []T

func (s sliceSource[T]) Len() int { return len(s) }
func (s sliceSource[T]) Row(i int) (T, bool) {
	if i < 0 || i >= len(s) {
		var zero T
		return zero, false
	}
	return s[i], true
}

// dataTable is the one list widget of every list screen: columns declared
// once, header taps sort, an optional filter, a footer with the count and
// an empty state that says what to do next. Filtering and sorting of an
// in-memory list run off the UI goroutine; the result is swapped in with
// fyne.Do.
type dataTable[T any] struct {
	widget.BaseWidget

	cols   []column[T]
	noun   string // plural, for the footer: "tenants"
	table  *widget.Table
	footer *widget.Label
	empty  *widget.Label

	// OnSelected is called on the UI goroutine with the tapped row.
	OnSelected func(T)

	// UI-goroutine state.
	src      rowSource[T]
	all      []T
	filter   func(T) bool
	sortCol  int // -1: source order
	sortDesc bool
	sortable bool
	selected int
	// fillWidth is the width given to the fill column at the last resize.
	fillWidth float32

	mu  sync.Mutex
	gen int // newest filter/sort request; older results are dropped
}

// newDataTable builds a table over an in-memory list. emptyText is shown
// when there are no rows.
func newDataTable[T any](noun, emptyText string, cols ...column[T]) *dataTable[T] {
	t := &dataTable[T]{cols: cols, noun: noun, sortCol: -1, sortable: true, selected: -1,
		src: sliceSource[T](nil)}
	t.footer = widget.NewLabel("")
	t.footer.SizeName = theme.SizeNameCaptionText
	t.empty = widget.NewLabel(emptyText)
	t.empty.Alignment = fyne.TextAlignCenter
	t.empty.Importance = widget.LowImportance
	t.table = widget.NewTableWithHeaders(
		func() (int, int) { return t.src.Len(), len(t.cols) },
		func() fyne.CanvasObject {
			l := widget.NewLabel("")
			l.Truncation = fyne.TextTruncateEllipsis
			return container.NewStack(l, newStatusDot())
		},
		t.updateCell,
	)
	t.table.ShowHeaderColumn = false
	t.table.CreateHeader = func() fyne.CanvasObject {
		b := widget.NewButton("", nil)
		b.Importance = widget.LowImportance
		b.Alignment = widget.ButtonAlignLeading
		return b
	}
	t.table.UpdateHeader = t.updateHeader
	t.table.OnSelected = func(id widget.TableCellID) {
		if id.Row < 0 {
			return
		}
		row, ok := t.src.Row(id.Row)
		if !ok {
			return
		}
		t.selected = id.Row
		if t.OnSelected != nil {
			t.OnSelected(row)
		}
	}
	for i, c := range cols {
		if c.width > 0 {
			t.table.SetColumnWidth(i, c.width)
		}
	}
	t.ExtendBaseWidget(t)
	return t
}

func (t *dataTable[T]) CreateRenderer() fyne.WidgetRenderer {
	body := container.NewStack(t.table, container.NewCenter(container.NewPadded(t.empty)))
	return widget.NewSimpleRenderer(container.NewBorder(nil, t.footer, nil, nil, body))
}

// Resize gives the fill column the width the others leave.
func (t *dataTable[T]) Resize(s fyne.Size) {
	t.BaseWidget.Resize(s)
	spare := s.Width - theme.Padding() // the table's own inset
	fill := -1
	for i, c := range t.cols {
		if c.fill {
			fill = i
			continue
		}
		spare -= c.width + theme.SeparatorThicknessSize()
	}
	if fill >= 0 {
		t.fillWidth = max(t.cols[fill].width, spare)
		t.table.SetColumnWidth(fill, t.fillWidth)
	}
}

func (t *dataTable[T]) updateCell(id widget.TableCellID, o fyne.CanvasObject) {
	cell := o.(*fyne.Container)
	l, dot := cell.Objects[0].(*widget.Label), cell.Objects[1].(*statusDot)
	row, ok := t.src.Row(id.Row)
	if !ok || id.Col >= len(t.cols) {
		dot.Hide()
		l.Show()
		l.Importance = widget.LowImportance
		l.SetText("…")
		return
	}
	c := t.cols[id.Col]
	imp := widget.MediumImportance
	if c.importance != nil {
		imp = c.importance(row)
	}
	if c.dot != nil {
		l.Hide()
		dot.set(c.dot(row), imp)
		dot.Show()
		return
	}
	dot.Hide()
	l.Show()
	if l.Importance != imp {
		l.Importance = imp
		l.Refresh()
	}
	l.SetText(c.text(row))
}

func (t *dataTable[T]) updateHeader(id widget.TableCellID, o fyne.CanvasObject) {
	b := o.(*widget.Button)
	if id.Col < 0 || id.Col >= len(t.cols) {
		b.SetText("")
		return
	}
	title := t.cols[id.Col].title
	if id.Col == t.sortCol {
		if t.sortDesc {
			title += " ▼"
		} else {
			title += " ▲"
		}
	}
	b.SetText(title)
	col := id.Col
	if !t.sortable {
		b.OnTapped = nil
		return
	}
	b.OnTapped = func() { t.sortBy(col) }
}

// sortBy cycles a column through ascending, descending and source order.
func (t *dataTable[T]) sortBy(col int) {
	switch {
	case t.sortCol != col:
		t.sortCol, t.sortDesc = col, false
	case !t.sortDesc:
		t.sortDesc = true
	default:
		t.sortCol = -1
	}
	t.apply()
}

// SetRows replaces the list (on the UI goroutine); filtering and sorting
// happen off it.
func (t *dataTable[T]) SetRows(rows []T) {
	t.all = rows
	t.apply()
}

// SetFilter keeps only the rows f accepts (nil keeps all).
func (t *dataTable[T]) SetFilter(f func(T) bool) {
	t.filter = f
	t.apply()
}

// setSource shows a source that does its own paging and ordering (no
// header sort, no in-memory filter); orderedBy is the column the source's
// order follows (-1: none shown), marked in the header.
func (t *dataTable[T]) setSource(src rowSource[T], orderedBy int) {
	t.sortable, t.sortCol, t.sortDesc = false, orderedBy, false
	t.src = src
	t.refreshView()
}

// apply filters and sorts a snapshot of the rows off the UI goroutine and
// swaps the result in.
func (t *dataTable[T]) apply() {
	rows, filter, col, desc := t.all, t.filter, t.sortCol, t.sortDesc
	cols := t.cols
	t.mu.Lock()
	t.gen++
	gen := t.gen
	t.mu.Unlock()
	go func() {
		out := make([]T, 0, len(rows))
		for _, r := range rows {
			if filter == nil || filter(r) {
				out = append(out, r)
			}
		}
		if col >= 0 && col < len(cols) {
			c := cols[col]
			cmpf := c.compare
			if cmpf == nil {
				cmpf = func(a, b T) int { return cmp.Compare(strings.ToLower(c.text(a)), strings.ToLower(c.text(b))) }
			}
			slices.SortStableFunc(out, func(a, b T) int {
				if desc {
					return cmpf(b, a)
				}
				return cmpf(a, b)
			})
		}
		uiDo(func() {
			t.mu.Lock()
			stale := gen != t.gen
			t.mu.Unlock()
			if stale {
				return
			}
			t.src = sliceSource[T](out)
			t.refreshView()
		})
	}()
}

// refreshView redraws rows, header, footer and the empty state.
func (t *dataTable[T]) refreshView() {
	n := t.src.Len()
	if t.selected >= n {
		t.selected = -1
		t.table.UnselectAll()
	}
	t.footer.SetText(t.countText(n))
	if n == 0 {
		t.empty.Show()
	} else {
		t.empty.Hide()
	}
	t.table.Refresh()
}

func (t *dataTable[T]) countText(shown int) string {
	if t.sortable && len(t.all) != shown {
		return fmt.Sprintf("%s of %s %s", thousands(shown), thousands(len(t.all)), nounFor(len(t.all), t.noun))
	}
	return fmt.Sprintf("%s %s", thousands(shown), nounFor(shown, t.noun))
}

// nounFor makes a plural noun singular for one: "1 run", "1 failed push".
func nounFor(n int, plural string) string {
	if n != 1 {
		return plural
	}
	if strings.HasSuffix(plural, "shes") {
		return strings.TrimSuffix(plural, "es")
	}
	return strings.TrimSuffix(plural, "s")
}

// Len is the number of rows shown.
func (t *dataTable[T]) Len() int { return t.src.Len() }

// Row is the i-th row shown.
func (t *dataTable[T]) Row(i int) (T, bool) { return t.src.Row(i) }

// SetEmptyText changes what the empty state says.
func (t *dataTable[T]) SetEmptyText(s string) { t.empty.SetText(s) }

// thousands formats n with thousands separators: 1000000 → "1,000,000".
func thousands(n int) string {
	s := fmt.Sprint(n)
	if n < 0 {
		return "-" + thousands(-n)
	}
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	return b.String()
}
