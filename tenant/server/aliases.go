package server

import (
	"crypto/sha256"
	"fmt"
	"net/http"
	"sync"

	"github.com/tenantdesk/tenantdesk/store"
	"github.com/tenantdesk/tenantdesk/tenant"
)

// aliasTable keeps the registered paths of every tenant (SPEC §3.2, §4),
// rebuilt when a stored tenant document changes. Every lookup reads the
// stored tenants in one short read transaction, so an import or removal
// takes effect on the next request, as it does on the /mno-enterprise/
// routes.
type aliasTable struct {
	mu      sync.Mutex
	sum     [sha256.Size]byte
	aliases []tenant.Alias
}

func (t *aliasTable) current(db *store.DB) ([]tenant.Alias, error) {
	var docs []store.Tenant
	if err := db.View(func(tx *store.Tx) error {
		var err error
		docs, err = tx.Tenants()
		return err
	}); err != nil {
		return nil, fmt.Errorf("read tenants: %w", err)
	}
	h := sha256.New()
	for _, d := range docs {
		h.Write([]byte(d.Key))
		h.Write([]byte{0})
		h.Write(d.Config)
		h.Write([]byte{0})
	}
	var sum [sha256.Size]byte
	h.Sum(sum[:0])

	t.mu.Lock()
	defer t.mu.Unlock()
	if sum == t.sum && t.aliases != nil {
		return t.aliases, nil
	}
	cs := make([]tenant.Config, 0, len(docs))
	for _, d := range docs {
		if c, err := tenant.FromStored(d); err == nil {
			cs = append(cs, *c)
		}
	}
	t.sum, t.aliases = sum, tenant.Aliases(cs)
	if t.aliases == nil {
		t.aliases = []tenant.Alias{}
	}
	return t.aliases, nil
}

var (
	errNoRoute  = &httpError{status: http.StatusNotFound, msg: "not found"}
	errNoMethod = &httpError{status: http.StatusMethodNotAllowed, msg: "method not allowed"}
)

// registered serves every path no /mno-enterprise/ route took: a tenant's
// registered path is answered by the route it stands for, with the tenant
// and the placeholders set as the route's own pattern would set them.
func (s *Server) registered(routes map[tenant.Route]http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		aliases, err := s.aliases.current(s.db)
		if err != nil {
			s.fail(w, r, nil, err)
			return
		}
		q := r.URL.Query()
		var other bool
		for _, a := range aliases {
			vals, ok := a.Match(r.URL.Path, q)
			if !ok {
				continue
			}
			if a.Method() != r.Method {
				other = true
				continue
			}
			r.SetPathValue("tenant", string(a.Key))
			for k, v := range vals {
				r.SetPathValue(k, v)
			}
			r.Pattern = a.Method() + " " + a.Path
			routes[a.Route].ServeHTTP(w, r)
			return
		}
		if other {
			s.fail(w, r, nil, errNoMethod)
			return
		}
		s.fail(w, r, nil, errNoRoute)
	})
}
