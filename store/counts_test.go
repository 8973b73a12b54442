package store_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/tenantdesk/tenantdesk/store"
)

// Counter changes are held until commit: inside the transaction counts
// already include them, a rolled-back transaction leaves none behind.
func TestIdmapCountsWithinTransaction(t *testing.T) {
	db := openTemp(t)
	add := func(tx *store.Tx, i int) error {
		_, err := tx.PutConnected(store.ConnectedObject{Tenant: "acme", GroupUID: "cld-1", LocalKind: store.KindRecord,
			LocalID: fmt.Sprint(i), Entity: "items", RemoteID: fmt.Sprint("r", i), Name: "x"})
		return err
	}
	count := func(tx *store.Tx) int {
		n, err := tx.CountConnected("acme", "items")
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	err := db.Update(func(tx *store.Tx) error {
		for i := range 3 {
			if err := add(tx, i); err != nil {
				return err
			}
		}
		if got := count(tx); got != 3 {
			t.Errorf("inside the transaction: %d rows counted, want 3", got)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	rollback := errors.New("roll back")
	err = db.Update(func(tx *store.Tx) error {
		if err := add(tx, 9); err != nil {
			return err
		}
		return rollback
	})
	if !errors.Is(err, rollback) {
		t.Fatal(err)
	}
	_ = db.View(func(tx *store.Tx) error {
		if got := count(tx); got != 3 {
			t.Errorf("after commit and rollback: %d rows counted, want 3", got)
		}
		for _, q := range [][2]string{{"", ""}, {"acme", ""}, {"", "items"}} {
			if n, _ := tx.CountConnected(q[0], q[1]); n != 3 {
				t.Errorf("CountConnected(%q, %q) = %d, want 3", q[0], q[1], n)
			}
		}
		return nil
	})
}
