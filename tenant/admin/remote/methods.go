package remote

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"time"

	"github.com/tenantdesk/tenantdesk/store"
	"github.com/tenantdesk/tenantdesk/tenant"
	"github.com/tenantdesk/tenantdesk/tenant/admin"
	"github.com/tenantdesk/tenantdesk/tenant/connec"
	"github.com/tenantdesk/tenantdesk/tenant/devpl"
	"github.com/tenantdesk/tenantdesk/tenant/settings"
)

// methods is the server's table: one line per admin.API method, each the
// mirror of the Client method of the same name below.
var methods = map[string]handler{
	"Tenants": unary(func(_ context.Context, a admin.API, _ none) ([]admin.TenantSummary, error) { return a.Tenants() }),
	"ListTenants": unary(func(_ context.Context, a admin.API, _ none) ([]admin.TenantListing, error) {
		return a.ListTenants()
	}),
	"Tenant": unary(func(_ context.Context, a admin.API, k tenant.Key) (config, error) {
		c, err := a.Tenant(k)
		return config{c}, err
	}),
	"ValidateTenant": unary(func(_ context.Context, a admin.API, c config) (tenant.Problems, error) {
		return a.ValidateTenant(c.Config), nil
	}),
	"SaveTenant": unary(func(_ context.Context, a admin.API, x saveTenantArgs) (tenant.Problems, error) {
		return a.SaveTenant(x.Config.Config, x.New)
	}),
	"SetTenantEnabled": unary(func(_ context.Context, a admin.API, x enableArgs) (none, error) {
		return none{}, a.SetTenantEnabled(x.Key, x.Enabled)
	}),
	"RemoveTenant": unary(func(_ context.Context, a admin.API, k tenant.Key) (none, error) { return none{}, a.RemoveTenant(k) }),
	"ImportTenants": unary(func(_ context.Context, a admin.API, data []byte) ([]tenant.Key, error) {
		return a.ImportTenants(data)
	}),
	"ImportTenantsFrom": unary(func(_ context.Context, a admin.API, x importArgs) (admin.ImportResult, error) {
		return a.ImportTenantsFrom(x.Source, x.Data)
	}),
	"SyncTenants": unary(func(ctx context.Context, a admin.API, _ none) (admin.ImportResult, error) { return a.SyncTenants(ctx) }),
	"DevPlatform": unary(func(_ context.Context, a admin.API, _ none) (devpl.Config, error) { return a.DevPlatform() }),
	"TestConnection": unary(func(ctx context.Context, a admin.API, c config) (string, error) {
		return a.TestConnection(ctx, c.Config)
	}),
	"RegistrationURLs": unary(func(_ context.Context, a admin.API, k tenant.Key) ([]admin.RegistrationURL, error) {
		return a.RegistrationURLs(k), nil
	}),

	"CountConnected": unary(func(ctx context.Context, a admin.API, f admin.IdmapFilter) (int, error) {
		return a.CountConnected(ctx, f)
	}),
	"QueryConnectedAt": unary(func(_ context.Context, a admin.API, x pageArgs) (page, error) {
		rows, next, err := a.QueryConnectedAt(x.Filter, x.After, x.Offset, x.Limit)
		return page{rows, next}, err
	}),
	"SkipConnected": unary(func(_ context.Context, a admin.API, x pageArgs) (skip, error) {
		after, n, err := a.SkipConnected(x.Filter, x.After, x.Offset)
		return skip{after, n}, err
	}),
	"Connected": unary(func(_ context.Context, a admin.API, id uint64) (admin.ConnectedDetail, error) { return a.Connected(id) }),
	"ConnectedByRemote": unary(func(_ context.Context, a admin.API, x remoteIDArgs) (store.ConnectedObject, error) {
		return a.ConnectedByRemote(x.Tenant, x.RemoteID)
	}),
	"ExportConnectedCSV": raw(func(ctx context.Context, a admin.API, f admin.IdmapFilter, w io.Writer) (int, error) {
		return a.ExportConnectedCSV(ctx, f, w)
	}),

	"Invoices": unary(func(_ context.Context, a admin.API, k string) ([]admin.InvoiceRow, error) { return a.Invoices(k) }),
	"Invoice":  unary(func(_ context.Context, a admin.API, id string) (store.Invoice, error) { return a.Invoice(id) }),
	"Groups":   unary(func(_ context.Context, a admin.API, k string) ([]store.Group, error) { return a.Groups(k) }),
	"FailedPushes": unary(func(_ context.Context, a admin.API, _ none) ([]store.OutboxItem, error) {
		return a.FailedPushes()
	}),
	"SaveInvoice": unary(func(_ context.Context, a admin.API, inv store.Invoice) (store.Invoice, error) {
		return a.SaveInvoice(inv)
	}),
	"PushNow":   unary(func(ctx context.Context, a admin.API, id string) (none, error) { return none{}, a.PushNow(ctx, id) }),
	"RetryPush": unary(func(ctx context.Context, a admin.API, id uint64) (none, error) { return none{}, a.RetryPush(ctx, id) }),

	"BillingRunning": unary(func(_ context.Context, a admin.API, _ none) (bool, error) { return a.BillingRunning(), nil }),
	"BillingHistory": unary(func(_ context.Context, a admin.API, n int) ([]store.BillingRun, error) {
		return a.BillingHistory(n)
	}),
	"Bills": unary(func(_ context.Context, a admin.API, x periodArgs) ([]store.Bill, error) {
		return a.Bills(x.Period, x.Tenant)
	}),
	"BillingPreview": unary(func(_ context.Context, a admin.API, x periodArgs) ([]admin.BillLine, error) {
		return a.BillingPreview(x.Period, x.Tenant, x.Rebill...)
	}),
	"RunBilling": streamed(func(ctx context.Context, a admin.API, x periodArgs, progress func(admin.BillingProgress)) (admin.BillingSummary, error) {
		return a.RunBilling(ctx, x.Period, x.Tenant, progress, x.Rebill...)
	}),
	"CancelBill": unary(func(ctx context.Context, a admin.API, x cancelArgs) (store.Bill, error) {
		return a.CancelBill(ctx, x.Period, x.Tenant, x.Group)
	}),

	"PullConnec": streamed(func(ctx context.Context, a admin.API, x connec.PullRequest, progress func(connec.PullProgress)) ([]admin.PullRow, error) {
		return a.PullConnec(ctx, x, progress)
	}),
	"SyncStates": unary(func(_ context.Context, a admin.API, k string) ([]admin.SyncState, error) {
		return a.SyncStates(k)
	}),

	"EventsAfter": unary(func(_ context.Context, a admin.API, x eventsArgs) ([]store.Event, error) {
		return a.EventsAfter(x.After, x.Limit)
	}),
	"RecentEvents": unary(func(_ context.Context, a admin.API, n int) ([]store.Event, error) { return a.RecentEvents(n) }),
	"Activity": unary(func(_ context.Context, a admin.API, x activityArgs) ([]store.Event, error) {
		return a.Activity(x.Tenant, x.Limit)
	}),
	"Overview": unary(func(_ context.Context, a admin.API, _ none) (admin.Overview, error) { return a.Overview() }),

	"PublicURL": unary(func(_ context.Context, a admin.API, _ none) (string, error) { return a.PublicURL(), nil }),
	"Addr":      unary(func(_ context.Context, a admin.API, _ none) (string, error) { return a.Addr(), nil }),
	"DataFile":  unary(func(_ context.Context, a admin.API, _ none) (admin.DataFile, error) { return a.DataFile(), nil }),
	"ListenerStatus": unary(func(_ context.Context, a admin.API, _ none) (listenerStatus, error) {
		return fromStatus(a.ListenerStatus()), nil
	}),
	"SetListenerAddress": unary(func(_ context.Context, a admin.API, x addrArgs) (none, error) {
		return none{}, a.SetListenerAddress(x.Addr, x.PublicURL)
	}),
	"StartListener": unary(func(_ context.Context, a admin.API, _ none) (none, error) { return none{}, a.StartListener() }),
	"StopListener":  unary(func(ctx context.Context, a admin.API, _ none) (none, error) { return none{}, a.StopListener(ctx) }),
	"Export":        unary(func(_ context.Context, a admin.API, k string) (admin.ExportDoc, error) { return a.Export(k) }),
	"Backup": raw(func(ctx context.Context, a admin.API, _ none, w io.Writer) (int64, error) {
		return a.Backup(ctx, w)
	}),
	"Restore": unary(func(ctx context.Context, a admin.API, path string) (admin.Restored, error) {
		return a.Restore(ctx, path)
	}),
	"SeedDemo":      unary(func(_ context.Context, a admin.API, _ none) (admin.DemoSummary, error) { return a.SeedDemo() }),
	"NewAdminToken": unary(func(_ context.Context, a admin.API, _ none) (string, error) { return a.NewAdminToken() }),
	"RevokeAdminToken": unary(func(_ context.Context, a admin.API, _ none) (none, error) {
		return none{}, a.RevokeAdminToken()
	}),
	"AdminCertificatePEM": unary(func(_ context.Context, a admin.API, _ none) (string, error) {
		return a.AdminCertificatePEM()
	}),

	"Settings": unary(func(_ context.Context, a admin.API, _ none) ([]settings.Value, error) { return a.Settings() }),
	"Setting":  unary(func(_ context.Context, a admin.API, k string) (settings.Value, error) { return a.Setting(k) }),
	"SaveSettings": unary(func(_ context.Context, a admin.API, c []settings.Change) (none, error) {
		return none{}, a.SaveSettings(c)
	}),
}

