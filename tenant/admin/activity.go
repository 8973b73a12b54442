package admin

import "github.com/tenantdesk/tenantdesk/store"

// EventsAfter returns up to limit activity events newer than seq, oldest
// first; the GUI polls it with the last seq it has shown.
func (s *Service) EventsAfter(seq uint64, limit int) ([]store.Event, error) {
	return read(s, "read activity", func(tx *store.Tx) ([]store.Event, error) { return tx.EventsAfter(seq, limit) })
}

// RecentEvents returns up to limit of the newest events, newest first.
func (s *Service) RecentEvents(limit int) ([]store.Event, error) {
	return read(s, "read activity", func(tx *store.Tx) ([]store.Event, error) { return tx.RecentEvents(limit) })
}

// Activity returns up to limit of the newest events of one tenant ("" =
// every tenant), newest first: the `activity` command.
func (s *Service) Activity(tenantKey string, limit int) ([]store.Event, error) {
	return read(s, "read activity", func(tx *store.Tx) ([]store.Event, error) { return tx.RecentEventsOf(tenantKey, limit) })
}
