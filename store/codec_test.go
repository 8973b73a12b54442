package store

import (
	"errors"
	"reflect"
	"testing"
)

// FuzzDecodeValue feeds arbitrary bytes to the value decoder, as a damaged
// or hand-edited data file would: it must answer ErrCorrupt, never panic,
// and whatever it accepts must survive a re-encode unchanged.
func FuzzDecodeValue(f *testing.F) {
	seed, _ := encodeValue(ConnectedObject{ID: 7, Tenant: "acme", Entity: "invoices", Name: "INV-1"})
	f.Add(seed)
	f.Add([]byte{})
	f.Add([]byte{2, '{', '}'})
	f.Add([]byte{codecJSON1, '{', '"', 'i', 'd', '"', ':', '-', '1', '}'})
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, target := range []any{&ConnectedObject{}, &Group{}, &Invoice{}, &OutboxItem{}, &Event{}} {
			if err := decodeValue(data, target); err != nil {
				if !errors.Is(err, ErrCorrupt) {
					t.Fatalf("decode %T: error %v is not ErrCorrupt", target, err)
				}
				continue
			}
			again, err := encodeValue(target)
			if err != nil {
				t.Fatalf("re-encode %T: %v", target, err)
			}
			back := reflect.New(reflect.TypeOf(target).Elem()).Interface()
			if err := decodeValue(again, back); err != nil || !reflect.DeepEqual(back, target) {
				t.Fatalf("round trip of %T changed it: %+v -> %+v (%v)", target, target, back, err)
			}
		}
	})
}

func TestDecodeValueRejectsUnknownCodec(t *testing.T) {
	var g Group
	if err := decodeValue([]byte{99, '{', '}'}, &g); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("got %v, want ErrCorrupt", err)
	}
}
