package remote

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// The client's side of the wire: whatever a server (or something posing as
// one) answers, decoding it gives a value or an error, never a panic, and
// an error's identities are only the ones the wire names.
func FuzzDecodeAnswer(f *testing.F) {
	f.Add([]byte(`{"result":[{"key":"acme"}]}`))
	f.Add([]byte(`{"error":{"message":"no tenant","kinds":["not_found","canceled"]}}`))
	f.Add([]byte(`{"error":{"message":"bad","type":"invalid_tenant","detail":{"problems":[{"field":"api.host","message":"x"}]}}}`))
	f.Add([]byte(`{"error":{"message":"bad","type":"import","detail":"not an object"}}`))
	f.Add([]byte(`{"progress":{"done":3},"result":null}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var l line
		if json.Unmarshal(b, &l) != nil {
			return
		}
		_, err := finish[[]map[string]any]("Fuzz", l.answer)
		if l.Error == nil {
			return
		}
		if err == nil {
			t.Fatal("an answer with an error decoded to none")
		}
		if err.Error() != l.Error.Message && !errors.Is(err, ErrProtocol) {
			t.Fatalf("message %q, wire said %q", err, l.Error.Message)
		}
		named := strings.Join(l.Error.Kinds, " ")
		for _, s := range sentinels {
			if errors.Is(err, s.err) && !strings.Contains(named, s.kind) && !errors.Is(err, ErrProtocol) {
				t.Fatalf("%v matches %s, which the wire did not name", err, s.kind)
			}
		}
	})
}

// The server's side: any body posted to a method is refused with a 4xx
// answer or served, and the answer is always the wire's JSON. Only methods
// that change nothing are fuzzed, on a real data file.
func FuzzHandlerArguments(f *testing.F) {
	svc := demoService(f)
	h := Handler(svc, Info{Name: "fuzz"}, nil, slog.New(slog.DiscardHandler))
	methods := []string{"Tenant", "ValidateTenant", "RegistrationURLs", "QueryConnectedAt", "SkipConnected", "Connected",
		"ConnectedByRemote", "Invoices", "Invoice", "Groups", "BillingHistory", "Bills", "BillingPreview", "SyncStates",
		"EventsAfter", "RecentEvents", "Activity", "Setting", "Export", "CountConnected"}
	for i, seed := range []string{`"acme"`, `{"tenant":"acme","limit":5}`, `{"after":"\u0000","limit":-1}`, `18446744073709551615`,
		`{"period":"2026-13","tenant":"acme"}`, `[`, `null`, `{"key":"acme","api":{"host":"ftp://x"}}`} {
		f.Add(uint8(i), []byte(seed))
	}
	before := svc.DB().Generation()
	f.Fuzz(func(t *testing.T, m uint8, body []byte) {
		name := methods[int(m)%len(methods)]
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/v1/"+name, strings.NewReader(string(body))))
		if rec.Code != http.StatusOK && rec.Code != http.StatusBadRequest {
			t.Fatalf("%s: status %d", name, rec.Code)
		}
		var a answer
		if err := json.Unmarshal(rec.Body.Bytes(), &a); err != nil {
			t.Fatalf("%s: the answer is not the wire's JSON: %v: %q", name, err, rec.Body.String())
		}
		if svc.DB().Generation() != before {
			t.Fatalf("%s with %q wrote to the data file", name, body)
		}
	})
}
