package store

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"

	"go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// The identity map (SPEC §8) is one primary bucket keyed by a big-endian
// row id, and index buckets whose keys end in that id and whose values are
// empty (the mjl-/bstore layout). Every index and counter is derived from
// the primary rows by idmapIndexKeys and idmapCounterKeys, so the write
// path, the delete path and the rebuild of a migration cannot disagree.

// Slots of idmapIndexKeys; a nil key means the row has no entry there.
const (
	idxEntity = iota
	idxEntityOnly
	idxRemote
	idxLocal
	idxName
	idxTenantName
	idxGroup
	idxCount
)

var idmapIndexBucket = [idxCount]*bucketDef{
	idxEntity:     bucketIdmapEntity,
	idxEntityOnly: bucketIdmapEntityOnly,
	idxRemote:     bucketIdmapRemote,
	idxLocal:      bucketIdmapLocal,
	idxName:       bucketIdmapName,
	idxTenantName: bucketIdmapTenantName,
	idxGroup:      bucketIdmapGroup,
}

// DefaultIdmapPage is the page size of QueryConnected when Limit is 0.
const DefaultIdmapPage = 100

// normName is the form names are indexed and searched in.
func normName(s string) string {
	return strings.ReplaceAll(strings.ToLower(s), sep, "")
}

func withID(k []byte, id uint64) []byte {
	return binary.BigEndian.AppendUint64(append(k, sep...), id)
}

func idmapIndexKeys(c *ConnectedObject) [idxCount][]byte {
	var keys [idxCount][]byte
	name := normName(c.Name)
	keys[idxEntity] = withID(key(c.Tenant, c.Entity), c.ID)
	keys[idxEntityOnly] = withID(key(c.Entity), c.ID)
	if c.RemoteID != "" {
		keys[idxRemote] = withID(key(c.Tenant, c.RemoteID), c.ID)
	}
	if c.LocalID != "" {
		keys[idxLocal] = withID(key(c.Tenant, c.LocalKind, c.LocalID), c.ID)
	}
	keys[idxName] = withID(key(name, c.Tenant, c.Entity), c.ID)
	keys[idxTenantName] = withID(key(c.Tenant, name, c.Entity), c.ID)
	keys[idxGroup] = withID(key(c.Tenant, c.GroupUID), c.ID)
	return keys
}

// Counters make CountConnected O(1) for every combination of its filters.
func idmapCounterKeys(c *ConnectedObject) [4][]byte {
	return [4][]byte{
		[]byte("all"),
		key("t", c.Tenant),
		key("e", c.Entity),
		key("te", c.Tenant, c.Entity),
	}
}

func counterKey(tenant, entity string) []byte {
	switch {
	case tenant == "" && entity == "":
		return []byte("all")
	case entity == "":
		return key("t", tenant)
	case tenant == "":
		return key("e", entity)
	}
	return key("te", tenant, entity)
}

func addCount(b kvBucket, k []byte, delta int64) error {
	var n uint64
	if v := b.Get(k); len(v) == 8 {
		n = binary.BigEndian.Uint64(v)
	}
	n = uint64(int64(n) + delta)
	if n == 0 {
		return b.Delete(k)
	}
	return b.Put(k, be64(n))
}

func checkConnected(c *ConnectedObject) error {
	if err := checkPart("identity-map tenant", c.Tenant, true); err != nil {
		return err
	}
	for _, p := range []struct{ what, v string }{
		{"identity-map group uid", c.GroupUID},
		{"identity-map entity", c.Entity},
		{"identity-map remote id", c.RemoteID},
		{"identity-map local kind", c.LocalKind},
		{"identity-map local id", c.LocalID},
	} {
		if err := checkPart(p.what, p.v, false); err != nil {
			return err
		}
	}
	return nil
}

// uniqueOwner returns the id of the row holding the index prefix p, or 0.
func uniqueOwner(b kvBucket, p []byte) uint64 {
	k, _ := b.Cursor().within(p).Seek(p)
	if k == nil || !bytes.HasPrefix(k, p) || len(k) != len(p)+8 {
		return 0
	}
	return binary.BigEndian.Uint64(k[len(p):])
}

