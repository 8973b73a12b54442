package server

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"

	"github.com/tenantdesk/tenantdesk/store"
	"github.com/tenantdesk/tenantdesk/tenant"
)

// tenantEntry is a decoded tenant with what every request of it needs
// precomputed: the credential digests and the metadata document.
type tenantEntry struct {
	key      tenant.Key
	raw      []byte // the stored config document this entry was decoded from
	cfg      *tenant.Config
	idSum    [sha256.Size]byte
	keySum   [sha256.Size]byte
	hasCreds bool
	metadata []byte
}

// tenantCache keeps decoded tenants. Every request still reads the stored
// tenant (so a removed or disabled tenant takes effect at once), but only
// decodes and re-derives it when the stored document changed.
type tenantCache struct {
	publicURL string
	mu        sync.RWMutex
	entries   map[tenant.Key]*tenantEntry
}

var (
	errUnknownTenant = &httpError{status: http.StatusNotFound, msg: "unknown tenant"}
	errTenantOff     = &httpError{status: http.StatusForbidden, msg: "tenant disabled"}
	errCredentials   = &httpError{status: http.StatusUnauthorized, msg: "Invalid credentials"}
	errEncodedPath   = &httpError{status: http.StatusBadRequest, msg: "encoded characters are not allowed in the path"}
)

// lookup returns the tenant of key as stored now. The read happens in its
// own short transaction; the entry is immutable once built.
func (c *tenantCache) lookup(db *store.DB, key tenant.Key) (*tenantEntry, error) {
	var (
		e   *tenantEntry
		err error
	)
	verr := db.View(func(tx *store.Tx) error {
		t, terr := tx.Tenant(string(key))
		if terr != nil {
			return terr
		}
		c.mu.RLock()
		cached := c.entries[key]
		c.mu.RUnlock()
		if cached != nil && bytes.Equal(cached.raw, t.Config) {
			e = cached
			return nil
		}
		e, err = c.build(t)
		return nil
	})
	switch {
	case errors.Is(verr, store.ErrNotFound):
		c.mu.Lock()
		delete(c.entries, key) // removed: forget its credentials too
		c.mu.Unlock()
		return nil, errUnknownTenant
	case verr != nil:
		return nil, fmt.Errorf("read tenant %q: %w", key, verr)
	case err != nil:
		return nil, err
	}
	return e, nil
}

func (c *tenantCache) build(t store.Tenant) (*tenantEntry, error) {
	cfg, err := tenant.FromStored(t)
	if err != nil {
		return nil, err
	}
	md, err := json.Marshal(cfg.Metadata(c.publicURL))
	if err != nil {
		return nil, fmt.Errorf("encode metadata of tenant %q: %w", t.Key, err)
	}
	e := &tenantEntry{
		key:      cfg.Key,
		raw:      append([]byte(nil), t.Config...),
		cfg:      cfg,
		idSum:    sha256.Sum256([]byte(cfg.API.ID)),
		keySum:   sha256.Sum256([]byte(cfg.API.Key.Reveal())),
		hasCreds: cfg.API.ID != "" && cfg.API.Key != "",
		metadata: md,
	}
	c.mu.Lock()
	if c.entries == nil {
		c.entries = map[tenant.Key]*tenantEntry{}
	}
	c.entries[e.key] = e
	c.mu.Unlock()
	return e, nil
}

// authenticate checks HTTP Basic credentials against the tenant's api.id
// and api.key in constant time. Both sides are hashed first so that the
// comparison leaks neither value nor length, and both comparisons always
// run.
func (e *tenantEntry) authenticate(r *http.Request) bool {
	user, pass, ok := r.BasicAuth()
	u := sha256.Sum256([]byte(user))
	p := sha256.Sum256([]byte(pass))
	match := subtle.ConstantTimeCompare(u[:], e.idSum[:]) & subtle.ConstantTimeCompare(p[:], e.keySum[:])
	return ok && e.hasCreds && match == 1
}
