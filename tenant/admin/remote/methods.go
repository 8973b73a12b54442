package remote

// The method table and the Client's methods are generated from admin.API
// (api_gen.go, by internal/wiregen): adding an admin method is writing it
// on *admin.Service, adding it to admin.API, and running go generate. This
// file holds what the generator refers to.

//go:generate go run ./internal/wiregen api_gen.go

import (
	"encoding/json"
	"errors"
	"time"

	"github.com/tenantdesk/tenantdesk/store"
	"github.com/tenantdesk/tenantdesk/tenant"
	"github.com/tenantdesk/tenantdesk/tenant/admin"
	"github.com/tenantdesk/tenantdesk/tenant/settings"
)

// config carries a tenant configuration with its api.key: the admin API
// is the vendor's own (same user, or a bearer token over TLS), and the
// edit form needs the key. Everywhere else JSON masks it.
type config struct{ tenant.Config }

func (c config) MarshalJSON() ([]byte, error)  { return c.Config.MarshalStored() }
func (c *config) UnmarshalJSON(b []byte) error { return json.Unmarshal(b, &c.Config) }

// listenerStatus is admin.ListenerStatus with its error as text.
type listenerStatus struct {
	State     admin.ListenerState `json:"state"`
	Addr      string              `json:"addr"`
	PublicURL string              `json:"public_url"`
	Since     time.Time           `json:"since"`
	Err       string              `json:"err,omitempty"`
}

func fromStatus(s admin.ListenerStatus) listenerStatus {
	l := listenerStatus{State: s.State, Addr: s.Addr, PublicURL: s.PublicURL, Since: s.Since}
	if s.Err != nil {
		l.Err = s.Err.Error()
	}
	return l
}

func (l listenerStatus) status() admin.ListenerStatus {
	s := admin.ListenerStatus{State: l.State, Addr: l.Addr, PublicURL: l.PublicURL, Since: l.Since}
	if l.Err != "" {
		s.Err = errors.New(l.Err)
	}
	return s
}

// failedStatus is the listener's status when the server does not answer:
// the status bar then says why.
func failedStatus(_ admin.ListenerStatus, err error) admin.ListenerStatus {
	return admin.ListenerStatus{State: admin.ListenerFailed, Err: err}
}

// problemsOf is a form's problems when the server could not check it: the
// form shows why instead of passing.
func problemsOf(p tenant.Problems, err error) tenant.Problems {
	p.Errors = append(p.Errors, tenant.Problem{Message: err.Error()})
	return p
}

// The methods below are built from others on the client, as *Service
// builds them, so they have no route of their own (wiregen's composed).

// QueryConnected is admin.API's: QueryConnectedAt from the cursor.
func (c *Client) QueryConnected(f admin.IdmapFilter, after string, limit int) ([]store.ConnectedObject, string, error) {
	return c.QueryConnectedAt(f, after, 0, limit)
}

// SetSetting is admin.API's: one change saved.
func (c *Client) SetSetting(k, v string) error {
	return c.SaveSettings([]settings.Change{{Key: settings.Key(k), Value: v}})
}

// UnsetSetting is admin.API's: one removal saved.
func (c *Client) UnsetSetting(k string) error {
	return c.SaveSettings([]settings.Change{{Key: settings.Key(k), Unset: true}})
}
