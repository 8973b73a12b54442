package ui

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/tenantdesk/tenantdesk/store"
	"github.com/tenantdesk/tenantdesk/tenant/admin"
)

// clusterRefresh is how often the Cluster screen reloads while it is
// shown: a replica renews its presence every few seconds.
const clusterRefresh = 3 * time.Second

// staleAfter is how long since its last renewal a replica looks stalled
// (it renews every 3 s or so and drops out of the list after 10 s).
const staleAfter = 6 * time.Second

// clusterScreen shows the serve replicas on the store's etcd cluster and
// the etcd members, or says plainly that a data file is no cluster.
type clusterScreen struct {
	m *mainWindow

	summary  *widget.Label
	location *widget.Label
	updated  *widget.Label
	replicas *dataTable[replicaRow]
	members  *dataTable[store.Member]
	noneText *widget.Label
	none     fyne.CanvasObject // a data file: no cluster
	lists    fyne.CanvasObject // etcd: the two tables
	body     *fyne.Container
	root     fyne.CanvasObject

	last    admin.ClusterStatus // as last read (tests)
	loads   loadSeq
	loading bool // a read is under way: polls skip rather than pile up
}

// replicaRow is one replica as the table shows it: times are taken from
// the server's clock (ClusterStatus.Generated), never this machine's.
type replicaRow struct {
	store.Replica
	seen, up time.Duration // since its last renewal, since it started
	this     bool          // the process this window talks to
}

