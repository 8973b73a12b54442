package ui

import (
	"context"
	"fmt"
	"testing"

	"github.com/tenantdesk/tenantdesk/store"
	"github.com/tenantdesk/tenantdesk/tenant/admin"
)

// TestPagerJumpsStraightToAPage jumps to the last rows, back to the
// middle and on by a page, for each kind of query, and checks each row
// against a walk from the top. A jump lays down one checkpoint, not a
// cursor for every page it passed.
func TestPagerJumpsStraightToAPage(t *testing.T) {
	m, svc := newTestWindow(t)
	const n = 40 * idmapPageSize
	err := svc.DB().Update(func(tx *store.Tx) error {
		for i := range n {
			if _, err := tx.PutConnected(store.ConnectedObject{Tenant: []string{"acme", "globex"}[i%2], LocalKind: store.KindRecord,
				LocalID: fmt.Sprint(i), Provider: "connec", Entity: []string{"items", "people", "items"}[i%3],
				RemoteID: fmt.Sprintf("r-%05d", i), Name: fmt.Sprintf("Item %05d", (i*7919)%n)}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []admin.IdmapFilter{{}, {Tenant: "acme"}, {Entity: "items"}, {Tenant: "globex", Entity: "people"}, {NamePrefix: "item 01"}} {
		var all []store.ConnectedObject
		for after := ""; ; {
			rows, next, err := svc.QueryConnected(f, after, 1000)
			if err != nil {
				t.Fatal(err)
			}
			all = append(all, rows...)
			if next == "" {
				break
			}
			after = next
		}
		total, err := svc.CountConnected(context.Background(), f)
		if err != nil || total != len(all) || total < 3*idmapPageSize {
			t.Fatalf("filter %+v: count %d (%v), %d rows paged", f, total, err, len(all))
		}
		p := newIdmapPager(m.ctx, svc, f, total, nil)
		for _, i := range []int{total - 1, total - idmapPageSize - 1, total / 2, total/2 + idmapPageSize, 0} {
			eventually(t, fmt.Sprintf("filter %+v row %d", f, i), func() bool {
				r, ok := p.Row(i)
				if ok && r.ID != all[i].ID {
					t.Fatalf("filter %+v: row %d is id %d, want %d", f, i, r.ID, all[i].ID)
				}
				return ok
			})
		}
		p.mu.Lock()
		marks := len(p.marks)
		p.mu.Unlock()
		if marks > 4 {
			t.Errorf("filter %+v: %d checkpoints after 3 jumps; a jump should lay down one", f, marks)
		}
		if got := p.cachedRows(); got > 5*idmapPageSize {
			t.Errorf("filter %+v: pager holds %d rows after visiting 5 pages", f, got)
		}
	}
}