// PutConnected inserts (ID 0) or updates a row and keeps every index in step;
// it returns the row's ID. A remote id or local id already held by another
// row of the tenant gives ErrDuplicate.
func (tx *Tx) PutConnected(c ConnectedObject) (uint64, error) {
	if err := checkConnected(&c); err != nil {
		return 0, err
	}
	primary := tx.bucket(bucketIdmap)
	// Ids only grow, so new rows append: pages can be filled further than
	// bbolt's default half before they split.
	primary.fill(0.9)
	var old *ConnectedObject
	if c.ID != 0 {
		var prev ConnectedObject
		if err := get(primary, be64(c.ID), &prev); err != nil {
			return 0, wrapGet(err, "identity-map row", fmt.Sprint(c.ID))
		}
		old = &prev
	}
	if c.RemoteID != "" {
		if owner := uniqueOwner(tx.bucket(bucketIdmapRemote), prefix(c.Tenant, c.RemoteID)); owner != 0 && owner != c.ID {
			return 0, fmt.Errorf("identity map: tenant %q remote id %q is row %d: %w", c.Tenant, c.RemoteID, owner, ErrDuplicate)
		}
	}
	if c.LocalID != "" {
		if owner := uniqueOwner(tx.bucket(bucketIdmapLocal), prefix(c.Tenant, c.LocalKind, c.LocalID)); owner != 0 && owner != c.ID {
			return 0, fmt.Errorf("identity map: tenant %q local %s %q is row %d: %w", c.Tenant, c.LocalKind, c.LocalID, owner, ErrDuplicate)
		}
	}
	if c.ID == 0 {
		id, err := primary.NextSequence()
		if err != nil {
			return 0, fmt.Errorf("identity map: next id: %w", err)
		}
		c.ID = id
	}
	if err := put(primary, be64(c.ID), c); err != nil {
		return 0, fmt.Errorf("identity map: put row %d: %w", c.ID, err)
	}
	if err := tx.reindexConnected(old, &c); err != nil {
		return 0, fmt.Errorf("identity map: index row %d: %w", c.ID, err)
	}
	return c.ID, nil
}

// reindexConnected moves the index entries and counters of a row from old
// to cur; either may be nil (insert, delete). Unchanged entries are left
// alone, so an update that touches no indexed field writes only the row.
func (tx *Tx) reindexConnected(old, cur *ConnectedObject) error {
	var oldKeys, curKeys [idxCount][]byte
	var oldCounts, curCounts [4][]byte
	if old != nil {
		oldKeys, oldCounts = idmapIndexKeys(old), idmapCounterKeys(old)
	}
	if cur != nil {
		curKeys, curCounts = idmapIndexKeys(cur), idmapCounterKeys(cur)
	}
	for i := range idxCount {
		if bytes.Equal(oldKeys[i], curKeys[i]) {
			continue
		}
		b := tx.bucket(idmapIndexBucket[i])
		if oldKeys[i] != nil {
			if err := b.Delete(oldKeys[i]); err != nil {
				return err
			}
		}
		if curKeys[i] != nil {
			if err := b.Put(curKeys[i], nil); err != nil {
				return err
			}
		}
	}
	for i := range oldCounts {
		if old != nil && cur != nil && bytes.Equal(oldCounts[i], curCounts[i]) {
			continue
		}
		if old != nil {
			tx.addCount(oldCounts[i], -1)
		}
		if cur != nil {
			tx.addCount(curCounts[i], 1)
		}
	}
	return nil
}

// addCount records a counter change; flushCounts writes it at commit.
func (tx *Tx) addCount(k []byte, delta int64) {
	if tx.counts == nil {
		tx.counts = make(map[string]int64)
	}
	tx.counts[string(k)] += delta
}

// flushCounts writes the pending counter changes of the transaction.
func (tx *Tx) flushCounts() error {
	if len(tx.counts) == 0 {
		return nil
	}
	b := tx.bucket(bucketIdmapCounts)
	for k, delta := range tx.counts {
		if delta == 0 {
			continue
		}
		if err := addCount(b, []byte(k), delta); err != nil {
			return err
		}
	}
	tx.counts = nil
	return nil
}

// Connected returns an identity-map row by id.
func (tx *Tx) Connected(id uint64) (ConnectedObject, error) {
	var c ConnectedObject
	if err := get(tx.bucket(bucketIdmap), be64(id), &c); err != nil {
		return c, wrapGet(err, "identity-map row", fmt.Sprint(id))
	}
	return c, nil
}

// ConnectedByRemote returns the tenant's row for a remote (Connec!) id.
func (tx *Tx) ConnectedByRemote(tenant, remoteID string) (ConnectedObject, error) {
	if remoteID == "" || strings.Contains(remoteID, sep) || strings.Contains(tenant, sep) {
		return ConnectedObject{}, notFound("identity-map remote id", tenant, remoteID)
	}
	id := uniqueOwner(tx.bucket(bucketIdmapRemote), prefix(tenant, remoteID))
	if id == 0 {
		return ConnectedObject{}, notFound("identity-map remote id", tenant, remoteID)
	}
	return tx.Connected(id)
}

