package admin

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/tenantdesk/tenantdesk/tenant/settings"
)

// ResolvedSettings is every setting after precedence (flag > environment
// > stored > default), secrets included: for wiring inside this process
// (listener, developer-platform sync), never for display or transport.
func (s *Service) ResolvedSettings() (settings.Resolved, error) {
	return settings.Load(s.db, s.overrides)
}

// Settings lists every setting with where its value comes from, secrets
// masked: what `tenantdesk settings` prints and the GUI shows.
func (s *Service) Settings() ([]settings.Value, error) {
	r, err := s.ResolvedSettings()
	if err != nil {
		return nil, err
	}
	all := r.All()
	for i := range all {
		all[i] = all[i].Masked()
	}
	return all, nil
}

// Setting is one setting as Settings shows it.
func (s *Service) Setting(key string) (settings.Value, error) {
	if _, err := settings.Lookup(key); err != nil {
		return settings.Value{}, err
	}
	r, err := s.ResolvedSettings()
	if err != nil {
		return settings.Value{}, err
	}
	return r.Value(settings.Key(key)).Masked(), nil
}

// SetSetting validates and stores one setting (see SaveSettings).
func (s *Service) SetSetting(key, value string) error {
	return s.SaveSettings([]settings.Change{{Key: settings.Key(key), Value: value}})
}

// UnsetSetting removes one stored setting, so the default (or a flag or
// variable) applies again.
func (s *Service) UnsetSetting(key string) error {
	return s.SaveSettings([]settings.Change{{Key: settings.Key(key), Unset: true}})
}

// SaveSettings validates every change and writes them all or none. When
// the effective listener address or public URL changes, this process
// applies it: a stopped listener starts on the new values next time, a
// running one is restarted on them now.
func (s *Service) SaveSettings(changes []settings.Change) error {
	if err := settings.Apply(s.db, changes, s.now()); err != nil {
		return err
	}
	listenerTouched := false
	for _, c := range changes {
		s.log.Info("setting changed", "key", string(c.Key), "unset", c.Unset)
		switch c.Key {
		case settings.Addr, settings.PublicURL, settings.TLSCert, settings.TLSKey, settings.TrustedProxies:
			listenerTouched = true
		}
	}
	if !listenerTouched {
		return nil
	}
	return s.applyListenerSettings()
}

// applyListenerSettings brings the listener's address, public URL, TLS
// files and trusted proxies in line with the resolved settings,
// restarting it when it runs. A value that does not resolve (a bad flag or
// variable, a lone tls-cert) leaves the listener as it is; the Settings
// list names the problem.
func (s *Service) applyListenerSettings() error {
	r, err := s.ResolvedSettings()
	if err != nil {
		return err
	}
	for _, k := range []settings.Key{settings.Addr, settings.PublicURL, settings.TLSCert, settings.TLSKey, settings.TrustedProxies} {
		if r.Value(k).Problem != "" {
			return nil
		}
	}
	addr, publicURL := r.Addr(), r.PublicURL()
	cert, key := r.TLSFiles()
	proxies := r.TrustedProxies()
	s.mu.Lock()
	same := addr == s.addr && publicURL == s.publicURL && cert == s.tlsCert && key == s.tlsKey &&
		slices.Equal(proxies, s.trustedProxies)
	st := s.listener.status.State
	running := st == ListenerRunning || st == ListenerStarting
	if !same && !running {
		s.addr, s.publicURL, s.tlsCert, s.tlsKey, s.trustedProxies = addr, publicURL, cert, key, proxies
	}
	s.mu.Unlock()
	if same || !running {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := s.StopListener(ctx); err != nil {
		return fmt.Errorf("restart listener: %w", err)
	}
	s.mu.Lock()
	s.addr, s.publicURL, s.tlsCert, s.tlsKey, s.trustedProxies = addr, publicURL, cert, key, proxies
	s.mu.Unlock()
	return s.StartListener()
}

// RestartListener stops the running listener (letting in-flight requests
// finish) and starts it on addr and publicURL.
func (s *Service) RestartListener(addr, publicURL string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := s.StopListener(ctx); err != nil {
		return fmt.Errorf("restart listener: %w", err)
	}
	if err := s.SetListenerAddress(addr, publicURL); err != nil {
		return err
	}
	return s.StartListener()
}
