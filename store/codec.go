package store

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"strings"
)

// Every stored value starts with one codec byte, so that a later release
// can change the encoding of new values and still read old ones.
const codecJSON1 byte = 1

// encodeValue is the one place values are encoded. The types a big
// notification writes by the thousand take the fast path (fastjson.go),
// which writes the same bytes.
func encodeValue(v any) ([]byte, error) {
	if out, ok := appendFastJSON(make([]byte, 1, 512), v); ok {
		out[0] = codecJSON1
		return out, nil
	}
	doc, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode %T: %w", v, err)
	}
	out := make([]byte, 0, len(doc)+1)
	out = append(out, codecJSON1)
	return append(out, doc...), nil
}

// decodeValue is the one place values are decoded. It copies everything it
// keeps, so data may be memory owned by a bbolt transaction.
func decodeValue(data []byte, v any) error {
	if len(data) == 0 {
		return fmt.Errorf("%w: empty value", ErrCorrupt)
	}
	switch data[0] {
	case codecJSON1:
		if err := json.Unmarshal(data[1:], v); err != nil {
			return fmt.Errorf("%w: decode %T: %v", ErrCorrupt, v, err)
		}
		return nil
	default:
		return fmt.Errorf("%w: unknown value codec %d", ErrCorrupt, data[0])
	}
}

// put encodes v and stores it under key.
func put(b kvBucket, key []byte, v any) error {
	val, err := encodeValue(v)
	if err != nil {
		return err
	}
	return b.Put(key, val)
}

// get decodes the value under key into v; ErrNotFound when absent.
func get(b kvBucket, key []byte, v any) error {
	data := b.Get(key)
	if data == nil {
		return ErrNotFound
	}
	return decodeValue(data, v)
}

// Keys. Composite keys join their parts with \x00, which no part may
// contain; prefix scans end the prefix with \x00 so that "acme" never
// matches "acme-2".
const sep = "\x00"

// key joins parts with sep in one allocation, with room left for the
// "\x00" + 8-byte id that index keys append (withID).
func key(parts ...string) []byte {
	n := len(parts) - 1
	for _, p := range parts {
		n += len(p)
	}
	b := make([]byte, 0, max(n, 0)+1+8)
	for i, p := range parts {
		if i > 0 {
			b = append(b, sep...)
		}
		b = append(b, p...)
	}
	return b
}

func prefix(parts ...string) []byte {
	return append(key(parts...), sep...)
}

func be64(n uint64) []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], n)
	return b[:]
}

func clone(b []byte) []byte { return append([]byte(nil), b...) }

// checkPart validates one part of a composite key.
func checkPart(what, s string, required bool) error {
	if required && s == "" {
		return fmt.Errorf("%w: %s is empty", ErrInvalid, what)
	}
	if strings.Contains(s, sep) {
		return fmt.Errorf("%w: %s contains a NUL byte", ErrInvalid, what)
	}
	return nil
}

// errStop ends a scan early without an error.
var errStop = fmt.Errorf("stop")

// scanPrefix calls fn for each key of b that starts with p, in key order.
// k and v are only valid during the call.
func scanPrefix(b kvBucket, p []byte, fn func(k, v []byte) error) error {
	c := b.Cursor().within(p)
	for k, v := c.Seek(p); k != nil && bytes.HasPrefix(k, p); k, v = c.Next() {
		if err := fn(k, v); err != nil {
			if err == errStop {
				return nil
			}
			return err
		}
	}
	return nil
}

// decodeAll decodes every value under prefix p ("" = whole bucket).
func decodeAll[T any](b kvBucket, p []byte) ([]T, error) {
	var out []T
	err := scanPrefix(b, p, func(k, v []byte) error {
		var item T
		if err := decodeValue(v, &item); err != nil {
			return fmt.Errorf("key %q: %w", k, err)
		}
		out = append(out, item)
		return nil
	})
	return out, err
}

// cut splits s at its first \x00.
func cut(s string) (before, after string, found bool) {
	return strings.Cut(s, sep)
}
