package admin

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/tenantdesk/tenantdesk/store"
	"github.com/tenantdesk/tenantdesk/tenant"
	"github.com/tenantdesk/tenantdesk/tenant/devpl"
	"github.com/tenantdesk/tenantdesk/tenant/settings"
)

// ImportResult says what an import (a file or a developer-platform sync)
// changed. Keys are sorted.
type ImportResult struct {
	Source    string // the file name, or the developer platform's origin
	Added     []tenant.Key
	Updated   []tenant.Key
	Unchanged []tenant.Key
}

// Keys is every key of the document, sorted.
func (r ImportResult) Keys() []tenant.Key {
	keys := make([]tenant.Key, 0, len(r.Added)+len(r.Updated)+len(r.Unchanged))
	keys = append(append(append(keys, r.Added...), r.Updated...), r.Unchanged...)
	sortKeys(keys)
	return keys
}

// Changed reports whether anything was written.
func (r ImportResult) Changed() bool { return len(r.Added)+len(r.Updated) > 0 }

// Summary is one line: "2 added (a, b), 1 updated (c), 0 unchanged".
func (r ImportResult) Summary() string {
	part := func(n string, keys []tenant.Key) string {
		if len(keys) == 0 {
			return "0 " + n
		}
		s := make([]string, len(keys))
		for i, k := range keys {
			s[i] = string(k)
		}
		return fmt.Sprintf("%d %s (%s)", len(keys), n, strings.Join(s, ", "))
	}
	return part("added", r.Added) + ", " + part("updated", r.Updated) + ", " + part("unchanged", r.Unchanged)
}

func sortKeys(k []tenant.Key) { sort.Slice(k, func(i, j int) bool { return k[i] < k[j] }) }

// importDocument is the one import path of a marketplaces document, file
// or developer platform: parse and check every marketplace, then write
// them all in one transaction, or nothing. A tenant already stored keeps
// the settings that are Tenantdesk's own where the document is silent
// (tenant.ParseImportOver).
func (s *Service) importDocument(source string, data []byte) (ImportResult, error) {
	stored, err := s.registry().List()
	if err != nil {
		return ImportResult{}, fmt.Errorf("import: %w", err)
	}
	byKey := make(map[tenant.Key]*tenant.Config, len(stored))
	for i := range stored {
		byKey[stored[i].Key] = &stored[i]
	}
	cfgs, err := tenant.ParseImportOver(data, s.now(), s.PublicURL(), func(k tenant.Key) *tenant.Config { return byKey[k] })
	if err != nil {
		return ImportResult{}, err
	}
	ch, err := s.registry().SaveAllChanges(cfgs)
	if err != nil {
		return ImportResult{}, err
	}
	res := ImportResult{Source: source, Added: ch.Added, Updated: ch.Updated, Unchanged: ch.Unchanged}
	sortKeys(res.Added)
	sortKeys(res.Updated)
	sortKeys(res.Unchanged)
	return res, nil
}

// ImportTenantsFrom is ImportTenants saying what changed; source names
// the document in the result.
func (s *Service) ImportTenantsFrom(source string, data []byte) (ImportResult, error) {
	return s.importDocument(source, data)
}

// DevPlatform is the developer-platform configuration in force: the
// environment (MNO_DEVPL_*) over the stored devpl-* settings over the
// defaults, as tenant/settings resolves it. Its secret is a
// tenant.Secret: it prints masked.
func (s *Service) DevPlatform() (devpl.Config, error) {
	env := func(name string) string { v, _ := s.getenv(name); return v }
	r, _ := settings.Resolve(s.storedSettings(), settings.Overrides{Getenv: env})
	return r.Devpl()
}

// storedSettings reads the settings kept in the data file (a test may
// stand in for them with s.settings); a read error is logged and reads as
// none.
func (s *Service) storedSettings() map[settings.Key]string {
	if s.settings != nil {
		out := map[settings.Key]string{}
		for _, d := range settings.Defs {
			if v, ok := s.settings(string(d.Key)); ok {
				out[d.Key] = v
			}
		}
		return out
	}
	var stored map[settings.Key]string
	if err := s.db.View(func(tx *store.Tx) (err error) {
		stored, err = settings.Stored(tx)
		return err
	}); err != nil {
		s.log.Warn("read settings", "err", err)
	}
	return stored
}