// Arguments and results of more than one value.
type (
	saveTenantArgs struct {
		Config config `json:"config"`
		New    bool   `json:"new"`
	}
	enableArgs struct {
		Key     tenant.Key `json:"key"`
		Enabled bool       `json:"enabled"`
	}
	pageArgs struct {
		Filter admin.IdmapFilter `json:"filter"`
		After  string            `json:"after"`
		Offset int               `json:"offset"`
		Limit  int               `json:"limit"`
	}
	page struct {
		Rows []store.ConnectedObject `json:"rows"`
		Next string                  `json:"next"`
	}
	skip struct {
		After   string `json:"after"`
		Skipped int    `json:"skipped"`
	}
	remoteIDArgs struct {
		Tenant   string `json:"tenant"`
		RemoteID string `json:"remote_id"`
	}
	periodArgs struct {
		Period string   `json:"period"`
		Tenant string   `json:"tenant"`
		Rebill []string `json:"rebill,omitempty"`
	}
	cancelArgs struct {
		Period string `json:"period"`
		Tenant string `json:"tenant"`
		Group  string `json:"group"`
	}
	importArgs struct {
		Source string `json:"source"`
		Data   []byte `json:"data"`
	}
	eventsArgs struct {
		After uint64 `json:"after"`
		Limit int    `json:"limit"`
	}
	addrArgs struct {
		Addr      string `json:"addr"`
		PublicURL string `json:"public_url"`
	}
)

