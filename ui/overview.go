package ui

import (
	"fmt"
	"image/color"
	"slices"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/tenantdesk/tenantdesk/tenant/admin"
	"github.com/tenantdesk/tenantdesk/tenant/money"
)

// overviewRefresh is how often the Overview reloads while it is shown.
const overviewRefresh = 30 * time.Second

// certWarnDays is how close to expiry a certificate turns the tenant amber.
const certWarnDays = 30

// overviewScreen is the first screen: one card per tenant with its last 30
// days charted (sign-ins, webhooks and notifications, failed pushes), this
// month's billing and its certificate, and a line that says at a glance
// whether every marketplace is healthy.
type overviewScreen struct {
	m *mainWindow

	summary *widget.Label
	updated *widget.Label
	cards   *fyne.Container
	empty   fyne.CanvasObject
	body    *fyne.Container
	root    fyne.CanvasObject

	shownCards []*tenantCard // in the order shown (tests)
	last       admin.Overview
	loads      loadSeq
}

func newOverviewScreen(m *mainWindow) *overviewScreen {
	s := &overviewScreen{m: m}
	s.summary = widget.NewLabelWithStyle("", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	s.summary.Wrapping = fyne.TextWrapWord
	s.updated = widget.NewLabel("")
	s.updated.Importance = widget.LowImportance
	refresh := widget.NewButtonWithIcon("Refresh", theme.ViewRefreshIcon(), s.reload)
	top := container.NewBorder(nil, nil,
		widget.NewLabelWithStyle("Overview", fyne.TextAlignLeading, fyne.TextStyle{Bold: true}),
		container.NewHBox(s.updated, refresh), s.summary)

	emptyText := widget.NewLabel("No marketplaces yet.\nAdd a tenant, or import the developer platform's marketplaces file:\n" +
		"each one then gets a card here with its sign-ins, webhooks, pushes, billing and certificate.")
	emptyText.Alignment = fyne.TextAlignCenter
	emptyText.Importance = widget.LowImportance
	toTenants := widget.NewButtonWithIcon("Go to Tenants", theme.AccountIcon(), func() { m.showScreen("tenants") })
	toTenants.Importance = widget.HighImportance
	s.empty = container.NewCenter(container.NewVBox(emptyText, container.NewCenter(toTenants)))
	s.cards = container.NewVBox()
	s.body = container.NewStack(container.NewVScroll(s.cards))
	s.root = container.NewBorder(container.NewPadded(top), nil, nil, nil, s.body)
	go m.reloadWhileShown(s, overviewRefresh, s.reload)
	return s
}

func (s *overviewScreen) content() fyne.CanvasObject { return s.root }
func (s *overviewScreen) shown()                     { s.reload() }

// reload reads the Overview off the UI goroutine and shows it.
func (s *overviewScreen) reload() {
	current := s.loads.next()
	background(s.m.svc.Overview, func(ov admin.Overview, err error) {
		if !current() {
			return
		}
		if err != nil {
			s.summary.Importance = widget.DangerImportance
			s.summary.SetText("Could not read the overview: " + err.Error())
			return
		}
		s.show(ov)
	})
}

// show replaces the cards with ov's.
func (s *overviewScreen) show(ov admin.Overview) {
	s.last = ov
	s.updated.SetText("Last 30 days, today on the right · updated " + ov.Generated.Local().Format("15:04:05"))
	if len(ov.Tenants) == 0 {
		s.summary.Importance = widget.LowImportance
		s.summary.SetText("")
		s.shownCards = nil
		s.body.Objects = []fyne.CanvasObject{s.empty}
		s.body.Refresh()
		return
	}
	tenants := slices.Clone(ov.Tenants)
	// Those that need a look first, then the healthy, then the disabled.
	slices.SortStableFunc(tenants, func(a, b admin.TenantOverview) int {
		return healthRank(a, ov.Generated) - healthRank(b, ov.Generated)
	})
	s.shownCards = s.shownCards[:0]
	objs := make([]fyne.CanvasObject, 0, len(tenants))
	for _, t := range tenants {
		c := newTenantCard(s.m, t, ov.Generated)
		s.shownCards = append(s.shownCards, c)
		objs = append(objs, c.root)
	}
	s.cards.Objects = objs
	s.cards.Refresh()
	s.body.Objects = []fyne.CanvasObject{container.NewVScroll(s.cards)}
	s.body.Refresh()
	s.summary.Importance, s.summary.Text = overviewSummary(ov)
	s.summary.Refresh()
}

// overviewSummary is the line above the cards: are all marketplaces well?
func overviewSummary(ov admin.Overview) (widget.Importance, string) {
	var enabled, sick, disabled int
	worst := widget.SuccessImportance
	for _, t := range ov.Tenants {
		if !t.Enabled {
			disabled++
			continue
		}
		enabled++
		if problems, imp := tenantHealth(t, ov.Generated); len(problems) > 0 {
			sick++
			if imp == widget.DangerImportance {
				worst = imp
			} else if worst != widget.DangerImportance {
				worst = widget.WarningImportance
			}
		}
	}
	var text string
	switch {
	case enabled == 0:
		worst, text = widget.WarningImportance, "No marketplace is enabled: none answers sign-ins or webhooks."
	case sick == 0:
		text = fmt.Sprintf("All %d marketplace%s healthy.", enabled, plural(enabled, "s"))
		if enabled == 1 {
			text = "The marketplace is healthy."
		}
	default:
		verb := "need"
		if sick == 1 {
			verb = "needs"
		}
		text = fmt.Sprintf("%d of %d marketplace%s %s a look.", sick, enabled, plural(enabled, "s"), verb)
	}
	if disabled > 0 {
		text += fmt.Sprintf(" %d disabled.", disabled)
	}
	return worst, text
}

// tenantHealth lists what needs a look at a tenant, worst first, and how
// bad it is; none means healthy. A disabled tenant only says so.
func tenantHealth(t admin.TenantOverview, now time.Time) ([]string, widget.Importance) {
	if !t.Enabled {
		return nil, widget.LowImportance
	}
	var danger, warn []string
	switch days, ok := t.DaysToExpiry(now); {
	case !ok:
		danger = append(danger, "no readable IdP certificate")
	case days < 0:
		danger = append(danger, "IdP certificate expired")
	case days <= certWarnDays:
		warn = append(warn, fmt.Sprintf("IdP certificate expires in %d day%s", days, plural(days, "s")))
	}
	if t.FailedPushes > 0 {
		danger = append(danger, fmt.Sprintf("%d failed push%s waiting for a retry", t.FailedPushes, plural(t.FailedPushes, "es")))
	}
	if t.BillsFailed > 0 {
		danger = append(danger, fmt.Sprintf("%d bill%s failed this month", t.BillsFailed, plural(t.BillsFailed, "s")))
	}
	week := lastDays(t.Days, 7)
	if n := sumDays(week, func(d admin.DayActivity) int { return d.SignInsFailed }); n > 0 {
		warn = append(warn, fmt.Sprintf("%d refused sign-in%s this week", n, plural(n, "s")))
	}
	if n := sumDays(week, func(d admin.DayActivity) int { return d.PullsFailed }); n > 0 {
		warn = append(warn, fmt.Sprintf("%d failed Connec! pull%s this week", n, plural(n, "s")))
	}
	switch {
	case len(danger) > 0:
		return append(danger, warn...), widget.DangerImportance
	case len(warn) > 0:
		return warn, widget.WarningImportance
	}
	return nil, widget.SuccessImportance
}

// healthRank orders cards: trouble, then warnings, then healthy, then
// disabled.
func healthRank(t admin.TenantOverview, now time.Time) int {
	switch _, imp := tenantHealth(t, now); imp {
	case widget.DangerImportance:
		return 0
	case widget.WarningImportance:
		return 1
	case widget.SuccessImportance:
		return 2
	}
	return 3
}

func lastDays(days []admin.DayActivity, n int) []admin.DayActivity {
	return days[max(0, len(days)-n):]
}

func sumDays(days []admin.DayActivity, f func(admin.DayActivity) int) int {
	n := 0
	for _, d := range days {
		n += f(d)
	}
	return n
}

func perDay(days []admin.DayActivity, f func(admin.DayActivity) int) []int {
	out := make([]int, len(days))
	for i, d := range days {
		out[i] = f(d)
	}
	return out
}

// tenantCard is one tenant on the Overview.
type tenantCard struct {
	key    string
	health *widget.Label

	signIns, traffic, pushes, billed, cert *widget.Label // the tiles' figures
	signInChart, trafficChart, pushChart   *barChart
	root                                   fyne.CanvasObject
}

func newTenantCard(m *mainWindow, t admin.TenantOverview, now time.Time) *tenantCard {
	c := &tenantCard{key: string(t.Key)}
	dot := newStatusDot()
	problems, imp := tenantHealth(t, now)
	dot.set(t.Enabled, imp)
	name := widget.NewLabelWithStyle(firstNonEmptyText(t.DisplayName, string(t.Key)), fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	key := widget.NewLabel(string(t.Key))
	key.Importance = widget.LowImportance
	c.health = widget.NewLabel("")
	c.health.Importance = imp
	c.health.Wrapping = fyne.TextWrapWord
	switch {
	case !t.Enabled:
		c.health.SetText("Disabled: refuses sign-ins and webhooks, not billed.")
	case len(problems) == 0:
		c.health.SetText("Healthy.")
	default:
		c.health.SetText(strings.Join(problems, " · "))
	}
	open := widget.NewButtonWithIcon("", theme.NavigateNextIcon(), func() {
		m.showScreen("tenants")
		m.tenants.reload(t.Key)
	})
	open.Importance = widget.LowImportance
	head := container.NewBorder(nil, nil, container.NewHBox(container.NewCenter(dot), name, key), open, c.health)

	days := t.Days
	signIns := sumDays(days, func(d admin.DayActivity) int { return d.SignIns })
	refused := sumDays(days, func(d admin.DayActivity) int { return d.SignInsFailed })
	c.signIns = figure(fmt.Sprint(signIns), widget.MediumImportance)
	c.signInChart = newBarChart("no sign-ins")
	c.signInChart.set(barSeries{perDay(days, func(d admin.DayActivity) int { return d.SignIns }), theme.ColorNamePrimary},
		barSeries{perDay(days, func(d admin.DayActivity) int { return d.SignInsFailed }), theme.ColorNameError})
	signInNote := ""
	if refused > 0 {
		signInNote = fmt.Sprintf("%d refused (red)", refused)
	}

	hooks := sumDays(days, func(d admin.DayActivity) int { return d.Webhooks })
	notes := sumDays(days, func(d admin.DayActivity) int { return d.Notifications })
	c.traffic = figure(fmt.Sprint(hooks+notes), widget.MediumImportance)
	c.trafficChart = newBarChart("none received")
	c.trafficChart.set(barSeries{perDay(days, func(d admin.DayActivity) int { return d.Notifications }), theme.ColorNameSuccess},
		barSeries{perDay(days, func(d admin.DayActivity) int { return d.Webhooks }), theme.ColorNameWarning})

	failed := sumDays(days, func(d admin.DayActivity) int { return d.PushesFailed })
	pushImp := widget.SuccessImportance
	if failed > 0 || t.FailedPushes > 0 {
		pushImp = widget.DangerImportance
	}
	c.pushes = figure(fmt.Sprint(failed), pushImp)
	c.pushChart = newBarChart("none failed")
	c.pushChart.set(barSeries{perDay(days, func(d admin.DayActivity) int { return d.PushesFailed }), theme.ColorNameError})
	pushNote := "none waiting"
	if t.FailedPushes > 0 {
		pushNote = fmt.Sprintf("%d waiting for a retry", t.FailedPushes)
	}

	c.billed = figure(billedText(t.Billed), widget.MediumImportance)
	billNote := fmt.Sprintf("%d bill%s submitted", t.BillsSent, plural(t.BillsSent, "s"))
	if t.BillsFailed > 0 {
		billNote += fmt.Sprintf(", %d failed", t.BillsFailed)
		c.billed.Importance = widget.DangerImportance
	}

	certText, certNote, certImp := certFigure(t, now)
	c.cert = figure(certText, certImp)

	month := now.Format("January")
	tiles := container.NewGridWithColumns(5,
		tile("Sign-ins", c.signIns, signInNote, c.signInChart),
		tile("Webhooks + notifications", c.traffic, fmt.Sprintf("%d webhooks (amber), %d notifications", hooks, notes), c.trafficChart),
		tile("Failed pushes", c.pushes, pushNote, c.pushChart),
		tile("Billed in "+month, c.billed, billNote, nil),
		tile("IdP certificate", c.cert, certNote, nil),
	)
	bg := canvas.NewRectangle(theme.Color(theme.ColorNameInputBackground))
	bg.CornerRadius = theme.InputRadiusSize()
	c.root = container.NewPadded(container.NewStack(bg, container.NewPadded(container.NewVBox(head, tiles))))
	return c
}

// figure is a tile's big number.
func figure(text string, imp widget.Importance) *widget.Label {
	l := widget.NewLabelWithStyle(text, fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	l.SizeName = theme.SizeNameSubHeadingText
	l.Importance = imp
	l.Truncation = fyne.TextTruncateEllipsis
	return l
}

// tile is one figure of a card: a caption, the figure, a note and a chart.
func tile(caption string, value *widget.Label, note string, chart *barChart) fyne.CanvasObject {
	title := widget.NewLabel(caption)
	title.TextStyle = fyne.TextStyle{Bold: true}
	title.SizeName = theme.SizeNameCaptionText
	title.Truncation = fyne.TextTruncateEllipsis
	sub := widget.NewLabel(note)
	sub.SizeName = theme.SizeNameCaptionText
	sub.Truncation = fyne.TextTruncateEllipsis
	var bottom fyne.CanvasObject = layout.NewSpacer()
	if chart != nil {
		bottom = chart
	}
	bg := canvas.NewRectangle(color.Transparent)
	bg.StrokeColor = theme.Color(theme.ColorNameSeparator)
	bg.StrokeWidth = 1
	bg.CornerRadius = theme.InputRadiusSize()
	return container.NewStack(bg, container.NewPadded(container.NewBorder(container.NewVBox(title, value, sub), nil, nil, nil, bottom)))
}

// billedText is this month's billing, per currency.
func billedText(billed map[string]int64) string {
	if len(billed) == 0 {
		return "nothing yet"
	}
	curs := make([]string, 0, len(billed))
	for c := range billed {
		curs = append(curs, c)
	}
	slices.Sort(curs)
	parts := make([]string, len(curs))
	for i, c := range curs {
		parts[i] = money.Format(billed[c], c)
	}
	return strings.Join(parts, " + ")
}

// certFigure is the certificate tile: days left, the date, and how urgent.
func certFigure(t admin.TenantOverview, now time.Time) (string, string, widget.Importance) {
	days, ok := t.DaysToExpiry(now)
	switch {
	case !ok:
		return "unreadable", "no certificate parses", widget.DangerImportance
	case days < 0:
		return "expired", "on " + t.CertExpiry.UTC().Format(time.DateOnly), widget.DangerImportance
	}
	text := fmt.Sprintf("%d day%s left", days, plural(days, "s"))
	note := "until " + t.CertExpiry.UTC().Format(time.DateOnly)
	if days <= certWarnDays {
		return text, note, widget.WarningImportance
	}
	return text, note, widget.SuccessImportance
}
