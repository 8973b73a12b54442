package ui

import (
	"image/color"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

// barSeries is one stacked layer of a barChart: a value per day, drawn in
// a theme colour.
type barSeries struct {
	values []int
	color  fyne.ThemeColorName
}

// barChart is a small chart of one bar per day, its series stacked, drawn
// with Fyne's canvas so that it follows the theme (light, dark) and needs
// no image rendering. Days with nothing show only the baseline; a chart
// with nothing at all says so.
type barChart struct {
	widget.BaseWidget
	series []barSeries
	empty  string // shown over the baseline when every value is 0
}

func newBarChart(empty string) *barChart {
	c := &barChart{empty: empty}
	c.ExtendBaseWidget(c)
	return c
}

// set replaces the series and redraws.
func (c *barChart) set(series ...barSeries) {
	c.series = series
	c.Refresh()
}

// days is the number of bars.
func (c *barChart) days() int {
	n := 0
	for _, s := range c.series {
		n = max(n, len(s.values))
	}
	return n
}

// total sums every series over every day.
func (c *barChart) total() int {
	t := 0
	for _, s := range c.series {
		for _, v := range s.values {
			t += v
		}
	}
	return t
}

func (c *barChart) CreateRenderer() fyne.WidgetRenderer {
	r := &barChartRenderer{c: c, base: canvas.NewRectangle(color.Transparent), note: canvas.NewText("", color.Transparent)}
	r.note.TextSize = theme.CaptionTextSize()
	r.note.Alignment = fyne.TextAlignCenter
	r.Refresh()
	return r
}

type barChartRenderer struct {
	c    *barChart
	base *canvas.Rectangle
	note *canvas.Text
	bars [][]*canvas.Rectangle // [series][day]
	objs []fyne.CanvasObject
	size fyne.Size
}

func (r *barChartRenderer) MinSize() fyne.Size { return fyne.NewSize(120, 44) }

func (r *barChartRenderer) Layout(s fyne.Size) {
	r.size = s
	days := r.c.days()
	r.base.Move(fyne.NewPos(0, s.Height-1))
	r.base.Resize(fyne.NewSize(s.Width, 1))
	r.note.Move(fyne.NewPos(0, (s.Height-r.note.MinSize().Height)/2))
	r.note.Resize(fyne.NewSize(s.Width, r.note.MinSize().Height))
	if days == 0 {
		return
	}
	peak := 0
	for d := range days {
		sum := 0
		for _, ser := range r.c.series {
			if d < len(ser.values) {
				sum += ser.values[d]
			}
		}
		peak = max(peak, sum)
	}
	slot := s.Width / float32(days)
	gap := min(2, slot/4)
	height := s.Height - 2 // above the baseline
	for d := range days {
		y := s.Height - 1
		for si, ser := range r.c.series {
			bar := r.bars[si][d]
			v := 0
			if d < len(ser.values) {
				v = ser.values[d]
			}
			h := float32(0)
			if peak > 0 && v > 0 {
				h = max(2, height*float32(v)/float32(peak)) // a day with any is visible
			}
			y -= h
			bar.Move(fyne.NewPos(float32(d)*slot+gap/2, y))
			bar.Resize(fyne.NewSize(slot-gap, h))
		}
	}
}

func (r *barChartRenderer) Refresh() {
	days := r.c.days()
	r.bars = r.bars[:0]
	r.objs = []fyne.CanvasObject{r.base}
	for _, ser := range r.c.series {
		fill := theme.Color(ser.color)
		row := make([]*canvas.Rectangle, days)
		for d := range row {
			row[d] = canvas.NewRectangle(fill)
			r.objs = append(r.objs, row[d])
		}
		r.bars = append(r.bars, row)
	}
	r.base.FillColor = theme.Color(theme.ColorNameSeparator)
	r.note.Text = ""
	if r.c.total() == 0 {
		r.note.Text = r.c.empty
	}
	r.note.Color = theme.Color(theme.ColorNamePlaceHolder)
	r.objs = append(r.objs, r.note)
	r.Layout(r.size)
	canvas.Refresh(r.c)
}

func (r *barChartRenderer) Objects() []fyne.CanvasObject { return r.objs }
func (r *barChartRenderer) Destroy()                     {}