// ConnectedByLocal returns the tenant's row for a local object.
func (tx *Tx) ConnectedByLocal(tenant, kind, localID string) (ConnectedObject, error) {
	if localID == "" || strings.Contains(tenant+kind+localID, sep) {
		return ConnectedObject{}, notFound("identity-map local id", tenant, kind, localID)
	}
	id := uniqueOwner(tx.bucket(bucketIdmapLocal), prefix(tenant, kind, localID))
	if id == 0 {
		return ConnectedObject{}, notFound("identity-map local id", tenant, kind, localID)
	}
	return tx.Connected(id)
}

// DeleteConnected removes a row and its index entries.
func (tx *Tx) DeleteConnected(id uint64) error {
	old, err := tx.Connected(id)
	if err != nil {
		return err
	}
	if err := tx.reindexConnected(&old, nil); err != nil {
		return fmt.Errorf("identity map: unindex row %d: %w", id, err)
	}
	return tx.bucket(bucketIdmap).Delete(be64(id))
}

// ConnectedInGroup returns every row of a tenant's group (its realm), in
// id order: what a group cancellation marks inactive.
func (tx *Tx) ConnectedInGroup(tenant, groupUID string) ([]ConnectedObject, error) {
	if strings.Contains(tenant+groupUID, sep) {
		return nil, nil
	}
	primary := tx.bucket(bucketIdmap)
	var out []ConnectedObject
	err := scanPrefix(tx.bucket(bucketIdmapGroup), prefix(tenant, groupUID), func(k, _ []byte) error {
		id := binary.BigEndian.Uint64(k[len(k)-8:])
		var row ConnectedObject
		if err := get(primary, be64(id), &row); err != nil {
			return fmt.Errorf("identity-map group index points at row %d: %w", id, err)
		}
		out = append(out, row)
		return nil
	})
	return out, err
}

// CountConnected counts rows for a tenant and entity ("" = any) without a scan.
func (tx *Tx) CountConnected(tenant, entity string) (int, error) {
	k := counterKey(tenant, entity)
	pending := tx.counts[string(k)]
	v := tx.bucket(bucketIdmapCounts).Get(k)
	switch len(v) {
	case 0:
		return int(pending), nil
	case 8:
		return int(int64(binary.BigEndian.Uint64(v)) + pending), nil
	}
	return 0, fmt.Errorf("%w: identity-map counter of %d bytes", ErrCorrupt, len(v))
}

// idmapPlan is how one query walks one index: the bucket, the prefix every
// candidate key has, and a filter on the part of the key after it.
type idmapPlan struct {
	tag    byte // names the index inside a cursor
	bucket *bucketDef
	prefix []byte
	keep   func(rest []byte) bool // nil keeps every key
}

// planQuery chooses the narrowest index for the filters given; no query
// walks the primary bucket.
func planQuery(q IdmapQuery) idmapPlan {
	name := normName(q.NamePrefix)
	switch {
	case name != "" && q.Tenant != "":
		// tenant\x00name...\x00entity\x00id
		return idmapPlan{tag: 'm', bucket: bucketIdmapTenantName, prefix: []byte(string(prefix(q.Tenant)) + name),
			keep: entityIs(q.Entity, 1)}
	case name != "":
		// name...\x00tenant\x00entity\x00id
		return idmapPlan{tag: 'n', bucket: bucketIdmapName, prefix: []byte(name), keep: entityIs(q.Entity, 2)}
	case q.Tenant != "" && q.Entity != "":
		return idmapPlan{tag: 'e', bucket: bucketIdmapEntity, prefix: prefix(q.Tenant, q.Entity)}
	case q.Tenant != "":
		return idmapPlan{tag: 'e', bucket: bucketIdmapEntity, prefix: prefix(q.Tenant)}
	case q.Entity != "":
		return idmapPlan{tag: 'o', bucket: bucketIdmapEntityOnly, prefix: prefix(q.Entity)}
	}
	// No filter: the whole tenant/entity index, not the primary bucket, so
	// that skipping rows (SkipConnected) reads small index pages and never
	// the rows themselves, which at a million rows are most of the file.
	return idmapPlan{tag: 'e', bucket: bucketIdmapEntity}
}

