package admin

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/tenantdesk/tenantdesk/store"
	"github.com/tenantdesk/tenantdesk/tenant"
	"github.com/tenantdesk/tenantdesk/tenant/api"
)

// TenantSummary is one line of the tenant list.
type TenantSummary struct {
	Key          tenant.Key
	DisplayName  string
	Enabled      bool
	Groups       int       // active (not cancelled) groups
	CertExpiry   time.Time // earliest NotAfter of the IdP certificates; zero when none parses
	Warnings     []string  // certificate close to expiry, expired or unreadable
	LastActivity time.Time // newest activity event of the tenant; zero when none
}

// activityScan bounds how many recent events feed "last activity".
const activityScan = 2000

func (s *Service) registry() *tenant.Registry {
	return &tenant.Registry{DB: s.db, PublicURL: s.PublicURL(), Now: s.now}
}

// Tenants lists every tenant with its warnings, group count and last
// activity, sorted by key.
func (s *Service) Tenants() ([]TenantSummary, error) {
	cfgs, err := s.registry().List()
	if err != nil {
		return nil, fmt.Errorf("list tenants: %w", err)
	}
	now := s.now()
	out := make([]TenantSummary, len(cfgs))
	for i := range cfgs {
		c := &cfgs[i]
		sum := TenantSummary{Key: c.Key, DisplayName: c.DisplayName, Enabled: c.Enabled}
		sum.CertExpiry, sum.Warnings = certificateWarnings(c, now)
		out[i] = sum
	}
	err = s.view("list tenants", func(tx *store.Tx) error {
		for i := range out {
			gs, err := tx.Groups(string(out[i].Key))
			if err != nil {
				return err
			}
			for _, g := range gs {
				if !g.Cancelled {
					out[i].Groups++
				}
			}
		}
		evs, err := tx.RecentEvents(activityScan)
		if err != nil {
			return err
		}
		last := map[string]time.Time{}
		for _, e := range evs {
			if e.At.After(last[e.Tenant]) {
				last[e.Tenant] = e.At
			}
		}
		for i := range out {
			out[i].LastActivity = last[string(out[i].Key)]
		}
		return nil
	})
	return out, err
}

// certificateWarnings gives the earliest certificate expiry and what the
// tenant list should warn about.
func certificateWarnings(c *tenant.Config, now time.Time) (time.Time, []string) {
	certs, err := c.Certificates()
	if err != nil {
		return time.Time{}, []string{"IdP certificate unreadable: " + err.Error()}
	}
	var earliest time.Time
	var warns []string
	for _, cert := range certs {
		if earliest.IsZero() || cert.NotAfter.Before(earliest) {
			earliest = cert.NotAfter
		}
	}
	switch left := earliest.Sub(now); {
	case left < 0:
		warns = append(warns, "IdP certificate expired on "+earliest.UTC().Format(time.DateOnly))
	case left < tenant.CertWarningWindow:
		warns = append(warns, fmt.Sprintf("IdP certificate expires on %s (in %d days)",
			earliest.UTC().Format(time.DateOnly), DaysLeft(left)))
	}
	return earliest, warns
}

// DaysLeft counts started days: 9 days and 23 hours left is "10 days".
func DaysLeft(d time.Duration) int { return int(math.Ceil(d.Hours() / 24)) }

// Tenant reads one configuration for the edit form, its api.key masked:
// no answer carries a secret (SPEC §15). The form sends the mask back to
// keep the stored key (tenant.KeepStoredKey).
func (s *Service) Tenant(key tenant.Key) (tenant.Config, error) {
	c, err := s.registry().Get(key)
	if err != nil {
		return tenant.Config{}, err
	}
	return c.Masked(), nil
}

// ValidateTenant normalizes a copy of c and reports every problem, as a
// save would.
func (s *Service) ValidateTenant(c tenant.Config) tenant.Problems {
	c.Normalize()
	kept := s.keepStoredKey(&c)
	p := c.Validate(s.now(), s.PublicURL())
	if kept != nil {
		p.Errors = append(slices.DeleteFunc(p.Errors, func(e tenant.Problem) bool { return e.Field == "api.key" }), *kept)
	}
	return p
}

// keepStoredKey resolves a masked api.key to the stored one (c is
// normalized), or says why the key must be given again.
func (s *Service) keepStoredKey(c *tenant.Config) *tenant.Problem {
	var p *tenant.Problem
	if err := s.db.View(func(tx *store.Tx) error {
		p = tenant.KeepStoredKey(tx, c)
		return nil
	}); err != nil {
		return &tenant.Problem{Field: "api.key", Message: err.Error()}
	}
	return p
}

