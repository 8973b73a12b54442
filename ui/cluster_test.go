package ui

import (
	"context"
	"io"
	"log/slog"
	"net"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"github.com/tenantdesk/tenantdesk/store"
	"github.com/tenantdesk/tenantdesk/store/etcdtest"
	"github.com/tenantdesk/tenantdesk/tenant/admin"
	"github.com/tenantdesk/tenantdesk/tenant/admin/remote"
	"github.com/tenantdesk/tenantdesk/tenant/admin/remote/remotetest"
)

// cellText is what row, col of table dt shows.
func cellText[T any](t *testing.T, dt *dataTable[T], row, col int) string {
	t.Helper()
	return container0(t, dt, row, col).Objects[0].(*widget.Label).Text
}

// clusterWindow builds a main window on svc showing the Cluster screen.
func clusterWindow(t *testing.T, svc admin.API, server string) *mainWindow {
	t.Helper()
	a := test.NewTempApp(t)
	var m *mainWindow
	onUI(func() {
		m = newMainWindow(a, svc, Options{Screen: "cluster", Server: server})
		m.win.Resize(fyne.NewSize(1200, 740))
	})
	t.Cleanup(func() {
		m.stop()
		time.Sleep(20 * time.Millisecond) // let pollers see the cancel before the store closes
	})
	return m
}

// On a data file the screen says in one line that there is no cluster,
// with the file, instead of two empty tables.
func TestClusterScreenOnADataFileSaysThereIsNoCluster(t *testing.T) {
	m, svc := newTestWindow(t)
	onUI(func() { m.showScreen("cluster") })
	s := m.cluster
	eventually(t, "the no-cluster line", func() bool {
		return s.summary.Text == "One server on a data file — no cluster."
	})
	onUI(func() {
		if s.body.Objects[0] != s.none || !strings.Contains(s.noneText.Text, svc.DB().Path()) {
			t.Fatalf("body %v, text %q; want the no-cluster text naming %s", s.body.Objects[0], s.noneText.Text, svc.DB().Path())
		}
	})
}

