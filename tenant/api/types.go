package api

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/tenantdesk/tenantdesk/tenant/money"
)

// ErrMalformed matches an answer that is not the account API's envelope or
// whose data does not have the expected shape.
var ErrMalformed = errors.New("malformed answer")

// BillRequest is the body of POST account/bills (maestrano-protocol §4.4).
type BillRequest struct {
	GroupID         string    `json:"group_id"`
	PriceCents      int64     `json:"price_cents"`
	Currency        string    `json:"currency"`
	Description     string    `json:"description"`
	PeriodStartedAt time.Time `json:"period_started_at"`
	PeriodEndedAt   time.Time `json:"period_ended_at"`
}

// Validate checks what the API would refuse, before anything is sent.
func (r BillRequest) Validate() error {
	var problems []string
	if r.GroupID == "" {
		problems = append(problems, "group_id is empty")
	}
	if r.PriceCents <= 0 {
		problems = append(problems, fmt.Sprintf("price_cents %d is not positive", r.PriceCents))
	}
	if !money.ValidCode(r.Currency) {
		problems = append(problems, fmt.Sprintf("currency %q is not an ISO 4217 code", r.Currency))
	}
	if strings.TrimSpace(r.Description) == "" {
		problems = append(problems, "description is empty")
	}
	if !r.PeriodEndedAt.After(r.PeriodStartedAt) {
		problems = append(problems, "period_ended_at is not after period_started_at")
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	return nil
}

// Bill statuses at the API (maestrano-protocol §4.4).
const (
	BillSubmitted = "submitted"
	BillInvoiced  = "invoiced"
	BillCancelled = "cancelled"
)

// Bill is an account_bill as the API returns it. Period fields are nil
// when the API shows them as null.
type Bill struct {
	Object          string     `json:"object,omitempty"`
	ID              string     `json:"id"`
	GroupID         string     `json:"group_id"`
	PriceCents      int64      `json:"price_cents"`
	Currency        string     `json:"currency"`
	Description     string     `json:"description"`
	Status          string     `json:"status,omitempty"`
	PeriodStartedAt *time.Time `json:"period_started_at,omitempty"`
	PeriodEndedAt   *time.Time `json:"period_ended_at,omitempty"`
	CreatedAt       *time.Time `json:"created_at,omitempty"`
	UpdatedAt       *time.Time `json:"updated_at,omitempty"`
}

// Matches reports whether b is the bill that req would create: same group,
// amount, currency and description, and the same period start when the API
// shows one. Billing uses it to adopt a bill whose creation it could not
// confirm (a crash or a lost answer) instead of submitting it twice.
func (b Bill) Matches(req BillRequest) bool {
	if b.GroupID != req.GroupID || b.PriceCents != req.PriceCents || b.Description != req.Description {
		return false
	}
	if b.Currency != "" && !strings.EqualFold(b.Currency, req.Currency) {
		return false
	}
	return b.PeriodStartedAt == nil || b.PeriodStartedAt.Equal(req.PeriodStartedAt)
}
