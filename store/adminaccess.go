package store

import "fmt"

// The remote admin address's credentials, kept in the data file so that
// they move with it (a backup restores them) and no other file holds them.
const (
	AdminTokenHash = "token-sha256" // SHA-256 of the bearer token; never the token
	AdminTLSPair   = "tls-pem"      // the admin address's own certificate and key, sealed
)

// AdminAccess reads one credential; ErrNotFound when it is unset.
func (tx *Tx) AdminAccess(name string) ([]byte, error) {
	v := tx.bucket(bucketAdminAccess).Get([]byte(name))
	if v == nil {
		return nil, fmt.Errorf("admin access %s: %w", name, ErrNotFound)
	}
	if sealedAccess[name] {
		plain, err := tx.open(bucketAdminAccess, name, accessSecretField, string(v))
		if err != nil {
			return nil, err
		}
		return []byte(plain), nil
	}
	return append([]byte(nil), v...), nil
}

// PutAdminAccess sets one credential; an empty value deletes it.
func (tx *Tx) PutAdminAccess(name string, value []byte) error {
	b := tx.bucket(bucketAdminAccess)
	if len(value) == 0 {
		return b.Delete([]byte(name))
	}
	if sealedAccess[name] {
		s, err := tx.seal(bucketAdminAccess, name, accessSecretField, string(value))
		if err != nil {
			return fmt.Errorf("admin access %s: %w", name, err)
		}
		value = []byte(s)
	}
	if err := b.Put([]byte(name), value); err != nil {
		return fmt.Errorf("admin access %s: %w", name, err)
	}
	return nil
}
