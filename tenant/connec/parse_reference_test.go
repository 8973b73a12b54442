package connec

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"testing"

	"github.com/tenantdesk/tenantdesk/tenant"
)

// parseStreamReference is parseStream as it was written on encoding/json's
// Decoder, kept as the reference FuzzParseStreamAgrees compares the
// hand-written scanner with. It decodes a notification body and hands its records to emit
// in batches, in body order; emit returns false to stop. Records are
// decoded straight from the stream (one pass each), since a 16 MiB body of
// invoices is the listener's heaviest request. Every error about the body
// wraps ErrMalformed.
func parseStreamReference(cfg *tenant.Config, body []byte, emit func([]notified) bool) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return fmt.Errorf("%w: the body must be a JSON object of collections", ErrMalformed)
	}
	batch := make([]notified, 0, parseBatch)
	add := func(rec notified) bool {
		batch = append(batch, rec)
		if len(batch) < parseBatch {
			return true
		}
		ok := emit(batch)
		batch = make([]notified, 0, parseBatch)
		return ok
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return fmt.Errorf("%w: %v", ErrMalformed, err)
		}
		entity, _ := tok.(string)
		if !tenant.ValidCollection(entity) {
			return fmt.Errorf("%w: collection name %q: use lowercase letters, digits and '_'", ErrMalformed, clip(entity))
		}
		switch nextValue(body, dec.InputOffset()) {
		case '[':
			if _, err := dec.Token(); err != nil {
				return fmt.Errorf("%w: %s: %v", ErrMalformed, entity, err)
			}
			for i := 0; dec.More(); i++ {
				rec, err := decodeRecordReference(dec, cfg, entity)
				if err != nil {
					return fmt.Errorf("%w: %s[%d]: %v", ErrMalformed, entity, i, err)
				}
				if !add(rec) {
					return errStopped
				}
			}
			if _, err := dec.Token(); err != nil {
				return fmt.Errorf("%w: %s: %v", ErrMalformed, entity, err)
			}
		case '{': // a singleton collection ("company")
			rec, err := decodeRecordReference(dec, cfg, entity)
			if err != nil {
				return fmt.Errorf("%w: %s: %v", ErrMalformed, entity, err)
			}
			if !add(rec) {
				return errStopped
			}
		case 'n': // null: nothing of this collection
			var null json.RawMessage
			if err := dec.Decode(&null); err != nil {
				return fmt.Errorf("%w: %s: %v", ErrMalformed, entity, err)
			}
		default:
			return fmt.Errorf("%w: %s: want an array of records", ErrMalformed, entity)
		}
	}
	if _, err := dec.Token(); err != nil {
		return fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return fmt.Errorf("%w: data after the JSON object", ErrMalformed)
	}
	if len(batch) > 0 && !emit(batch) {
		return errStopped
	}
	return nil
}

// nextValue is the first byte of the value after an object key that ends
// at off (skipping the colon and white space), or 0.
func nextValue(body []byte, off int64) byte {
	if off < 0 || off > int64(len(body)) {
		return 0
	}
	for _, c := range body[off:] {
		switch c {
		case ' ', '\t', '\r', '\n', ':':
			continue
		}
		return c
	}
	return 0
}

// decodeRecordReference reads the next record of the stream with the
// Decoder and interprets it as parseStream does (decodeRecord): what the
// scanner replaced is how a record is found and checked in the body;
// decodeFast's reading of it is held to json.Unmarshal's by
// FuzzDecodeFastAgrees and TestDecodeFastReadsEveryField.
func decodeRecordReference(dec *json.Decoder, cfg *tenant.Config, entity string) (notified, error) {
	var raw json.RawMessage
	if err := dec.Decode(&raw); err != nil {
		return notified{}, err
	}
	return decodeRecord(raw, cfg, entity)
}

