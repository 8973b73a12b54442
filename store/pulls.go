package store

// This file keeps Connec! pulls (SPEC §7 "Pull"): one Pull per (tenant,
// group, collection) that is both its sync state and its place in the
// durable pull queue, the links back to Connec! still to send, and the
// tenants whose pulls a 401 stopped.

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"time"
)

// Pull statuses.
const (
	PullIdle    = "idle"    // nothing queued; LastPullAt says when it last finished
	PullQueued  = "queued"  // waiting in the queue until DueAt (a retry waits too)
	PullFailed  = "failed"  // gave up after its attempts; the next pull starts over from Cursor
	PullStopped = "stopped" // the tenant's credentials were refused (401)
)

// Pull is the sync state of one (tenant, group, collection) and, while
// Status is PullQueued, its entry in the pull queue.
type Pull struct {
	Tenant     string    `json:"tenant"`
	GroupUID   string    `json:"group_uid"`
	Collection string    `json:"collection"`
	Status     string    `json:"status"`
	DueAt      time.Time `json:"due_at,omitzero"`
	Attempts   int       `json:"attempts,omitempty"`
	// The run in progress (queued or started): Full asks for every record;
	// otherwise Since is the updated_at filter. Cursor is the query of the
	// next page to read ("" = the first); RunStartedAt becomes LastPullAt
	// when the last page is read.
	Full         bool       `json:"full,omitempty"`
	Since        time.Time  `json:"since,omitzero"`
	Cursor       string     `json:"cursor,omitempty"`
	RunStartedAt time.Time  `json:"run_started_at,omitzero"`
	Run          PullCounts `json:"run"`
	// The last finished run.
	LastPullAt time.Time  `json:"last_pull_at,omitzero"`
	Last       PullCounts `json:"last"`
	LastError  string     `json:"last_error,omitempty"`
	UpdatedAt  time.Time  `json:"updated_at"`
}

// PullCounts counts the records of a pull run.
type PullCounts struct {
	Pages     int `json:"pages"`
	Stored    int `json:"stored"`
	Unchanged int `json:"unchanged"`
	Skipped   int `json:"skipped"`
	Linked    int `json:"linked"`
}

// PendingLink is a record created here from Connec! whose link back (our
// id triplet) has not been sent yet.
type PendingLink struct {
	Tenant     string `json:"tenant"`
	GroupUID   string `json:"group_uid"`
	Collection string `json:"collection"`
	ConnecID   string `json:"connec_id"`
	LocalID    string `json:"local_id"`
	RowID      uint64 `json:"row_id"` // the identity-map row
}

// PullStop records that a tenant's credentials were refused by Connec!:
// its pulls wait until someone pulls by hand again.
type PullStop struct {
	Tenant string    `json:"tenant"`
	At     time.Time `json:"at"`
	Reason string    `json:"reason"`
}

func pullKey(tenant, group, collection string) []byte { return key(tenant, group, collection) }

func pullDueKey(at time.Time, k []byte) []byte {
	out := make([]byte, 8, 8+len(k))
	binary.BigEndian.PutUint64(out, timeKey(at))
	return append(out, k...)
}

// PutPull stores a pull state and moves its queue entry.
func (tx *Tx) PutPull(p Pull) error {
	for _, part := range []struct{ what, v string }{{"pull tenant", p.Tenant}, {"pull group", p.GroupUID}, {"pull collection", p.Collection}, {"pull status", p.Status}} {
		if err := checkPart(part.what, part.v, true); err != nil {
			return err
		}
	}
	b, due := tx.bucket(bucketPulls), tx.bucket(bucketPullsDue)
	k := pullKey(p.Tenant, p.GroupUID, p.Collection)
	var old Pull
	switch err := get(b, k, &old); {
	case err == nil:
		if old.Status == PullQueued {
			if err := due.Delete(pullDueKey(old.DueAt, k)); err != nil {
				return err
			}
		}
	case !errors.Is(err, ErrNotFound):
		return fmt.Errorf("put pull: %w", err)
	}
	if err := put(b, k, p); err != nil {
		return fmt.Errorf("put pull: %w", err)
	}
	if p.Status == PullQueued {
		return due.Put(pullDueKey(p.DueAt, k), nil)
	}
	return nil
}

// Pull returns the pull state of (tenant, group, collection).
func (tx *Tx) Pull(tenant, group, collection string) (Pull, error) {
	var p Pull
	if err := get(tx.bucket(bucketPulls), pullKey(tenant, group, collection), &p); err != nil {
		return p, wrapGet(err, "pull", tenant, group, collection)
	}
	return p, nil
}

// Pulls lists the pull states of a tenant ("" = every tenant), by key.
func (tx *Tx) Pulls(tenant string) ([]Pull, error) {
	var p []byte
	if tenant != "" {
		p = prefix(tenant)
	}
	return decodeAll[Pull](tx.bucket(bucketPulls), p)
}

// PullsDue returns up to limit queued pulls due at now, the longest-waiting first.
func (tx *Tx) PullsDue(now time.Time, limit int) ([]Pull, error) {
	return tx.PullsDueExcept(now, limit, nil)
}

