package store

import (
	"errors"
	"fmt"
)

// notFound wraps ErrNotFound with what was looked for.
func notFound(what string, id ...string) error {
	return fmt.Errorf("%s %q: %w", what, string(key(id...)), ErrNotFound)
}

// PutTenant stores a tenant's configuration document.
func (tx *Tx) PutTenant(t Tenant) error {
	if err := checkPart("tenant key", t.Key, true); err != nil {
		return err
	}
	if err := tx.sealTenant(&t); err != nil {
		return err
	}
	return put(tx.bucket(bucketTenants), key(t.Key), t)
}

// Tenant returns the tenant with key.
func (tx *Tx) Tenant(key string) (Tenant, error) {
	var t Tenant
	if err := get(tx.bucket(bucketTenants), []byte(key), &t); err != nil {
		return t, wrapGet(err, "tenant", key)
	}
	return t, tx.openTenant(&t)
}

// Tenants returns every tenant in key order.
func (tx *Tx) Tenants() ([]Tenant, error) {
	ts, err := decodeAll[Tenant](tx.bucket(bucketTenants), nil)
	if err != nil {
		return nil, err
	}
	for i := range ts {
		if err := tx.openTenant(&ts[i]); err != nil {
			return nil, err
		}
	}
	return ts, nil
}

// DeleteTenant removes a tenant's configuration and its Connec! pull
// states; its users, groups and records stay (orphaned).
func (tx *Tx) DeleteTenant(key string) error {
	b := tx.bucket(bucketTenants)
	if b.Get([]byte(key)) == nil {
		return notFound("tenant", key)
	}
	if err := deletePulls(tx, key); err != nil {
		return fmt.Errorf("delete pulls of %s: %w", key, err)
	}
	return b.Delete([]byte(key))
}

// wrapGet gives an error from get its context.
func wrapGet(err error, what string, id ...string) error {
	if errors.Is(err, ErrNotFound) {
		return notFound(what, id...)
	}
	return fmt.Errorf("%s %q: %w", what, string(key(id...)), err)
}

// PutUser stores a user. Tenant may be empty for a user of no tenant.
func (tx *Tx) PutUser(u User) error {
	if err := checkPart("user tenant", u.Tenant, false); err != nil {
		return err
	}
	if err := checkPart("user uid", u.UID, true); err != nil {
		return err
	}
	return put(tx.bucket(bucketUsers), key(u.Tenant, u.UID), u)
}

// User returns a tenant's user.
func (tx *Tx) User(tenant, uid string) (User, error) {
	var u User
	if err := get(tx.bucket(bucketUsers), key(tenant, uid), &u); err != nil {
		return u, wrapGet(err, "user", tenant, uid)
	}
	return u, nil
}

// DeleteUser removes a tenant's user (not its memberships).
func (tx *Tx) DeleteUser(tenant, uid string) error {
	b := tx.bucket(bucketUsers)
	k := key(tenant, uid)
	if b.Get(k) == nil {
		return notFound("user", tenant, uid)
	}
	return b.Delete(k)
}

// PutGroup stores a group. Tenant may be empty: a group billed directly.
func (tx *Tx) PutGroup(g Group) error {
	if err := checkPart("group tenant", g.Tenant, false); err != nil {
		return err
	}
	if err := checkPart("group uid", g.UID, true); err != nil {
		return err
	}
	return put(tx.bucket(bucketGroups), key(g.Tenant, g.UID), g)
}

// Group returns a tenant's group.
func (tx *Tx) Group(tenant, uid string) (Group, error) {
	var g Group
	if err := get(tx.bucket(bucketGroups), key(tenant, uid), &g); err != nil {
		return g, wrapGet(err, "group", tenant, uid)
	}
	return g, nil
}

// Groups returns a tenant's groups in uid order; tenant "" returns every
// group of every tenant, ordered by tenant then uid.
func (tx *Tx) Groups(tenant string) ([]Group, error) {
	var p []byte
	if tenant != "" {
		p = prefix(tenant)
	}
	return decodeAll[Group](tx.bucket(bucketGroups), p)
}

// PutMembership stores a membership and its by-user index entry.
func (tx *Tx) PutMembership(m Membership) error {
	if err := checkPart("membership tenant", m.Tenant, false); err != nil {
		return err
	}
	if err := checkPart("membership group uid", m.GroupUID, true); err != nil {
		return err
	}
	if err := checkPart("membership user uid", m.UserUID, true); err != nil {
		return err
	}
	if err := put(tx.bucket(bucketMemberships), key(m.Tenant, m.GroupUID, m.UserUID), m); err != nil {
		return err
	}
	return tx.bucket(bucketMembershipByUser).Put(key(m.Tenant, m.UserUID, m.GroupUID), nil)
}

// Membership returns the membership of a user in a group.
func (tx *Tx) Membership(tenant, groupUID, userUID string) (Membership, error) {
	var m Membership
	if err := get(tx.bucket(bucketMemberships), key(tenant, groupUID, userUID), &m); err != nil {
		return m, wrapGet(err, "membership", tenant, groupUID, userUID)
	}
	return m, nil
}

// GroupMemberships returns a group's memberships (ended ones included).
func (tx *Tx) GroupMemberships(tenant, groupUID string) ([]Membership, error) {
	return decodeAll[Membership](tx.bucket(bucketMemberships), prefix(tenant, groupUID))
}

// UserMemberships returns a user's memberships (ended ones included).
func (tx *Tx) UserMemberships(tenant, userUID string) ([]Membership, error) {
	p := prefix(tenant, userUID)
	primary := tx.bucket(bucketMemberships)
	var out []Membership
	err := scanPrefix(tx.bucket(bucketMembershipByUser), p, func(k, _ []byte) error {
		groupUID := string(k[len(p):])
		var m Membership
		if err := get(primary, key(tenant, groupUID, userUID), &m); err != nil {
			return wrapGet(err, "membership", tenant, groupUID, userUID)
		}
		out = append(out, m)
		return nil
	})
	return out, err
}
