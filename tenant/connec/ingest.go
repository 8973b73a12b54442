package connec

// Ingest stores a Connec! notification (maestrano-protocol §5.7, SPEC §7).
//
// A notification is a JSON object whose keys are collection names and whose
// values are arrays of full records (a singleton collection such as
// "company" may come as one object). One POST may mix collections and the
// records of several groups; each record is routed by its own group_id.
//
// A malformed record rejects the whole notification with ErrMalformed and
// nothing stored. Small bodies are parsed whole before anything is written
// (ParseNotification, then Apply, which may re-run inside group commit);
// big ones are parsed by a goroutine while the caller's one transaction
// stores what is parsed so far (IngestConcurrently), and a late error rolls
// that transaction back. Either way, in that one transaction:
//
//   - invoices become local invoices, other collections store.Records; each
//     gets one identity-map row (provider "connec", entity = collection,
//     remote id = the Connec! uuid);
//   - a record that carries our own triplet (provider = api.id, realm = its
//     group) is an echo of our own push, or a later edit of it: it is matched
//     to that local invoice, never duplicated;
//   - a record already held is matched by its Connec! id (ConnectedByRemote);
//     it is skipped when its updated_at is not newer than what we hold (the
//     same record twice, or an older version), or when nothing we map changed;
//   - records of a cancelled group are skipped (the group's data access is
//     disabled), and so are records whose identity-map row has pull disabled,
//     and records whose ids clash with other rows (two Connec! records
//     claiming one local invoice): a bad record never fails the notification
//     once it parsed, and is never stored twice;
//   - a record made here from Connec! and not linked yet gets its link back
//     (our id triplet) written as pending, with one outbox item per (group,
//     collection) that the Worker delivers soon after (link.go).

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/tenantdesk/tenantdesk/store"
	"github.com/tenantdesk/tenantdesk/tenant"
)

// Counts is what a notification did, per collection and in total.
type Counts struct {
	Stored      int                         `json:"stored"`
	Skipped     int                         `json:"skipped"`
	Collections map[string]CollectionCounts `json:"collections,omitempty"`
}

// CollectionCounts counts one collection of a notification.
type CollectionCounts struct {
	Stored  int `json:"stored"`
	Skipped int `json:"skipped"`
}

func (c *Counts) add(entity string, stored bool) {
	if c.Collections == nil {
		c.Collections = map[string]CollectionCounts{}
	}
	cc := c.Collections[entity]
	if stored {
		c.Stored++
		cc.Stored++
	} else {
		c.Skipped++
		cc.Skipped++
	}
	c.Collections[entity] = cc
}

// Ingest parses body and applies it in tx: ParseNotification then Apply.
func Ingest(tx *store.Tx, cfg *tenant.Config, body []byte, now time.Time) (Counts, error) {
	n, err := ParseNotification(cfg, body)
	if err != nil {
		return Counts{}, err
	}
	return n.Apply(tx, cfg, now)
}

// Apply writes the notification in tx and counts what it stored and skipped.
// It may run more than once (store.DB.Batch): it keeps no state between runs.
func (n *Notification) Apply(tx *store.Tx, cfg *tenant.Config, now time.Time) (Counts, error) {
	if string(cfg.Key) != n.tenant {
		return Counts{}, fmt.Errorf("notification parsed for tenant %q applied to %q", n.tenant, cfg.Key)
	}
	a := newApplier(tx, cfg, now)
	var counts Counts
	for i := range n.records {
		if err := a.applyCounted(&n.records[i], &counts); err != nil {
			return Counts{}, err
		}
	}
	return counts, a.queueLinks()
}

// IngestConcurrently is Ingest for big bodies: a goroutine parses while tx
// stores the records parsed so far, so parsing and writing share the
// machine's cores. A malformed record anywhere still fails the whole call
// (ErrMalformed) and the caller's transaction must then roll back, which
// leaves nothing written. Unlike Apply it reads body once and cannot be
// re-run, so it is for store.DB.Update, never Batch.
func IngestConcurrently(tx *store.Tx, cfg *tenant.Config, body []byte, now time.Time) (Counts, error) {
	batches := make(chan []notified, 4)
	stop := make(chan struct{})
	var parseErr error
	go func() {
		defer close(batches)
		parseErr = parseStream(cfg, body, func(recs []notified) bool {
			select {
			case batches <- recs:
				return true
			case <-stop:
				return false
			}
		})
	}()
	a := newApplier(tx, cfg, now)
	var (
		counts   Counts
		applyErr error
	)
	for recs := range batches {
		for i := 0; applyErr == nil && i < len(recs); i++ {
			if applyErr = a.applyCounted(&recs[i], &counts); applyErr != nil {
				close(stop) // the parser stops at its next batch; drain until it has
			}
		}
	}
	// batches is closed: the parser has returned and parseErr is set.
	switch {
	case applyErr != nil:
		return Counts{}, applyErr
	case parseErr != nil:
		return Counts{}, parseErr
	}
	return counts, a.queueLinks()
}