// PullsDueExcept is PullsDue without the pulls of the tenants skip names
// (another replica works them), passing over at most dueScanLimit of
// theirs; the due key holds the tenant.
func (tx *Tx) PullsDueExcept(now time.Time, limit int, skip func(tenant string) bool) ([]Pull, error) {
	b := tx.bucket(bucketPulls)
	c := tx.bucket(bucketPullsDue).Cursor()
	end := timeKey(now)
	var out []Pull
	skipped := 0
	for k, _ := c.First(); k != nil && (limit <= 0 || len(out) < limit); k, _ = c.Next() {
		if len(k) < 9 {
			return out, fmt.Errorf("%w: pull due key of %d bytes", ErrCorrupt, len(k))
		}
		if binary.BigEndian.Uint64(k) > end {
			break
		}
		if skip != nil {
			tenant, _, _ := bytes.Cut(k[8:], []byte{0})
			if skip(string(tenant)) {
				if skipped++; skipped == dueScanLimit {
					break
				}
				continue
			}
		}
		var p Pull
		if err := get(b, k[8:], &p); err != nil {
			return out, wrapGet(err, "pull", string(k[8:]))
		}
		out = append(out, p)
	}
	return out, nil
}

// NextPullDue is when the earliest queued pull is due (zero: none queued).
func (tx *Tx) NextPullDue() (time.Time, bool) {
	k, _ := tx.bucket(bucketPullsDue).Cursor().First()
	if len(k) < 8 {
		return time.Time{}, false
	}
	v := binary.BigEndian.Uint64(k)
	if v == 0 {
		return time.Time{}, true
	}
	return time.Unix(0, int64(v^1<<63)).UTC(), true
}

func pendingLinkKey(l PendingLink) []byte {
	return key(l.Tenant, l.GroupUID, l.Collection, l.ConnecID)
}

// PutPendingLink remembers a link back to send.
func (tx *Tx) PutPendingLink(l PendingLink) error {
	for _, part := range []struct{ what, v string }{{"link tenant", l.Tenant}, {"link group", l.GroupUID}, {"link collection", l.Collection}, {"link connec id", l.ConnecID}} {
		if err := checkPart(part.what, part.v, true); err != nil {
			return err
		}
	}
	return put(tx.bucket(bucketPullLinks), pendingLinkKey(l), l)
}

// DeletePendingLink forgets a link back (sent, or no longer needed).
func (tx *Tx) DeletePendingLink(l PendingLink) error {
	return tx.bucket(bucketPullLinks).Delete(pendingLinkKey(l))
}

// PendingLinks lists up to limit links still to send for (tenant, group, collection).
func (tx *Tx) PendingLinks(tenant, group, collection string, limit int) ([]PendingLink, error) {
	var out []PendingLink
	err := scanPrefix(tx.bucket(bucketPullLinks), prefix(tenant, group, collection), func(k, v []byte) error {
		var l PendingLink
		if err := decodeValue(v, &l); err != nil {
			return fmt.Errorf("key %q: %w", k, err)
		}
		out = append(out, l)
		if limit > 0 && len(out) >= limit {
			return errStop
		}
		return nil
	})
	return out, err
}

// StopPulls marks a tenant's pulls as stopped (its credentials were refused).
func (tx *Tx) StopPulls(s PullStop) error {
	if err := checkPart("pull stop tenant", s.Tenant, true); err != nil {
		return err
	}
	return put(tx.bucket(bucketPullStops), key(s.Tenant), s)
}

// PullStopped returns the stop of a tenant's pulls; ErrNotFound when they run.
func (tx *Tx) PullStopped(tenant string) (PullStop, error) {
	var s PullStop
	if err := get(tx.bucket(bucketPullStops), key(tenant), &s); err != nil {
		return s, wrapGet(err, "pull stop", tenant)
	}
	return s, nil
}

// ResumePulls lifts a tenant's stop.
func (tx *Tx) ResumePulls(tenant string) error {
	return tx.bucket(bucketPullStops).Delete(key(tenant))
}

// deletePulls removes every pull state, queue entry, pending link and stop
// of a tenant (the tenant was removed).
func deletePulls(tx *Tx, tenant string) error {
	p := prefix(tenant)
	var states []Pull
	states, err := decodeAll[Pull](tx.bucket(bucketPulls), p)
	if err != nil {
		return err
	}
	for _, s := range states {
		k := pullKey(s.Tenant, s.GroupUID, s.Collection)
		if s.Status == PullQueued {
			if err := tx.bucket(bucketPullsDue).Delete(pullDueKey(s.DueAt, k)); err != nil {
				return err
			}
		}
		if err := tx.bucket(bucketPulls).Delete(k); err != nil {
			return err
		}
	}
	var links [][]byte
	_ = scanPrefix(tx.bucket(bucketPullLinks), p, func(k, _ []byte) error {
		links = append(links, clone(k))
		return nil
	})
	for _, k := range links {
		if err := tx.bucket(bucketPullLinks).Delete(k); err != nil {
			return err
		}
	}
	return tx.bucket(bucketPullStops).Delete(key(tenant))
}
