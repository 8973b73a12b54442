// Package connec talks to a tenant's Connec! API: notifications in, invoice
// pushes out, and the mapping between local invoices and Connec! records.
package connec

// This file is the mapping between a local store.Invoice and a Connec!
// invoice record, and the reading of Connec! ids (maestrano-protocol §5.4).
//
// Ids. A Connec! id is a plain UUID string, or — with external ids — an
// array of {id, provider, realm} triplets. The Connec! triplet has provider
// "connec" (ProviderConnec). Our own triplet has:
//   - provider = the tenant's api.id (cfg.API.ID, the app's id on that
//     tenant; see Provider). The Connec! docs let each app pick its provider
//     key; the app id is the one name the tenant already knows us by, and it
//     differs per tenant, so one tenant's triplets never match another's.
//   - realm = the group uid (cld-…): our "account id" for that customer.
//   - id = the local invoice id (store.Invoice.ID).
//
// Money. Connec! writes decimal major units ("12.50") with a currency in each
// price object; locally amounts are int64 cents. Conversion is exact decimal
// arithmetic (no float64), rounded half away from zero to 2 decimals.
// Line amounts are net (before tax); the invoice total is gross
// (TotalCents), with its tax in TaxCents.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"strings"
	"time"

	"github.com/tenantdesk/tenantdesk/store"
	"github.com/tenantdesk/tenantdesk/tenant"
)

// ProviderConnec is the provider of Connec!'s own id triplet, and the
// Provider of identity-map rows whose remote side is a Connec! record.
const ProviderConnec = "connec"

// EntityInvoices is the Connec! collection of invoices.
const EntityInvoices = "invoices"

// Provider is our provider key in the tenant's id triplets: the tenant's api.id.
func Provider(cfg *tenant.Config) string { return cfg.API.ID }

// Ref is one {id, provider, realm} triplet of an external-ids array.
type Ref struct {
	ID       string `json:"id"`
	Provider string `json:"provider"`
	Realm    string `json:"realm"`
}

// OurRef is our own triplet for a local object of a group.
func OurRef(cfg *tenant.Config, groupUID, localID string) Ref {
	return Ref{ID: localID, Provider: Provider(cfg), Realm: groupUID}
}

// IDSet is a decoded Connec! id. A plain string id becomes one Connec! triplet
// (provider "connec", no realm).
type IDSet []Ref

// Connec is the Connec! uuid: the id of the "connec" triplet, or "".
func (s IDSet) Connec() string {
	for _, r := range s {
		if r.Provider == ProviderConnec {
			return r.ID
		}
	}
	return ""
}

// Find is the id of the triplet of provider and realm, or "".
func (s IDSet) Find(provider, realm string) string {
	for _, r := range s {
		if r.Provider == provider && r.Realm == realm {
			return r.ID
		}
	}
	return ""
}

// Ours is our local id in the set for a group of the tenant, or "".
func (s IDSet) Ours(cfg *tenant.Config, groupUID string) string {
	if Provider(cfg) == "" {
		return ""
	}
	return s.Find(Provider(cfg), groupUID)
}

// ParseID reads an `id` value: a plain string, or an array of triplets. v may
// be raw JSON (json.RawMessage or []byte), or what encoding/json decodes into
// an `any` (string, []any of map[string]any).
func ParseID(v any) (IDSet, error) {
	switch v := v.(type) {
	case json.RawMessage:
		return parseRawID(v)
	case []byte:
		return parseRawID(v)
	case string:
		if v == "" {
			return nil, errors.New("empty id")
		}
		return IDSet{{ID: v, Provider: ProviderConnec}}, nil
	case []Ref:
		return checkRefs(v)
	case []any:
		refs := make([]Ref, 0, len(v))
		for i, e := range v {
			m, ok := e.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("id[%d]: not an object", i)
			}
			id, _ := m["id"].(string)
			provider, _ := m["provider"].(string)
			realm, _ := m["realm"].(string)
			refs = append(refs, Ref{ID: id, Provider: provider, Realm: realm})
		}
		return checkRefs(refs)
	case nil:
		return nil, errors.New("missing id")
	default:
		return nil, fmt.Errorf("id of type %T", v)
	}
}

