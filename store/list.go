package store

// Users lists the users of a tenant ("" = every tenant), in key order.
func (tx *Tx) Users(tenant string) ([]User, error) {
	return decodeAll[User](tx.bucket(bucketUsers), tenantPrefix(tenant))
}

// Memberships lists the memberships of a tenant ("" = every tenant).
func (tx *Tx) Memberships(tenant string) ([]Membership, error) {
	return decodeAll[Membership](tx.bucket(bucketMemberships), tenantPrefix(tenant))
}

// tenantPrefix is the key prefix of one tenant's records, nil for all.
func tenantPrefix(tenant string) []byte {
	if tenant == "" {
		return nil
	}
	return prefix(tenant)
}
