package store

import (
	"encoding/json"
	"time"
)

// Tenant is a tenant's stored configuration. The store keeps the document
// opaque: package tenant owns its shape and its validation.
type Tenant struct {
	Key    string          `json:"key"`
	Config json.RawMessage `json:"config"` // without its secrets
	// Secrets are the configuration's secret fields by name ("api.key"),
	// in clear, in memory only: PutTenant seals each into Sealed, and the
	// reads open them again (vault.go).
	Secrets map[string]string `json:"-"`
	// Sealed is what the file holds of Secrets.
	Sealed map[string]string `json:"sealed,omitempty"`
	// SecretsLocked is set by a read of a file whose key is missing
	// (DB.KeyErr): Sealed is there, Secrets are not.
	SecretsLocked bool      `json:"-"`
	CreatedAt     time.Time `json:"created_at"`
	UpdatedAt     time.Time `json:"updated_at"`
}

// User is a platform user as seen by one tenant. UID is the real uid in real
// creation mode and the virtual uid (`usr-1.cld-1`) in virtual mode.
type User struct {
	Tenant      string    `json:"tenant"`
	UID         string    `json:"uid"`
	RealUID     string    `json:"real_uid"`
	Email       string    `json:"email"`
	FirstName   string    `json:"first_name"`
	LastName    string    `json:"last_name"`
	Country     string    `json:"country,omitempty"`
	CompanyName string    `json:"company_name,omitempty"`
	Virtual     bool      `json:"virtual,omitempty"`
	Blocked     bool      `json:"blocked,omitempty"`
	BlockedAt   time.Time `json:"blocked_at,omitzero"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

// Group is a customer account of a tenant: the billing entity and the scope
// of its Connec! data.
type Group struct {
	Tenant        string    `json:"tenant"`
	UID           string    `json:"uid"`
	Name          string    `json:"name"`
	Email         string    `json:"email,omitempty"`
	Currency      string    `json:"currency,omitempty"`
	Timezone      string    `json:"timezone,omitempty"`
	Country       string    `json:"country,omitempty"`
	City          string    `json:"city,omitempty"`
	OrgUID        string    `json:"org_uid,omitempty"`
	FreeTrialEnd  time.Time `json:"free_trial_end,omitzero"`
	HasCreditCard bool      `json:"has_credit_card,omitempty"`
	// PriceCents overrides the tenant's billing price for this group when set.
	PriceCents  *int64    `json:"price_cents,omitempty"`
	Cancelled   bool      `json:"cancelled,omitempty"`
	CancelledAt time.Time `json:"cancelled_at,omitzero"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

// Membership links a user (by its local UID) to a group with a role.
type Membership struct {
	Tenant    string    `json:"tenant"`
	GroupUID  string    `json:"group_uid"`
	UserUID   string    `json:"user_uid"`
	Role      string    `json:"role"`
	Ended     bool      `json:"ended,omitempty"`
	EndedAt   time.Time `json:"ended_at,omitzero"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Session is a signed-in user's browser session, created by SSO consume.
type Session struct {
	ID         string    `json:"id"`
	Tenant     string    `json:"tenant"`
	UserUID    string    `json:"user_uid"`
	GroupUID   string    `json:"group_uid"`
	Role       string    `json:"role"`
	MnoSession string    `json:"mno_session"`
	MnoRecheck time.Time `json:"mno_recheck,omitzero"`
	CreatedAt  time.Time `json:"created_at"`
	ExpiresAt  time.Time `json:"expires_at"`
	// CheckBy names the hub check of this session under way on some
	// replica, until CheckUntil: the others wait for its outcome instead
	// of asking the hub themselves (tenant/sso sessioncheck.go).
	CheckBy    string    `json:"check_by,omitempty"`
	CheckUntil time.Time `json:"check_until,omitzero"`
}

// AuthnRequest is an SP-initiated SAML request this tenant issued and has
// not seen answered yet.
type AuthnRequest struct {
	Tenant  string `json:"tenant"`
	ID      string `json:"id"`
	GroupID string `json:"group_id,omitempty"`
	// Browser is the SHA-256 (hex) of the nonce in the login cookie of the
	// browser that started the request; consume requires that cookie.
	Browser   string    `json:"browser,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`
}

// InvoiceLine is one line of an invoice. Amounts are in minor units (cents).
type InvoiceLine struct {
	Description    string  `json:"description"`
	Quantity       float64 `json:"quantity"`
	UnitPriceCents int64   `json:"unit_price_cents"`
	TotalCents     int64   `json:"total_cents"`
}

// Invoice is a local invoice of a tenant's group (SPEC §7).
type Invoice struct {
	ID              string        `json:"id"`
	Tenant          string        `json:"tenant"`
	GroupUID        string        `json:"group_uid"`
	Number          string        `json:"number"`
	Title           string        `json:"title"`
	Status          string        `json:"status"`
	TransactionDate time.Time     `json:"transaction_date,omitzero"`
	DueDate         time.Time     `json:"due_date,omitzero"`
	Currency        string        `json:"currency"`
	Lines           []InvoiceLine `json:"lines"`
	TotalCents      int64         `json:"total_cents"`
	TaxCents        int64         `json:"tax_cents"`
	CreatedAt       time.Time     `json:"created_at"`
	UpdatedAt       time.Time     `json:"updated_at"`
}

// Record is a Connec! record of a collection we keep but do not model
// (everything except invoices). Data is the record as received.
type Record struct {
	Tenant    string          `json:"tenant"`
	GroupUID  string          `json:"group_uid"`
	Entity    string          `json:"entity"`
	ID        string          `json:"id"` // the Connec! id
	Data      json.RawMessage `json:"data"`
	UpdatedAt time.Time       `json:"updated_at"`
}

// Local kinds of connected objects.
const (
	KindUser    = "user"
	KindGroup   = "group"
	KindInvoice = "invoice"
	KindRecord  = "record"
)

// ConnectedObject is one identity-map row (SPEC §8): a local object and
// its id on the tenant's side.
type ConnectedObject struct {
	ID         uint64    `json:"id"` // assigned by the store
	Tenant     string    `json:"tenant"`
	GroupUID   string    `json:"group_uid"` // the realm
	LocalKind  string    `json:"local_kind"`
	LocalID    string    `json:"local_id"`
	Provider   string    `json:"provider"`
	Entity     string    `json:"entity"`
	RemoteID   string    `json:"remote_id"`
	Name       string    `json:"name"`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
	LastPushAt time.Time `json:"last_push_at,omitzero"`
	LastPullAt time.Time `json:"last_pull_at,omitzero"`
	// LinkedAt is when Connec! learnt our id triplet for this record (we
	// linked it back, or it came carrying it): it is never linked again.
	LinkedAt     time.Time `json:"linked_at,omitzero"`
	PushDisabled bool      `json:"push_disabled,omitempty"`
	PullDisabled bool      `json:"pull_disabled,omitempty"`
	LastError    string    `json:"last_error,omitempty"`
	Inactive     bool      `json:"inactive,omitempty"`
}

// IdmapQuery selects identity-map rows. Empty fields do not filter.
// Rows come in index order; After is the cursor returned with the
// previous page.
type IdmapQuery struct {
	Tenant     string
	Entity     string
	NamePrefix string // case-insensitive prefix of Name
	After      string
	Limit      int
}

// Bill statuses in the billing ledger.
const (
	BillPending   = "pending"
	BillSubmitted = "submitted"
	BillFailed    = "failed"
	// BillCancelled is a submitted bill cancelled at the API (DELETE
	// account/bills/{id}); runs leave it alone unless asked to bill again.
	BillCancelled = "cancelled"
)

// Bill is a billing-ledger row: one per (tenant, group, period).
type Bill struct {
	Tenant      string    `json:"tenant"`
	GroupUID    string    `json:"group_uid"`
	Period      string    `json:"period"` // YYYY-MM
	RunID       uint64    `json:"run_id"`
	Status      string    `json:"status"`
	RemoteID    string    `json:"remote_id,omitempty"`
	AmountCents int64     `json:"amount_cents"`
	Currency    string    `json:"currency"`
	Description string    `json:"description"`
	Attempts    int       `json:"attempts"`
	LastError   string    `json:"last_error,omitempty"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
	// CancelledAt is when the bill was cancelled; CancelledID is the
	// remote id of the last bill cancelled, kept when the group is billed
	// again (RemoteID then names the new bill).
	CancelledAt time.Time `json:"cancelled_at,omitzero"`
	CancelledID string    `json:"cancelled_id,omitempty"`
}

// BillingRun is one manual billing run, kept as history.
type BillingRun struct {
	ID         uint64    `json:"id"`
	Period     string    `json:"period"`
	Tenant     string    `json:"tenant,omitempty"` // empty: every tenant
	StartedAt  time.Time `json:"started_at"`
	FinishedAt time.Time `json:"finished_at,omitzero"`
	Submitted  int       `json:"submitted"`
	Skipped    int       `json:"skipped"`
	Failed     int       `json:"failed"`
	Cancelled  bool      `json:"cancelled,omitempty"`
}

// Outbox statuses.
const (
	OutboxQueued = "queued"
	OutboxFailed = "failed" // parked after too many tries; retried by hand
	OutboxDone   = "done"
)

// OutboxItem is a queued push of a local object to a tenant's Connec!.
type OutboxItem struct {
	ID            uint64    `json:"id"`
	Tenant        string    `json:"tenant"`
	GroupUID      string    `json:"group_uid"`
	Entity        string    `json:"entity"` // e.g. "invoices"
	LocalKind     string    `json:"local_kind"`
	LocalID       string    `json:"local_id"`
	Status        string    `json:"status"`
	Attempts      int       `json:"attempts"`
	NextAttemptAt time.Time `json:"next_attempt_at"`
	LastError     string    `json:"last_error,omitempty"`
	CreatedAt     time.Time `json:"created_at"`
	UpdatedAt     time.Time `json:"updated_at"`
	// CreateSentAt is when the first create (POST) of the item whose
	// outcome was never recorded went out: Connec! may hold the record.
	// Zero once an answer is recorded; the next attempt looks for that
	// record in Connec! before it creates again (tenant/connec/push.go).
	CreateSentAt time.Time `json:"create_sent_at,omitzero"`
}

// Event kinds of the activity log.
const (
	EventLogin   = "login"
	EventWebhook = "webhook"
	EventConnec  = "connec"
	EventBilling = "billing"
	EventOutbox  = "outbox"
	EventError   = "error"
	// EventDevPlatform is a developer-platform sync that changed tenants
	// or failed.
	EventDevPlatform = "devpl"
	// EventAuth is a Basic-auth failure (bad credentials, unknown or
	// disabled tenant on a Basic route), counted per minute.
	EventAuth = "auth"
)

// Event is one activity-log entry the GUI shows. The log is bounded.
type Event struct {
	Seq     uint64    `json:"seq"`
	At      time.Time `json:"at"`
	Tenant  string    `json:"tenant,omitempty"`
	Kind    string    `json:"kind"`
	Outcome string    `json:"outcome,omitempty"` // "ok" or "failed"
	Reason  string    `json:"reason,omitempty"`
	Message string    `json:"message"`
	// Count is how many failures an aggregated event stands for (SPEC §12:
	// one event per tenant, reason and minute); 0 for a single event.
	Count int `json:"count,omitempty"`
	// UserUID and GroupUID name who signed in (login events).
	UserUID  string `json:"user_uid,omitempty"`
	GroupUID string `json:"group_uid,omitempty"`
}