func parseRawID(raw []byte) (IDSet, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil, errors.New("missing id")
	}
	switch raw[0] {
	case '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, fmt.Errorf("id: %w", err)
		}
		return ParseID(s)
	case '[':
		var refs []Ref
		if err := json.Unmarshal(raw, &refs); err != nil {
			return nil, fmt.Errorf("id array: %w", err)
		}
		return checkRefs(refs)
	default:
		return nil, errors.New("id is neither a string nor an array of {id, provider, realm}")
	}
}

func checkRefs(refs []Ref) (IDSet, error) {
	if len(refs) == 0 {
		return nil, errors.New("empty id array")
	}
	for i, r := range refs {
		if r.ID == "" || r.Provider == "" {
			return nil, fmt.Errorf("id[%d]: id and provider are required", i)
		}
	}
	return IDSet(refs), nil
}

// Header is what every Connec! record carries besides its own fields.
type Header struct {
	IDs       IDSet
	GroupID   string
	UpdatedAt time.Time // zero when the record has none
}

// DecodeHeader reads id, group_id and updated_at of a record.
func DecodeHeader(rec json.RawMessage) (Header, error) {
	var h struct {
		ID        json.RawMessage `json:"id"`
		GroupID   string          `json:"group_id"`
		UpdatedAt string          `json:"updated_at"`
	}
	if err := json.Unmarshal(rec, &h); err != nil {
		return Header{}, fmt.Errorf("record: %w", err)
	}
	ids, err := ParseID(h.ID)
	if err != nil {
		return Header{}, fmt.Errorf("record: %w", err)
	}
	if h.GroupID == "" {
		return Header{}, errors.New("record: missing group_id")
	}
	var at time.Time
	if h.UpdatedAt != "" {
		if at, err = parseTime(h.UpdatedAt); err != nil {
			return Header{}, fmt.Errorf("record: updated_at: %w", err)
		}
	}
	return Header{IDs: ids, GroupID: h.GroupID, UpdatedAt: at}, nil
}

// Unwrap returns the record inside a Connec! envelope `{"<collection>": …}`
// (the body of a read, create or update answer).
func Unwrap(body []byte, collection string) (json.RawMessage, error) {
	var env map[string]json.RawMessage
	if err := json.Unmarshal(body, &env); err != nil {
		return nil, fmt.Errorf("connec answer: %w", err)
	}
	rec, ok := env[collection]
	if !ok {
		return nil, fmt.Errorf("connec answer: no %q key", collection)
	}
	return rec, nil
}

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
	var sum int64
	for i, l := range lines {
		line, cur, err := decodeLine(l)
		if err != nil {
			return store.Invoice{}, fmt.Errorf("invoice line %d: %w", i+1, err)
		}
		if inv.Currency == "" {
			inv.Currency = cur
		}
		if sum, err = addCents(sum, line.TotalCents); err != nil {
			return store.Invoice{}, fmt.Errorf("invoice lines total: %w", err)
		}
		inv.Lines = append(inv.Lines, line)
	}
	inv.TotalCents = sum
	if a := r.Amount; a.present() {
		if inv.Currency == "" {
			inv.Currency = a.Currency
		}
		if a.TaxAmount != "" {
			if inv.TaxCents, err = toCents(a.TaxAmount); err != nil {
				return store.Invoice{}, fmt.Errorf("invoice amount.tax_amount: %w", err)
			}
		}
		switch {
		case a.TotalAmount != "":
			if inv.TotalCents, err = toCents(a.TotalAmount); err != nil {
				return store.Invoice{}, fmt.Errorf("invoice amount.total_amount: %w", err)
			}
		case a.NetAmount != "":
			net, err := toCents(a.NetAmount)
			if err != nil {
				return store.Invoice{}, fmt.Errorf("invoice amount.net_amount: %w", err)
			}
			if inv.TotalCents, err = addCents(net, inv.TaxCents); err != nil {
				return store.Invoice{}, fmt.Errorf("invoice amount: %w", err)
			}
		}
	}
	inv.Currency = strings.ToUpper(inv.Currency)
	return inv, nil
}

