package store_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/tenantdesk/tenantdesk/store"
)

var (
	modelTenants  = []string{"acme", "acme-2", "globex"}
	modelEntities = []string{"invoices", "people", "items", ""}
	modelNames    = []string{"Alpha", "alpine", "ALPS", "beta", "Bêta", "", "al"}
)

// randomRow draws a row from small pools so that updates collide with
// other rows' remote and local ids and move rows between index entries.
func randomRow(r *rand.Rand) store.ConnectedObject {
	pick := func(s []string) string { return s[r.IntN(len(s))] }
	c := store.ConnectedObject{
		Tenant:    pick(modelTenants),
		Entity:    pick(modelEntities),
		Name:      pick(modelNames),
		LocalKind: pick([]string{store.KindInvoice, store.KindUser}),
		Provider:  "tenantdesk",
		GroupUID:  pick([]string{"cld-1", "cld-2"}),
	}
	if r.IntN(4) > 0 {
		c.RemoteID = fmt.Sprintf("r-%d", r.IntN(60))
	}
	if r.IntN(4) > 0 {
		c.LocalID = fmt.Sprintf("l-%d", r.IntN(60))
	}
	return c
}

// modelConflict reports whether c would share a unique key with another row.
func modelConflict(model map[uint64]store.ConnectedObject, c store.ConnectedObject) bool {
	for id, o := range model {
		if id == c.ID || o.Tenant != c.Tenant {
			continue
		}
		if c.RemoteID != "" && o.RemoteID == c.RemoteID {
			return true
		}
		if c.LocalID != "" && o.LocalID == c.LocalID && o.LocalKind == c.LocalKind {
			return true
		}
	}
	return false
}

// TestIdmapIndexesMatchAModel applies random inserts, updates and deletes
// to the store and to a plain map, then checks that every lookup, query
// and counter the store answers from its indexes agrees with the map.
func TestIdmapIndexesMatchAModel(t *testing.T) {
	db := openTemp(t)
	r := rand.New(rand.NewPCG(1, 2))
	model := map[uint64]store.ConnectedObject{}
	for op := range 600 {
		var ids []uint64
		for id := range model {
			ids = append(ids, id)
		}
		slices.Sort(ids)
		switch n := r.IntN(10); {
		case n < 5 || len(ids) == 0: // insert
			c := randomRow(r)
			conflict := modelConflict(model, c)
			var id uint64
			err := db.Update(func(tx *store.Tx) error {
				var err error
				id, err = tx.PutConnected(c)
				return err
			})
			if conflict != errors.Is(err, store.ErrDuplicate) {
				t.Fatalf("op %d insert %+v: conflict %v, err %v", op, c, conflict, err)
			}
			if err == nil {
				c.ID = id
				model[id] = c
			}
		case n < 8: // update: some fields move, some stay
			c := model[ids[r.IntN(len(ids))]]
			next := randomRow(r)
			if r.IntN(2) == 0 {
				c.Tenant, c.Entity, c.GroupUID = next.Tenant, next.Entity, next.GroupUID
			}
			if r.IntN(2) == 0 {
				c.RemoteID, c.LocalID, c.LocalKind = next.RemoteID, next.LocalID, next.LocalKind
			}
			c.Name = next.Name
			c.LastError = fmt.Sprint("op ", op)
			conflict := modelConflict(model, c)
			err := db.Update(func(tx *store.Tx) error {
				_, err := tx.PutConnected(c)
				return err
			})
			if conflict != errors.Is(err, store.ErrDuplicate) {
				t.Fatalf("op %d update %+v: conflict %v, err %v", op, c, conflict, err)
			}
			if err == nil {
				model[c.ID] = c
			}
		default: // delete
			id := ids[r.IntN(len(ids))]
			update(t, db, func(tx *store.Tx) error { return tx.DeleteConnected(id) })
			delete(model, id)
		}
	}
	if len(model) < 20 {
		t.Fatalf("model ended with %d rows; the test exercises too little", len(model))
	}
	checkIdmapAgainstModel(t, db, model)
}

