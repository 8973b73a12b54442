package conformance

import (
	"path/filepath"
	"testing"

	"github.com/tenantdesk/tenantdesk/store"
	"github.com/tenantdesk/tenantdesk/store/etcdtest"
)

var budget = store.DefaultTxBudget

func TestBolt(t *testing.T) {
	Run(t, Backend{
		Open: func(t *testing.T) *store.DB {
			db, err := store.Open(filepath.Join(t.TempDir(), "td.db"), store.Options{NoSync: true, Budget: &budget})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			return db
		},
		Peer: func(t *testing.T, db *store.DB) *store.DB { return db },
	})
}

func TestEtcd(t *testing.T) {
	Run(t, Backend{
		Open: func(t *testing.T) *store.DB { return openEtcd(t, etcdtest.URL(t)) },
		Peer: func(t *testing.T, db *store.DB) *store.DB { return openEtcd(t, db.Path()) },
	})
}

func openEtcd(t *testing.T, url string) *store.DB {
	db, err := store.OpenURL(url, store.TLSFiles{}, store.Options{Budget: &budget})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}