func decodeLine(l remoteLine) (store.InvoiceLine, string, error) {
	line := store.InvoiceLine{Description: l.Description, Quantity: 1}
	var cur string
	if l.Quantity != "" {
		q, err := l.Quantity.Float64()
		if err != nil || math.IsNaN(q) || math.IsInf(q, 0) {
			return line, "", fmt.Errorf("quantity %q is not a number", l.Quantity)
		}
		line.Quantity = q
	}
	var err error
	if p := &l.UnitPrice; p.present() {
		cur = p.Currency
		if line.UnitPriceCents, err = netCents(p); err != nil {
			return line, "", fmt.Errorf("unit_price: %w", err)
		}
	}
	if p := &l.TotalPrice; p.present() {
		if cur == "" {
			cur = p.Currency
		}
		if line.TotalCents, err = netCents(p); err != nil {
			return line, "", fmt.Errorf("total_price: %w", err)
		}
	} else {
		total := math.Round(float64(line.UnitPriceCents) * line.Quantity)
		if math.Abs(total) > math.MaxInt64/2 {
			return line, "", errors.New("line total out of range")
		}
		line.TotalCents = int64(total)
	}
	return line, cur, nil
}

// present reports whether the price object carries any amount.
func (p *price) present() bool {
	return p.NetAmount != "" || p.TaxAmount != "" || p.TotalAmount != "" || p.Currency != ""
}

// netCents is a price object's net amount, or its total when it has none.
func netCents(p *price) (int64, error) {
	switch {
	case p.NetAmount != "":
		return toCents(p.NetAmount)
	case p.TotalAmount != "":
		return toCents(p.TotalAmount)
	}
	return 0, nil
}

var hundred = big.NewRat(100, 1)

// toCents converts a decimal amount in major units to cents, exactly.
func toCents(n json.Number) (int64, error) {
	if c, ok := plainCents(string(n)); ok {
		return c, nil
	}
	r, ok := new(big.Rat).SetString(string(n))
	if !ok {
		return 0, fmt.Errorf("amount %q is not a number", string(n))
	}
	r.Mul(r, hundred)
	// Round half away from zero: add ±1/2 and truncate.
	half := big.NewRat(1, 2)
	if r.Sign() < 0 {
		half.Neg(half)
	}
	r.Add(r, half)
	q := new(big.Int).Quo(r.Num(), r.Denom())
	if !q.IsInt64() {
		return 0, fmt.Errorf("amount %q out of range", string(n))
	}
	return q.Int64(), nil
}

// plainCents is toCents' fast path for the common "-123.4567" form (no
// exponent, at most 15 integer digits); ok is false for anything else.
func plainCents(s string) (int64, bool) {
	neg := strings.HasPrefix(s, "-")
	if neg {
		s = s[1:]
	}
	whole, frac, _ := strings.Cut(s, ".")
	if whole == "" || len(whole) > 15 || !digits(whole) || !digits(frac) {
		return 0, false
	}
	var c int64
	for i := 0; i < len(whole); i++ {
		c = c*10 + int64(whole[i]-'0')
	}
	for i := 0; i < 2; i++ {
		c *= 10
		if i < len(frac) {
			c += int64(frac[i] - '0')
		}
	}
	if len(frac) > 2 && frac[2] >= '5' { // half away from zero
		c++
	}
	if neg {
		c = -c
	}
	return c, true
}

func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func addCents(a, b int64) (int64, error) {
	s := a + b
	if (b > 0 && s < a) || (b < 0 && s > a) {
		return 0, errors.New("amount out of range")
	}
	return s, nil
}

// amount writes cents as a decimal number in major units ("-12.05").
func amount(cents int64) json.Number {
	sign := ""
	u := uint64(cents)
	if cents < 0 {
		sign = "-"
		u = uint64(-(cents + 1)) + 1 // safe for MinInt64
	}
	return json.Number(fmt.Sprintf("%s%d.%02d", sign, u/100, u%100))
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
			"net_amount":   amount(inv.TotalCents - inv.TaxCents),
			"tax_amount":   amount(inv.TaxCents),
			"total_amount": amount(inv.TotalCents),
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
			"unit_price":  map[string]any{"net_amount": amount(l.UnitPriceCents), "currency": cur},
			"total_price": map[string]any{"net_amount": amount(l.TotalCents), "currency": cur},
		})
	}
	rec["lines"] = lines
	if cfg.ExternalIDs() {
		rec["id"] = []Ref{OurRef(cfg, inv.GroupUID, inv.ID)}
	}
	return rec
}
