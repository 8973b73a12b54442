package sso

import (
	"encoding/json"
	"fmt"
	"html"
	"net/http"
)

// writeErrorPage answers a browser with an HTML page naming the reason code.
// Nothing from the request is echoed back.
func writeErrorPage(w http.ResponseWriter, reason Reason) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	if reason == ReasonBusy {
		h.Set("Retry-After", busyRetryAfterHeader)
	}
	w.WriteHeader(reason.HTTPStatus())
	fmt.Fprintf(w, `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sign-in failed</title></head>
<body><h1>Sign-in failed</h1>
<p>%s</p>
<p>Reason code: <code id="reason">%s</code></p>
</body></html>
`, html.EscapeString(reason.Message()), html.EscapeString(reason.String()))
}

// writeJSON answers with a JSON document.
func writeJSON(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
