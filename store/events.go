package store

import (
	"encoding/binary"
	"fmt"
	"math"
)

// EventLogLimit is how many of the newest events each class of the activity
// log keeps: real events (logins, webhooks, billing, outbox) and security
// events (refused logins, bad credentials, request errors) are trimmed
// separately, so a flood of the second never pushes the first out.
const EventLogLimit = 10000

// Security reports whether e belongs to the security class of the log:
// failures that outsiders can cause without credentials.
func (e Event) Security() bool {
	return e.Outcome == "failed" && (e.Kind == EventLogin || e.Kind == EventAuth || e.Kind == EventError)
}

// AppendEvent adds e to the activity log with the next sequence number (one
// sequence for both classes) and drops the oldest entry of e's class when
// that class holds more than EventLogLimit.
func (tx *Tx) AppendEvent(e Event) (uint64, error) {
	real := tx.bucket(bucketEvents)
	seq, err := real.NextSequence()
	if err != nil {
		return 0, fmt.Errorf("append event: %w", err)
	}
	e.Seq = seq
	b, countKey := real, metaEventsCount
	if e.Security() {
		b, countKey = tx.bucket(bucketSecurityEvents), metaSecurityEventsCount
	}
	if err := put(b, be64(seq), e); err != nil {
		return 0, fmt.Errorf("append event: %w", err)
	}
	// On etcd the count in meta would be one key every append writes, a
	// hot key under optimistic transactions (1,000 appends from 50
	// writers: 11,101 runs, 6.7 s): the purge trims the log there instead
	// (DB.PurgeExpired, on one replica).
	if tx.kv.etcd == nil {
		if err := tx.trimEvents(b, countKey); err != nil {
			return 0, fmt.Errorf("trim event log: %w", err)
		}
	}
	if err := tx.countEvent(e); err != nil {
		return 0, fmt.Errorf("count event: %w", err)
	}
	return seq, nil
}

// trimEvents keeps b at EventLogLimit entries. The count lives in meta so
// that each append stays O(1); a file from before the count is counted once.
func (tx *Tx) trimEvents(b kvBucket, countKey []byte) error {
	meta := tx.bucket(bucketMeta)
	var n uint64
	if v := meta.Get(countKey); len(v) == 8 {
		n = binary.BigEndian.Uint64(v) + 1
	} else {
		_ = b.ForEach(func(_, _ []byte) error { n++; return nil })
	}
	c := b.Cursor()
	for k, _ := c.First(); k != nil && n > EventLogLimit; k, _ = c.First() {
		if err := c.Delete(); err != nil {
			return err
		}
		n--
	}
	return meta.Put(countKey, be64(n))
}

// eventCursors walks both classes of the log as one sequence.
type eventCursors [2]kvCursor

func (tx *Tx) eventCursors() eventCursors {
	return eventCursors{tx.bucket(bucketEvents).Cursor(), tx.bucket(bucketSecurityEvents).Cursor()}
}

// merge picks, of the two cursor positions, the lower (up) or higher key.
func pick(ks [2][]byte, up bool) int {
	switch {
	case ks[0] == nil:
		if ks[1] == nil {
			return -1
		}
		return 1
	case ks[1] == nil:
		return 0
	}
	a, b := binary.BigEndian.Uint64(ks[0]), binary.BigEndian.Uint64(ks[1])
	if (a < b) == up {
		return 0
	}
	return 1
}

// EventsAfter returns up to limit events with a sequence above seq, oldest
// first (limit <= 0: all).
func (tx *Tx) EventsAfter(seq uint64, limit int) ([]Event, error) {
	if seq == math.MaxUint64 {
		return nil, nil
	}
	cs := tx.eventCursors()
	var ks, vs [2][]byte
	for i, c := range cs {
		ks[i], vs[i] = c.Seek(be64(seq + 1))
	}
	return collect(cs, ks, vs, limit, true, seq)
}

// RecentEvents returns up to limit events, newest first (limit <= 0: all).
func (tx *Tx) RecentEvents(limit int) ([]Event, error) { return tx.RecentEventsOf("", limit) }

// RecentEventsOf returns up to limit events of one tenant ("" = every
// event), newest first (limit <= 0: all).
func (tx *Tx) RecentEventsOf(tenant string, limit int) ([]Event, error) {
	cs := tx.eventCursors()
	var ks, vs [2][]byte
	for i, c := range cs {
		ks[i], vs[i] = c.Last()
	}
	return collect(cs, ks, vs, limit, false, math.MaxUint64, tenant)
}

// collect walks both cursors in sequence order (up: ascending), from the
// sequence past (excluded), keeping the events of tenant ("" keeps all).
// Each event must come after the one before and carry its key's sequence:
// in a damaged file they may not, and a reader that pages by the last
// sequence it got (the activity screen) would read the same page for ever.
func collect(cs eventCursors, ks, vs [2][]byte, limit int, up bool, past uint64, tenant ...string) ([]Event, error) {
	var out []Event
	for limit <= 0 || len(out) < limit {
		i := pick(ks, up)
		if i < 0 {
			break
		}
		seq := binary.BigEndian.Uint64(ks[i])
		var e Event
		if err := decodeValue(vs[i], &e); err != nil {
			return out, fmt.Errorf("event %d: %w", seq, err)
		}
		if e.Seq != seq || (up && seq <= past) || (!up && seq >= past) {
			return out, fmt.Errorf("%w: event log out of order at %d", ErrCorrupt, seq)
		}
		past = seq
		if len(tenant) == 0 || tenant[0] == "" || e.Tenant == tenant[0] {
			out = append(out, e)
		}
		if up {
			ks[i], vs[i] = cs[i].Next()
		} else {
			ks[i], vs[i] = cs[i].Prev()
		}
	}
	return out, nil
}
