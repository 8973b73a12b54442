package admin

import "github.com/tenantdesk/tenantdesk/store"

// EventsAfter returns up to limit activity events newer than seq, oldest
// first; the GUI polls it with the last seq it has shown.
func (s *Service) EventsAfter(seq uint64, limit int) ([]store.Event, error) {
	var evs []store.Event
	err := s.view("read activity", func(tx *store.Tx) error {
		var err error
		evs, err = tx.EventsAfter(seq, limit)
		return err
	})
	return evs, err
}

// RecentEvents returns up to limit of the newest events, newest first.
func (s *Service) RecentEvents(limit int) ([]store.Event, error) {
	var evs []store.Event
	err := s.view("read activity", func(tx *store.Tx) error {
		var err error
		evs, err = tx.RecentEvents(limit)
		return err
	})
	return evs, err
}

// Activity returns up to limit of the newest events of one tenant ("" =
// every tenant), newest first: the `activity` command.
func (s *Service) Activity(tenantKey string, limit int) ([]store.Event, error) {
	var evs []store.Event
	err := s.view("read activity", func(tx *store.Tx) error {
		var err error
		evs, err = tx.RecentEventsOf(tenantKey, limit)
		return err
	})
	return evs, err
}
