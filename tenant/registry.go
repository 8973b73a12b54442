package tenant

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"time"

	"github.com/tenantdesk/tenantdesk/store"
)

// Registry keeps tenant configurations in the store. Every write is
// validated first; a rejected configuration writes nothing. It is a small
// value: build one where needed, `tenant.Registry{DB: db}.List()`.
type Registry struct {
	DB *store.DB
	// PublicURL is the listener's public base URL, used by validation for
	// the audience default ("" skips that check).
	PublicURL string
	// Now is the clock for certificate checks and timestamps; nil is time.Now.
	Now func() time.Time
}

func (r Registry) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

// FromStored decodes a stored tenant, for code that already holds a
// store.Tx. It does not validate: a certificate may have expired since the
// save, and the listener must still answer with a clear reason.
func FromStored(t store.Tenant) (*Config, error) {
	var c Config
	if err := json.Unmarshal(t.Config, &c); err != nil {
		return nil, fmt.Errorf("decode tenant %q: %w", t.Key, err)
	}
	if string(c.Key) != t.Key {
		return nil, fmt.Errorf("decode tenant %q: document is for %q", t.Key, clip(string(c.Key)))
	}
	// The key comes from the sealed secrets; a document written whole
	// (MarshalStored, as tests write them) keeps its own.
	if k, ok := t.Secrets[SecretAPIKey]; ok {
		c.API.Key = Secret(k)
	}
	if t.SecretsLocked && t.Sealed[SecretAPIKey] != "" {
		c.API.Key, c.API.KeyLocked = "", true
	}
	return &c, nil
}

// SecretAPIKey names api.key among a stored tenant's secrets, which the
// store seals apart from the rest of the configuration.
const SecretAPIKey = "api.key"

// ToStored is the store document of a configuration, FromStored's inverse:
// the only place a Config becomes a store.Tenant (its api.key among the
// Secrets, which the store seals).
func ToStored(c *Config, now time.Time) (store.Tenant, error) {
	b, err := json.Marshal(storedConfig{Config: *c, API: storedAPI{ID: c.API.ID, Host: c.API.Host, Base: c.API.Base}})
	if err != nil {
		return store.Tenant{}, fmt.Errorf("encode tenant %q: %w", c.Key, err)
	}
	t := store.Tenant{Key: string(c.Key), Config: b, CreatedAt: now, UpdatedAt: now}
	if c.API.Key != "" {
		t.Secrets = map[string]string{SecretAPIKey: c.API.Key.Reveal()}
	}
	return t, nil
}

// sameStored reports whether a stored tenant already holds doc: compared
// as this build encodes both, so a file migrated from an older layout
// does not count every tenant as changed.
func sameStored(old, doc store.Tenant) bool {
	c, err := FromStored(old)
	if err != nil || c.API.KeyLocked {
		return false
	}
	again, err := ToStored(c, doc.CreatedAt)
	return err == nil && bytes.Equal(again.Config, doc.Config) && maps.Equal(again.Secrets, doc.Secrets)
}

// GetTx reads one tenant inside a transaction; the error wraps
// store.ErrNotFound for an unknown key.
func GetTx(tx *store.Tx, key Key) (*Config, error) {
	t, err := tx.Tenant(string(key))
	if err != nil {
		return nil, fmt.Errorf("tenant %q: %w", key, err)
	}
	return FromStored(t)
}

// Get reads one tenant; the error wraps store.ErrNotFound for an unknown key.
func (r Registry) Get(key Key) (*Config, error) {
	var c *Config
	err := r.DB.View(func(tx *store.Tx) error {
		var err error
		c, err = GetTx(tx, key)
		return err
	})
	return c, err
}

