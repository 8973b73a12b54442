// Package account owns the rules of a tenant's customer accounts (SPEC §5,
// §6): a sign-in creates or reactivates the group, the user and the
// membership; a group cancellation ends the group's memberships; a member
// removal ends one membership and blocks (or, in virtual mode, deletes) the
// user it leaves without a group. Each rule runs inside the caller's store
// transaction, so the SSO consume and the account webhooks commit it
// together with their own writes (session, audit event). The HTTP side of
// both lives in tenant/sso and tenant/server; the rules live only here.
package account

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/tenantdesk/tenantdesk/store"
	"github.com/tenantdesk/tenantdesk/tenant/connec"
)

// Provider is the identity-map provider of SSO users and groups.
const Provider = "maestrano"

// VirtualUID is the local uid of a user in virtual creation mode:
// Maestrano's mask_user, one local user per (user, group)
// (maestrano-protocol §2.8).
func VirtualUID(realUID, groupUID string) string { return realUID + "." + groupUID }

// SignIn is what a verified login says about the user, its group and its
// role. User.UID is the local uid (virtual in virtual mode).
type SignIn struct {
	Tenant string
	Group  store.Group
	User   store.User
	Role   string
	// IssuedAt is when the IdP issued the assertion. A removal recorded at
	// or after it wins: the login does not undo it.
	IssuedAt time.Time
}

// ErrRemovedLater refuses a sign-in whose assertion was issued no later
// than the group's cancellation, the membership's end or the user's block.
var ErrRemovedLater = errors.New("removed after the sign-in was issued")

// Signed is what SignInTx stored.
type Signed struct {
	Group store.Group
	User  store.User
	// Reactivated is set when the login brought a cancelled group back.
	Reactivated bool
}

// SignInTx finds or creates the group and the user, refreshes them from
// the login, adds or reactivates the membership with its role and brings
// their identity-map rows back to active. A cancelled group is reactivated
// and a blocked user unblocked: the marketplace only signs a user into a
// group that has the app, so its word is the newer one.
//
// A login never undoes a later removal: when the group was cancelled, the
// membership ended or the user blocked at or after in.IssuedAt, nothing is
// written and the error wraps ErrRemovedLater (a marketplace that re-adds
// the user issues a newer assertion).
func SignInTx(tx *store.Tx, in SignIn, now time.Time) (Signed, error) {
	if err := checkNotRemovedLater(tx, in); err != nil {
		return Signed{}, err
	}
	g, reactivated, err := saveGroup(tx, in.Tenant, in.Group, now)
	if err != nil {
		return Signed{}, err
	}
	u, err := saveUser(tx, in.Tenant, in.User, now)
	if err != nil {
		return Signed{}, err
	}
	if err := saveMembership(tx, in.Tenant, g.UID, u.UID, in.Role, now); err != nil {
		return Signed{}, err
	}
	if err := ensureConnected(tx, store.ConnectedObject{
		Tenant: in.Tenant, GroupUID: g.UID, LocalKind: store.KindGroup, LocalID: g.UID,
		Provider: Provider, Entity: "groups", RemoteID: g.UID, Name: g.Name,
	}, now); err != nil {
		return Signed{}, err
	}
	if err := ensureConnected(tx, store.ConnectedObject{
		Tenant: in.Tenant, GroupUID: g.UID, LocalKind: store.KindUser, LocalID: u.UID,
		Provider: Provider, Entity: "users", RemoteID: u.UID, Name: strings.TrimSpace(u.FirstName + " " + u.LastName),
	}, now); err != nil {
		return Signed{}, err
	}
	// A group's first sign-in queues its initial Connec! pull (SPEC §7).
	if err := connec.QueueInitialPulls(tx, in.Tenant, g.UID, now); err != nil {
		return Signed{}, fmt.Errorf("queue initial pull of %s: %w", g.UID, err)
	}
	return Signed{Group: g, User: u, Reactivated: reactivated}, nil
}

