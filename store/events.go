package store

import (
	"encoding/binary"
	"fmt"
	"math"
)

// EventLogLimit is how many of the newest activity events are kept.
const EventLogLimit = 10000

// AppendEvent adds e to the activity log with the next sequence number and
// drops the entries that fall out of the newest EventLogLimit.
func (tx *Tx) AppendEvent(e Event) (uint64, error) {
	b := tx.bucket(bucketEvents)
	seq, err := b.NextSequence()
	if err != nil {
		return 0, fmt.Errorf("append event: %w", err)
	}
	e.Seq = seq
	if err := put(b, be64(seq), e); err != nil {
		return 0, fmt.Errorf("append event: %w", err)
	}
	// Sequences are dense, so everything at or below seq-limit is surplus;
	// usually that is exactly one key, which keeps this O(1).
	if seq > EventLogLimit {
		cutoff := seq - EventLogLimit
		c := b.Cursor()
		for k, _ := c.First(); k != nil && binary.BigEndian.Uint64(k) <= cutoff; k, _ = c.First() {
			if err := c.Delete(); err != nil {
				return 0, fmt.Errorf("trim event log: %w", err)
			}
		}
	}
	return seq, nil
}

// EventsAfter returns up to limit events with a sequence above seq, oldest
// first (limit <= 0: all).
func (tx *Tx) EventsAfter(seq uint64, limit int) ([]Event, error) {
	if seq == math.MaxUint64 {
		return nil, nil
	}
	c := tx.bucket(bucketEvents).Cursor()
	var out []Event
	for k, v := c.Seek(be64(seq + 1)); k != nil && (limit <= 0 || len(out) < limit); k, v = c.Next() {
		var e Event
		if err := decodeValue(v, &e); err != nil {
			return out, fmt.Errorf("event %d: %w", binary.BigEndian.Uint64(k), err)
		}
		out = append(out, e)
	}
	return out, nil
}

// RecentEvents returns up to limit events, newest first (limit <= 0: all).
func (tx *Tx) RecentEvents(limit int) ([]Event, error) {
	c := tx.bucket(bucketEvents).Cursor()
	var out []Event
	for k, v := c.Last(); k != nil && (limit <= 0 || len(out) < limit); k, v = c.Prev() {
		var e Event
		if err := decodeValue(v, &e); err != nil {
			return out, fmt.Errorf("event %d: %w", binary.BigEndian.Uint64(k), err)
		}
		out = append(out, e)
	}
	return out, nil
}
