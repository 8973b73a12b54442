package admin

import (
	"context"
	"slices"
	"testing"

	"github.com/tenantdesk/tenantdesk/store"
)

// TestQueryConnectedAtJumps checks that a page asked for by offset is the
// page a walk from the start reaches, for every kind of filter, up to and
// past the end.
func TestQueryConnectedAtJumps(t *testing.T) {
	s := seeded(t)
	for _, f := range []IdmapFilter{{}, {Tenant: "acme"}, {Tenant: "acme", Entity: "users"}, {Entity: "users"},
		{NamePrefix: "oli"}, {Tenant: "acme", NamePrefix: "o"}} {
		var all []uint64
		for after := ""; ; {
			rows, next, err := s.QueryConnected(f, after, 3)
			if err != nil {
				t.Fatal(err)
			}
			all = append(all, ids(rows)...)
			if next == "" {
				break
			}
			after = next
		}
		n, err := s.CountConnected(context.Background(), f)
		if err != nil || n != len(all) || n == 0 {
			t.Fatalf("filter %+v: count %d (%v), paging found %d rows", f, n, err, len(all))
		}
		const limit = 4
		for _, off := range []int{0, 1, limit, n / 2, n - limit, n - 1, n, n + 10} {
			if off < 0 {
				continue
			}
			rows, next, err := s.QueryConnectedAt(f, "", off, limit)
			if err != nil {
				t.Fatalf("filter %+v offset %d: %v", f, off, err)
			}
			want := all[min(off, n):min(off+limit, n)]
			if got := ids(rows); !slices.Equal(got, want) {
				t.Errorf("filter %+v offset %d: rows %v, want %v", f, off, got, want)
			}
			if (next != "") != (off+limit < n) {
				t.Errorf("filter %+v offset %d: next %q with %d rows after the page", f, off, next, n-off-limit)
			}
		}
		// The last page, reached from a cursor part way down.
		_, after, err := s.QueryConnected(f, "", 2)
		if err != nil {
			t.Fatal(err)
		}
		if after != "" {
			rows, _, err := s.QueryConnectedAt(f, after, n-2-1, limit)
			if got := ids(rows); err != nil || !slices.Equal(got, all[n-1:]) {
				t.Errorf("filter %+v: last row from a cursor: %v (%v), want %v", f, got, err, all[n-1:])
			}
		}
	}
}

func ids(rows []store.ConnectedObject) []uint64 {
	out := []uint64{}
	for _, r := range rows {
		out = append(out, r.ID)
	}
	return out
}