type applier struct {
	tx        *store.Tx
	cfg       *tenant.Config
	tenant    string
	now       time.Time
	cancelled map[string]bool // group uid → cancelled, looked up once per group
	// byNotification: the records come from a notification, so the first
	// notification of a group queues its initial pull (SPEC §7), and the
	// records created here get their link back queued in the outbox
	// (link.go). A pull does neither: it is the pull, and it links back
	// what it created itself.
	byNotification bool
	// linkQueues are the (group, collection) pairs whose links back this
	// notification left pending.
	linkQueues map[linkQueue]bool
	// row is the identity-map row of the last record applied (ID 0: none),
	// for the pull's link back.
	row store.ConnectedObject
}

func newApplier(tx *store.Tx, cfg *tenant.Config, now time.Time) *applier {
	return &applier{tx: tx, cfg: cfg, tenant: string(cfg.Key), now: now.UTC(), cancelled: map[string]bool{}, byNotification: true}
}

func (a *applier) applyCounted(rec *notified, counts *Counts) error {
	outcome, err := a.applyOne(rec)
	if err != nil {
		return err
	}
	counts.add(rec.entity, outcome == outcomeStored)
	if outcome != outcomeRefused {
		return a.noteLink(rec)
	}
	return nil
}

// outcome is what the ingest rules did with one record.
type outcome int

const (
	outcomeStored    outcome = iota // new, or newer than what we hold
	outcomeUnchanged                // the same record again, or an older version
	outcomeRefused                  // a rule kept it out: cancelled group, pull disabled, id conflict
)

// applyOne applies one record; a.row is its identity-map row afterwards.
func (a *applier) applyOne(rec *notified) (outcome, error) {
	a.row = store.ConnectedObject{}
	stored, err := a.apply(rec)
	if err != nil {
		return 0, fmt.Errorf("%s %s of group %s: %w", rec.entity, rec.connecID, rec.groupUID, err)
	}
	switch {
	case stored:
		return outcomeStored, nil
	case a.row.ID != 0:
		return outcomeUnchanged, nil
	}
	return outcomeRefused, nil
}

func (a *applier) groupCancelled(uid string) (bool, error) {
	if c, ok := a.cancelled[uid]; ok {
		return c, nil
	}
	g, err := a.tx.Group(a.tenant, uid)
	switch {
	case errors.Is(err, store.ErrNotFound):
		// Data may come before the group's first login: keep it.
	case err != nil:
		return false, fmt.Errorf("read group: %w", err)
	}
	a.cancelled[uid] = g.Cancelled
	if a.byNotification && !g.Cancelled {
		if _, err := queueInitialPulls(a.tx, a.cfg, uid, a.now); err != nil {
			return false, err
		}
	}
	return g.Cancelled, nil
}

// apply stores one record; false means skipped.
func (a *applier) apply(rec *notified) (bool, error) {
	if cancelled, err := a.groupCancelled(rec.groupUID); err != nil || cancelled {
		return false, err
	}
	if rec.invoice != nil {
		return a.applyInvoice(rec)
	}
	return a.applyRecord(rec)
}

// errConflict: the record's ids clash with identity-map rows of other
// objects (see lookup).
var errConflict = errors.New("connec id maps to another kind of local object")

// lookup finds the identity-map row of a record, first by our own local id
// (an echo of our push), then by its Connec! id. A row found by our id that
// already carries another Connec! id, or a Connec! id that another row
// holds, is a conflict (two Connec! records claim one local invoice): the
// record is skipped rather than the notification failed, and never
// duplicated.
func (a *applier) lookup(kind, ours, entity, connecID string) (store.ConnectedObject, bool, error) {
	if ours != "" {
		row, err := a.tx.ConnectedByLocal(a.tenant, kind, ours)
		switch {
		case errors.Is(err, store.ErrNotFound):
		case err != nil:
			return row, false, fmt.Errorf("identity map by local id: %w", err)
		case row.RemoteID == connecID:
			return row, true, nil
		case row.RemoteID != "":
			return row, false, errConflict
		default:
			owner, err := a.tx.ConnectedByRemote(a.tenant, connecID)
			switch {
			case errors.Is(err, store.ErrNotFound):
				return row, true, nil
			case err != nil:
				return row, false, fmt.Errorf("identity map by remote id: %w", err)
			case owner.ID != row.ID:
				return row, false, errConflict
			}
			return row, true, nil
		}
	}
	row, err := a.tx.ConnectedByRemote(a.tenant, connecID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return store.ConnectedObject{}, false, nil
	case err != nil:
		return row, false, fmt.Errorf("identity map by remote id: %w", err)
	case row.LocalKind != kind || row.Entity != entity:
		return row, false, errConflict
	}
	return row, true, nil
}

