package connec

// This file maps a Connec! invoice record to a local store.Invoice and back
// (maestrano-protocol §5.6). Line amounts are net (before tax); the invoice
// total is gross (TotalCents), with its tax in TaxCents.
//
// Connec! writes decimal major units ("12.50") with a currency in each
// price object; the store keeps int64 minor units of the invoice's
// currency (ISO 4217: cents for AUD, yen for JPY, fils for KWD; the
// fields keep their historical "Cents" names). tenant/money converts both
// ways, exactly, rounding what Connec! sends half away from zero to the
// currency's minor unit.

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/tenantdesk/tenantdesk/store"
	"github.com/tenantdesk/tenantdesk/tenant"
	"github.com/tenantdesk/tenantdesk/tenant/money"
)

// price is a Connec! price object (unit_price, total_price, amount).
// Fields are values, "" when absent: a 10,000-invoice notification decodes
// without a pointer per amount.
type price struct {
	NetAmount   json.Number `json:"net_amount"`
	TaxAmount   json.Number `json:"tax_amount"`
	TotalAmount json.Number `json:"total_amount"`
	Currency    string      `json:"currency"`
}

type remoteLine struct {
	Description string      `json:"description"`
	Quantity    json.Number `json:"quantity"`
	UnitPrice   price       `json:"unit_price"`
	TotalPrice  price       `json:"total_price"`
}

type remoteInvoice struct {
	ID                json.RawMessage `json:"id"`
	GroupID           string          `json:"group_id"`
	Code              string          `json:"code"`
	TransactionNumber string          `json:"transaction_number"`
	Title             string          `json:"title"`
	Status            string          `json:"status"`
	TransactionDate   string          `json:"transaction_date"`
	DueDate           string          `json:"due_date"`
	Currency          string          `json:"currency"`
	Amount            price           `json:"amount"`
	Lines             []remoteLine    `json:"lines"`
	InvoiceLines      []remoteLine    `json:"invoice_lines"` // older mappers' spelling
	UpdatedAt         string          `json:"updated_at"`
	CreatedAt         string          `json:"created_at"`
}

// InvoiceFromConnec decodes a Connec! invoice record of a tenant's group.
// The local ID is left empty: the caller knows whether the record is new or
// matches a local invoice (its IDSet, see DecodeHeader). UpdatedAt and
// CreatedAt are the record's own times.
func InvoiceFromConnec(tenantKey, groupUID string, rec json.RawMessage) (store.Invoice, error) {
	var r remoteInvoice
	if err := json.Unmarshal(rec, &r); err != nil {
		return store.Invoice{}, fmt.Errorf("invoice: %w", err)
	}
	return r.invoice(tenantKey, groupUID)
}

// invoice maps a decoded record; InvoiceFromConnec and ingest share it.
func (r *remoteInvoice) invoice(tenantKey, groupUID string) (store.Invoice, error) {
	inv := store.Invoice{
		Tenant:   tenantKey,
		GroupUID: groupUID,
		Number:   r.TransactionNumber,
		Title:    r.Title,
		Status:   strings.ToUpper(r.Status),
		Currency: r.Currency,
		Lines:    []store.InvoiceLine{},
	}
	if inv.Number == "" {
		inv.Number = r.Code
	}
	var err error
	for _, f := range []struct {
		name string
		in   string
		out  *time.Time
	}{
		{"transaction_date", r.TransactionDate, &inv.TransactionDate},
		{"due_date", r.DueDate, &inv.DueDate},
		{"updated_at", r.UpdatedAt, &inv.UpdatedAt},
		{"created_at", r.CreatedAt, &inv.CreatedAt},
	} {
		if f.in == "" {
			continue
		}
		if *f.out, err = parseTime(f.in); err != nil {
			return store.Invoice{}, fmt.Errorf("invoice %s: %w", f.name, err)
		}
	}
	lines := r.Lines
	if lines == nil {
		lines = r.InvoiceLines
	}
	// Every amount is read in the invoice's one currency (lines share it,
	// as the connector assumes), so it must be known first.
	if inv.Currency == "" {
		for _, l := range lines {
			inv.Currency = firstOf(inv.Currency, l.UnitPrice.Currency, l.TotalPrice.Currency)
		}
		inv.Currency = firstOf(inv.Currency, r.Amount.Currency)
	}
	inv.Currency = strings.ToUpper(inv.Currency)
	var sum int64
	for i, l := range lines {
		line, err := decodeLine(l, inv.Currency)
		if err != nil {
			return store.Invoice{}, fmt.Errorf("invoice line %d: %w", i+1, err)
		}
		if sum, err = addMinor(sum, line.TotalCents); err != nil {
			return store.Invoice{}, fmt.Errorf("invoice lines total: %w", err)
		}
		inv.Lines = append(inv.Lines, line)
	}
	inv.TotalCents = sum
	if a := r.Amount; a.present() {
		if a.TaxAmount != "" {
			if inv.TaxCents, err = minor(a.TaxAmount, inv.Currency); err != nil {
				return store.Invoice{}, fmt.Errorf("invoice amount.tax_amount: %w", err)
			}
		}
		switch {
		case a.TotalAmount != "":
			if inv.TotalCents, err = minor(a.TotalAmount, inv.Currency); err != nil {
				return store.Invoice{}, fmt.Errorf("invoice amount.total_amount: %w", err)
			}
		case a.NetAmount != "":
			net, err := minor(a.NetAmount, inv.Currency)
			if err != nil {
				return store.Invoice{}, fmt.Errorf("invoice amount.net_amount: %w", err)
			}
			if inv.TotalCents, err = addMinor(net, inv.TaxCents); err != nil {
				return store.Invoice{}, fmt.Errorf("invoice amount: %w", err)
			}
		}
	}
	return inv, nil
}