// config carries a tenant configuration with its api.key: the admin API
// is the vendor's own (same user, or a bearer token over TLS), and the
// edit form needs the key. Everywhere else JSON masks it.
type config struct{ tenant.Config }

func (c config) MarshalJSON() ([]byte, error)               { return c.Config.MarshalStored() }
func (c *config) UnmarshalJSON(b []byte) error              { return json.Unmarshal(b, &c.Config) }
func (c *Client) cfg(x tenant.Config) config                { return config{x} }
func fromConfig(c config, err error) (tenant.Config, error) { return c.Config, err }

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

var _ admin.API = (*Client)(nil)

func (c *Client) Tenants() ([]admin.TenantSummary, error) {
	return call[[]admin.TenantSummary](c, nil, "Tenants", none{})
}
func (c *Client) ListTenants() ([]admin.TenantListing, error) {
	return call[[]admin.TenantListing](c, nil, "ListTenants", none{})
}
func (c *Client) Tenant(k tenant.Key) (tenant.Config, error) {
	return fromConfig(call[config](c, nil, "Tenant", k))
}
func (c *Client) ValidateTenant(x tenant.Config) tenant.Problems {
	p, err := call[tenant.Problems](c, nil, "ValidateTenant", c.cfg(x))
	if err != nil {
		p.Errors = append(p.Errors, tenant.Problem{Message: err.Error()})
	}
	return p
}
func (c *Client) SaveTenant(x tenant.Config, isNew bool) (tenant.Problems, error) {
	return call[tenant.Problems](c, nil, "SaveTenant", saveTenantArgs{c.cfg(x), isNew})
}
func (c *Client) SetTenantEnabled(k tenant.Key, enabled bool) error {
	_, err := call[none](c, nil, "SetTenantEnabled", enableArgs{k, enabled})
	return err
}
func (c *Client) RemoveTenant(k tenant.Key) error {
	_, err := call[none](c, nil, "RemoveTenant", k)
	return err
}
func (c *Client) ImportTenants(data []byte) ([]tenant.Key, error) {
	return call[[]tenant.Key](c, nil, "ImportTenants", data)
}
func (c *Client) ImportTenantsFrom(source string, data []byte) (admin.ImportResult, error) {
	return call[admin.ImportResult](c, nil, "ImportTenantsFrom", importArgs{source, data})
}
func (c *Client) SyncTenants(ctx context.Context) (admin.ImportResult, error) {
	return call[admin.ImportResult](c, ctx, "SyncTenants", none{})
}
func (c *Client) DevPlatform() (devpl.Config, error) {
	return call[devpl.Config](c, nil, "DevPlatform", none{})
}
func (c *Client) TestConnection(ctx context.Context, x tenant.Config) (string, error) {
	return call[string](c, ctx, "TestConnection", c.cfg(x))
}
func (c *Client) RegistrationURLs(k tenant.Key) []admin.RegistrationURL {
	urls, _ := call[[]admin.RegistrationURL](c, nil, "RegistrationURLs", k)
	return urls
}

