package connec

// This file holds the rules of a local invoice (SPEC §7): its statuses,
// what makes it valid, and SaveInvoice, which stores it and queues its push
// (outbox.go) in one transaction.

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/tenantdesk/tenantdesk/store"
	"github.com/tenantdesk/tenantdesk/tenant"
	"github.com/tenantdesk/tenantdesk/tenant/money"
)

// InvoiceStatuses are the statuses a local invoice may have (Connec!'s).
var InvoiceStatuses = []string{"DRAFT", "SUBMITTED", "AUTHORISED", "PAID", "VOIDED"}

// InvalidInvoiceError lists every problem of an invoice that SaveInvoice
// refused; nothing was written.
type InvalidInvoiceError struct {
	Problems []string
}

func (e *InvalidInvoiceError) Error() string {
	return "invalid invoice: " + strings.Join(e.Problems, "; ")
}

// SaveInvoice validates and stores a local invoice (a new one gets an id)
// and, when its group belongs to a configured tenant, queues its push to
// that tenant's Connec! in the same transaction. Line totals left at 0 are
// computed as quantity × unit price, and an invoice total left at 0 as the
// lines plus tax; totals that are given must add up. It returns the
// invoice as stored.
func SaveInvoice(db *store.DB, inv store.Invoice) (store.Invoice, error) {
	return saveInvoice(db, inv, time.Now())
}

func saveInvoice(db *store.DB, inv store.Invoice, now time.Time) (store.Invoice, error) {
	now = now.UTC()
	normalizeInvoice(&inv)
	if problems := checkInvoice(inv); len(problems) > 0 {
		return store.Invoice{}, &InvalidInvoiceError{Problems: problems}
	}
	err := db.Update(func(tx *store.Tx) error {
		g, err := tx.Group(inv.Tenant, inv.GroupUID)
		switch {
		case errors.Is(err, store.ErrNotFound):
			return &InvalidInvoiceError{Problems: []string{fmt.Sprintf("group %q of tenant %q does not exist", inv.GroupUID, inv.Tenant)}}
		case err != nil:
			return fmt.Errorf("read group: %w", err)
		case g.Cancelled:
			return &InvalidInvoiceError{Problems: []string{fmt.Sprintf("group %q of tenant %q is cancelled", inv.GroupUID, inv.Tenant)}}
		}
		if inv.ID == "" {
			if inv.ID, err = tx.NextInvoiceID(); err != nil {
				return fmt.Errorf("new invoice id: %w", err)
			}
			inv.CreatedAt = now
		} else {
			held, err := tx.Invoice(inv.ID)
			switch {
			case errors.Is(err, store.ErrNotFound):
				return &InvalidInvoiceError{Problems: []string{fmt.Sprintf("invoice %q does not exist", inv.ID)}}
			case err != nil:
				return fmt.Errorf("read invoice %s: %w", inv.ID, err)
			case held.Tenant != inv.Tenant || held.GroupUID != inv.GroupUID:
				return &InvalidInvoiceError{Problems: []string{fmt.Sprintf("invoice %s belongs to %s/%s: it cannot move", inv.ID, held.Tenant, held.GroupUID)}}
			}
			inv.CreatedAt = held.CreatedAt
		}
		inv.UpdatedAt = now
		if err := tx.PutInvoice(inv); err != nil {
			return fmt.Errorf("store invoice: %w", err)
		}
		return enqueue(tx, inv, now)
	})
	if err != nil {
		var invalid *InvalidInvoiceError
		if errors.As(err, &invalid) {
			return store.Invoice{}, invalid
		}
		return store.Invoice{}, fmt.Errorf("save invoice: %w", err)
	}
	return inv, nil
}

func normalizeInvoice(inv *store.Invoice) {
	inv.Tenant = strings.TrimSpace(inv.Tenant)
	inv.GroupUID = strings.TrimSpace(inv.GroupUID)
	inv.Number = strings.TrimSpace(inv.Number)
	inv.Title = strings.TrimSpace(inv.Title)
	inv.Currency = strings.ToUpper(strings.TrimSpace(inv.Currency))
	inv.Status = strings.ToUpper(strings.TrimSpace(inv.Status))
	if inv.Status == "" {
		inv.Status = "DRAFT"
	}
	var sum int64
	for i := range inv.Lines {
		l := &inv.Lines[i]
		l.Description = strings.TrimSpace(l.Description)
		if l.TotalCents == 0 && validQuantity(l.Quantity) {
			if t := math.Round(l.Quantity * float64(l.UnitPriceCents)); math.Abs(t) < 1<<53 {
				l.TotalCents = int64(t)
			}
		}
		sum += l.TotalCents
	}
	if inv.TotalCents == 0 {
		inv.TotalCents = sum + inv.TaxCents
	}
}

func validQuantity(q float64) bool { return !math.IsNaN(q) && !math.IsInf(q, 0) && q != 0 }

// checkInvoice lists what is wrong with a normalized invoice.
func checkInvoice(inv store.Invoice) []string {
	var p []string
	if _, err := tenant.ParseKey(inv.Tenant); err != nil {
		p = append(p, fmt.Sprintf("tenant: %v", err))
	}
	if !ValidGroupUID(inv.GroupUID) {
		p = append(p, fmt.Sprintf("group %q is not a group uid", inv.GroupUID))
	}
	if inv.Number == "" {
		p = append(p, "number is required")
	}
	if !money.ValidCode(inv.Currency) {
		p = append(p, fmt.Sprintf("currency %q is not an ISO 4217 code", inv.Currency))
	}
	known := false
	for _, s := range InvoiceStatuses {
		known = known || s == inv.Status
	}
	if !known {
		p = append(p, fmt.Sprintf("status %q is not one of %s", inv.Status, strings.Join(InvoiceStatuses, ", ")))
	}
	if !inv.DueDate.IsZero() && !inv.TransactionDate.IsZero() && inv.DueDate.Before(inv.TransactionDate) {
		p = append(p, "due date is before the invoice date")
	}
	const limit = 1 << 53 // cents that still convert exactly
	var sum int64
	for i, l := range inv.Lines {
		switch {
		case !validQuantity(l.Quantity):
			p = append(p, fmt.Sprintf("line %d: quantity must be a non-zero number", i+1))
		case abs(l.UnitPriceCents) >= limit || abs(l.TotalCents) >= limit:
			p = append(p, fmt.Sprintf("line %d: amount out of range", i+1))
		default:
			if want := int64(math.Round(l.Quantity * float64(l.UnitPriceCents))); want != l.TotalCents {
				p = append(p, fmt.Sprintf("line %d: total %d is not quantity × unit price (%d)", i+1, l.TotalCents, want))
			}
			sum += l.TotalCents
		}
	}
	if abs(inv.TaxCents) >= limit || abs(inv.TotalCents) >= limit || abs(sum) >= limit {
		p = append(p, "totals out of range")
	} else if sum+inv.TaxCents != inv.TotalCents {
		p = append(p, fmt.Sprintf("total %d is not the lines (%d) plus tax (%d)", inv.TotalCents, sum, inv.TaxCents))
	}
	return p
}

func abs(v int64) int64 {
	if v < 0 {
		if v == math.MinInt64 {
			return math.MaxInt64
		}
		return -v
	}
	return v
}
