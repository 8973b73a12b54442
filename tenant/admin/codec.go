package admin

import (
	"time"

	"github.com/tenantdesk/tenantdesk/store"
	"github.com/tenantdesk/tenantdesk/tenant"
)

// storedTenant is the store document for a configuration (demo data writes
// it inside its own transaction; everything else goes through Registry).
func storedTenant(cfg tenant.Config, now, created time.Time) (store.Tenant, error) {
	b, err := cfg.MarshalStored()
	if err != nil {
		return store.Tenant{}, err
	}
	if created.IsZero() {
		created = now
	}
	return store.Tenant{Key: string(cfg.Key), Config: b, CreatedAt: created, UpdatedAt: now}, nil
}
