package store

import (
	"errors"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/tenantdesk/tenantdesk/store/etcdtest"
)

// A workstation's file goes to etcd and back whole: records, indexes,
// sealed secrets (same master key) and sequences; a target with data is
// refused and left as it was.
func TestCopyFileToEtcdAndBack(t *testing.T) {
	src, err := Open(filepath.Join(t.TempDir(), "src.db"), Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	var lastID uint64
	if err := src.Update(func(tx *Tx) error {
		if err := tx.PutTenant(Tenant{Key: "acme", Config: []byte(`{}`), Secrets: map[string]string{"api.key": "k-1"}}); err != nil {
			return err
		}
		for i := range 50 {
			id, err := tx.PutConnected(ConnectedObject{Tenant: "acme", GroupUID: "cld-1", LocalKind: KindRecord,
				LocalID: fmt.Sprint(i), Entity: "items", RemoteID: fmt.Sprint("r-", i)})
			if err != nil {
				return err
			}
			lastID = id
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	mid, err := OpenURL(etcdtest.URL(t), TLSFiles{}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer mid.Close()
	res, err := Copy(mid, src)
	if err != nil {
		t.Fatal(err)
	}
	if res.Keys < 50*8 {
		t.Errorf("copied %d keys, want every row with its indexes (over %d)", res.Keys, 50*8)
	}
	if _, err := Copy(mid, src); !errors.Is(err, ErrNotEmpty) {
		t.Fatalf("second copy into the same store: %v, want ErrNotEmpty", err)
	}
	// Reopened, the etcd store reads the file's data and its secret.
	again, err := OpenURL(mid.Path(), TLSFiles{}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	back, err := Open(filepath.Join(t.TempDir(), "back.db"), Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer back.Close()
	if _, err := Copy(back, again); err != nil {
		t.Fatal(err)
	}
	for name, db := range map[string]*DB{"etcd": again, "file again": back} {
		if err := db.Update(func(tx *Tx) error {
			tn, err := tx.Tenant("acme")
			if err != nil {
				return err
			}
			if tn.Secrets["api.key"] != "k-1" {
				t.Errorf("%s: secret = %q", name, tn.Secrets["api.key"])
			}
			if n, _ := tx.CountConnected("acme", "items"); n != 50 {
				t.Errorf("%s: %d rows, want 50", name, n)
			}
			if r, err := tx.ConnectedByRemote("acme", "r-49"); err != nil || r.ID != lastID {
				t.Errorf("%s: row r-49 = %d, %v; want id %d", name, r.ID, err, lastID)
			}
			id, err := tx.PutConnected(ConnectedObject{Tenant: "acme", GroupUID: "cld-1", LocalKind: KindRecord,
				LocalID: "new", Entity: "items", RemoteID: "r-new"})
			if err == nil && id <= lastID {
				t.Errorf("%s: a new row got id %d, not past the copied %d", name, id, lastID)
			}
			return err
		}); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
}
