package billing

import (
	"context"
	"errors"
	"testing"

	"github.com/tenantdesk/tenantdesk/store"
	"github.com/tenantdesk/tenantdesk/store/etcdtest"
	"github.com/tenantdesk/tenantdesk/tenant/api/apitest"
)

// On etcd (SPEC §14) a run refuses while another replica holds the billing
// lock, and runs on two replicas' handles bill each group once.
func TestRunOnEtcdAcrossReplicas(t *testing.T) {
	url := etcdtest.URL(t)
	open := func() *store.DB {
		db, err := store.OpenURL(url, store.TLSFiles{}, store.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}
	here, there := open(), open()
	f := apitest.NewAccountAPI(t, nil)
	addTenant(t, here, f, "acme", true, 4900)
	billed := addGroups(t, here, "acme", 8)
	period := mustPeriod(t, "2026-11")

	other, err := there.TryLock(store.LockBilling)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Run(context.Background(), here, Options{Period: period}); !errors.Is(err, ErrRunInProgress) {
		t.Fatalf("run while another replica bills: %v, want ErrRunInProgress", err)
	}
	other.Unlock()
	sum, err := Run(context.Background(), here, Options{Period: period})
	if err != nil || sum.Submitted != len(billed) {
		t.Fatalf("run: %+v, %v", sum, err)
	}
	sum, err = Run(context.Background(), there, Options{Period: period})
	if err != nil || sum.Submitted != 0 || sum.Skipped != len(billed) {
		t.Fatalf("run on the other replica: %+v, %v", sum, err)
	}
	f.ExactlyOne(t, billed)
}
