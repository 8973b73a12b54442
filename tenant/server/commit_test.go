package server_test

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"testing"

	"github.com/tenantdesk/tenantdesk/store"
	"github.com/tenantdesk/tenantdesk/tenant/server"
)

// Concurrent writes share commits, yet each caller learns its own outcome:
// a failing or panicking write fails alone and leaves nothing behind, the
// others are all committed when their call returns.
func TestGroupCommitIsolatesFailures(t *testing.T) {
	e := newEnv(t)
	s := server.New(e.db, publicURL, slog.New(slog.DiscardHandler))
	const n = 300
	errBad := errors.New("bad write")
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = server.WriteForTest(s, func(tx *store.Tx) error {
				if err := tx.PutGroup(store.Group{Tenant: "acme", UID: fmt.Sprintf("cld-%d", i)}); err != nil {
					return err
				}
				switch i % 50 {
				case 7:
					return errBad
				case 13:
					panic("boom")
				}
				return nil
			})
			if errs[i] == nil {
				// Committed before the call returned: visible to a new reader.
				e.view(func(tx *store.Tx) error {
					_, err := tx.Group("acme", fmt.Sprintf("cld-%d", i))
					return err
				})
			}
		}()
	}
	wg.Wait()
	var groups []store.Group
	e.view(func(tx *store.Tx) (err error) {
		groups, err = tx.Groups("acme")
		return err
	})
	have := map[string]bool{}
	for _, g := range groups {
		have[g.UID] = true
	}
	for i, err := range errs {
		uid := fmt.Sprintf("cld-%d", i)
		switch i % 50 {
		case 7:
			if !errors.Is(err, errBad) || have[uid] {
				t.Errorf("write %d: err %v, stored %v; want its own error and nothing stored", i, err, have[uid])
			}
		case 13:
			if err == nil || have[uid] {
				t.Errorf("panicking write %d: err %v, stored %v", i, err, have[uid])
			}
		default:
			if err != nil || !have[uid] {
				t.Errorf("write %d: err %v, stored %v", i, err, have[uid])
			}
		}
	}
}
