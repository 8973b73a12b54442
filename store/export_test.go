package store

// PutTenantSealed writes t as it is, its Sealed values unchanged: what a
// file edited by hand (a sealed value moved to another record) holds.
func (tx *Tx) PutTenantSealed(t Tenant) error {
	return put(tx.bucket(bucketTenants), key(t.Key), t)
}