// entityIs filters name-index keys on their entity, the field at position
// field of the \x00-separated rest (id excluded).
func entityIs(entity string, field int) func([]byte) bool {
	if entity == "" {
		return nil
	}
	return func(rest []byte) bool {
		if len(rest) < 9 {
			return false
		}
		parts := bytes.Split(rest[:len(rest)-9], []byte(sep))
		return len(parts) == field+1 && string(parts[field]) == entity
	}
}

// Cursors are opaque to callers: the index tag and the last key returned.
func encodeCursor(tag byte, k []byte) string {
	return base64.RawURLEncoding.EncodeToString(append([]byte{tag}, k...))
}

// decodeCursor checks that a cursor came from a query of the same plan.
func decodeCursor(s string, plan idmapPlan) ([]byte, error) {
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(raw) < 9 || raw[0] != plan.tag || !bytes.HasPrefix(raw[1:], plan.prefix) {
		return nil, fmt.Errorf("%w: identity-map cursor does not belong to this query", ErrInvalid)
	}
	return raw[1:], nil
}

// start positions a cursor on the plan's index at the first key after the
// cursor after ("" = from the start of the prefix).
func (tx *Tx) start(plan idmapPlan, after string) (kvCursor, []byte, error) {
	c := tx.bucket(plan.bucket).Cursor()
	if after == "" {
		if len(plan.prefix) == 0 {
			k, _ := c.First()
			return c, k, nil
		}
		k, _ := c.Seek(plan.prefix)
		return c, k, nil
	}
	from, err := decodeCursor(after, plan)
	if err != nil {
		return kvCursor{}, nil, err
	}
	k, _ := c.Seek(from)
	if bytes.Equal(k, from) {
		k, _ = c.Next()
	}
	if err := ascending(plan.bucket, from, k); err != nil {
		return kvCursor{}, nil, err
	}
	return c, k, nil
}

// match reports whether the index key k belongs to the plan's rows; ok is
// false once k is past the prefix (the walk is over).
func (plan idmapPlan) match(k []byte) (keep, ok bool, err error) {
	if k == nil || !bytes.HasPrefix(k, plan.prefix) {
		return false, false, nil
	}
	if len(k) < 8 {
		return false, false, fmt.Errorf("%w: identity-map key %q", ErrCorrupt, k)
	}
	return plan.keep == nil || plan.keep(k[len(plan.prefix):]), true, nil
}

// QueryConnected returns one page of rows and the cursor of the next page
// ("" when there is none). Limit 0 means DefaultIdmapPage. Rows come in the
// order of the index the filters select: tenant+entity queries in id order
// (insertion order), a query without filters by tenant, entity and id, name
// searches by name.
func (tx *Tx) QueryConnected(q IdmapQuery) ([]ConnectedObject, string, error) {
	if strings.Contains(q.Tenant+q.Entity, sep) {
		return nil, "", nil
	}
	limit := q.Limit
	if limit <= 0 {
		limit = DefaultIdmapPage
	}
	plan := planQuery(q)
	c, k, err := tx.start(plan, q.After)
	if err != nil {
		return nil, "", err
	}
	primary := tx.bucket(bucketIdmap)
	var rows []ConnectedObject
	var prev, last []byte // the key before k; the key of the last row in rows
	for ; ; k, _ = c.Next() {
		if err := ascending(plan.bucket, prev, k); err != nil {
			return nil, "", err
		}
		prev = k
		keep, ok, err := plan.match(k)
		if err != nil {
			return nil, "", err
		}
		if !ok {
			return rows, "", nil
		}
		if !keep {
			continue
		}
		if len(rows) == limit {
			return rows, encodeCursor(plan.tag, last), nil
		}
		var row ConnectedObject
		id := binary.BigEndian.Uint64(k[len(k)-8:])
		if err := get(primary, be64(id), &row); err != nil {
			return nil, "", fmt.Errorf("identity-map index %s points at row %d: %w", plan.bucket, id, err)
		}
		rows = append(rows, row)
		last = k
	}
}

