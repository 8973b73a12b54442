package admin

import (
	"context"
	"io"

	"github.com/tenantdesk/tenantdesk/store"
	"github.com/tenantdesk/tenantdesk/tenant"
	"github.com/tenantdesk/tenantdesk/tenant/connec"
	"github.com/tenantdesk/tenantdesk/tenant/devpl"
	"github.com/tenantdesk/tenantdesk/tenant/settings"
)

// API is the one admin service. The GUI, every CLI verb and remote clients
// call it: in process it is *Service over the open data file; in another
// process it is a remote.Client speaking to the process that owns the file
// (through its control socket, or its admin address over TLS). No caller
// opens store transactions of its own, so each rule lives in one place.
//
// Adding a method: write it on *Service, add it here, and run `go generate
// ./tenant/admin/remote`: the server's route and remote.Client's method are
// generated from this interface (a method of several arguments or results
// also names them for the wire, in remote/internal/wiregen).
type API interface {
	// Tenants.
	Tenants() ([]TenantSummary, error)
	ListTenants() ([]TenantListing, error)
	Tenant(key tenant.Key) (tenant.Config, error)
	ValidateTenant(c tenant.Config) tenant.Problems
	SaveTenant(c tenant.Config, isNew bool) (tenant.Problems, error)
	SetTenantEnabled(key tenant.Key, enabled bool) error
	RemoveTenant(key tenant.Key) error
	ImportTenants(data []byte) ([]tenant.Key, error)
	ImportTenantsFrom(source string, data []byte) (ImportResult, error)
	SyncTenants(ctx context.Context) (ImportResult, error)
	DevPlatform() (devpl.Config, error) // its secret masked when it crosses the wire
	TestConnection(ctx context.Context, c tenant.Config) (string, error)
	RegistrationURLs(key tenant.Key) []RegistrationURL

	// Identity map.
	CountConnected(ctx context.Context, f IdmapFilter) (int, error)
	QueryConnected(f IdmapFilter, after string, limit int) ([]store.ConnectedObject, string, error)
	QueryConnectedAt(f IdmapFilter, after string, offset, limit int) ([]store.ConnectedObject, string, error)
	SkipConnected(f IdmapFilter, after string, n int) (string, int, error)
	Connected(id uint64) (ConnectedDetail, error)
	ConnectedByRemote(tenantKey, remoteID string) (store.ConnectedObject, error)
	ExportConnectedCSV(ctx context.Context, f IdmapFilter, w io.Writer) (int, error)

	// Invoices and the Connec! outbox.
	Invoices(tenantKey string) ([]InvoiceRow, error)
	Invoice(id string) (store.Invoice, error)
	Groups(tenantKey string) ([]store.Group, error)
	FailedPushes() ([]store.OutboxItem, error)
	SaveInvoice(inv store.Invoice) (store.Invoice, error)
	PushNow(ctx context.Context, invoiceID string) error
	RetryPush(ctx context.Context, id uint64) error

	// Connec! pulls.
	PullConnec(ctx context.Context, req connec.PullRequest, progress func(connec.PullProgress)) ([]PullRow, error)
	SyncStates(tenantKey string) ([]SyncState, error)

	// Billing.
	BillingRunning() bool
	BillingHistory(limit int) ([]store.BillingRun, error)
	Bills(period, tenantKey string) ([]store.Bill, error)
	BillingPreview(period, tenantKey string, rebill ...string) ([]BillLine, error)
	RunBilling(ctx context.Context, period, tenantKey string, progress func(BillingProgress), rebill ...string) (BillingSummary, error)
	CancelBill(ctx context.Context, period, tenantKey, groupUID string) (store.Bill, error)

	// Activity.
	EventsAfter(seq uint64, limit int) ([]store.Event, error)
	RecentEvents(limit int) ([]store.Event, error)
	Activity(tenantKey string, limit int) ([]store.Event, error)
	Overview() (Overview, error)
	// Cluster is the store's replicas and etcd members (cluster status);
	// on a data file it says there is no cluster, without an error.
	Cluster() (ClusterStatus, error)

	// The listener and the data file.
	PublicURL() string
	Addr() string
	DataFile() DataFile
	ListenerStatus() ListenerStatus
	SetListenerAddress(addr, publicURL string) error
	StartListener() error
	StopListener(ctx context.Context) error
	Export(tenantKey string) (ExportDoc, error)
	Backup(ctx context.Context, w io.Writer) (int64, error)
	// Restore works only on the machine itself (in process, the control
	// socket): the admin address answers 403.
	Restore(ctx context.Context, path string) (Restored, error)
	// Compact, likewise: it holds every transaction for as long as the
	// copy takes, a pause no remote client may impose.
	Compact(ctx context.Context) (store.Compacted, error)
	// Rekey, likewise: it makes a master key where the owner keeps them.
	Rekey(ctx context.Context) (Rekeyed, error)
	SeedDemo() (DemoSummary, error)

	// The admin address's access (`admin-token`, `admin-cert`).
	NewAdminToken() (string, error)
	RevokeAdminToken() error
	AdminCertificatePEM() (string, error)

	// Settings kept in the data file (tenantdesk settings, the Settings
	// screen); secrets come back masked.
	Settings() ([]settings.Value, error)
	Setting(key string) (settings.Value, error)
	SetSetting(key, value string) error
	UnsetSetting(key string) error
	SaveSettings(changes []settings.Change) error
}

var _ API = (*Service)(nil)
