package connec

// This file reads notification bodies without encoding/json's Decoder:
// jsonScan walks the body and checks each value strictly against the JSON
// grammar (RFC 8259) in one pass, and decodeFast fills a remoteInvoice
// from a checked record without reflection. decodeFast takes only the
// plain shapes Connec! sends (lowercase keys without escapes, strings
// without escapes, each known key once, no nulls in known fields); for
// anything else it says no and the caller uses json.Unmarshal, so what a
// record means never depends on which path read it
// (FuzzDecodeFastAgrees, FuzzParseStreamAgrees).

import (
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"
)

// maxDepth bounds nesting as encoding/json does (it allows 10,000).
const maxDepth = 10000

type jsonScan struct {
	b []byte
	i int
}

func (s *jsonScan) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\r', '\n':
			s.i++
		default:
			return
		}
	}
}

// peek is the next byte, 0 at the end.
func (s *jsonScan) peek() byte {
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

func (s *jsonScan) fail(want string) error {
	if s.i >= len(s.b) {
		return fmt.Errorf("unexpected end of JSON input, want %s", want)
	}
	return fmt.Errorf("invalid character %q at byte %d, want %s", s.b[s.i], s.i, want)
}

func (s *jsonScan) expect(c byte) error {
	if s.ws(); s.peek() != c {
		return s.fail(fmt.Sprintf("%q", c))
	}
	s.i++
	s.ws()
	return nil
}

// key reads an object key and its colon, leaving s at the value.
func (s *jsonScan) key() (string, error) {
	raw, err := s.str()
	if err != nil {
		return "", err
	}
	if err := s.expect(':'); err != nil {
		return "", err
	}
	k, ok := plainString(raw)
	if !ok {
		if err := json.Unmarshal(raw, &k); err != nil {
			return "", err
		}
	}
	return k, nil
}

// value reads one JSON value and returns its bytes.
func (s *jsonScan) value() ([]byte, error) {
	s.ws()
	start := s.i
	if err := s.skip(0); err != nil {
		return nil, err
	}
	return s.b[start:s.i], nil
}

func (s *jsonScan) skip(depth int) error {
	if depth > maxDepth {
		return errors.New("exceeded max depth")
	}
	switch c := s.peek(); {
	case c == '{':
		s.i++
		if s.ws(); s.peek() == '}' {
			s.i++
			return nil
		}
		for {
			if s.ws(); s.peek() != '"' {
				return s.fail("an object key")
			}
			if _, err := s.str(); err != nil {
				return err
			}
			if err := s.expect(':'); err != nil {
				return err
			}
			if err := s.skip(depth + 1); err != nil {
				return err
			}
			switch s.ws(); s.peek() {
			case ',':
				s.i++
			case '}':
				s.i++
				return nil
			default:
				return s.fail("',' or '}'")
			}
		}
	case c == '[':
		s.i++
		if s.ws(); s.peek() == ']' {
			s.i++
			return nil
		}
		for {
			s.ws()
			if err := s.skip(depth + 1); err != nil {
				return err
			}
			switch s.ws(); s.peek() {
			case ',':
				s.i++
			case ']':
				s.i++
				return nil
			default:
				return s.fail("',' or ']'")
			}
		}
	case c == '"':
		_, err := s.str()
		return err
	case c == '-' || '0' <= c && c <= '9':
		_, err := s.number()
		return err
	case c == 't':
		return s.literal("true")
	case c == 'f':
		return s.literal("false")
	case c == 'n':
		return s.literal("null")
	}
	return s.fail("a value")
}

func (s *jsonScan) literal(lit string) error {
	if len(s.b)-s.i < len(lit) || string(s.b[s.i:s.i+len(lit)]) != lit {
		return s.fail(lit)
	}
	s.i += len(lit)
	return nil
}

// str reads a string and returns it with its quotes, escapes undone by no one.
func (s *jsonScan) str() ([]byte, error) {
	start := s.i
	if s.peek() != '"' {
		return nil, s.fail("a string")
	}
	s.i++
	for s.i < len(s.b) {
		c := s.b[s.i]
		switch {
		case c == '"':
			s.i++
			return s.b[start:s.i], nil
		case c == '\\':
			if s.i+1 >= len(s.b) {
				s.i++
				return nil, s.fail("an escape")
			}
			switch s.b[s.i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				s.i += 2
			case 'u':
				if len(s.b)-s.i < 6 || !isHex(s.b[s.i+2]) || !isHex(s.b[s.i+3]) || !isHex(s.b[s.i+4]) || !isHex(s.b[s.i+5]) {
					s.i++
					return nil, s.fail("four hex digits")
				}
				s.i += 6
			default:
				s.i++
				return nil, s.fail("an escape")
			}
		case c < 0x20:
			return nil, s.fail("no control character in a string")
		default:
			s.i++
		}
	}
	return nil, s.fail(`'"'`)
}

func isHex(c byte) bool { return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F' }

// number reads -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?.
func (s *jsonScan) number() ([]byte, error) {
	start := s.i
	if s.peek() == '-' {
		s.i++
	}
	switch c := s.peek(); {
	case c == '0':
		s.i++
	case '1' <= c && c <= '9':
		s.digits()
	default:
		return nil, s.fail("a digit")
	}
	if s.peek() == '.' {
		s.i++
		if c := s.peek(); c < '0' || c > '9' {
			return nil, s.fail("a digit after '.'")
		}
		s.digits()
	}
	if c := s.peek(); c == 'e' || c == 'E' {
		s.i++
		if c := s.peek(); c == '+' || c == '-' {
			s.i++
		}
		if c := s.peek(); c < '0' || c > '9' {
			return nil, s.fail("a digit in the exponent")
		}
		s.digits()
	}
	return s.b[start:s.i], nil
}

func (s *jsonScan) digits() {
	for s.i < len(s.b) && '0' <= s.b[s.i] && s.b[s.i] <= '9' {
		s.i++
	}
}

// plainString is a quoted string's text when it has no escapes and is
// valid UTF-8 (what encoding/json would read unchanged).
func plainString(quoted []byte) (string, bool) {
	t := quoted[1 : len(quoted)-1]
	for _, c := range t {
		if c == '\\' || c >= utf8.RuneSelf {
			if c == '\\' || !utf8.Valid(t) {
				return "", false
			}
			break
		}
	}
	return string(t), true
}

// fastObject walks the members of an object in a checked value, calling
// field for each key; it says no (false) where decodeFast must give up: a
// key that is not plain lowercase ASCII, or one seen twice. seen is the
// caller's bit set of known keys, indexed by field's answer.
func fastObject(s *jsonScan, field func(key []byte) (bit int, ok bool)) bool {
	if s.peek() != '{' {
		return false
	}
	s.i++
	var seen uint64
	for {
		if s.ws(); s.peek() == '}' {
			s.i++
			return true
		}
		if s.peek() == ',' {
			s.i++
			s.ws()
		}
		raw, err := s.str()
		if err != nil {
			return false
		}
		k := raw[1 : len(raw)-1]
		for _, c := range k {
			if c == '\\' || c >= utf8.RuneSelf || 'A' <= c && c <= 'Z' {
				return false // encoding/json folds case and Unicode: leave it to it
			}
		}
		if s.expect(':') != nil {
			return false
		}
		bit, ok := field(k) // a []byte: switch string(k) in field does not allocate
		if !ok {
			return false
		}
		if bit >= 0 {
			if seen&(1<<bit) != 0 {
				return false
			}
			seen |= 1 << bit
		}
		s.ws()
	}
}

// fastString reads a plain string value.
func fastString(s *jsonScan, out *string) bool {
	if s.peek() != '"' {
		return false
	}
	raw, err := s.str()
	if err != nil {
		return false
	}
	var ok bool
	*out, ok = plainString(raw)
	return ok
}

// fastNumber reads a number value (a string or null is left to
// encoding/json, which has its own rules for json.Number).
func fastNumber(s *jsonScan, out *json.Number) bool {
	if c := s.peek(); c != '-' && (c < '0' || c > '9') {
		return false
	}
	raw, err := s.number()
	if err != nil {
		return false
	}
	*out = json.Number(raw)
	return true
}

// fastSkip passes over the value of an unknown key.
func fastSkip(s *jsonScan) bool { return s.skip(0) == nil }

func fastPrice(s *jsonScan, p *price) bool {
	return fastObject(s, func(k []byte) (int, bool) {
		switch string(k) {
		case "net_amount":
			return 0, fastNumber(s, &p.NetAmount)
		case "tax_amount":
			return 1, fastNumber(s, &p.TaxAmount)
		case "total_amount":
			return 2, fastNumber(s, &p.TotalAmount)
		case "currency":
			return 3, fastString(s, &p.Currency)
		}
		return -1, fastSkip(s)
	})
}

func fastLines(s *jsonScan, out *[]remoteLine) bool {
	if s.peek() != '[' {
		return false
	}
	s.i++
	lines := []remoteLine{}
	for {
		if s.ws(); s.peek() == ']' {
			s.i++
			*out = lines
			return true
		}
		if s.peek() == ',' {
			s.i++
			s.ws()
		}
		var l remoteLine
		ok := fastObject(s, func(k []byte) (int, bool) {
			switch string(k) {
			case "description":
				return 0, fastString(s, &l.Description)
			case "quantity":
				return 1, fastNumber(s, &l.Quantity)
			case "unit_price":
				return 2, fastPrice(s, &l.UnitPrice)
			case "total_price":
				return 3, fastPrice(s, &l.TotalPrice)
			}
			return -1, fastSkip(s)
		})
		if !ok {
			return false
		}
		lines = append(lines, l)
	}
}

// decodeFast fills r from raw, a checked JSON value, as json.Unmarshal
// would; false means raw is not of the plain shape it reads (r is then
// partly filled, and the caller starts over with json.Unmarshal).
func (r *remoteInvoice) decodeFast(raw []byte) bool {
	s := &jsonScan{b: raw}
	return fastObject(s, func(k []byte) (int, bool) {
		str := func(bit int, out *string) (int, bool) { return bit, fastString(s, out) }
		switch string(k) {
		case "id":
			if s.peek() == 'n' {
				return 0, false
			}
			v, err := s.value()
			r.ID = json.RawMessage(v)
			return 0, err == nil
		case "group_id":
			return str(1, &r.GroupID)
		case "code":
			return str(2, &r.Code)
		case "transaction_number":
			return str(3, &r.TransactionNumber)
		case "title":
			return str(4, &r.Title)
		case "status":
			return str(5, &r.Status)
		case "transaction_date":
			return str(6, &r.TransactionDate)
		case "due_date":
			return str(7, &r.DueDate)
		case "currency":
			return str(8, &r.Currency)
		case "amount":
			return 9, fastPrice(s, &r.Amount)
		case "lines":
			return 10, fastLines(s, &r.Lines)
		case "invoice_lines":
			return 11, fastLines(s, &r.InvoiceLines)
		case "updated_at":
			return str(12, &r.UpdatedAt)
		case "created_at":
			return str(13, &r.CreatedAt)
		}
		return -1, fastSkip(s)
	}) && s.i == len(raw)
}