func (c *Client) CountConnected(ctx context.Context, f admin.IdmapFilter) (int, error) {
	return call[int](c, ctx, "CountConnected", f)
}
func (c *Client) QueryConnected(f admin.IdmapFilter, after string, limit int) ([]store.ConnectedObject, string, error) {
	return c.QueryConnectedAt(f, after, 0, limit)
}
func (c *Client) QueryConnectedAt(f admin.IdmapFilter, after string, offset, limit int) ([]store.ConnectedObject, string, error) {
	p, err := call[page](c, nil, "QueryConnectedAt", pageArgs{f, after, offset, limit})
	return p.Rows, p.Next, err
}
func (c *Client) SkipConnected(f admin.IdmapFilter, after string, n int) (string, int, error) {
	s, err := call[skip](c, nil, "SkipConnected", pageArgs{Filter: f, After: after, Offset: n})
	return s.After, s.Skipped, err
}
func (c *Client) Connected(id uint64) (admin.ConnectedDetail, error) {
	return call[admin.ConnectedDetail](c, nil, "Connected", id)
}
func (c *Client) ConnectedByRemote(tenantKey, remoteID string) (store.ConnectedObject, error) {
	return call[store.ConnectedObject](c, nil, "ConnectedByRemote", remoteIDArgs{tenantKey, remoteID})
}
func (c *Client) ExportConnectedCSV(ctx context.Context, f admin.IdmapFilter, w io.Writer) (int, error) {
	return callRaw[int](c, ctx, "ExportConnectedCSV", f, w)
}

func (c *Client) Invoices(k string) ([]admin.InvoiceRow, error) {
	return call[[]admin.InvoiceRow](c, nil, "Invoices", k)
}
func (c *Client) Invoice(id string) (store.Invoice, error) {
	return call[store.Invoice](c, nil, "Invoice", id)
}
func (c *Client) Groups(k string) ([]store.Group, error) {
	return call[[]store.Group](c, nil, "Groups", k)
}
func (c *Client) FailedPushes() ([]store.OutboxItem, error) {
	return call[[]store.OutboxItem](c, nil, "FailedPushes", none{})
}
func (c *Client) SaveInvoice(inv store.Invoice) (store.Invoice, error) {
	saved, err := call[store.Invoice](c, nil, "SaveInvoice", inv)
	if err != nil {
		return inv, err
	}
	return saved, nil
}
func (c *Client) PushNow(ctx context.Context, id string) error {
	_, err := call[none](c, ctx, "PushNow", id)
	return err
}
func (c *Client) RetryPush(ctx context.Context, id uint64) error {
	_, err := call[none](c, ctx, "RetryPush", id)
	return err
}

func (c *Client) BillingRunning() bool {
	busy, _ := call[bool](c, nil, "BillingRunning", none{})
	return busy
}
func (c *Client) BillingHistory(n int) ([]store.BillingRun, error) {
	return call[[]store.BillingRun](c, nil, "BillingHistory", n)
}
func (c *Client) Bills(period, k string) ([]store.Bill, error) {
	return call[[]store.Bill](c, nil, "Bills", periodArgs{Period: period, Tenant: k})
}
func (c *Client) BillingPreview(period, k string, rebill ...string) ([]admin.BillLine, error) {
	return call[[]admin.BillLine](c, nil, "BillingPreview", periodArgs{period, k, rebill})
}
func (c *Client) RunBilling(ctx context.Context, period, k string, progress func(admin.BillingProgress), rebill ...string) (admin.BillingSummary, error) {
	return callStream[admin.BillingSummary](c, ctx, "RunBilling", periodArgs{period, k, rebill}, progress)
}
func (c *Client) CancelBill(ctx context.Context, period, k, group string) (store.Bill, error) {
	return call[store.Bill](c, ctx, "CancelBill", cancelArgs{period, k, group})
}