// SyncTenants fetches the marketplaces document from the developer
// platform and imports it exactly as a file, all or nothing. A refused
// secret, an "error" answer, a document without "marketplaces", an
// unreachable host or an invalid marketplace change nothing; the error
// names the host, never the secret. What changed is logged and goes to the
// activity log.
func (s *Service) SyncTenants(ctx context.Context) (ImportResult, error) {
	cfg, err := s.DevPlatform()
	if err != nil {
		return ImportResult{}, fmt.Errorf("developer platform: %w", err)
	}
	res, err := s.syncWith(ctx, cfg)
	s.recordSync(cfg, res, err)
	return res, err
}

func (s *Service) syncWith(ctx context.Context, cfg devpl.Config) (ImportResult, error) {
	origin := cfg.Origin()
	client := devpl.Client{Config: cfg, HTTP: s.client}
	data, err := client.Fetch(ctx)
	if err != nil {
		return ImportResult{}, err
	}
	res, err := s.importDocument(origin, data)
	if err != nil {
		// The import's problems name fields, not the secret; say where
		// the document came from.
		return ImportResult{}, fmt.Errorf("developer platform %s: nothing imported: %w", origin, err)
	}
	return res, nil
}

// recordSync logs a sync and writes it to the activity log. An unchanged
// sync is logged at debug level only, so an hourly re-sync does not fill
// the activity log with nothing.
func (s *Service) recordSync(cfg devpl.Config, res ImportResult, syncErr error) {
	ev := store.Event{At: s.now(), Kind: store.EventDevPlatform}
	switch {
	case syncErr != nil:
		s.log.Warn("developer-platform sync failed", "host", cfg.Origin(), "err", syncErr)
		ev.Outcome, ev.Message = "failed", cfg.EnvSecret.RedactText(syncErr.Error())
	case res.Changed():
		s.log.Info("developer-platform sync", "host", cfg.Origin(), "added", res.Added, "updated", res.Updated, "unchanged", len(res.Unchanged))
		ev.Outcome, ev.Message = "ok", "sync from "+cfg.Origin()+": "+res.Summary()
	default:
		s.log.Debug("developer-platform sync: nothing changed", "host", cfg.Origin(), "unchanged", len(res.Unchanged))
		return
	}
	if err := s.db.Update(func(tx *store.Tx) error { _, err := tx.AppendEvent(ev); return err }); err != nil {
		s.log.Error("record developer-platform sync", "err", err)
	}
}

// runDevPlatformSync re-syncs every devpl-refresh until ctx ends (a part
// of RunBackground): at once when it is set, then on each tick. The
// configuration is read again before each tick, so a devpl-refresh saved
// in the settings while the process runs turns the re-sync on, off or to
// a new interval within a minute, without a restart. A refresh that does
// not parse at start is an error; later it is logged and the last good
// one kept.
func (s *Service) runDevPlatformSync(ctx context.Context) error {
	cfg, err := s.DevPlatform()
	if err != nil {
		return fmt.Errorf("developer-platform re-sync: %w", err)
	}
	warned := false
	every := func(c devpl.Config) time.Duration {
		if c.Refresh < s.minRefresh {
			if !warned {
				warned = true
				s.log.Warn("developer-platform re-sync interval raised to the minimum", "asked", c.Refresh, "every", s.minRefresh)
			}
			return s.minRefresh
		}
		return c.Refresh
	}
	wait := func(d time.Duration) bool {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return false
		case <-t.C:
			return true
		}
	}
	on := false
	var last time.Time
	for {
		switch {
		case cfg.Refresh > 0 && !on:
			on = true
			s.log.Info("developer-platform re-sync on", "host", cfg.Origin(), "every", every(cfg))
		case cfg.Refresh <= 0 && on:
			on = false
			s.log.Info("developer-platform re-sync off")
		}
		if on && (last.IsZero() || time.Since(last) >= every(cfg)) {
			last = time.Now()
			if _, err := s.SyncTenants(ctx); err != nil && ctx.Err() != nil {
				return nil
			}
		}
		// Sleep until the next sync, but look at the settings at least
		// once every minRefresh.
		next := s.minRefresh
		if on {
			next = min(next, max(every(cfg)-time.Since(last), 0))
		}
		if !wait(next) {
			return nil
		}
		if c, err := s.DevPlatform(); err == nil {
			cfg = c
		} else {
			s.log.Warn("developer-platform re-sync: settings", "err", err)
		}
	}
}