func checkIdmapAgainstModel(t *testing.T, db *store.DB, model map[uint64]store.ConnectedObject) {
	t.Helper()
	view(t, db, func(tx *store.Tx) error {
		for id, want := range model {
			got, err := tx.Connected(id)
			if err != nil || got != want {
				t.Errorf("Connected(%d) = %+v, %v; want %+v", id, got, err, want)
			}
		}
		for _, tenant := range modelTenants {
			for i := range 60 {
				remote, local := fmt.Sprintf("r-%d", i), fmt.Sprintf("l-%d", i)
				var wantRemote, wantLocal uint64
				for id, c := range model {
					if c.Tenant == tenant && c.RemoteID == remote {
						wantRemote = id
					}
					if c.Tenant == tenant && c.LocalKind == store.KindUser && c.LocalID == local {
						wantLocal = id
					}
				}
				got, err := tx.ConnectedByRemote(tenant, remote)
				if wantRemote == 0 && !errors.Is(err, store.ErrNotFound) || wantRemote != 0 && got.ID != wantRemote {
					t.Errorf("ConnectedByRemote(%s, %s) = row %d, %v; want row %d", tenant, remote, got.ID, err, wantRemote)
				}
				got, err = tx.ConnectedByLocal(tenant, store.KindUser, local)
				if wantLocal == 0 && !errors.Is(err, store.ErrNotFound) || wantLocal != 0 && got.ID != wantLocal {
					t.Errorf("ConnectedByLocal(%s, user, %s) = row %d, %v; want row %d", tenant, local, got.ID, err, wantLocal)
				}
			}
		}
		for _, tenant := range modelTenants {
			for _, group := range []string{"cld-1", "cld-2"} {
				var want []uint64
				for id, c := range model {
					if c.Tenant == tenant && c.GroupUID == group {
						want = append(want, id)
					}
				}
				rows, err := tx.ConnectedInGroup(tenant, group)
				var got []uint64
				for _, r := range rows {
					got = append(got, r.ID)
				}
				if err != nil || !slices.IsSorted(got) || len(got) != len(want) || !sameIDs(got, want) {
					t.Errorf("ConnectedInGroup(%s, %s) = %v, %v; want %v", tenant, group, got, err, want)
				}
			}
		}
		for _, tenant := range append([]string{""}, modelTenants...) {
			for _, entity := range modelEntities {
				var want []uint64
				for id, c := range model {
					if (tenant == "" || c.Tenant == tenant) && (entity == "" || c.Entity == entity) {
						want = append(want, id)
					}
				}
				if n, err := tx.CountConnected(tenant, entity); err != nil || n != len(want) {
					t.Errorf("CountConnected(%q, %q) = %d, %v; want %d", tenant, entity, n, err, len(want))
				}
				for _, name := range []string{"", "al", "ALP", "bê", "zzz"} {
					want = want[:0]
					for id, c := range model {
						if (tenant == "" || c.Tenant == tenant) && (entity == "" || c.Entity == entity) &&
							strings.HasPrefix(strings.ToLower(c.Name), strings.ToLower(name)) {
							want = append(want, id)
						}
					}
					q := store.IdmapQuery{Tenant: tenant, Entity: entity, NamePrefix: name, Limit: 7}
					got := pageAll(t, tx, q)
					if name == "" && tenant != "" && entity != "" && !slices.IsSorted(got) {
						t.Errorf("query %+v: rows not in id order: %v", q, got)
					}
					if len(got) != len(want) || !sameIDs(got, want) {
						t.Errorf("query %+v: got rows %v, want %v", q, got, want)
					}
					checkSkip(t, tx, q, got)
				}
			}
		}
		return nil
	})
}

// pageAll follows the cursors of q to the end, failing on a repeated row.
func pageAll(t *testing.T, tx *store.Tx, q store.IdmapQuery) []uint64 {
	t.Helper()
	var ids []uint64
	seen := map[uint64]bool{}
	for page := 0; ; page++ {
		rows, next, err := tx.QueryConnected(q)
		if err != nil {
			t.Fatalf("query %+v: %v", q, err)
		}
		if len(rows) > q.Limit {
			t.Fatalf("query %+v: page of %d rows", q, len(rows))
		}
		for _, r := range rows {
			if seen[r.ID] {
				t.Fatalf("query %+v: row %d returned twice", q, r.ID)
			}
			seen[r.ID] = true
			ids = append(ids, r.ID)
		}
		if next == "" {
			return ids
		}
		if len(rows) == 0 || page > 1000 {
			t.Fatalf("query %+v: cursor %q after an empty page", q, next)
		}
		q.After = next
	}
}