// The scanner and the encoding/json Decoder it replaced agree on every
// body: both refuse it, or both read the same records.
func FuzzParseStreamAgrees(f *testing.F) {
	for _, s := range []string{
		string(invoicesBody(0)[:2000]) + `]}`,
		`{"invoices":[{"id":[{"id":"c-1","provider":"connec","realm":"org-1"},{"id":"inv-000001","provider":"app-acme","realm":"cld-1"}],"group_id":"cld-1","transaction_number":"INV-1","amount":{"total_amount":12.5,"tax_amount":"1.25"},"lines":[{"description":"x","quantity":2,"unit_price":{"net_amount":5.625},"total_price":{"net_amount":11.25}}],"updated_at":"2026-01-01T00:00:00Z"}]}`,
		`{"items":[{"id":"c-2","group_id":"cld-2","name":"Widget","updated_at":"2026-01-01T00:00:00Z"}],"company":{"id":"c-3","group_id":"cld-2"}}`,
		`{"invoices":[{"id":"c-1","group_id":"cld-1","Title":"A","title":"B","title":"C","lines":null,"amount":{"currency":"JPY"},"amount":{"total_amount":4900}}]}`,
		`{"invoices":[{"id":"c-1","group_id":"cld-1","title":"caf\u00e9 \"x\"","invoice_lines":[{"quantity":"2"}],"ſtatus":"paid"}]}`,
		`{"invoices":null, "x" : [ ] , "inv\u006fices":[]}`,
		`{"invoices":[{"id":"c-1","group_id":"cld-1"},]}`, `{"a":[1 2]}`, `{"a":[],}`, `{} x`, `{"a":[{}]}`, ` {"invoices":[{"id":"c-1","group_id":"cld-1","code":"\xff"}]} `,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		cfg := testConfig(true)
		var got, want []notified
		err := parseStream(cfg, body, func(r []notified) bool { got = append(got, r...); return true })
		werr := parseStreamReference(cfg, body, func(r []notified) bool { want = append(want, r...); return true })
		if (err == nil) != (werr == nil) {
			t.Fatalf("scanner: %v; decoder: %v", err, werr)
		}
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("not ErrMalformed: %v", err)
			}
			return
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("scanner read\n %+v\ndecoder read\n %+v", got, want)
		}
	})
}

// decodeFast reads a record as json.Unmarshal does, or says no.
func FuzzDecodeFastAgrees(f *testing.F) {
	f.Add([]byte(`{"id":"c-1","group_id":"cld-1","title":"T","amount":{"total_amount":1.5e2,"currency":"KWD","x":[1,{"y":null}]},"lines":[{"quantity":-0.5}],"extra":"\u0041"}`))
	f.Add([]byte(`{"id":[{"id":"c-1","provider":"connec"}],"lines":[],"invoice_lines":[{},{"description":"d"}],"updated_at":"2026"}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		sc := &jsonScan{b: raw}
		v, err := sc.value()
		if sc.ws(); err != nil || sc.i != len(raw) {
			if json.Valid(raw) {
				t.Fatalf("the scanner refuses valid JSON %q: %v", raw, err)
			}
			return
		}
		if !json.Valid(v) {
			t.Fatalf("the scanner accepts invalid JSON %q", v)
		}
		var fast, slow remoteInvoice
		if !fast.decodeFast(v) {
			return
		}
		if err := json.Unmarshal(v, &slow); err != nil {
			t.Fatalf("decodeFast read %q, json.Unmarshal refuses it: %v", v, err)
		}
		if !reflect.DeepEqual(fast, slow) {
			t.Fatalf("decodeFast %+v\njson.Unmarshal %+v", fast, slow)
		}
	})
}

// Every field of remoteInvoice (and of its prices and lines) is read by
// decodeFast: a field added to the struct but not to decodeFast would be
// skipped as an unknown key, and this test fails instead of the record
// silently losing it.
func TestDecodeFastReadsEveryField(t *testing.T) {
	raw, err := json.Marshal(everyField(reflect.TypeFor[remoteInvoice]()))
	if err != nil {
		t.Fatal(err)
	}
	var fast, slow remoteInvoice
	if !fast.decodeFast(raw) {
		t.Fatalf("decodeFast refuses the plain record %s", raw)
	}
	if err := json.Unmarshal(raw, &slow); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(fast, slow) {
		t.Fatalf("decodeFast misses a field of %s:\n%+v\njson.Unmarshal:\n%+v", raw, fast, slow)
	}
}

// everyField is a JSON object of the struct type t with a distinct plain
// value under each of its JSON names.
func everyField(t reflect.Type) map[string]any {
	obj := map[string]any{}
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		switch {
		case f.Type == reflect.TypeFor[json.RawMessage]():
			obj[name] = "raw-" + name
		case f.Type == reflect.TypeFor[json.Number]():
			obj[name] = json.Number(fmt.Sprint(i + 1))
		case f.Type.Kind() == reflect.String:
			obj[name] = "text-" + name
		case f.Type.Kind() == reflect.Struct:
			obj[name] = everyField(f.Type)
		case f.Type.Kind() == reflect.Slice && f.Type.Elem().Kind() == reflect.Struct:
			obj[name] = []any{everyField(f.Type.Elem())}
		default:
			panic(fmt.Sprintf("everyField: no sample for %s %s", name, f.Type))
		}
	}
	return obj
}