func (a *applier) applyInvoice(rec *notified) (bool, error) {
	inv := *rec.invoice
	inv.Lines = slices.Clone(inv.Lines) // Apply may run again; keep the parsed copy intact
	ours := rec.ids.Ours(a.cfg, rec.groupUID)
	row, found, err := a.lookup(store.KindInvoice, ours, rec.entity, rec.connecID)
	switch {
	case errors.Is(err, errConflict):
		return false, nil
	case err != nil:
		return false, err
	case found && row.PullDisabled:
		return false, nil
	}
	localID := row.LocalID
	if !found && ours != "" {
		// Our triplet but no identity row (never linked, or the row was
		// removed): it still names our invoice, never a new one.
		localID = ours
	}
	var held store.Invoice
	have := false
	if localID != "" {
		held, err = a.tx.Invoice(localID)
		switch {
		case errors.Is(err, store.ErrNotFound):
			if !found {
				localID = "" // our id names nothing: a new invoice, with an id of our sequence
			}
		case err != nil:
			return false, fmt.Errorf("read invoice %s: %w", localID, err)
		case held.Tenant != a.tenant || held.GroupUID != rec.groupUID:
			return false, nil // never move an invoice to another group
		default:
			have = true
		}
	}
	if row.ID == 0 {
		row = a.newRow(rec, store.KindInvoice, localID)
	}
	if have {
		if (!rec.updatedAt.IsZero() && !rec.updatedAt.After(held.UpdatedAt)) || sameInvoice(held, inv) {
			return false, a.linkRow(row, rec)
		}
		inv.CreatedAt = held.CreatedAt
	}
	inv.ID = localID // "" for a new invoice; the row's id when the row outlived its invoice
	if inv.ID == "" {
		if inv.ID, err = a.tx.NextInvoiceID(); err != nil {
			return false, fmt.Errorf("new invoice id: %w", err)
		}
		row.LocalID = inv.ID
	}
	if inv.CreatedAt.IsZero() {
		inv.CreatedAt = a.now
	}
	if inv.UpdatedAt.IsZero() {
		inv.UpdatedAt = a.now
	}
	if err := a.tx.PutInvoice(inv); err != nil {
		return false, fmt.Errorf("store invoice: %w", err)
	}
	return true, a.touchRow(row, rec)
}

func (a *applier) applyRecord(rec *notified) (bool, error) {
	localID := rec.entity + "/" + rec.connecID
	row, found, err := a.lookup(store.KindRecord, "", rec.entity, rec.connecID)
	if errors.Is(err, errConflict) {
		return false, nil
	} else if err != nil {
		return false, err
	}
	if found && row.PullDisabled {
		return false, nil
	}
	held, err := a.tx.Record(a.tenant, rec.entity, rec.connecID)
	switch {
	case errors.Is(err, store.ErrNotFound):
	case err != nil:
		return false, fmt.Errorf("read record: %w", err)
	case !rec.updatedAt.IsZero() && !rec.updatedAt.After(held.UpdatedAt), bytes.Equal(held.Data, rec.raw):
		if !found {
			row = a.newRow(rec, store.KindRecord, localID)
		}
		return false, a.linkRow(row, rec)
	}
	updated := rec.updatedAt
	if updated.IsZero() {
		updated = a.now
	}
	if err := a.tx.PutRecord(store.Record{
		Tenant: a.tenant, GroupUID: rec.groupUID, Entity: rec.entity, ID: rec.connecID,
		Data: rec.raw, UpdatedAt: updated,
	}); err != nil {
		return false, fmt.Errorf("store record: %w", err)
	}
	if !found {
		row = a.newRow(rec, store.KindRecord, localID)
	}
	return true, a.touchRow(row, rec)
}

func (a *applier) newRow(rec *notified, kind, localID string) store.ConnectedObject {
	return store.ConnectedObject{
		Tenant: a.tenant, GroupUID: rec.groupUID,
		LocalKind: kind, LocalID: localID,
		Provider: ProviderConnec, Entity: rec.entity,
		CreatedAt: a.now,
	}
}

// linkRow is touchRow for a skipped record: it writes only when the row is
// new or does not carry the record's Connec! id yet, so that a repeated
// delivery writes nothing.
func (a *applier) linkRow(row store.ConnectedObject, rec *notified) error {
	if row.ID != 0 && row.RemoteID == rec.connecID {
		a.row = row
		return nil
	}
	return a.touchRow(row, rec)
}

// touchRow records the pull on the identity-map row (creating it when new)
// and links the Connec! id to it, e.g. for an echo whose push answer we
// have not processed yet.
func (a *applier) touchRow(row store.ConnectedObject, rec *notified) error {
	row.RemoteID = rec.connecID
	if rec.name != "" {
		row.Name = rec.name
	}
	row.LastPullAt, row.UpdatedAt = a.now, a.now
	id, err := a.tx.PutConnected(row)
	if err != nil {
		return fmt.Errorf("identity map: %w", err)
	}
	row.ID = id
	a.row = row
	return nil
}

// sameInvoice reports whether nothing we map differs (timestamps aside).
func sameInvoice(a, b store.Invoice) bool {
	return a.Number == b.Number && a.Title == b.Title && a.Status == b.Status &&
		a.TransactionDate.Equal(b.TransactionDate) && a.DueDate.Equal(b.DueDate) &&
		a.Currency == b.Currency && a.TotalCents == b.TotalCents && a.TaxCents == b.TaxCents &&
		slices.Equal(a.Lines, b.Lines)
}
