package store

import (
	"bytes"
	"errors"
	"fmt"
	"time"
)

// PutSession stores a browser session.
func (tx *Tx) PutSession(s Session) error {
	if err := checkPart("session id", s.ID, true); err != nil {
		return err
	}
	return put(tx.bucket(bucketSessions), key(s.ID), s)
}

// Session returns a session by id, expired or not: the caller decides
// with its own clock.
func (tx *Tx) Session(id string) (Session, error) {
	var s Session
	if err := get(tx.bucket(bucketSessions), []byte(id), &s); err != nil {
		return s, wrapGet(err, "session", id)
	}
	return s, nil
}

// DeleteSession ends a browser session; an unknown id is not an error.
func (tx *Tx) DeleteSession(id string) error {
	if id == "" {
		return nil
	}
	return tx.bucket(bucketSessions).Delete([]byte(id))
}

// PutAuthnRequest records an AuthnRequest a tenant issued.
func (tx *Tx) PutAuthnRequest(r AuthnRequest) error {
	if err := checkPart("authn request tenant", r.Tenant, true); err != nil {
		return err
	}
	if err := checkPart("authn request id", r.ID, true); err != nil {
		return err
	}
	k := key(r.Tenant, r.ID)
	if tx.bucket(bucketAuthnRequests).Get(k) == nil {
		if err := tx.addPending(r.Tenant, 1); err != nil {
			return fmt.Errorf("count authn requests of %q: %w", r.Tenant, err)
		}
	}
	return put(tx.bucket(bucketAuthnRequests), k, r)
}

// ConsumeAuthnRequest deletes and returns the tenant's pending request id;
// ErrNotFound when it is unknown, expired or of another tenant.
func (tx *Tx) ConsumeAuthnRequest(tenant, id string, now time.Time) (AuthnRequest, error) {
	if id == "" { // tenant\x00 is the tenant's pending count, not a request
		return AuthnRequest{}, fmt.Errorf("authn request with no id: %w", ErrNotFound)
	}
	b := tx.bucket(bucketAuthnRequests)
	k := key(tenant, id)
	var r AuthnRequest
	if err := get(b, k, &r); err != nil {
		return AuthnRequest{}, wrapGet(err, "authn request", tenant, id)
	}
	if err := b.Delete(k); err != nil {
		return AuthnRequest{}, fmt.Errorf("consume authn request %q: %w", id, err)
	}
	if err := tx.addPending(tenant, -1); err != nil {
		return AuthnRequest{}, fmt.Errorf("consume authn request %q: %w", id, err)
	}
	if !now.Before(r.ExpiresAt) {
		return AuthnRequest{}, fmt.Errorf("authn request %q expired at %s: %w",
			id, r.ExpiresAt.UTC().Format(time.RFC3339), ErrNotFound)
	}
	return r, nil
}

// seenAssertion is a replay-cache entry.
type seenAssertion struct {
	ExpiresAt time.Time `json:"expires_at"`
}

// RememberAssertion records an assertion id until expires; it returns false
// when the id was already seen (a replay). The entry is created only if
// absent (on etcd the read of the absent key is a compare of the commit,
// so of two replicas seeing one assertion one commits and the other runs
// again and finds it), and on etcd it expires with a lease (kvBucket.PutTTL);
// the purge removes it from a bbolt file.
func (tx *Tx) RememberAssertion(tenant, id string, expires, now time.Time) (bool, error) {
	if err := checkPart("assertion tenant", tenant, true); err != nil {
		return false, err
	}
	if err := checkPart("assertion id", id, true); err != nil {
		return false, err
	}
	b := tx.bucket(bucketAssertions)
	k := key(tenant, id)
	var seen seenAssertion
	switch err := get(b, k, &seen); {
	case err == nil && now.Before(seen.ExpiresAt):
		return false, nil
	case err != nil && !errors.Is(err, ErrNotFound):
		return false, fmt.Errorf("assertion %q: %w", id, err)
	}
	v, err := encodeValue(seenAssertion{ExpiresAt: expires})
	if err == nil {
		err = b.PutTTL(k, v, expires.Sub(now))
	}
	if err != nil {
		return false, fmt.Errorf("remember assertion %q: %w", id, err)
	}
	return true, nil
}

// ForgetTenantLogins deletes every session, pending AuthnRequest and
// replay-cache entry of a tenant: a removed tenant's logins end with it,
// and a key added again starts clean.
func (tx *Tx) ForgetTenantLogins(tenant string) error {
	if err := checkPart("tenant key", tenant, true); err != nil {
		return err
	}
	var ids [][]byte
	sessions := tx.bucket(bucketSessions)
	err := sessions.ForEach(func(k, v []byte) error {
		var s Session
		if err := decodeValue(v, &s); err != nil || s.Tenant == tenant {
			ids = append(ids, clone(k))
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("forget sessions of %q: %w", tenant, err)
	}
	for _, k := range ids {
		if err := sessions.Delete(k); err != nil {
			return fmt.Errorf("forget sessions of %q: %w", tenant, err)
		}
	}
	for _, name := range []*bucketDef{bucketAuthnRequests, bucketAssertions} {
		if err := deletePrefix(tx.bucket(name), prefix(tenant)); err != nil {
			return fmt.Errorf("forget %s of %q: %w", name, tenant, err)
		}
	}
	return nil
}

// deletePrefix deletes every key of b that starts with p.
func deletePrefix(b kvBucket, p []byte) error {
	c := b.Cursor()
	for k, _ := c.Seek(p); k != nil && bytes.HasPrefix(k, p); k, _ = c.Seek(p) {
		if err := c.Delete(); err != nil {
			return err
		}
	}
	return nil
}