func checkNotRemovedLater(tx *store.Tx, in SignIn) error {
	later := func(at time.Time) bool { return !in.IssuedAt.After(at) }
	g, err := tx.Group(in.Tenant, in.Group.UID)
	switch {
	case errors.Is(err, store.ErrNotFound):
	case err != nil:
		return fmt.Errorf("load group %s: %w", in.Group.UID, err)
	case g.Cancelled && later(g.CancelledAt):
		return fmt.Errorf("group %s cancelled at %s: %w", g.UID, g.CancelledAt.UTC().Format(time.RFC3339), ErrRemovedLater)
	}
	m, err := tx.Membership(in.Tenant, in.Group.UID, in.User.UID)
	switch {
	case errors.Is(err, store.ErrNotFound):
	case err != nil:
		return fmt.Errorf("load membership %s/%s: %w", in.Group.UID, in.User.UID, err)
	case m.Ended && later(m.EndedAt):
		return fmt.Errorf("%s left group %s at %s: %w", m.UserUID, m.GroupUID, m.EndedAt.UTC().Format(time.RFC3339), ErrRemovedLater)
	}
	u, err := tx.User(in.Tenant, in.User.UID)
	switch {
	case errors.Is(err, store.ErrNotFound):
	case err != nil:
		return fmt.Errorf("load user %s: %w", in.User.UID, err)
	case u.Blocked && later(u.BlockedAt):
		return fmt.Errorf("user %s blocked at %s: %w", u.UID, u.BlockedAt.UTC().Format(time.RFC3339), ErrRemovedLater)
	}
	return nil
}

func saveGroup(tx *store.Tx, tk string, in store.Group, now time.Time) (store.Group, bool, error) {
	g, err := tx.Group(tk, in.UID)
	if errors.Is(err, store.ErrNotFound) {
		g = store.Group{Tenant: tk, UID: in.UID, CreatedAt: now}
	} else if err != nil {
		return g, false, fmt.Errorf("load group %s: %w", in.UID, err)
	}
	set(&g.Name, in.Name)
	set(&g.Email, in.Email)
	set(&g.Currency, in.Currency)
	set(&g.Timezone, in.Timezone)
	set(&g.Country, in.Country)
	set(&g.City, in.City)
	set(&g.OrgUID, in.OrgUID)
	if !in.FreeTrialEnd.IsZero() {
		g.FreeTrialEnd = in.FreeTrialEnd
	}
	g.HasCreditCard = in.HasCreditCard
	reactivated := g.Cancelled
	g.Cancelled, g.CancelledAt = false, time.Time{}
	g.UpdatedAt = now
	if err := tx.PutGroup(g); err != nil {
		return g, false, fmt.Errorf("put group %s: %w", g.UID, err)
	}
	return g, reactivated, nil
}

func saveUser(tx *store.Tx, tk string, in store.User, now time.Time) (store.User, error) {
	u, err := tx.User(tk, in.UID)
	if errors.Is(err, store.ErrNotFound) {
		u = store.User{Tenant: tk, UID: in.UID, CreatedAt: now}
	} else if err != nil {
		return u, fmt.Errorf("load user %s: %w", in.UID, err)
	}
	u.RealUID, u.Virtual = in.RealUID, in.Virtual
	set(&u.Email, in.Email)
	set(&u.FirstName, in.FirstName)
	set(&u.LastName, in.LastName)
	set(&u.Country, in.Country)
	set(&u.CompanyName, in.CompanyName)
	u.Blocked, u.BlockedAt = false, time.Time{}
	u.UpdatedAt = now
	if err := tx.PutUser(u); err != nil {
		return u, fmt.Errorf("put user %s: %w", u.UID, err)
	}
	return u, nil
}

func saveMembership(tx *store.Tx, tk, groupUID, userUID, role string, now time.Time) error {
	m, err := tx.Membership(tk, groupUID, userUID)
	if errors.Is(err, store.ErrNotFound) {
		m = store.Membership{Tenant: tk, GroupUID: groupUID, UserUID: userUID, CreatedAt: now}
	} else if err != nil {
		return fmt.Errorf("load membership %s/%s: %w", groupUID, userUID, err)
	}
	m.Role = role
	m.Ended, m.EndedAt = false, time.Time{}
	m.UpdatedAt = now
	if err := tx.PutMembership(m); err != nil {
		return fmt.Errorf("put membership %s/%s: %w", groupUID, userUID, err)
	}
	return nil
}

// ensureConnected adds the identity-map row of a user or group, or brings an
// existing one back to active with the current name.
func ensureConnected(tx *store.Tx, row store.ConnectedObject, now time.Time) error {
	cur, err := tx.ConnectedByLocal(row.Tenant, row.LocalKind, row.LocalID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		row.CreatedAt, row.UpdatedAt = now, now
		cur = row
	case err != nil:
		return fmt.Errorf("load identity map %s %s: %w", row.LocalKind, row.LocalID, err)
	case !cur.Inactive && (cur.Name == row.Name || row.Name == ""):
		return nil
	default:
		cur.Inactive = false
		set(&cur.Name, row.Name)
		cur.UpdatedAt = now
	}
	if _, err := tx.PutConnected(cur); err != nil {
		return fmt.Errorf("put identity map %s %s: %w", row.LocalKind, row.LocalID, err)
	}
	return nil
}

func set(dst *string, v string) {
	if v != "" {
		*dst = v
	}
}
