package billing

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/tenantdesk/tenantdesk/store"
	"github.com/tenantdesk/tenantdesk/tenant"
	"github.com/tenantdesk/tenantdesk/tenant/api"
)

// Errors of Cancel (errors.Is).
var (
	ErrNoBill       = errors.New("no bill in the ledger")
	ErrNotSubmitted = errors.New("the bill is not submitted")
)

// CancelOptions name the bill to cancel: the ledger row of (Tenant,
// GroupUID, Period).
type CancelOptions struct {
	Period     Period
	Tenant     string
	GroupUID   string
	HTTPClient *http.Client // nil: the api package's pooled client
	Now        func() time.Time
}

// Cancel cancels a submitted bill at the tenant's account API (DELETE
// {api.host}{api.base}account/bills/{id}) and marks its ledger row
// cancelled: later runs of the period leave the group alone unless they
// are asked to bill it again (Options.Rebill). Unknown rows, rows that are
// not submitted, and an API that refuses (an invoiced bill) change nothing.
// No store transaction is open while the API is called.
func Cancel(ctx context.Context, db *store.DB, opt CancelOptions) (store.Bill, error) {
	if opt.Now == nil {
		opt.Now = time.Now
	}
	what := fmt.Sprintf("cancel bill of group %s (tenant %s) for %s", opt.GroupUID, opt.Tenant, opt.Period.Name)
	var row store.Bill
	var cfg *tenant.Config
	err := db.View(func(tx *store.Tx) error {
		var err error
		row, err = tx.Bill(opt.Tenant, opt.GroupUID, opt.Period.Name)
		if errors.Is(err, store.ErrNotFound) {
			if _, gerr := tx.Group(opt.Tenant, opt.GroupUID); errors.Is(gerr, store.ErrNotFound) {
				return fmt.Errorf("tenant %s has no group %s: %w", opt.Tenant, opt.GroupUID, ErrNoBill)
			}
			return fmt.Errorf("group %s was not billed for %s: %w", opt.GroupUID, opt.Period.Name, ErrNoBill)
		}
		if err != nil {
			return err
		}
		if row.Status != store.BillSubmitted || row.RemoteID == "" {
			return fmt.Errorf("%w: it is %s", ErrNotSubmitted, row.Status)
		}
		cfg, err = tenant.GetTx(tx, tenant.Key(opt.Tenant))
		if errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("tenant %s has no configuration any more, so its API cannot be called: %w", opt.Tenant, err)
		}
		return err
	})
	if err != nil {
		return store.Bill{}, fmt.Errorf("%s: %w", what, err)
	}
	if _, err := api.New(cfg, opt.HTTPClient).CancelBill(ctx, row.RemoteID); err != nil {
		return store.Bill{}, fmt.Errorf("%s: %w", what, err)
	}
	now := opt.Now().UTC()
	err = db.Update(func(tx *store.Tx) error {
		cur, err := tx.Bill(opt.Tenant, opt.GroupUID, opt.Period.Name)
		if err != nil {
			return err
		}
		if cur.Status != store.BillSubmitted || cur.RemoteID != row.RemoteID {
			return fmt.Errorf("the ledger row changed while the API was called (now %s %s); look again", cur.Status, cur.RemoteID)
		}
		cur.Status, cur.CancelledAt, cur.CancelledID, cur.UpdatedAt, cur.LastError = store.BillCancelled, now, cur.RemoteID, now, ""
		if err := tx.PutBill(cur); err != nil {
			return err
		}
		row = cur
		_, err = tx.AppendEvent(store.Event{At: now, Tenant: opt.Tenant, Kind: store.EventBilling, Outcome: "ok",
			Message: fmt.Sprintf("bill %s of group %s for %s cancelled", cur.RemoteID, cur.GroupUID, cur.Period)})
		return err
	})
	if err != nil {
		return store.Bill{}, fmt.Errorf("%s: the API cancelled bill %s but the ledger was not updated: %w", what, row.RemoteID, err)
	}
	return row, nil
}