// The GUI connected to a replica's admin address (TLS, token) lists the
// cluster's replicas, marks the one it is connected to, and the etcd
// member that leads; a replica that stops leaves the list by itself.
func TestClusterScreenThroughAReplicasAdminAddress(t *testing.T) {
	url := etcdtest.URL(t)
	db, err := store.OpenURL(url, store.TLSFiles{}, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	peer, err := store.OpenURL(url, store.TLSFiles{}, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { peer.Close() })
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	if _, err := db.Announce(ctx, store.Replica{ID: store.ReplicaID(), Addr: "127.0.0.1:8765", AdminAddr: "127.0.0.1:8766",
		PublicURL: "https://td.example.com", Version: "1.4.0", Started: time.Now().Add(-5 * time.Minute)}); err != nil {
		t.Fatal(err)
	}
	peerCtx, stopPeer := context.WithCancel(ctx)
	peerGone, err := peer.Announce(peerCtx, store.Replica{ID: "zz-other:4242", Addr: "10.0.0.12:8765", PublicURL: "https://td.example.com", Version: "1.4.0", Started: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	svc := admin.New(db, admin.Options{PublicURL: "https://td.example.com", Addr: "127.0.0.1:0", Logger: slog.New(slog.DiscardHandler)})
	token, err := svc.NewAdminToken()
	if err != nil {
		t.Fatal(err)
	}
	pem, err := svc.AdminCertificatePEM()
	if err != nil {
		t.Fatal(err)
	}
	trust, err := remote.CATLS([]byte(pem))
	if err != nil {
		t.Fatal(err)
	}
	c, err := remote.Dial(ctx, remotetest.AdminServer(t, svc, "replica-1"), token, trust)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)

	m := clusterWindow(t, c, "replica-1")
	s := m.cluster
	eventually(t, "both replicas and the member", func() bool { return s.replicas.Len() == 2 && s.members.Len() == 1 })
	onUI(func() {
		if want := "2 replicas serving https://td.example.com on 1 etcd member; tenantdesk-test leads."; s.summary.Text != want || s.summary.Importance != widget.SuccessImportance {
			t.Errorf("summary %q (%v), want %q", s.summary.Text, s.summary.Importance, want)
		}
		if s.location.Text != "Store "+url {
			t.Errorf("location %q, want the store URL %s", s.location.Text, url)
		}
		// Rows by id: this process's host:pid, then the peer.
		this, other := 0, 1
		if r, _ := s.replicas.Row(0); r.ID != store.ReplicaID() {
			this, other = 1, 0
		}
		for col, want := range map[int]string{1: store.ReplicaID(), 2: "127.0.0.1:8765", 3: "127.0.0.1:8766", 4: "1.4.0", 5: "5 min",
			7: "← this window is connected here"} {
			if got := cellText(t, s.replicas, this, col); got != want {
				t.Errorf("this replica, column %q: %q, want %q", s.replicas.cols[col].title, got, want)
			}
		}
		if got := cellText(t, s.replicas, this, 6); !regexp.MustCompile(`^\d s ago$`).MatchString(got) {
			t.Errorf("last seen %q, want a few seconds ago", got)
		}
		if got, note := cellText(t, s.replicas, other, 3), cellText(t, s.replicas, other, 7); got != "—" || note != "" {
			t.Errorf("the peer: admin address %q, note %q; want none of either", got, note)
		}
		if got := cellText(t, s.members, 0, 3); got != "leader" {
			t.Errorf("member role %q, want leader", got)
		}
		if got := cellText(t, s.members, 0, 2); !strings.HasPrefix(url, "etcd://"+strings.TrimPrefix(got, "http://")) {
			t.Errorf("member client URL %q, not the store's %s", got, url)
		}
		if got := cellText(t, s.members, 0, 5); !regexp.MustCompile(`^\d+\.\d [KM]iB$`).MatchString(got) {
			t.Errorf("database size %q, want it humanised", got)
		}
	})

	// Settings names the store rather than a data file of 0 B.
	onUI(m.settings.shown)
	eventually(t, "settings naming the store", func() bool {
		return m.settings.data.Title == "Data store" && m.settings.path.Text == url && strings.Contains(m.settings.size.Text, "Cluster screen")
	})

	// The peer stops: the next poll drops it, with no tap on Refresh.
	stopPeer()
	<-peerGone
	eventually(t, "the stopped replica gone", func() bool {
		r, _ := s.replicas.Row(0)
		return s.replicas.Len() == 1 && r.ID == store.ReplicaID() && strings.HasPrefix(s.summary.Text, "1 replica serving")
	})
}

// When etcd stops answering, the screen says so in words and keeps the
// lists it last read, saying from when.
func TestClusterScreenSaysWhenEtcdDoesNotAnswer(t *testing.T) {
	addr, cut := cuttable(t, etcdtest.Start(t).Endpoint)
	db, err := store.OpenURL("etcd://"+addr, store.TLSFiles{}, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	svc := admin.New(db, admin.Options{PublicURL: "https://td.example.com", Addr: "127.0.0.1:0", Logger: slog.New(slog.DiscardHandler)})
	m := clusterWindow(t, svc, "")
	s := m.cluster
	eventually(t, "the member listed", func() bool { return s.members.Len() == 1 })
	onUI(func() {
		if !strings.HasPrefix(s.summary.Text, "No serve replica is running on 1 etcd member") || s.summary.Importance != widget.WarningImportance {
			t.Errorf("summary %q (%v), want the warning that no replica runs", s.summary.Text, s.summary.Importance)
		}
	})
	cut()
	onUI(s.reload) // Refresh, rather than wait for the next poll
	eventually(t, "the error in words", func() bool {
		return strings.HasPrefix(s.summary.Text, "Could not read the cluster: replicas: no etcd member answered within 3s") &&
			strings.Contains(s.summary.Text, "the lists below are from")
	})
	onUI(func() {
		if s.summary.Importance != widget.DangerImportance || s.members.Len() != 1 {
			t.Errorf("the error shown as %v with %d members listed; want danger over the last list", s.summary.Importance, s.members.Len())
		}
	})
}

// cuttable forwards a loopback port to addr until cut is called, which
// closes it and every connection through it: etcd then stops answering the
// client, as when the network to the cluster fails.
func cuttable(t *testing.T, addr string) (string, func()) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	gone := false
	go func() {
		for {
			in, err := l.Accept()
			if err != nil {
				return
			}
			out, err := net.Dial("tcp", addr)
			if err != nil {
				in.Close()
				continue
			}
			mu.Lock()
			conns = append(conns, in, out)
			if gone { // accepted as cut ran
				in.Close()
				out.Close()
			}
			mu.Unlock()
			go func() { _, _ = io.Copy(out, in); out.Close() }()
			go func() { _, _ = io.Copy(in, out); in.Close() }()
		}
	}()
	cut := func() {
		l.Close()
		mu.Lock()
		defer mu.Unlock()
		gone = true
		for _, c := range conns {
			c.Close()
		}
	}
	t.Cleanup(cut)
	return l.Addr().String(), cut
}

// The line above the lists says what is wrong first, in words, and how
// bad it is.
func TestClusterSummary(t *testing.T) {
	lb := "https://td.example.com"
	member := func(name string, healthy, leader bool) store.Member {
		return store.Member{Name: name, Healthy: healthy, Leader: leader}
	}
	three := []store.Member{member("m1", true, true), member("m2", true, false), member("m3", true, false)}
	replica := func(id, url string, this bool) replicaRow {
		return replicaRow{Replica: store.Replica{ID: id, PublicURL: url}, this: this}
	}
	two := []replicaRow{replica("a:1", lb, true), replica("b:2", lb, false)}
	for _, c := range []struct {
		name    string
		members []store.Member
		rows    []replicaRow
		imp     widget.Importance
		text    string
	}{
		{"healthy", three, two, widget.SuccessImportance, "2 replicas serving https://td.example.com on 3 etcd members; m1 leads."},
		{"one member down", []store.Member{member("m1", true, true), member("m2", false, false), member("m3", true, false)}, two,
			widget.WarningImportance, "2 replicas serving https://td.example.com on 3 etcd members; m1 leads; m2 not answering (the others carry on)."},
		{"no majority", []store.Member{member("m1", true, true), member("m2", false, false), member("m3", false, false)}, two,
			widget.DangerImportance, "2 replicas serving https://td.example.com on 3 etcd members; m2, m3 not answering: without a majority, writes stop."},
		{"no leader", []store.Member{member("m1", true, false), member("m2", true, false), member("m3", true, false)}, two,
			widget.DangerImportance, "2 replicas serving https://td.example.com on 3 etcd members; no member leads: writes stall until one is elected."},
		{"a replica stalled", three, []replicaRow{replica("a:1", lb, true), {Replica: store.Replica{ID: "b:2", PublicURL: lb}, seen: 8 * time.Second}},
			widget.WarningImportance, "2 replicas serving https://td.example.com on 3 etcd members; m1 leads; b:2 not renewing its presence (stopped, or cut off from etcd)."},
		{"no replica", three, nil, widget.WarningImportance, "No serve replica is running on 3 etcd members; m1 leads."},
		{"public URLs differ", three, []replicaRow{replica("a:1", lb, true), replica("b:2", "http://10.0.0.12:8765", false)},
			widget.WarningImportance, "2 replicas serving on 3 etcd members; m1 leads; the replicas have different public URLs " +
				"(https://td.example.com, http://10.0.0.12:8765): give each one the load balancer's."},
		{"a window on the cluster itself", three, []replicaRow{replica("a:1", lb, false)}, widget.SuccessImportance,
			"1 replica serving https://td.example.com on 3 etcd members; m1 leads. This window works on the cluster directly; it is none of the replicas."},
	} {
		imp, text := clusterSummary(admin.ClusterStatus{Members: c.members}, c.rows)
		if imp != c.imp || text != c.text {
			t.Errorf("%s:\n got %v %q\nwant %v %q", c.name, imp, text, c.imp, c.text)
		}
	}
}