// List returns every tenant, sorted by key.
func (r Registry) List() ([]Config, error) {
	var out []Config
	err := r.DB.View(func(tx *store.Tx) error {
		ts, err := tx.Tenants()
		if err != nil {
			return fmt.Errorf("list tenants: %w", err)
		}
		out = make([]Config, 0, len(ts))
		for _, t := range ts {
			c, err := FromStored(t)
			if err != nil {
				return err
			}
			out = append(out, *c)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, nil
}

// Save normalizes, validates and writes one tenant (insert or update).
// An invalid configuration returns a *ValidationError and writes nothing.
func (r Registry) Save(c Config) error { return r.SaveAll([]Config{c}) }

// SaveAll validates every configuration, then writes them all in one
// transaction: all or nothing. Validation errors come back as a
// *ImportError naming each tenant.
func (r Registry) SaveAll(cs []Config) error {
	_, err := r.SaveAllChanges(cs)
	return err
}

// Changes says what a save did: the keys it added, the ones it updated and
// the ones whose stored document was already the same (not written again).
// Each list is in the order of the input.
type Changes struct {
	Added, Updated, Unchanged []Key
}

// Changed reports whether the save wrote anything.
func (c Changes) Changed() bool { return len(c.Added)+len(c.Updated) > 0 }

// SaveAllChanges is SaveAll reporting what changed.
func (r Registry) SaveAllChanges(cs []Config) (Changes, error) {
	now := r.now()
	docs := make([]store.Tenant, len(cs))
	normalized := make([]Config, len(cs))
	var problems []Problem
	seen := make(map[Key]int, len(cs))
	kept := make([]*Problem, len(cs))
	for i := range cs {
		normalized[i] = cs[i]
		normalized[i].Normalize()
	}
	if err := r.DB.View(func(tx *store.Tx) error {
		for i := range normalized {
			kept[i] = KeepStoredKey(tx, &normalized[i])
		}
		return nil
	}); err != nil {
		return Changes{}, err
	}
	for i := range normalized {
		c := normalized[i]
		prefix := savePrefix(i, len(cs))
		if j, dup := seen[c.Key]; dup {
			problems = append(problems, Problem{Field: prefix + "key", Message: fmt.Sprintf("%q repeats tenants[%d]", c.Key, j)})
		}
		seen[c.Key] = i
		p := c.Validate(now, r.PublicURL)
		if kept[i] != nil {
			p.Errors = append(slices.DeleteFunc(p.Errors, func(e Problem) bool { return e.Field == "api.key" }), *kept[i])
		}
		if !p.OK() {
			if len(cs) == 1 {
				return Changes{}, &ValidationError{Key: c.Key, Problems: p}
			}
			for _, e := range p.Errors {
				problems = append(problems, Problem{Field: prefix + e.Field, Message: e.Message})
			}
			continue
		}
		doc, err := ToStored(&c, now)
		if err != nil {
			return Changes{}, err
		}
		docs[i] = doc
	}
	if len(problems) > 0 {
		return Changes{}, &ImportError{Problems: problems}
	}
	var ch Changes
	err := r.DB.Update(func(tx *store.Tx) error {
		ch = Changes{}
		if err := checkPathClaims(tx, normalized); err != nil {
			return err
		}
		for _, d := range docs {
			old, err := tx.Tenant(d.Key)
			switch {
			case err == nil && sameStored(old, d):
				ch.Unchanged = append(ch.Unchanged, Key(d.Key))
				continue
			case err == nil:
				d.CreatedAt = old.CreatedAt
				ch.Updated = append(ch.Updated, Key(d.Key))
			case errors.Is(err, store.ErrNotFound):
				ch.Added = append(ch.Added, Key(d.Key))
			default:
				return fmt.Errorf("save tenant %q: %w", d.Key, err)
			}
			if err := tx.PutTenant(d); err != nil {
				return fmt.Errorf("save tenant %q: %w", d.Key, err)
			}
		}
		return nil
	})
	if err != nil {
		return Changes{}, err
	}
	return ch, nil
}

func savePrefix(i, n int) string {
	if n == 1 {
		return ""
	}
	return fmt.Sprintf("tenants[%d].", i)
}

// checkPathClaims refuses registered paths that another tenant, stored or
// saved alongside, already claims (SPEC §3.2). It runs inside the saving
// transaction, so two imports cannot both claim one path.
func checkPathClaims(tx *store.Tx, cs []Config) error {
	saving := make(map[Key]bool, len(cs))
	for _, c := range cs {
		saving[c.Key] = true
	}
	ts, err := tx.Tenants()
	if err != nil {
		return fmt.Errorf("read tenants: %w", err)
	}
	var all []Config
	for _, t := range ts {
		if saving[Key(t.Key)] {
			continue
		}
		if c, err := FromStored(t); err == nil {
			all = append(all, *c)
		}
	}
	stored := len(all)
	all = append(all, cs...)
	probs := PathConflicts(all, func(i int) string {
		if i < stored {
			return "tenant " + string(all[i].Key) + ": "
		}
		return savePrefix(i-stored, len(cs))
	})
	if len(probs) > 0 {
		return &ImportError{Problems: probs}
	}
	return nil
}

// Remove deletes a tenant's configuration. Its users, groups, invoices and
// identity-map rows stay: they are orphaned (see Orphaned) and remain
// visible in exports. Its sessions, pending AuthnRequests and replay
// entries go (SPEC §5): no login survives the tenant, and the key added
// again starts clean. The error wraps store.ErrNotFound for an unknown key.
func (r Registry) Remove(key Key) error {
	return r.DB.Update(func(tx *store.Tx) error {
		if _, err := tx.Tenant(string(key)); err != nil {
			return fmt.Errorf("remove tenant %q: %w", key, err)
		}
		if err := tx.DeleteTenant(string(key)); err != nil {
			return fmt.Errorf("remove tenant %q: %w", key, err)
		}
		if err := tx.ForgetTenantLogins(string(key)); err != nil {
			return fmt.Errorf("remove tenant %q: %w", key, err)
		}
		return nil
	})
}

// Orphaned lists the tenant keys that groups still carry but that have no
// configuration any more (removed tenants), sorted.
func Orphaned(tx *store.Tx) ([]Key, error) {
	ts, err := tx.Tenants()
	if err != nil {
		return nil, fmt.Errorf("orphaned tenants: %w", err)
	}
	known := make(map[string]bool, len(ts))
	for _, t := range ts {
		known[t.Key] = true
	}
	gs, err := tx.Groups("")
	if err != nil {
		return nil, fmt.Errorf("orphaned tenants: %w", err)
	}
	seen := map[string]bool{}
	var out []Key
	for _, g := range gs {
		if g.Tenant != "" && !known[g.Tenant] && !seen[g.Tenant] {
			seen[g.Tenant] = true
			out = append(out, Key(g.Tenant))
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out, nil
}