func decodeLine(l remoteLine, currency string) (store.InvoiceLine, error) {
	line := store.InvoiceLine{Description: l.Description, Quantity: 1}
	if l.Quantity != "" {
		q, err := l.Quantity.Float64()
		if err != nil || math.IsNaN(q) || math.IsInf(q, 0) {
			return line, fmt.Errorf("quantity %q is not a number", l.Quantity)
		}
		line.Quantity = q
	}
	var err error
	if p := &l.UnitPrice; p.present() {
		if line.UnitPriceCents, err = netMinor(p, currency); err != nil {
			return line, fmt.Errorf("unit_price: %w", err)
		}
	}
	if p := &l.TotalPrice; p.present() {
		if line.TotalCents, err = netMinor(p, currency); err != nil {
			return line, fmt.Errorf("total_price: %w", err)
		}
	} else {
		total := math.Round(float64(line.UnitPriceCents) * line.Quantity)
		if math.Abs(total) > math.MaxInt64/2 {
			return line, errors.New("line total out of range")
		}
		line.TotalCents = int64(total)
	}
	return line, nil
}

// present reports whether the price object carries any amount.
func (p *price) present() bool {
	return p.NetAmount != "" || p.TaxAmount != "" || p.TotalAmount != "" || p.Currency != ""
}

// netMinor is a price object's net amount, or its total when it has none.
func netMinor(p *price, currency string) (int64, error) {
	switch {
	case p.NetAmount != "":
		return minor(p.NetAmount, currency)
	case p.TotalAmount != "":
		return minor(p.TotalAmount, currency)
	}
	return 0, nil
}

// minor reads a Connec! decimal amount as minor units of currency.
func minor(n json.Number, currency string) (int64, error) {
	return money.FromDecimal(string(n), currency)
}

// amount writes minor units of currency as a Connec! decimal amount.
func amount(minor int64, currency string) json.Number {
	return json.Number(money.Amount(minor, currency))
}

func addMinor(a, b int64) (int64, error) {
	s := a + b
	if (b > 0 && s < a) || (b < 0 && s > a) {
		return 0, errors.New("amount out of range")
	}
	return s, nil
}

var timeLayouts = []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02"}

func parseTime(s string) (time.Time, error) {
	for _, layout := range timeLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not an ISO-8601 time", s)
}

// InvoiceToConnec is the `invoices` object of a POST (connecID "") or PUT
// (connecID set; it goes in the URL, not the body) for a local invoice; the
// caller wraps it as {"invoices": …}. With external ids the record carries our own triplet, so
// Connec! keeps the link and its notifications can be matched back to the
// local invoice (ingest's echo detection). opts.sparse=false makes the lines
// we send the complete set.
func InvoiceToConnec(inv store.Invoice, cfg *tenant.Config, connecID string) map[string]any {
	cur := inv.Currency
	rec := map[string]any{
		"transaction_number": inv.Number,
		"title":              inv.Title,
		"type":               "CUSTOMER",
		"status":             inv.Status,
		"currency":           cur,
		"amount": map[string]any{
			"net_amount":   amount(inv.TotalCents-inv.TaxCents, cur),
			"tax_amount":   amount(inv.TaxCents, cur),
			"total_amount": amount(inv.TotalCents, cur),
			"currency":     cur,
		},
		"opts": map[string]any{"sparse": false},
	}
	if inv.Status == "" {
		rec["status"] = "DRAFT"
	}
	if !inv.TransactionDate.IsZero() {
		rec["transaction_date"] = inv.TransactionDate.UTC().Format(time.RFC3339)
	}
	if !inv.DueDate.IsZero() {
		rec["due_date"] = inv.DueDate.UTC().Format(time.RFC3339)
	}
	lines := make([]map[string]any, 0, len(inv.Lines))
	for i, l := range inv.Lines {
		lines = append(lines, map[string]any{
			"line_number": i + 1,
			"description": l.Description,
			"quantity":    l.Quantity,
			"unit_price":  map[string]any{"net_amount": amount(l.UnitPriceCents, cur), "currency": cur},
			"total_price": map[string]any{"net_amount": amount(l.TotalCents, cur), "currency": cur},
		})
	}
	rec["lines"] = lines
	if cfg.ExternalIDs() {
		rec["id"] = []Ref{OurRef(cfg, inv.GroupUID, inv.ID)}
	}
	return rec
}