func (c *Client) PullConnec(ctx context.Context, req connec.PullRequest, progress func(connec.PullProgress)) ([]admin.PullRow, error) {
	return callStream[[]admin.PullRow](c, ctx, "PullConnec", req, progress)
}
func (c *Client) SyncStates(k string) ([]admin.SyncState, error) {
	return call[[]admin.SyncState](c, nil, "SyncStates", k)
}

func (c *Client) EventsAfter(seq uint64, limit int) ([]store.Event, error) {
	return call[[]store.Event](c, nil, "EventsAfter", eventsArgs{seq, limit})
}
func (c *Client) RecentEvents(n int) ([]store.Event, error) {
	return call[[]store.Event](c, nil, "RecentEvents", n)
}

// Activity is admin.API's.
func (c *Client) Activity(tenantKey string, limit int) ([]store.Event, error) {
	return call[[]store.Event](c, nil, "Activity", activityArgs{Tenant: tenantKey, Limit: limit})
}

func (c *Client) Overview() (admin.Overview, error) {
	return call[admin.Overview](c, nil, "Overview", none{})
}

type activityArgs struct {
	Tenant string `json:"tenant"`
	Limit  int    `json:"limit"`
}

func (c *Client) PublicURL() string {
	s, _ := call[string](c, nil, "PublicURL", none{})
	return s
}
func (c *Client) Addr() string {
	s, _ := call[string](c, nil, "Addr", none{})
	return s
}
func (c *Client) DataFile() admin.DataFile {
	f, _ := call[admin.DataFile](c, nil, "DataFile", none{})
	return f
}
func (c *Client) ListenerStatus() admin.ListenerStatus {
	s, err := call[listenerStatus](c, nil, "ListenerStatus", none{})
	if err != nil {
		return admin.ListenerStatus{State: admin.ListenerFailed, Err: err}
	}
	return s.status()
}
func (c *Client) SetListenerAddress(addr, publicURL string) error {
	_, err := call[none](c, nil, "SetListenerAddress", addrArgs{addr, publicURL})
	return err
}
func (c *Client) StartListener() error {
	_, err := call[none](c, nil, "StartListener", none{})
	return err
}
func (c *Client) StopListener(ctx context.Context) error {
	_, err := call[none](c, ctx, "StopListener", none{})
	return err
}
func (c *Client) Export(k string) (admin.ExportDoc, error) {
	return call[admin.ExportDoc](c, nil, "Export", k)
}
func (c *Client) Backup(ctx context.Context, w io.Writer) (int64, error) {
	return callRaw[int64](c, ctx, "Backup", none{}, w)
}
func (c *Client) Restore(ctx context.Context, path string) (admin.Restored, error) {
	return call[admin.Restored](c, ctx, "Restore", path)
}
func (c *Client) SeedDemo() (admin.DemoSummary, error) {
	return call[admin.DemoSummary](c, nil, "SeedDemo", none{})
}
func (c *Client) NewAdminToken() (string, error) {
	return call[string](c, nil, "NewAdminToken", none{})
}
func (c *Client) RevokeAdminToken() error {
	_, err := call[none](c, nil, "RevokeAdminToken", none{})
	return err
}
func (c *Client) AdminCertificatePEM() (string, error) {
	return call[string](c, nil, "AdminCertificatePEM", none{})
}

func (c *Client) Settings() ([]settings.Value, error) {
	return call[[]settings.Value](c, nil, "Settings", none{})
}
func (c *Client) Setting(k string) (settings.Value, error) {
	return call[settings.Value](c, nil, "Setting", k)
}
func (c *Client) SetSetting(k, v string) error {
	return c.SaveSettings([]settings.Change{{Key: settings.Key(k), Value: v}})
}
func (c *Client) UnsetSetting(k string) error {
	return c.SaveSettings([]settings.Change{{Key: settings.Key(k), Unset: true}})
}
func (c *Client) SaveSettings(changes []settings.Change) error {
	_, err := call[none](c, nil, "SaveSettings", changes)
	return err
}