// checkSkip checks SkipConnected against all, the ids q pages through in
// order: from the start and from a cursor, at offsets inside, at and past
// the end.
func checkSkip(t *testing.T, tx *store.Tx, q store.IdmapQuery, all []uint64) {
	t.Helper()
	offsets := []int{0, 1, q.Limit - 1, q.Limit, len(all) / 2, len(all) - 1, len(all), len(all) + 5}
	for _, off := range offsets {
		if off < 0 {
			continue
		}
		if got, want := pageAt(t, tx, q, off), all[min(off, len(all)):min(off+q.Limit, len(all))]; !slices.Equal(got, want) {
			t.Errorf("query %+v offset %d: rows %v, want %v", q, off, got, want)
		}
	}
	// Offset counts from a cursor as well as from the start.
	first, after, err := tx.QueryConnected(q)
	if err != nil || after == "" {
		return
	}
	from := q
	from.After = after
	for _, off := range offsets {
		if off < 0 {
			continue
		}
		rest := all[len(first):]
		if got, want := pageAt(t, tx, from, off), rest[min(off, len(rest)):min(off+q.Limit, len(rest))]; !slices.Equal(got, want) {
			t.Errorf("query %+v offset %d after the first page: rows %v, want %v", q, off, got, want)
		}
	}
}

// pageAt returns the ids of the page of q that starts off rows in.
func pageAt(t *testing.T, tx *store.Tx, q store.IdmapQuery, off int) []uint64 {
	t.Helper()
	after, skipped, err := tx.SkipConnected(q, off)
	if err != nil {
		t.Fatalf("skip %d of %+v: %v", off, q, err)
	}
	if skipped < off {
		return []uint64{}
	}
	q.After = after
	rows, _, err := tx.QueryConnected(q)
	if err != nil {
		t.Fatalf("query %+v after skipping %d: %v", q, off, err)
	}
	ids := []uint64{}
	for _, r := range rows {
		ids = append(ids, r.ID)
	}
	return ids
}

func TestSkipConnectedAfterDeletes(t *testing.T) {
	db := openTemp(t)
	update(t, db, func(tx *store.Tx) error {
		for i := range 50 {
			if _, err := tx.PutConnected(store.ConnectedObject{Tenant: "acme", Entity: "items", RemoteID: fmt.Sprint("r-", i), Name: fmt.Sprint("n", i)}); err != nil {
				return err
			}
		}
		return nil
	})
	q := store.IdmapQuery{Tenant: "acme", Entity: "items", Limit: 5}
	var cursor string
	view(t, db, func(tx *store.Tx) error {
		var err error
		cursor, _, err = tx.SkipConnected(q, 10) // after row 10
		return err
	})
	// Delete the row the cursor stands on and some rows after it: the
	// cursor still means "after row 10" and the skip counts live rows only.
	update(t, db, func(tx *store.Tx) error {
		for _, id := range []uint64{10, 12, 13, 20} {
			if err := tx.DeleteConnected(id); err != nil {
				return err
			}
		}
		return nil
	})
	view(t, db, func(tx *store.Tx) error {
		from := q
		from.After = cursor
		if got, want := pageAt(t, tx, from, 3), []uint64{16, 17, 18, 19, 21}; !slices.Equal(got, want) {
			t.Errorf("skip 3 after a deleted row: %v, want %v", got, want)
		}
		if got, want := pageAt(t, tx, q, 42), []uint64{47, 48, 49, 50}; !slices.Equal(got, want) {
			t.Errorf("skip 42 of 46 rows: %v, want %v", got, want)
		}
		if got := pageAt(t, tx, q, 46); len(got) != 0 {
			t.Errorf("skip to the end: %v", got)
		}
		after, skipped, err := tx.SkipConnected(q, 1000)
		if err != nil || skipped != 46 || after == "" {
			t.Errorf("skip past the end: %q, %d, %v; want a cursor, 46", after, skipped, err)
		}
		if after, skipped, err := tx.SkipConnected(store.IdmapQuery{Tenant: "nobody"}, 5); after != "" || skipped != 0 || err != nil {
			t.Errorf("skip in an empty query: %q, %d, %v", after, skipped, err)
		}
		if _, _, err := tx.SkipConnected(store.IdmapQuery{Tenant: "globex", After: cursor}, 1); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("skip from another query's cursor: %v, want ErrInvalid", err)
		}
		return nil
	})
}