func newClusterScreen(m *mainWindow) *clusterScreen {
	s := &clusterScreen{m: m}
	s.summary = widget.NewLabelWithStyle("Reading the cluster…", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	s.summary.Wrapping = fyne.TextWrapWord
	s.location = widget.NewLabel("")
	s.location.Truncation = fyne.TextTruncateEllipsis
	s.updated = widget.NewLabel("")
	s.updated.Importance = widget.LowImportance
	refresh := widget.NewButtonWithIcon("Refresh", theme.ViewRefreshIcon(), s.reload)
	top := container.NewVBox(
		container.NewBorder(nil, nil, widget.NewLabelWithStyle("Cluster", fyne.TextAlignLeading, fyne.TextStyle{Bold: true}),
			container.NewVBox(container.NewHBox(s.updated, refresh)), s.summary),
		s.location)

	s.replicas = newDataTable("replicas", "No serve replica is running on this cluster.\nStart `tenantdesk --store etcd://… serve` on each server behind the load balancer.",
		column[replicaRow]{title: "", width: 34, dot: func(replicaRow) bool { return true }, importance: replicaImportance},
		column[replicaRow]{title: "Replica", width: 150, text: func(r replicaRow) string { return r.ID },
			importance: func(r replicaRow) widget.Importance {
				if r.this {
					return widget.HighImportance
				}
				return widget.MediumImportance
			}},
		column[replicaRow]{title: "Listener", width: 140, text: func(r replicaRow) string { return r.Addr }},
		column[replicaRow]{title: "Admin address", width: 140, text: func(r replicaRow) string { return orDash(r.AdminAddr) }},
		column[replicaRow]{title: "Version", width: 80, text: func(r replicaRow) string { return r.Version }},
		column[replicaRow]{title: "Up", width: 80, text: func(r replicaRow) string {
			if r.Started.IsZero() {
				return "—"
			}
			return span(r.up)
		},
			compare: func(a, b replicaRow) int { return int(a.up - b.up) }},
		column[replicaRow]{title: "Last seen", width: 90, text: func(r replicaRow) string { return span(r.seen) + " ago" },
			compare: func(a, b replicaRow) int { return int(a.seen - b.seen) }, importance: replicaImportance},
		column[replicaRow]{title: "", width: 200, fill: true, text: replicaNote,
			importance: func(r replicaRow) widget.Importance {
				if r.this {
					return widget.HighImportance
				}
				return widget.WarningImportance
			}},
	)
	s.members = newDataTable("etcd members", "etcd lists no members.",
		column[store.Member]{title: "", width: 34, dot: func(m store.Member) bool { return m.Healthy }, importance: func(m store.Member) widget.Importance {
			if m.Healthy {
				return widget.SuccessImportance
			}
			return widget.DangerImportance
		}},
		column[store.Member]{title: "Member", width: 140, text: func(m store.Member) string { return m.Name }},
		column[store.Member]{title: "Client URL", width: 210, text: func(m store.Member) string { return strings.Join(m.ClientURL, ", ") }},
		column[store.Member]{title: "Role", width: 150, text: memberRole, importance: memberImportance},
		column[store.Member]{title: "Version", width: 90, text: func(m store.Member) string { return orDash(m.Version) }},
		column[store.Member]{title: "Database", width: 110, text: func(m store.Member) string {
			if !m.Healthy {
				return "—"
			}
			return humanBytes(m.DBSize)
		}, compare: func(a, b store.Member) int { return int(a.DBSize - b.DBSize) }},
	)
	heading := func(title, note string) fyne.CanvasObject {
		n := widget.NewLabel(note)
		n.SizeName = theme.SizeNameCaptionText
		n.Truncation = fyne.TextTruncateEllipsis
		return container.NewBorder(nil, nil, widget.NewLabelWithStyle(title, fyne.TextAlignLeading, fyne.TextStyle{Bold: true}), nil, n)
	}
	lists := container.NewVSplit(
		container.NewBorder(heading("Replicas", "serve processes behind the load balancer; one that stops drops out within 10 s"), nil, nil, nil, s.replicas),
		container.NewBorder(heading("etcd members", "where the data lives; the cluster writes while a majority of them answer"), nil, nil, nil, s.members))
	lists.Offset = 0.5
	s.lists = lists

	s.noneText = widget.NewLabel("")
	s.noneText.Alignment = fyne.TextAlignCenter
	s.noneText.Importance = widget.LowImportance
	s.none = container.NewCenter(s.noneText)
	s.body = container.NewStack(s.lists)
	s.root = container.NewBorder(container.NewPadded(top), nil, nil, nil, s.body)
	go m.reloadWhileShown(s, clusterRefresh, func() {
		if !s.loading { // a slow etcd: no second read while one runs
			s.reload()
		}
	})
	return s
}

func (s *clusterScreen) content() fyne.CanvasObject { return s.root }
func (s *clusterScreen) shown()                     { s.reload() }

// reload reads the cluster off the UI goroutine and shows it.
func (s *clusterScreen) reload() {
	current := s.loads.next()
	s.loading = true
	background(s.m.svc.Cluster, func(st admin.ClusterStatus, err error) {
		if !current() {
			return
		}
		s.loading = false
		if err != nil {
			s.failed(err)
			return
		}
		s.show(st)
	})
}

// failed says why the cluster could not be read; the lists keep what was
// last read, and the line says from when.
func (s *clusterScreen) failed(err error) {
	text := "Could not read the cluster: " + err.Error()
	if !s.last.Generated.IsZero() {
		text += fmt.Sprintf(" — the lists below are from %s.", s.last.Generated.Local().Format("15:04:05"))
	}
	s.summary.Importance = widget.DangerImportance
	s.summary.SetText(text)
	s.updated.SetText("tried " + time.Now().Format("15:04:05"))
}

// show puts st on screen.
func (s *clusterScreen) show(st admin.ClusterStatus) {
	s.last = st
	s.updated.SetText("updated " + st.Generated.Local().Format("15:04:05"))
	if st.Backend != admin.BackendEtcd {
		s.location.SetText("")
		s.summary.Importance = widget.MediumImportance
		s.summary.SetText("One server on a data file — no cluster.")
		s.noneText.SetText("This Tenantdesk keeps its data in one file:\n" + st.Location + "\n\n" +
			"To run several servers behind a load balancer, put the data on an etcd cluster\n" +
			"(tenantdesk store copy, then serve --store etcd://… on each server):\n" +
			"see “Running several servers (etcd)” in the README.")
		s.setBody(s.none)
		return
	}
	s.location.SetText("Store " + st.Location)
	rows := make([]replicaRow, len(st.Replicas))
	for i, r := range st.Replicas {
		rows[i] = replicaRow{Replica: r, seen: max(0, st.Generated.Sub(r.LastSeen)), this: r.ID == st.This}
		if !r.Started.IsZero() {
			rows[i].up = max(0, st.Generated.Sub(r.Started))
		}
	}
	s.replicas.SetRows(rows)
	s.members.SetRows(st.Members)
	s.summary.Importance, s.summary.Text = clusterSummary(st, rows)
	s.summary.Refresh()
	s.setBody(s.lists)
}

func (s *clusterScreen) setBody(o fyne.CanvasObject) {
	if len(s.body.Objects) == 1 && s.body.Objects[0] == o {
		return
	}
	s.body.Objects = []fyne.CanvasObject{o}
	s.body.Refresh()
}

// clusterSummary is the line above the lists: is the cluster well, do the
// replicas agree on the public URL (SPEC §14: each gets the load
// balancer's), and is this window one of them?
func clusterSummary(st admin.ClusterStatus, rows []replicaRow) (widget.Importance, string) {
	healthy, leader := 0, ""
	var down []string
	for _, m := range st.Members {
		if m.Healthy {
			healthy++
		} else {
			down = append(down, m.Name)
		}
		if m.Leader {
			leader = m.Name
		}
	}
	var urls, stale []string
	this := false
	for _, r := range rows {
		if !slices.Contains(urls, r.PublicURL) {
			urls = append(urls, r.PublicURL)
		}
		if r.seen > staleAfter {
			stale = append(stale, r.ID)
		}
		this = this || r.this
	}
	imp := widget.SuccessImportance
	worse := func(i widget.Importance) {
		if i == widget.DangerImportance || imp == widget.SuccessImportance {
			imp = i
		}
	}
	replicas := fmt.Sprintf("%d replica%s serving", len(rows), plural(len(rows), "s"))
	switch {
	case len(rows) == 0:
		worse(widget.WarningImportance)
		replicas = "No serve replica is running"
	case len(urls) == 1 && urls[0] != "":
		replicas += " " + urls[0]
	}
	parts := []string{replicas + fmt.Sprintf(" on %d etcd member%s", len(st.Members), plural(len(st.Members), "s"))}
	switch {
	case leader == "":
		worse(widget.DangerImportance)
		parts = append(parts, "no member leads: writes stall until one is elected")
	case len(down) > 0 && healthy*2 <= len(st.Members):
		worse(widget.DangerImportance)
		parts = append(parts, strings.Join(down, ", ")+" not answering: without a majority, writes stop")
	case len(down) > 0:
		worse(widget.WarningImportance)
		parts = append(parts, leader+" leads; "+strings.Join(down, ", ")+" not answering (the others carry on)")
	default:
		parts = append(parts, leader+" leads")
	}
	if len(stale) > 0 {
		worse(widget.WarningImportance)
		parts = append(parts, strings.Join(stale, ", ")+" not renewing its presence (stopped, or cut off from etcd)")
	}
	if len(urls) > 1 {
		worse(widget.WarningImportance)
		parts = append(parts, "the replicas have different public URLs ("+strings.Join(urls, ", ")+
			"): give each one the load balancer's")
	}
	text := strings.Join(parts, "; ") + "."
	if !this && len(rows) > 0 {
		text += " This window works on the cluster directly; it is none of the replicas."
	}
	return imp, text
}

func replicaImportance(r replicaRow) widget.Importance {
	if r.seen > staleAfter {
		return widget.WarningImportance
	}
	return widget.SuccessImportance
}

func replicaNote(r replicaRow) string {
	switch {
	case r.this:
		return "← this window is connected here"
	case r.seen > staleAfter:
		return "not renewing its presence"
	}
	return ""
}

func memberRole(m store.Member) string {
	switch {
	case !m.Healthy:
		return "not answering"
	case m.Leader:
		return "leader"
	}
	return "follower"
}

func memberImportance(m store.Member) widget.Importance {
	switch {
	case !m.Healthy:
		return widget.DangerImportance
	case m.Leader:
		return widget.HighImportance
	}
	return widget.SuccessImportance
}

// span is a duration as a list shows it: "3 s", "5 min", "2 h 5 min",
// "3 days".
func span(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%d s", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%d min", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%d h %d min", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("%d days", int(d.Hours()/24))
}

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}
