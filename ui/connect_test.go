package ui

import (
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2/test"

	"github.com/tenantdesk/tenantdesk/store"
	"github.com/tenantdesk/tenantdesk/tenant/admin"
	"github.com/tenantdesk/tenantdesk/tenant/admin/remote"
	"github.com/tenantdesk/tenantdesk/tenant/admin/remote/remotetest"
)

// remoteServer is `serve --admin-addr` in process: its own data file with
// the demo data, its admin API on loopback. It returns the URL, a token
// and the certificate's fingerprint.
func remoteServer(t *testing.T) (*admin.Service, string, string, string) {
	t.Helper()
	db, err := store.Open(filepath.Join(t.TempDir(), "server.db"), store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	svc := admin.New(db, admin.Options{PublicURL: "https://server.example.com", Logger: slog.New(slog.DiscardHandler)})
	if _, err := svc.SeedDemo(); err != nil {
		t.Fatal(err)
	}
	token, err := svc.NewAdminToken()
	if err != nil {
		t.Fatal(err)
	}
	cert, err := svc.AdminTLSCertificate()
	if err != nil {
		t.Fatal(err)
	}
	// Cleanups run last first: the server stops before its file closes.
	t.Cleanup(func() {
		time.Sleep(20 * time.Millisecond)
		db.Close()
	})
	url := remotetest.AdminServer(t, svc, "vendor-server")
	return svc, url, token, remote.Fingerprint(cert.Certificate[0])
}

func TestConnectToServerPinsItsCertificateAndWorksOnItsTenants(t *testing.T) {
	m, local := newTestWindow(t)
	server, url, token, fingerprint := remoteServer(t)
	host := strings.TrimPrefix(url, "https://")
	want, err := server.Tenants()
	if err != nil || len(want) == 0 {
		t.Fatalf("server tenants: %d, %v", len(want), err)
	}

	var f *connectForm
	onUI(func() {
		f = m.newConnectForm()
		f.dialog.Show()
		f.url.SetText("")
		f.submit()
		if !f.urlErr.Visible() || !f.tokenErr.Visible() {
			t.Fatalf("empty form: url error %q, token error %q", f.urlErr.Text, f.tokenErr.Text)
		}
		test.Type(f.url, "http://"+host)
		test.Type(f.token, "tdk_wrong")
		f.submit()
		if !strings.Contains(f.urlErr.Text, "https only") || f.tokenErr.Visible() {
			t.Fatalf("http URL: url error %q, token error %q", f.urlErr.Text, f.tokenErr.Text)
		}
		f.url.SetText(url)
		f.submit()
	})

	// First use: the certificate is shown before any token is sent.
	eventually(t, "the question to trust the certificate", func() bool { return f.trust != nil })
	onUI(func() {
		if f.fingerprint != fingerprint {
			t.Fatalf("shown fingerprint %s, the server's is %s", f.fingerprint, fingerprint)
		}
		f.answerTrust(true)
	})
	eventually(t, "the wrong token refused beside its field", func() bool {
		return f.tokenErr.Visible() && strings.Contains(f.tokenErr.Text, "refused")
	})
	if pin := m.app.Preferences().String(prefPinPrefix + host); pin != fingerprint {
		t.Fatalf("pinned %q, want %q", pin, fingerprint)
	}
	if n, _ := server.Tenants(); len(n) != len(want) {
		t.Fatal("a refused token changed the server's tenants")
	}

	onUI(func() {
		f.token.SetText(token)
		f.submit()
	})
	eventually(t, "the server's window", func() bool { return f.opened != nil })
	w := f.opened
	t.Cleanup(func() { onUI(w.closeSecondary) })
	if title := w.win.Title(); !strings.Contains(title, host) || !strings.Contains(title, "vendor-server") {
		t.Fatalf("window title %q does not name the server", title)
	}
	eventually(t, "the server's tenants listed", func() bool { return w.tenants.list.Len() == len(want) })
	eventually(t, "the status bar naming the server", func() bool {
		return strings.Contains(w.status.line.Text, "Server vendor-server ("+host+")")
	})
	if list, _ := local.Tenants(); len(list) != 0 {
		t.Fatalf("the local file got %d tenants", len(list))
	}

	// Work done in the server's window lands on the server.
	key := want[0].Key
	done := make(chan error, 1)
	go func() { done <- w.svc.SetTenantEnabled(key, !want[0].Enabled) }()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if c, err := server.Tenant(key); err != nil || c.Enabled == want[0].Enabled {
		t.Fatalf("toggle through the window did not reach the server (%v)", err)
	}

	// A different certificate under the same address is refused.
	m.app.Preferences().SetString(prefPinPrefix+host, strings.Repeat("AB:", 31)+"AB")
	onUI(func() {
		f2 := m.newConnectForm()
		f2.url.SetText(url)
		f2.token.SetText(token)
		f2.submit()
		f = f2
	})
	eventually(t, "a changed certificate refused", func() bool {
		return f.urlErr.Visible() && strings.Contains(f.urlErr.Text, "certificate changed")
	})

	// Forget drops the pin: the next connect asks about the certificate
	// again, before the token is sent.
	onUI(func() {
		if !f.pinRow.Visible() || !strings.Contains(f.pin.Text, host) {
			t.Fatalf("the pinned certificate is not shown with Forget (%q)", f.pin.Text)
		}
		test.Tap(f.forget)
	})
	eventually(t, "Forget's question", func() bool { return len(m.win.Canvas().Overlays().List()) > 0 })
	onUI(func() {
		f.forgetPin(host) // what the question's Forget answer does
		if f.pinRow.Visible() || f.urlErr.Visible() {
			t.Fatal("the pin or the error still shown after Forget")
		}
	})
	if pin := m.app.Preferences().String(prefPinPrefix + host); pin != "" {
		t.Fatalf("pin %q kept after Forget", pin)
	}
	onUI(f.submit)
	eventually(t, "the certificate shown again", func() bool { return f.trust != nil && f.fingerprint == fingerprint })
}