func sameIDs(a, b []uint64) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

func TestQueryConnectedPages(t *testing.T) {
	db := openTemp(t)
	update(t, db, func(tx *store.Tx) error {
		for i := range 250 {
			for _, entity := range []string{"invoices", "people"} {
				_, err := tx.PutConnected(store.ConnectedObject{Tenant: "acme", Entity: entity, RemoteID: fmt.Sprintf("%s-%d", entity, i),
					Name: fmt.Sprintf("Row %03d", i)})
				if err != nil {
					return err
				}
			}
		}
		_, err := tx.PutConnected(store.ConnectedObject{Tenant: "globex", Entity: "invoices", RemoteID: "g-1", Name: "Row 000"})
		return err
	})
	view(t, db, func(tx *store.Tx) error {
		q := store.IdmapQuery{Tenant: "acme", Entity: "invoices", Limit: 100}
		var sizes []int
		var names []string
		for {
			rows, next, err := tx.QueryConnected(q)
			if err != nil {
				return err
			}
			sizes = append(sizes, len(rows))
			for _, r := range rows {
				names = append(names, r.Name)
				if r.Entity != "invoices" || r.Tenant != "acme" {
					t.Errorf("row of another tenant or entity: %+v", r)
				}
			}
			if next == "" {
				break
			}
			q.After = next
		}
		if !slices.Equal(sizes, []int{100, 100, 50}) {
			t.Errorf("page sizes %v, want [100 100 50]", sizes)
		}
		if len(names) != 250 || names[0] != "Row 000" || names[249] != "Row 249" || !slices.IsSorted(names) {
			t.Errorf("rows not in insertion order: first %q last %q", names[0], names[len(names)-1])
		}

		rows, next, _ := tx.QueryConnected(store.IdmapQuery{Tenant: "acme", NamePrefix: "row 24", Limit: 100})
		if len(rows) != 20 || next != "" || rows[0].Name != "Row 240" {
			t.Errorf("name search: %d rows, next %q", len(rows), next)
		}
		_, next, _ = tx.QueryConnected(store.IdmapQuery{Tenant: "acme", Entity: "invoices", Limit: 10})
		if _, _, err := tx.QueryConnected(store.IdmapQuery{Tenant: "globex", Entity: "invoices", After: next}); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("cursor of acme's query used for globex: got %v, want ErrInvalid", err)
		}
		if _, _, err := tx.QueryConnected(store.IdmapQuery{After: "not a cursor!"}); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("garbage cursor: got %v, want ErrInvalid", err)
		}
		return nil
	})
}

// FuzzQueryConnectedCursor feeds cursors and filters from outside (the CLI
// and GUI pass them through) and expects a page or ErrInvalid, never a
// panic or a row outside the filters.
func FuzzQueryConnectedCursor(f *testing.F) {
	db := openTemp(f)
	var cursor string
	update(f, db, func(tx *store.Tx) error {
		for i := range 30 {
			if _, err := tx.PutConnected(store.ConnectedObject{Tenant: "acme", Entity: "invoices", Name: fmt.Sprint("n", i)}); err != nil {
				return err
			}
		}
		_, next, err := tx.QueryConnected(store.IdmapQuery{Tenant: "acme", Limit: 5})
		cursor = next
		return err
	})
	f.Add("acme", "", "", cursor)
	f.Add("acme", "invoices", "n1", "")
	f.Add("", "", "", "cA")
	f.Fuzz(func(t *testing.T, tenant, entity, name, after string) {
		err := db.View(func(tx *store.Tx) error {
			q := store.IdmapQuery{Tenant: tenant, Entity: entity, NamePrefix: name, After: after, Limit: 3}
			if _, _, err := tx.SkipConnected(q, 7); err != nil && !errors.Is(err, store.ErrInvalid) {
				t.Errorf("skip: unexpected error %v", err)
			}
			rows, _, err := tx.QueryConnected(q)
			if err != nil {
				if !errors.Is(err, store.ErrInvalid) {
					t.Errorf("unexpected error %v", err)
				}
				return nil
			}
			for _, r := range rows {
				if tenant != "" && r.Tenant != tenant || entity != "" && r.Entity != entity {
					t.Errorf("query (%q, %q) returned %+v", tenant, entity, r)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	})
}
