package cli

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tenantdesk/tenantdesk/store"
	"github.com/tenantdesk/tenantdesk/tenant/admin"
	"github.com/tenantdesk/tenantdesk/tenant/admin/remote"
	"github.com/tenantdesk/tenantdesk/tenant/connec/connectest"
)

// invoiceCreates counts the invoices Connec! was asked to create.
func invoiceCreates(cx *connectest.Server) int {
	n := 0
	for _, r := range cx.Requests() {
		if r.Method == http.MethodPost && strings.HasSuffix(r.Path, "/invoices") {
			n++
		}
	}
	return n
}

// In serve, Push now through the admin API goes to the one outbox worker
// that runs: while that worker is pushing an invoice, Push now of the same
// invoice waits for it instead of creating the invoice in Connec! a second
// time.
func TestServePushNowGoesThroughTheRunningOutbox(t *testing.T) {
	cx := connectest.New("app-acme", secretKey+"-acme")
	t.Cleanup(cx.Close)
	// The first create is held in Connec! until released.
	pushing, release := cx.Hold(func(r *http.Request) bool { return r.Method == http.MethodPost })
	defer release()
	db := filepath.Join(t.TempDir(), "td.db")
	importedDataFile(t, db, strings.ReplaceAll(marketplaces(t, "acme"), "https://connec.acme.test", cx.URL),
		store.Group{Tenant: "acme", UID: "cld-1", Name: "Bluegum Bakery"})
	s, err := store.Open(db, testStoreOptions())
	if err != nil {
		t.Fatal(err)
	}
	inv, err := admin.New(s, admin.Options{}).SaveInvoice(store.Invoice{Tenant: "acme", GroupUID: "cld-1", Number: "INV-1", Title: "Bread",
		Status: "AUTHORISED", Currency: "AUD", Lines: []store.InvoiceLine{{Description: "Loaves", Quantity: 3, UnitPriceCents: 450}}})
	if cerr := s.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}

	ctx, stop := context.WithCancel(context.Background())
	out, announce := io.Pipe()
	var errOut lockedBuffer
	exited := make(chan int, 1)
	go func() {
		exited <- run(ctx, []string{"--db", db, "--addr", "127.0.0.1:0", "serve"}, strings.NewReader(""), announce, &errOut)
		announce.Close()
	}()
	defer func() {
		stop()
		if code := <-exited; code != 0 {
			t.Errorf("serve exited %d: %s", code, errOut.String())
		}
	}()
	stdout := bufio.NewReader(out)
	line, _ := stdout.ReadString('\n')
	go func() { _, _ = io.Copy(io.Discard, stdout) }()
	if !strings.HasPrefix(line, "listening on ") {
		t.Fatalf("serve said %q; stderr %s", line, errOut.String())
	}

	// serve's outbox picks the queued invoice up and is pushing it...
	select {
	case <-pushing:
	case <-time.After(10 * time.Second):
		t.Fatalf("serve did not push the queued invoice; stderr %s", errOut.String())
	}
	// ...when the vendor presses Push now through the control socket.
	c, err := remote.DialSocket(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	pushed := make(chan error, 1)
	go func() { pushed <- c.PushNow(ctx, inv.ID) }()
	time.Sleep(500 * time.Millisecond) // Push now waits for the push in flight
	if n := invoiceCreates(cx); n != 0 {
		t.Errorf("Push now created the invoice in Connec! while serve's outbox was pushing it (%d create(s) answered)", n)
	}
	release()
	if err := <-pushed; err != nil {
		t.Fatalf("push now: %v", err)
	}
	if n := invoiceCreates(cx); n != 1 {
		t.Fatalf("Connec! got %d creates of one invoice, want 1", n)
	}
}
