package admin

import (
	"context"

	"github.com/tenantdesk/tenantdesk/store"
	"github.com/tenantdesk/tenantdesk/tenant/connec"
)

// Sync states of an invoice, as the invoice list shows them.
const (
	SyncLocal  = "local only"  // never queued (e.g. Connec! not configured)
	SyncQueued = "queued"      // a push is waiting in the outbox
	SyncFailed = "push failed" // parked in the outbox; retry by hand
	SyncSynced = "synced"      // connected, last push done
	SyncPulled = "from Connec!"
)

// InvoiceStatuses are the statuses an invoice may have.
var InvoiceStatuses = connec.InvoiceStatuses

// InvoiceRow is one invoice with where it stands with Connec!.
type InvoiceRow struct {
	store.Invoice
	Sync      string
	RemoteID  string // Connec! id, when connected
	LastError string // of the failed push
	OutboxID  uint64 // the queued or failed push, when any
}

// Invoices lists a tenant's invoices ("" = every tenant) with their sync state.
func (s *Service) Invoices(tenantKey string) ([]InvoiceRow, error) {
	var out []InvoiceRow
	err := s.view("list invoices", func(tx *store.Tx) error {
		invs, err := tx.Invoices(tenantKey)
		if err != nil {
			return err
		}
		pending := map[string]store.OutboxItem{}
		for _, status := range []string{store.OutboxQueued, store.OutboxFailed} {
			items, err := tx.OutboxByStatus(status)
			if err != nil {
				return err
			}
			for _, it := range items {
				if it.LocalKind == store.KindInvoice {
					pending[it.LocalID] = it
				}
			}
		}
		out = make([]InvoiceRow, len(invs))
		for i, inv := range invs {
			row := InvoiceRow{Invoice: inv, Sync: SyncLocal}
			if c, err := tx.ConnectedByLocal(inv.Tenant, store.KindInvoice, inv.ID); err == nil {
				row.RemoteID = c.RemoteID
				row.Sync = SyncSynced
				if c.LastPushAt.IsZero() && !c.LastPullAt.IsZero() {
					row.Sync = SyncPulled
				}
			}
			if it, ok := pending[inv.ID]; ok {
				row.OutboxID = it.ID
				row.Sync, row.LastError = SyncQueued, it.LastError
				if it.Status == store.OutboxFailed {
					row.Sync = SyncFailed
				}
			}
			out[i] = row
		}
		return nil
	})
	return out, err
}

// Invoice reads one invoice.
func (s *Service) Invoice(id string) (store.Invoice, error) {
	return read(s, "read invoice "+id, func(tx *store.Tx) (store.Invoice, error) { return tx.Invoice(id) })
}

// Groups lists a tenant's groups, for pickers.
func (s *Service) Groups(tenantKey string) ([]store.Group, error) {
	return read(s, "list groups", func(tx *store.Tx) ([]store.Group, error) { return tx.Groups(tenantKey) })
}

// FailedPushes lists outbox items parked after too many tries.
func (s *Service) FailedPushes() ([]store.OutboxItem, error) {
	return read(s, "list failed pushes", func(tx *store.Tx) ([]store.OutboxItem, error) { return tx.OutboxByStatus(store.OutboxFailed) })
}

// SaveInvoice validates and saves an invoice and, when its group belongs
// to a configured tenant, queues its push to that tenant's Connec! in the
// same transaction. An invalid invoice returns a *connec.InvalidInvoiceError
// listing every problem and writes nothing.
func (s *Service) SaveInvoice(inv store.Invoice) (store.Invoice, error) {
	saved, err := connec.SaveInvoice(s.db, inv)
	if err != nil {
		return inv, err
	}
	s.outbox.Nudge()
	return saved, nil
}

// PushNow pushes an invoice at once instead of waiting for the outbox's
// next attempt; the error is the push's own.
func (s *Service) PushNow(ctx context.Context, invoiceID string) error {
	return s.outbox.PushInvoice(ctx, invoiceID)
}

// RetryPush puts a failed outbox item back in the queue with fresh attempts.
func (s *Service) RetryPush(ctx context.Context, id uint64) error {
	return s.outbox.Retry(id)
}
