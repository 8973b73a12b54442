package tenant

import (
	"errors"
	"fmt"

	"github.com/tenantdesk/tenantdesk/store"
)

// A secret is bound to the host it is sent to (SPEC §15). An edit form or
// a client never holds the stored api.key: it shows and sends Mask, which
// means "keep the stored key". The stored key is kept only while api.host
// and connec.host (where it goes as HTTP Basic) stay the ones it was given
// for; a change of either needs the key given again, so nobody can send a
// stored key to a host of their choosing.

// KeepStoredKey puts the stored api.key into c when c carries the Mask,
// and says why it cannot. c must be normalized.
func KeepStoredKey(tx *store.Tx, c *Config) *Problem {
	if c.API.Key != Mask {
		return nil
	}
	old, err := GetTx(tx, c.Key)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return &Problem{Field: "api.key", Message: "required (a new tenant has no stored key to keep)"}
	case err != nil:
		return &Problem{Field: "api.key", Message: fmt.Sprintf("the stored key cannot be read: %v", err)}
	case old.API.KeyLocked:
		return &Problem{Field: "api.key", Message: "the stored key is sealed with a key that is not available here: give api.key again"}
	case old.API.Key == "":
		return &Problem{Field: "api.key", Message: "required (none is stored)"}
	case old.API.Host != c.API.Host:
		return &Problem{Field: "api.key", Message: fmt.Sprintf("api.host changed from %s: the stored key is bound to the host it was given for; give api.key again", old.API.Host)}
	case old.Connec.Host != c.Connec.Host:
		return &Problem{Field: "api.key", Message: fmt.Sprintf("connec.host changed from %q: the stored key is bound to the host it was given for; give api.key again", old.Connec.Host)}
	}
	c.API.Key = old.API.Key
	return nil
}

// Masked is c as an answer may carry it: the stored key replaced by Mask,
// which a save reads as "keep" (KeepStoredKey).
func (c Config) Masked() Config {
	if c.API.Key != "" {
		c.API.Key = Mask
	}
	return c
}
