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
	sealed   string // and its sealed api.key (a new key is a new sealed value)
	cfg      *tenant.Config
	idSum    [sha256.Size]byte
	keySum   [sha256.Size]byte
	hasCreds bool
	metadata []byte
}

// tenantCache keeps decoded tenants. A request uses the cached entry while
// nothing has been committed since it was last checked against the store
// (the file's generation has not moved), so a removed or disabled tenant
// takes effect at once; otherwise it reads the stored tenant again, and
// decodes and re-derives it only when the stored document changed.
// Decoding the stored tenant on every request was the largest cost of a
// webhook outside its transaction.
type tenantCache struct {
	publicURL string
	mu        sync.RWMutex
	entries   map[tenant.Key]cachedTenant
}

// cachedTenant is an entry and the generation at which it was last known
// to match the store.
type cachedTenant struct {
	entry      *tenantEntry
	generation uint64
}

var (
	errUnknownTenant = &httpError{status: http.StatusNotFound, msg: "unknown tenant"}
	errTenantOff     = &httpError{status: http.StatusForbidden, msg: "tenant disabled"}
	errCredentials   = &httpError{status: http.StatusUnauthorized, msg: "Invalid credentials"}
	errEncodedPath   = &httpError{status: http.StatusBadRequest, msg: "encoded characters are not allowed in the path"}
)

// lookup returns the tenant of key as stored now: the cached entry when
// nothing was committed since it was checked, else read in a short
// transaction of its own. An entry is immutable once built.
func (c *tenantCache) lookup(db *store.DB, key tenant.Key) (*tenantEntry, error) {
	// Read before the tenant: the transaction below sees this generation
	// or a later one, so an entry stamped with it is never newer than
	// what it was checked against.
	generation := db.Generation()
	c.mu.RLock()
	cached, ok := c.entries[key]
	c.mu.RUnlock()
	if ok && cached.generation == generation {
		return cached.entry, nil
	}
	var (
		e   *tenantEntry
		err error
	)
	verr := db.View(func(tx *store.Tx) error {
		t, terr := tx.Tenant(string(key))
		if terr != nil {
			return terr
		}
		if ok && bytes.Equal(cached.entry.raw, t.Config) && cached.entry.sealed == t.Sealed[tenant.SecretAPIKey] {
			e = cached.entry
			c.remember(e, generation)
			return nil
		}
		e, err = c.build(t)
		if err == nil {
			c.remember(e, generation)
		}
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
	return &tenantEntry{
		key:      cfg.Key,
		raw:      append([]byte(nil), t.Config...),
		sealed:   t.Sealed[tenant.SecretAPIKey],
		cfg:      cfg,
		idSum:    sha256.Sum256([]byte(cfg.API.ID)),
		keySum:   sha256.Sum256([]byte(cfg.API.Key.Reveal())),
		hasCreds: cfg.API.ID != "" && cfg.API.Key != "",
		metadata: md,
	}, nil
}

// remember caches e as matching the store at generation. A concurrent
// lookup may have stamped a later generation meanwhile; the later one stays.
func (c *tenantCache) remember(e *tenantEntry, generation uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil {
		c.entries = map[tenant.Key]cachedTenant{}
	}
	if old, ok := c.entries[e.key]; ok && old.generation > generation {
		return
	}
	c.entries[e.key] = cachedTenant{entry: e, generation: generation}
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
