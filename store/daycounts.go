package store

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strings"
	"time"
)

// Day counts: how many activity events of each kind, outcome and reason a tenant
// had on each UTC day. AppendEvent adds to them in its own transaction, so
// the Overview reads a month of a tenant as about 30 × (kinds seen) small
// keys and never walks the log (which also forgets: it keeps EventLogLimit
// events). Each (tenant, day, kind, outcome, reason) has its own key, so concurrent
// writers of different tenants or kinds never contend for one counter.
//
// Key: tenant\x00YYYY-MM-DD\x00kind\x00outcome\x00reason → be64 count. The
// date sorts as text, so a tenant's days are one contiguous, ordered range.
// Reasons are codes (a typed enum, "pull"), so their number stays small.

// DayCountDays is how many days of counts are kept: older days of a tenant
// are dropped when its first count of a new day is written.
const DayCountDays = 400

// DayCount is the number of events of one kind, outcome and reason that a
// tenant had on one UTC day.
type DayCount struct {
	Tenant  string
	Day     time.Time // midnight UTC
	Kind    string    // an Event kind: EventLogin, EventWebhook, …
	Outcome string    // "ok", "failed", "ended" or ""
	Reason  string    // the event's reason code, "" for none
	N       int
}

const dayLayout = time.DateOnly

func dayCountKey(e Event) []byte {
	return key(e.Tenant, e.At.UTC().Format(dayLayout), e.Kind, e.Outcome, e.Reason)
}

// countEvent adds e to its tenant's count of the day. Events of no tenant
// (a developer-platform sync) are not counted; an aggregated event counts
// as the failures it stands for.
func (tx *Tx) countEvent(e Event) error {
	if e.Tenant == "" || strings.Contains(e.Tenant+e.Kind+e.Outcome+e.Reason, sep) {
		return nil
	}
	b := tx.bucket(bucketDayCounts)
	k := dayCountKey(e)
	if tx.kv.etcd != nil {
		// On etcd each count is spread over shards that one transaction
		// at a time writes (etcdTx.countShard), so that concurrent writers
		// of one tenant, on any replica, do not conflict; DayCounts adds
		// the shards up.
		k = append(append(k, sep...), tx.kv.etcd.countShard()...)
	}
	n := uint64(max(e.Count, 1))
	if v := b.getLatest(k); len(v) == 8 {
		n += binary.BigEndian.Uint64(v)
	} else if err := tx.dropOldDayCounts(e.Tenant, e.At); err != nil {
		return err
	}
	return b.Put(k, be64(n))
}

// dropOldDayCounts deletes the tenant's counts of days more than
// DayCountDays before day. It runs once per new key, so its cost is that
// of the few keys it deletes.
func (tx *Tx) dropOldDayCounts(tenant string, day time.Time) error {
	b := tx.bucket(bucketDayCounts)
	p := prefix(tenant)
	cutoff := append(bytes.Clone(p), day.UTC().AddDate(0, 0, -DayCountDays).Format(dayLayout)...)
	// Bounded at the cutoff: the days kept, which concurrent requests
	// count in, are not read (on etcd they would be a conflict).
	c := b.boundedCursor(string(cutoff))
	for k, _ := c.Seek(p); k != nil && bytes.HasPrefix(k, p) && bytes.Compare(k, cutoff) < 0; k, _ = c.Seek(p) {
		if err := c.Delete(); err != nil {
			return fmt.Errorf("drop old day counts of %s: %w", tenant, err)
		}
	}
	return nil
}

// DayCounts returns the tenant's counts of the UTC days from..to, both
// included, in day order.
func (tx *Tx) DayCounts(tenant string, from, to time.Time) ([]DayCount, error) {
	p := prefix(tenant)
	start := append(bytes.Clone(p), from.UTC().Format(dayLayout)...)
	end := append(bytes.Clone(p), to.UTC().Format(dayLayout)...)
	end = append(end, sep[0]+1) // past every key of the last day
	var out []DayCount
	b := tx.bucket(bucketDayCounts)
	if !b.exists() {
		return nil, nil // a file opened read-only from before the counts
	}
	c := b.Cursor()
	for k, v := c.Seek(start); k != nil && bytes.Compare(k, end) < 0; k, v = c.Next() {
		parts := strings.Split(string(k[len(p):]), sep)
		if (len(parts) != 4 && len(parts) != 5) || len(v) != 8 {
			return nil, fmt.Errorf("day counts of %s: malformed key %q", tenant, k)
		}
		day, err := time.Parse(dayLayout, parts[0])
		if err != nil {
			return nil, fmt.Errorf("day counts of %s: key %q: %w", tenant, k, err)
		}
		n := int(binary.BigEndian.Uint64(v))
		if last := len(out) - 1; len(parts) == 5 && last >= 0 && out[last].Day.Equal(day) &&
			out[last].Kind == parts[1] && out[last].Outcome == parts[2] && out[last].Reason == parts[3] {
			out[last].N += n // another shard of the same count (etcd), next to it in key order
			continue
		}
		out = append(out, DayCount{Tenant: tenant, Day: day, Kind: parts[1], Outcome: parts[2], Reason: parts[3], N: n})
	}
	return out, nil
}

// foldedShard is the shard that foldDayCounts adds a past day's shards up into.
const foldedShard = "folded"

// foldAfter is how old a day must be before its shards are folded: late
// events of it (a flush of aggregated failures) are then long written.
const foldAfter = 2 * 24 * time.Hour

// foldDayCounts adds up, for every tenant, the shards of each count of the
// day foldAfter before now into one key, so that what DayCounts reads of a
// past day does not grow with the replicas and CLI processes that counted
// in it (each writes shards of its own, etcdTx.countShard). The purge runs
// it on one replica; a count written meanwhile is a conflict, which runs
// the fold again.
func (db *DB) foldDayCounts(now time.Time) error {
	var tenants []Tenant
	if err := db.View(func(tx *Tx) (err error) { tenants, err = tx.Tenants(); return err }); err != nil {
		return err
	}
	day := now.Add(-foldAfter).UTC().Format(dayLayout)
	for _, t := range tenants {
		if strings.Contains(t.Key, sep) {
			continue
		}
		err := db.UpdateLarge(func(tx *Tx) error {
			b := tx.bucket(bucketDayCounts)
			p := key(t.Key, day)
			type count struct {
				n      uint64
				shards [][]byte
			}
			counts := map[string]*count{}
			var order []string
			err := scanPrefix(b, p, func(k, v []byte) error {
				i := bytes.LastIndex(k, []byte(sep))
				if i < len(p) || len(v) != 8 {
					return nil
				}
				c := counts[string(k[:i])]
				if c == nil {
					c = &count{}
					counts[string(k[:i])] = c
					order = append(order, string(k[:i]))
				}
				c.n += binary.BigEndian.Uint64(v)
				c.shards = append(c.shards, bytes.Clone(k))
				return nil
			})
			if err != nil {
				return err
			}
			for _, name := range order {
				c := counts[name]
				if len(c.shards) < 2 {
					continue
				}
				for _, k := range c.shards {
					if err := b.Delete(k); err != nil {
						return err
					}
				}
				if err := b.Put(append([]byte(name+sep), foldedShard...), be64(c.n)); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("fold the day counts of %s: %w", t.Key, err)
		}
	}
	return nil
}