// SkipConnected walks past up to n rows of q after q.After and returns the
// cursor after the last row it passed (q.After when it passed none) and how
// many it passed: fewer than n means it reached the end. It reads index
// keys only, never a row, so QueryConnected from the cursor then reads just
// the rows of one page, however far the jump.
//
// On the tenant/entity index (queries without a name) whole tenant+entity
// stretches are passed by their counter, so a jump reads at most one
// stretch's keys; other indexes are walked key by key, O(n) small keys.
func (tx *Tx) SkipConnected(q IdmapQuery, n int) (string, int, error) {
	if n <= 0 || strings.Contains(q.Tenant+q.Entity, sep) {
		return q.After, 0, nil
	}
	plan := planQuery(q)
	c, k, err := tx.start(plan, q.After)
	if err != nil {
		return "", 0, err
	}
	var counts, index kvBucket
	var prev []byte // the key before k: the cursor's, then the last one passed
	// Stored counters are exact only when this transaction has no
	// pending counter changes (a read, or a write that added no rows).
	if plan.tag == 'e' && len(tx.counts) == 0 {
		counts, index = tx.bucket(bucketIdmapCounts), tx.bucket(plan.bucket)
		if q.After != "" {
			prev, _ = decodeCursor(q.After, plan)
		}
	}
	skipped := 0
	var last []byte
	for skipped < n {
		keep, ok, err := plan.match(k)
		if err != nil {
			return "", 0, err
		}
		if !ok {
			break
		}
		if counts.exists() && len(k) > 9 && (prev == nil || !bytes.Equal(prev[:len(prev)-8], k[:len(k)-8])) {
			// k opens a tenant+entity stretch (tenant\x00entity\x00id keys).
			stretch := k[:len(k)-8]
			v := counts.Get(append([]byte("te"+sep), stretch[:len(stretch)-1]...))
			if m := counterValue(v); m > 0 && m <= n-skipped {
				end := append(slices.Clone(stretch[:len(stretch)-1]), 1) // just past the stretch
				last = lastBefore(index, end)
				skipped += m
				prev = last
				k, _ = c.Seek(end)
				continue
			}
		}
		if keep {
			skipped++
			last = k
		}
		prev = k
		k, _ = c.Next()
	}
	if last == nil {
		return q.After, 0, nil
	}
	return encodeCursor(plan.tag, last), skipped, nil
}

func counterValue(v []byte) int {
	if len(v) != 8 {
		return 0
	}
	return int(binary.BigEndian.Uint64(v))
}

// lastBefore returns the last key of b below end.
func lastBefore(b kvBucket, end []byte) []byte {
	c := b.Cursor()
	if k, _ := c.Seek(end); k == nil {
		k, _ = c.Last()
		return k
	}
	k, _ := c.Prev()
	return k
}

// rebuildIdmapIndexes drops every identity-map index and counter and
// derives them again from the primary rows. It collects each index's keys,
// sorts them and writes them in order into full pages: at a million rows
// that is seconds, where inserting row by row in random key order is minutes.
func rebuildIdmapIndexes(btx *bbolt.Tx) error {
	for _, name := range idmapIndexBuckets {
		if err := btx.DeleteBucket(name.key()); err != nil && !errors.Is(err, bolterrors.ErrBucketNotFound) {
			return fmt.Errorf("drop %s: %w", name, err)
		}
		if _, err := btx.CreateBucket(name.key()); err != nil {
			return fmt.Errorf("create %s: %w", name, err)
		}
	}
	primary, err := btx.CreateBucketIfNotExists(bucketIdmap.key())
	if err != nil {
		return err
	}
	// The sequence bounds the row count; sizing up front spares a million-row
	// rebuild most of its copying.
	rows := int(min(primary.Sequence(), 1<<22))
	var keys [idxCount][][]byte
	for i := range keys {
		keys[i] = make([][]byte, 0, rows)
	}
	counts := map[string]uint64{}
	err = primary.ForEach(func(k, v []byte) error {
		var row ConnectedObject
		if err := decodeValue(v, &row); err != nil {
			return fmt.Errorf("identity-map row %x: %w", k, err)
		}
		for i, ik := range idmapIndexKeys(&row) {
			if ik != nil {
				keys[i] = append(keys[i], ik)
			}
		}
		for _, ck := range idmapCounterKeys(&row) {
			counts[string(ck)]++
		}
		return nil
	})
	if err != nil {
		return err
	}
	for i, ks := range keys {
		slices.SortFunc(ks, bytes.Compare)
		b := btx.Bucket(idmapIndexBucket[i].key())
		b.FillPercent = 1.0 // appended in key order: no later split needs the room
		for _, k := range ks {
			if err := b.Put(k, nil); err != nil {
				return fmt.Errorf("index %s: %w", idmapIndexBucket[i], err)
			}
		}
		keys[i] = nil
	}
	b := btx.Bucket(bucketIdmapCounts.key())
	for k, n := range counts {
		if err := b.Put([]byte(k), be64(n)); err != nil {
			return err
		}
	}
	return nil
}
