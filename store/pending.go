package store

import (
	"bytes"
	"encoding/binary"
	"fmt"
)

// A tenant's pending AuthnRequests live under tenant\x00id in
// bucketAuthnRequests; the key tenant\x00 itself (an empty id, which no
// request has) holds how many there are, so the cap costs no scan. Being
// inside the tenant's prefix, the count goes wherever its requests go:
// deleting the prefix deletes both.

func pendingCountKey(tenant string) []byte { return prefix(tenant) }

// isPendingCount reports whether k is a count key rather than a request.
func isPendingCount(k []byte) bool { return len(k) > 0 && k[len(k)-1] == 0 }

func (tx *Tx) pendingCount(tenant string) uint64 {
	v := tx.bucket(bucketAuthnRequests).Get(pendingCountKey(tenant))
	if len(v) != 8 {
		return 0
	}
	return binary.BigEndian.Uint64(v)
}

// addPending moves a tenant's pending count by delta, never below zero
// (a file written before the count existed starts it low).
func (tx *Tx) addPending(tenant string, delta int64) error {
	n := int64(tx.pendingCount(tenant)) + delta
	if n <= 0 {
		return tx.bucket(bucketAuthnRequests).Delete(pendingCountKey(tenant))
	}
	return tx.bucket(bucketAuthnRequests).Put(pendingCountKey(tenant), be64(uint64(n)))
}

// tenantOfRequestKey is the tenant part of a tenant\x00id key.
func tenantOfRequestKey(k []byte) string {
	t, _, _ := bytes.Cut(k, []byte(sep))
	return string(t)
}

// IssueAuthnRequest records an AuthnRequest this tenant issued, keeping at
// most maxPending pending ones per tenant: when the tenant is at the cap,
// the oldest are evicted to make room (their logins fail as if expired).
// Evicting rather than refusing means a flood of initialize calls cannot
// stop real users from starting a login; it can at worst expire requests
// early, and only by issuing maxPending of its own within a user's round
// trip to the IdP. Requests are ordered by their key, so r.ID must sort by
// issue time (sso's request IDs start with the issue time). It returns how
// many requests were evicted.
func (tx *Tx) IssueAuthnRequest(r AuthnRequest, maxPending int) (int, error) {
	if err := checkPart("authn request tenant", r.Tenant, true); err != nil {
		return 0, err
	}
	p := prefix(r.Tenant)
	c := tx.bucket(bucketAuthnRequests).Cursor()
	evicted := 0
	for pending := tx.pendingCount(r.Tenant); maxPending > 0 && pending >= uint64(maxPending); pending-- {
		k, _ := c.Seek(p)
		if k != nil && bytes.Equal(k, p) {
			k, _ = c.Next()
		}
		if k == nil || !bytes.HasPrefix(k, p) {
			break
		}
		if err := c.Delete(); err != nil {
			return evicted, fmt.Errorf("evict authn request: %w", err)
		}
		evicted++
	}
	if err := tx.addPending(r.Tenant, -int64(evicted)); err != nil {
		return evicted, fmt.Errorf("evict authn request: %w", err)
	}
	return evicted, tx.PutAuthnRequest(r)
}

// PendingAuthnRequests lists the pending AuthnRequests of a tenant, or of
// every tenant when tenant is "", in key order (oldest first per tenant).
func (tx *Tx) PendingAuthnRequests(tenant string) ([]AuthnRequest, error) {
	var p []byte
	if tenant != "" {
		p = prefix(tenant)
	}
	var out []AuthnRequest
	c := tx.bucket(bucketAuthnRequests).Cursor()
	for k, v := c.Seek(p); k != nil && bytes.HasPrefix(k, p); k, v = c.Next() {
		if isPendingCount(k) {
			continue
		}
		var r AuthnRequest
		if err := decodeValue(v, &r); err != nil {
			return nil, fmt.Errorf("authn request %q: %w", k, err)
		}
		out = append(out, r)
	}
	return out, nil
}
