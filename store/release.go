package store

import "go.etcd.io/bbolt"

// ReleaseMemory drops the pages of the data file that this process has
// read from its resident memory. They stay in the operating system's page
// cache and come back on the next read, so nothing is lost but RSS: a GUI
// that pages through a million-row identity map calls it after each page
// so that its memory does not grow with the map.
//
// It runs inside a read transaction, which keeps bbolt from remapping the
// file meanwhile, and covers only the pages the database uses, which the
// mapping always holds.
func (db *DB) ReleaseMemory() error {
	if db.etcd != nil {
		return nil // nothing of the store is mapped here
	}
	return db.view(func(btx *bbolt.Tx) error {
		return releaseMapped(db.bolt.Info().Data, btx.Size())
	})
}
