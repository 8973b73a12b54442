package account

// Removals (SPEC §6, maestrano-protocol §3). Both are idempotent: an
// unknown group, user or membership, or a repeat, changes nothing and is
// not an error. Each callback reads what it needs and rewrites it, so
// running it again in a group commit gives the same result.
//
// Cancelling a group marks it cancelled (with the time), ends its
// memberships and marks inactive the identity-map rows of the group, of its
// invoices, and of each user the cancellation leaves without a group. In
// virtual mode the group's virtual users are blocked (their uid exists only
// for this group); in real mode a user is blocked when no active membership
// is left. The group's invoices and Connec! records are kept (exports,
// history); later notifications for the group are skipped by connec.Ingest.

import (
	"errors"
	"fmt"
	"time"

	"github.com/tenantdesk/tenantdesk/store"
)

// CancelGroup applies a group cancellation and says what it did.
func CancelGroup(tx *store.Tx, tk, groupUID string, now time.Time) (string, error) {
	g, err := tx.Group(tk, groupUID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return fmt.Sprintf("group %s cancelled: unknown group, nothing to do", groupUID), nil
	case err != nil:
		return "", fmt.Errorf("read group: %w", err)
	case g.Cancelled:
		return fmt.Sprintf("group %s cancelled again: already cancelled on %s", groupUID, g.CancelledAt.Format(time.RFC3339)), nil
	}
	g.Cancelled, g.CancelledAt, g.UpdatedAt = true, now, now
	if err := tx.PutGroup(g); err != nil {
		return "", fmt.Errorf("store group: %w", err)
	}
	if err := deactivate(tx, tk, store.KindGroup, groupUID, now); err != nil {
		return "", err
	}
	ms, err := tx.GroupMemberships(tk, groupUID)
	if err != nil {
		return "", fmt.Errorf("read memberships: %w", err)
	}
	ended := 0
	for _, m := range ms {
		if m.Ended {
			continue
		}
		m.Ended, m.EndedAt, m.UpdatedAt = true, now, now
		if err := tx.PutMembership(m); err != nil {
			return "", fmt.Errorf("end membership of %s: %w", m.UserUID, err)
		}
		ended++
		if err := blockIfGroupless(tx, tk, m.UserUID, now); err != nil {
			return "", err
		}
	}
	invs, err := tx.Invoices(tk)
	if err != nil {
		return "", fmt.Errorf("read invoices: %w", err)
	}
	for _, inv := range invs {
		if inv.GroupUID != groupUID {
			continue
		}
		if err := deactivate(tx, tk, store.KindInvoice, inv.ID, now); err != nil {
			return "", err
		}
	}
	return fmt.Sprintf("group %s cancelled: %d memberships ended", groupUID, ended), nil
}

// RemoveMember applies a member removal and says what it did; userUID is
// the real uid (usr-…). In virtual mode the local user is the virtual one
// and it is deleted; in real mode a user left without a group is blocked.
func RemoveMember(tx *store.Tx, tk string, virtual bool, groupUID, userUID string, now time.Time) (string, error) {
	local := userUID
	if virtual {
		local = VirtualUID(userUID, groupUID)
	}
	m, err := tx.Membership(tk, groupUID, local)
	switch {
	case errors.Is(err, store.ErrNotFound):
		// Unknown, or removed already: still make sure a virtual user is gone.
	case err != nil:
		return "", fmt.Errorf("read membership: %w", err)
	case !m.Ended:
		m.Ended, m.EndedAt, m.UpdatedAt = true, now, now
		if err := tx.PutMembership(m); err != nil {
			return "", fmt.Errorf("end membership: %w", err)
		}
	}
	if virtual {
		removed, err := removeVirtualUser(tx, tk, local, now)
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("%s removed from group %s (virtual user %s %s)", userUID, groupUID, local, removed), nil
	}
	if err := blockIfGroupless(tx, tk, local, now); err != nil {
		return "", err
	}
	return fmt.Sprintf("%s removed from group %s", userUID, groupUID), nil
}

// blockIfGroupless blocks a user left without an active membership, and
// marks its identity-map row inactive. A virtual user has exactly one group,
// so it is always blocked when that membership ends.
func blockIfGroupless(tx *store.Tx, tk, userUID string, now time.Time) error {
	ms, err := tx.UserMemberships(tk, userUID)
	if err != nil {
		return fmt.Errorf("read memberships of %s: %w", userUID, err)
	}
	for _, m := range ms {
		if !m.Ended {
			return nil
		}
	}
	u, err := tx.User(tk, userUID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil
	case err != nil:
		return fmt.Errorf("read user %s: %w", userUID, err)
	}
	if !u.Blocked {
		u.Blocked, u.BlockedAt, u.UpdatedAt = true, now, now
		if err := tx.PutUser(u); err != nil {
			return fmt.Errorf("block user %s: %w", userUID, err)
		}
	}
	return deactivate(tx, tk, store.KindUser, userUID, now)
}

// deactivate marks the identity-map row of a local object inactive, if any.
func deactivate(tx *store.Tx, tk, kind, localID string, now time.Time) error {
	row, err := tx.ConnectedByLocal(tk, kind, localID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil
	case err != nil:
		return fmt.Errorf("identity map of %s %s: %w", kind, localID, err)
	case row.Inactive:
		return nil
	}
	row.Inactive, row.UpdatedAt = true, now
	if _, err := tx.PutConnected(row); err != nil {
		return fmt.Errorf("deactivate %s %s: %w", kind, localID, err)
	}
	return nil
}

func removeVirtualUser(tx *store.Tx, tk, uid string, now time.Time) (string, error) {
	if err := deactivate(tx, tk, store.KindUser, uid, now); err != nil {
		return "", err
	}
	if _, err := tx.User(tk, uid); errors.Is(err, store.ErrNotFound) {
		return "already gone", nil
	} else if err != nil {
		return "", fmt.Errorf("read user %s: %w", uid, err)
	}
	if err := tx.DeleteUser(tk, uid); err != nil {
		return "", fmt.Errorf("delete user %s: %w", uid, err)
	}
	return "deleted", nil
}
