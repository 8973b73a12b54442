package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"
)

// timeKey encodes t so that byte order is time order; the zero time sorts
// first (due at once).
func timeKey(t time.Time) uint64 {
	if t.IsZero() {
		return 0
	}
	return uint64(t.UnixNano()) ^ 1<<63
}

// outboxDueKey is the due-index key of a queued item: when, then id.
func outboxDueKey(at time.Time, id uint64) []byte {
	k := make([]byte, 16)
	binary.BigEndian.PutUint64(k, timeKey(at))
	binary.BigEndian.PutUint64(k[8:], id)
	return k
}

func outboxStatusKey(status string, id uint64) []byte {
	return append(prefix(status), be64(id)...)
}

// PutOutboxItem stores an outbox item, assigning an id when it.ID is 0, and
// moves its due and status index entries when they change.
func (tx *Tx) PutOutboxItem(it OutboxItem) (uint64, error) {
	if err := checkPart("outbox status", it.Status, true); err != nil {
		return 0, err
	}
	b := tx.bucket(bucketOutbox)
	due := tx.bucket(bucketOutboxDue)
	byStatus := tx.bucket(bucketOutboxStatus)
	if it.ID == 0 {
		id, err := b.NextSequence()
		if err != nil {
			return 0, fmt.Errorf("put outbox item: %w", err)
		}
		it.ID = id
	} else {
		var old OutboxItem
		switch err := get(b, be64(it.ID), &old); {
		case err == nil:
			if err := unindexOutbox(due, byStatus, old); err != nil {
				return 0, fmt.Errorf("put outbox item %d: %w", it.ID, err)
			}
		case !errors.Is(err, ErrNotFound):
			return 0, fmt.Errorf("put outbox item %d: %w", it.ID, err)
		}
	}
	if err := put(b, be64(it.ID), it); err != nil {
		return 0, fmt.Errorf("put outbox item %d: %w", it.ID, err)
	}
	if it.Status == OutboxQueued {
		if err := due.Put(outboxDueKey(it.NextAttemptAt, it.ID), []byte(it.Tenant)); err != nil {
			return 0, err
		}
	}
	if err := byStatus.Put(outboxStatusKey(it.Status, it.ID), nil); err != nil {
		return 0, err
	}
	return it.ID, nil
}

func unindexOutbox(due, byStatus kvBucket, old OutboxItem) error {
	if old.Status == OutboxQueued {
		if err := due.Delete(outboxDueKey(old.NextAttemptAt, old.ID)); err != nil {
			return err
		}
	}
	return byStatus.Delete(outboxStatusKey(old.Status, old.ID))
}

// OutboxItem returns an outbox item by id.
func (tx *Tx) OutboxItem(id uint64) (OutboxItem, error) {
	var it OutboxItem
	if err := get(tx.bucket(bucketOutbox), be64(id), &it); err != nil {
		return it, wrapGet(err, "outbox item", fmt.Sprint(id))
	}
	return it, nil
}

// OutboxDue returns up to limit queued items whose NextAttemptAt is not
// after now, the longest-waiting first (limit <= 0: all).
func (tx *Tx) OutboxDue(now time.Time, limit int) ([]OutboxItem, error) {
	return tx.OutboxDueExcept(now, limit, nil)
}

// dueScanLimit bounds how many due entries of skipped tenants one scan
// passes over: a tenant with a long queue that another replica works
// costs a poll a bounded number of reads.
const dueScanLimit = 4096

// OutboxDueExcept is OutboxDue without the items of the tenants skip
// names (another replica works them), passing over at most dueScanLimit
// of theirs. The due index carries each item's tenant, so a skipped item
// costs no read of its own.
func (tx *Tx) OutboxDueExcept(now time.Time, limit int, skip func(tenant string) bool) ([]OutboxItem, error) {
	b := tx.bucket(bucketOutbox)
	c := tx.bucket(bucketOutboxDue).Cursor()
	end := timeKey(now)
	var out []OutboxItem
	skipped := 0
	for k, v := c.First(); k != nil && (limit <= 0 || len(out) < limit); k, v = c.Next() {
		if len(k) != 16 {
			return out, fmt.Errorf("%w: outbox due key of %d bytes", ErrCorrupt, len(k))
		}
		if binary.BigEndian.Uint64(k) > end {
			break
		}
		if skip != nil && len(v) > 0 && skip(string(v)) { // v is empty in entries older than the tenant in it
			if skipped++; skipped == dueScanLimit {
				break
			}
			continue
		}
		var it OutboxItem
		id := binary.BigEndian.Uint64(k[8:])
		if err := get(b, be64(id), &it); err != nil {
			return out, wrapGet(err, "outbox item", fmt.Sprint(id))
		}
		if skip != nil && skip(it.Tenant) {
			continue
		}
		out = append(out, it)
	}
	return out, nil
}

// OutboxByStatus returns every item with status, oldest first.
func (tx *Tx) OutboxByStatus(status string) ([]OutboxItem, error) {
	b := tx.bucket(bucketOutbox)
	p := prefix(status)
	var out []OutboxItem
	err := scanPrefix(tx.bucket(bucketOutboxStatus), p, func(k, _ []byte) error {
		if len(k) != len(p)+8 {
			return fmt.Errorf("%w: outbox status key %q", ErrCorrupt, k)
		}
		id := binary.BigEndian.Uint64(k[len(p):])
		var it OutboxItem
		if err := get(b, be64(id), &it); err != nil {
			return wrapGet(err, "outbox item", fmt.Sprint(id))
		}
		out = append(out, it)
		return nil
	})
	return out, err
}