// ErrTenantExists is returned when a new tenant reuses a key.
var ErrTenantExists = errors.New("a tenant with this key already exists")

// SaveTenant validates and writes a tenant. isNew refuses an existing key
// (keys are immutable: an edit keeps its key). Invalid input returns the
// problems and writes nothing.
func (s *Service) SaveTenant(c tenant.Config, isNew bool) (tenant.Problems, error) {
	p := s.ValidateTenant(c)
	if !p.OK() {
		return p, p.Err()
	}
	c.Normalize()
	if isNew {
		if _, err := s.registry().Get(c.Key); err == nil {
			p.Errors = append(p.Errors, tenant.Problem{Field: "key", Message: "already used by another tenant"})
			return p, fmt.Errorf("save tenant %q: %w", c.Key, ErrTenantExists)
		} else if !errors.Is(err, store.ErrNotFound) {
			return p, err
		}
	}
	if err := s.registry().Save(c); err != nil {
		var ve *tenant.ValidationError
		if errors.As(err, &ve) {
			return ve.Problems, err
		}
		return p, err
	}
	s.log.Info("tenant saved", "tenant", c.Key, "new", isNew)
	return p, nil
}

// SetTenantEnabled enables or disables a tenant: a disabled tenant's
// routes answer 403 and it is left out of billing.
func (s *Service) SetTenantEnabled(key tenant.Key, enabled bool) error {
	c, err := s.Tenant(key)
	if err != nil {
		return err
	}
	c.Enabled = enabled
	if err := s.registry().Save(c); err != nil {
		return fmt.Errorf("enable tenant %q: %w", key, err)
	}
	return nil
}

// RemoveTenant deletes a tenant's configuration; its records stay, orphaned.
func (s *Service) RemoveTenant(key tenant.Key) error {
	if err := s.registry().Remove(key); err != nil {
		return err
	}
	s.log.Info("tenant removed", "tenant", key)
	return nil
}

// ImportTenants adds or updates tenants from a marketplaces document, all
// or nothing. The error is a *tenant.ImportError listing every problem.
func (s *Service) ImportTenants(data []byte) ([]tenant.Key, error) {
	res, err := s.importDocument("", data)
	if err != nil {
		return nil, err
	}
	return res.Keys(), nil
}

// TestConnection calls the tenant's API with its credentials (GET ping) and
// says what happened. It takes the configuration as edited, so a form can
// be tested before it is saved.
func (s *Service) TestConnection(ctx context.Context, c tenant.Config) (string, error) {
	c.Normalize()
	if p := s.keepStoredKey(&c); p != nil {
		return "", fmt.Errorf("test connection: %s: %s", p.Field, p.Message)
	}
	client := api.New(&c, s.client)
	if client.BaseURL() == "" {
		return "", fmt.Errorf("test connection: api.host %q is not a usable URL", c.API.Host)
	}
	start := s.now()
	if err := client.Ping(ctx); err != nil {
		return "", fmt.Errorf("test connection to %s: %w", client.BaseURL(), err)
	}
	return fmt.Sprintf("Connected to %s as %s in %d ms.", client.BaseURL(), c.API.ID, s.now().Sub(start).Milliseconds()), nil
}

// RegistrationURL is one URL to register with a tenant.
type RegistrationURL struct {
	Label  string
	Method string
	URL    string
	// Registered marks a path the tenant registered on the developer
	// platform: what the hub calls. Alternative marks our /mno-enterprise/
	// URL of a route that has a registered one: it answers too.
	Registered, Alternative bool
}

// RegistrationURLs lists the URLs to register with the marketplace for a
// stored tenant: the registered paths first (SPEC §4, what the hub will
// call), then every route's /mno-enterprise/ URL under the public URL,
// those of registered routes marked as alternatives. All of them come
// from the route table. An unknown key lists the /mno-enterprise/ URLs.
func (s *Service) RegistrationURLs(key tenant.Key) []RegistrationURL {
	pub := s.PublicURL()
	cfg, err := s.Tenant(key)
	var registered, own []RegistrationURL
	for _, r := range tenant.Routes() {
		u := RegistrationURL{Label: r.Label(), Method: r.Method(), URL: r.URL(pub, key)}
		if err == nil {
			if reg := r.RegisteredURL(&cfg, pub); reg != "" {
				registered = append(registered, RegistrationURL{Label: r.Label(), Method: r.Method(), URL: reg, Registered: true})
				u.Alternative = true
			}
		}
		own = append(own, u)
	}
	return append(registered, own...)
}
