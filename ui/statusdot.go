package ui

import (
	"image/color"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

// dotSize is the diameter of a status dot.
const dotSize = 10

// statusDot is a small circle that says on (filled, coloured) or off (an
// outline), drawn as a shape so that it looks the same in every font.
type statusDot struct {
	widget.BaseWidget
	on  bool
	imp widget.Importance
}

func newStatusDot() *statusDot {
	d := &statusDot{}
	d.ExtendBaseWidget(d)
	return d
}

// set changes the dot and redraws it.
func (d *statusDot) set(on bool, imp widget.Importance) {
	if d.on == on && d.imp == imp {
		return
	}
	d.on, d.imp = on, imp
	d.Refresh()
}

func (d *statusDot) CreateRenderer() fyne.WidgetRenderer {
	r := &statusDotRenderer{d: d, circle: canvas.NewCircle(color.Transparent)}
	r.Refresh()
	return r
}

type statusDotRenderer struct {
	d      *statusDot
	circle *canvas.Circle
}

func (r *statusDotRenderer) Layout(s fyne.Size) {
	// Centred vertically, at the leading edge like the text it replaces.
	r.circle.Move(fyne.NewPos(theme.InnerPadding(), (s.Height-dotSize)/2))
	r.circle.Resize(fyne.NewSquareSize(dotSize))
}

func (r *statusDotRenderer) MinSize() fyne.Size {
	return fyne.NewSize(dotSize+2*theme.InnerPadding(), dotSize)
}

func (r *statusDotRenderer) Refresh() {
	c := importanceColor(r.d.imp)
	if r.d.on {
		r.circle.FillColor, r.circle.StrokeColor, r.circle.StrokeWidth = c, c, 0
	} else {
		r.circle.FillColor, r.circle.StrokeColor, r.circle.StrokeWidth = color.Transparent, c, 1.5
	}
	r.circle.Refresh()
}

func (r *statusDotRenderer) Objects() []fyne.CanvasObject { return []fyne.CanvasObject{r.circle} }
func (r *statusDotRenderer) Destroy()                     {}

// importanceColor is the theme colour a label of that importance is drawn in.
func importanceColor(imp widget.Importance) color.Color {
	name := theme.ColorNameForeground
	switch imp {
	case widget.SuccessImportance:
		name = theme.ColorNameSuccess
	case widget.WarningImportance:
		name = theme.ColorNameWarning
	case widget.DangerImportance:
		name = theme.ColorNameError
	case widget.HighImportance:
		name = theme.ColorNamePrimary
	case widget.LowImportance:
		name = theme.ColorNameDisabled
	}
	return theme.Color(name)
}
