package store

import (
	"errors"
	"fmt"
	"reflect"
	"testing"

	"go.etcd.io/bbolt"
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

// TestRebuildMatchesIncrementalIndexes checks that the migration's bulk
// rebuild of the identity-map indexes writes exactly the keys and counters
// that PutConnected and DeleteConnected maintained one row at a time.
func TestRebuildMatchesIncrementalIndexes(t *testing.T) {
	db, err := Open(t.TempDir()+"/t.db", Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.Update(func(tx *Tx) error {
		for i := range 500 {
			c := ConnectedObject{Tenant: []string{"acme", "globex"}[i%2], Entity: []string{"invoices", "people", ""}[i%3],
				Name: fmt.Sprintf("Name %d", i%17), LocalKind: KindRecord}
			if i%4 != 0 {
				c.RemoteID = fmt.Sprint("r-", i)
			}
			if i%5 != 0 {
				c.LocalID = fmt.Sprint("l-", i)
			}
			id, err := tx.PutConnected(c)
			if err != nil {
				return err
			}
			switch i % 7 {
			case 0:
				if err := tx.DeleteConnected(id); err != nil {
					return err
				}
			case 1:
				c.ID, c.Tenant, c.Name, c.RemoteID = id, "initech", "Moved", ""
				if _, err := tx.PutConnected(c); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	snapshot := func() map[string]string {
		out := map[string]string{}
		_ = db.bolt.View(func(btx *bbolt.Tx) error {
			for _, name := range idmapIndexBuckets {
				_ = btx.Bucket(name.key()).ForEach(func(k, v []byte) error {
					out[name.name+"|"+string(k)] = string(v)
					return nil
				})
			}
			return nil
		})
		return out
	}
	before := snapshot()
	if err := db.bolt.Update(rebuildIdmapIndexes); err != nil {
		t.Fatal(err)
	}
	after := snapshot()
	if len(before) < 1000 || !reflect.DeepEqual(before, after) {
		t.Fatalf("rebuild differs: %d entries maintained, %d rebuilt", len(before), len(after))
	}
}
