package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tenantdesk/tenantdesk/store"
	"github.com/tenantdesk/tenantdesk/tenant/admin"
	"github.com/tenantdesk/tenantdesk/tenant/admin/remote"
)

// heldConnec is a Connec! that holds the first invoice it is sent until
// release is closed, and counts the creates it gets.
type heldConnec struct {
	*httptest.Server
	first, second, release chan struct{}

	mu      sync.Mutex
	creates int
}

func newHeldConnec(t *testing.T) *heldConnec {
	h := &heldConnec{first: make(chan struct{}), second: make(chan struct{}), release: make(chan struct{})}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/vnd.api+json")
		if r.Method == http.MethodGet { // the pulls serve runs: nothing there
			collection := path.Base(r.URL.Path)
			_ = json.NewEncoder(w).Encode(map[string]any{collection: []any{}, "pagination": map[string]any{"total": 0}})
			return
		}
		var body map[string]map[string]any
		_ = json.NewDecoder(r.Body).Decode(&body)
		h.mu.Lock()
		h.creates++
		n := h.creates
		h.mu.Unlock()
		switch n {
		case 1:
			close(h.first)
			select {
			case <-h.release:
			case <-time.After(10 * time.Second):
			}
		case 2:
			close(h.second)
		}
		rec := body["invoices"]
		ids := []map[string]any{{"id": fmt.Sprintf("c0ffee00-0000-0000-0000-%012d", n), "provider": "connec", "realm": "org-1"}}
		if ours, ok := rec["id"].([]any); ok {
			for _, o := range ours {
				ids = append(ids, o.(map[string]any))
			}
		}
		rec["id"] = ids
		w.WriteHeader(http.StatusCreated)
		_ = json.NewEncoder(w).Encode(map[string]any{"invoices": rec})
	}))
	t.Cleanup(h.Close)
	return h
}

// In serve, Push now through the admin API goes to the one outbox worker
// that runs: while that worker is pushing an invoice, Push now of the same
// invoice waits for it instead of creating the invoice in Connec! a second
// time.
func TestServePushNowGoesThroughTheRunningOutbox(t *testing.T) {
	cx := newHeldConnec(t)
	db := filepath.Join(t.TempDir(), "td.db")
	importedDataFile(t, db, strings.ReplaceAll(marketplaces(t, "acme"), "https://connec.acme.test", cx.URL),
		store.Group{Tenant: "acme", UID: "cld-1", Name: "Bluegum Bakery"})
	s, err := store.Open(db, store.Options{})
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
	case <-cx.first:
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
	select {
	case <-cx.second:
		t.Error("Push now created the invoice in Connec! a second time while serve's outbox was pushing it")
	case <-time.After(500 * time.Millisecond): // Push now waits for the push in flight
	}
	close(cx.release)
	if err := <-pushed; err != nil {
		t.Fatalf("push now: %v", err)
	}
	cx.mu.Lock()
	defer cx.mu.Unlock()
	if cx.creates != 1 {
		t.Fatalf("Connec! got %d creates of one invoice, want 1", cx.creates)
	}
}
