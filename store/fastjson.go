package store

// This file writes the values a big Connec! notification stores ten
// thousand of at a time (an invoice, its identity-map row, its pending
// link back) without encoding/json's reflection: the 10,000-invoice
// notification of SPEC §11 spent a fifth of its transaction there. The
// bytes are exactly what json.Marshal writes for the same value
// (TestFastJSONIsEncodingJSON and FuzzFastJSON hold it to that), so the
// codec byte stays codecJSON1 and decodeValue reads them as before. Any
// value it cannot write exactly as json.Marshal would (a time outside
// years 0–9999, a quantity that is not a finite number) goes through
// json.Marshal instead.

import (
	"math"
	"strconv"
	"time"
	"unicode/utf8"
)

// appendFastJSON appends the JSON of v to b; ok is false when v is not one
// of the types written here, or is a value json.Marshal must judge.
func appendFastJSON(b []byte, v any) (_ []byte, ok bool) {
	w := jsonWriter{b: b, ok: true}
	switch v := v.(type) {
	case Invoice:
		w.invoice(&v)
	case ConnectedObject:
		w.connected(&v)
	case PendingLink:
		w.pendingLink(&v)
	default:
		return b, false
	}
	return w.b, w.ok
}

type jsonWriter struct {
	b  []byte
	ok bool // false once a value needs json.Marshal
	n  int  // fields written in the current object
}

func (w *jsonWriter) invoice(inv *Invoice) {
	w.open()
	w.str("id", inv.ID)
	w.str("tenant", inv.Tenant)
	w.str("group_uid", inv.GroupUID)
	w.str("number", inv.Number)
	w.str("title", inv.Title)
	w.str("status", inv.Status)
	w.timeOmitZero("transaction_date", inv.TransactionDate)
	w.timeOmitZero("due_date", inv.DueDate)
	w.str("currency", inv.Currency)
	w.key("lines")
	if inv.Lines == nil {
		w.b = append(w.b, "null"...)
	} else {
		w.b = append(w.b, '[')
		for i := range inv.Lines {
			if i > 0 {
				w.b = append(w.b, ',')
			}
			l := &inv.Lines[i]
			n := w.n
			w.open()
			w.str("description", l.Description)
			w.float("quantity", l.Quantity)
			w.int("unit_price_cents", l.UnitPriceCents)
			w.int("total_cents", l.TotalCents)
			w.close()
			w.n = n
		}
		w.b = append(w.b, ']')
	}
	w.int("total_cents", inv.TotalCents)
	w.int("tax_cents", inv.TaxCents)
	w.time("created_at", inv.CreatedAt)
	w.time("updated_at", inv.UpdatedAt)
	w.close()
}

func (w *jsonWriter) connected(c *ConnectedObject) {
	w.open()
	w.uint("id", c.ID)
	w.str("tenant", c.Tenant)
	w.str("group_uid", c.GroupUID)
	w.str("local_kind", c.LocalKind)
	w.str("local_id", c.LocalID)
	w.str("provider", c.Provider)
	w.str("entity", c.Entity)
	w.str("remote_id", c.RemoteID)
	w.str("name", c.Name)
	w.time("created_at", c.CreatedAt)
	w.time("updated_at", c.UpdatedAt)
	w.timeOmitZero("last_push_at", c.LastPushAt)
	w.timeOmitZero("last_pull_at", c.LastPullAt)
	w.timeOmitZero("linked_at", c.LinkedAt)
	w.boolOmitEmpty("push_disabled", c.PushDisabled)
	w.boolOmitEmpty("pull_disabled", c.PullDisabled)
	if c.LastError != "" {
		w.str("last_error", c.LastError)
	}
	w.boolOmitEmpty("inactive", c.Inactive)
	w.close()
}

func (w *jsonWriter) pendingLink(l *PendingLink) {
	w.open()
	w.str("tenant", l.Tenant)
	w.str("group_uid", l.GroupUID)
	w.str("collection", l.Collection)
	w.str("connec_id", l.ConnecID)
	w.str("local_id", l.LocalID)
	w.uint("row_id", l.RowID)
	w.close()
}

func (w *jsonWriter) open()  { w.b, w.n = append(w.b, '{'), 0 }
func (w *jsonWriter) close() { w.b = append(w.b, '}') }

func (w *jsonWriter) key(k string) {
	if w.n > 0 {
		w.b = append(w.b, ',')
	}
	w.n++
	w.b = append(w.b, '"')
	w.b = append(w.b, k...)
	w.b = append(w.b, '"', ':')
}

func (w *jsonWriter) str(k, v string) {
	w.key(k)
	w.b = appendJSONString(w.b, v)
}

func (w *jsonWriter) int(k string, v int64) {
	w.key(k)
	w.b = strconv.AppendInt(w.b, v, 10)
}

func (w *jsonWriter) uint(k string, v uint64) {
	w.key(k)
	w.b = strconv.AppendUint(w.b, v, 10)
}

func (w *jsonWriter) boolOmitEmpty(k string, v bool) {
	if v {
		w.key(k)
		w.b = append(w.b, "true"...)
	}
}

// float writes a float64 as encoding/json does: 'f' format, or 'e' for
// very small and very large magnitudes with "e-07" cleaned to "e-7".
func (w *jsonWriter) float(k string, f float64) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		w.ok = false // json.Marshal refuses these; let it say so
		return
	}
	w.key(k)
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	w.b = strconv.AppendFloat(w.b, f, format, -1, 64)
	if format == 'e' {
		if n := len(w.b); n >= 4 && w.b[n-4] == 'e' && w.b[n-3] == '-' && w.b[n-2] == '0' {
			w.b[n-2] = w.b[n-1]
			w.b = w.b[:n-1]
		}
	}
}

// time writes a time as time.Time.MarshalJSON does (RFC 3339 with
// nanoseconds); the years and zone offsets it refuses (outside 0–9999, a
// day or more) go to json.Marshal.
func (w *jsonWriter) time(k string, t time.Time) {
	if y := t.Year(); y < 0 || y > 9999 {
		w.ok = false
		return
	}
	if _, off := t.Zone(); off <= -24*3600 || off >= 24*3600 {
		w.ok = false
		return
	}
	w.key(k)
	w.b = append(w.b, '"')
	w.b = t.AppendFormat(w.b, time.RFC3339Nano)
	w.b = append(w.b, '"')
}

func (w *jsonWriter) timeOmitZero(k string, t time.Time) {
	if !t.IsZero() {
		w.time(k, t)
	}
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s quoted as encoding/json quotes it (HTML
// characters escaped, invalid UTF-8 replaced, U+2028 and U+2029 escaped).
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '\\', '"':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
