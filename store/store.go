// Package store owns the bbolt file: buckets, keys, encoding, indexes,
// migrations and transactions. No bbolt type leaves this package.
package store

import (
	"errors"
	"time"
)

// ErrNotFound is returned by lookups of a missing record.
var ErrNotFound = errors.New("not found")

// ErrInUse is returned by Open when another process holds the file.
var ErrInUse = errors.New("database is in use by another process")

var errTODO = errors.New("store: not implemented yet")

// DB is one open Tenantdesk data file.
type DB struct{}

// Options tune Open; the zero value is what the app uses.
type Options struct {
	LockTimeout time.Duration // default 1s
	NoSync      bool          // tests and benchmarks only
}

// Open opens (creating with mode 0600) the file at path, runs migrations,
// and refuses a schema newer than this code knows.
func Open(path string, opt Options) (*DB, error) { return nil, errTODO }

func (db *DB) Close() error                    { return errTODO }
func (db *DB) Path() string                    { return "" }
func (db *DB) Size() int64                     { return 0 }
func (db *DB) View(fn func(*Tx) error) error   { return errTODO }
func (db *DB) Update(fn func(*Tx) error) error { return errTODO }

// Batch is Update with group commit for concurrent small writes; fn may be
// called more than once and must be idempotent.
func (db *DB) Batch(fn func(*Tx) error) error { return errTODO }

// Backup writes a consistent copy of the database to path.
func (db *DB) Backup(path string) error { return errTODO }

// Healthy reports whether the file is writable.
func (db *DB) Healthy() error { return errTODO }

// Tx is a read or read-write transaction.
type Tx struct{}

// Tenants.
func (tx *Tx) PutTenant(t Tenant) error          { return errTODO }
func (tx *Tx) Tenant(key string) (Tenant, error) { return Tenant{}, errTODO }
func (tx *Tx) Tenants() ([]Tenant, error)        { return nil, errTODO }
func (tx *Tx) DeleteTenant(key string) error     { return errTODO }

// Users, groups, memberships.
func (tx *Tx) PutUser(u User) error                    { return errTODO }
func (tx *Tx) User(tenant, uid string) (User, error)   { return User{}, errTODO }
func (tx *Tx) DeleteUser(tenant, uid string) error     { return errTODO }
func (tx *Tx) PutGroup(g Group) error                  { return errTODO }
func (tx *Tx) Group(tenant, uid string) (Group, error) { return Group{}, errTODO }
func (tx *Tx) Groups(tenant string) ([]Group, error)   { return nil, errTODO } // tenant "" = all
func (tx *Tx) PutMembership(m Membership) error        { return errTODO }
func (tx *Tx) Membership(tenant, groupUID, userUID string) (Membership, error) {
	return Membership{}, errTODO
}
func (tx *Tx) GroupMemberships(tenant, groupUID string) ([]Membership, error) { return nil, errTODO }
func (tx *Tx) UserMemberships(tenant, userUID string) ([]Membership, error)   { return nil, errTODO }

// Sessions, SAML request tracking and the assertion replay cache.
func (tx *Tx) PutSession(s Session) error           { return errTODO }
func (tx *Tx) Session(id string) (Session, error)   { return Session{}, errTODO }
func (tx *Tx) PutAuthnRequest(r AuthnRequest) error { return errTODO }

// ConsumeAuthnRequest deletes and returns the tenant's pending request id;
// ErrNotFound when it is unknown, expired or of another tenant.
func (tx *Tx) ConsumeAuthnRequest(tenant, id string, now time.Time) (AuthnRequest, error) {
	return AuthnRequest{}, errTODO
}

// RememberAssertion records an assertion id until expires; it returns false
// when the id was already seen (a replay).
func (tx *Tx) RememberAssertion(tenant, id string, expires, now time.Time) (bool, error) {
	return false, errTODO
}

// PurgeExpired drops sessions, requests and replay entries past their time.
func (tx *Tx) PurgeExpired(now time.Time) error { return errTODO }

// Invoices and other Connec! records.
func (tx *Tx) NextInvoiceID() (string, error)                   { return "", errTODO }
func (tx *Tx) PutInvoice(inv Invoice) error                     { return errTODO }
func (tx *Tx) Invoice(id string) (Invoice, error)               { return Invoice{}, errTODO }
func (tx *Tx) Invoices(tenant string) ([]Invoice, error)        { return nil, errTODO } // "" = all
func (tx *Tx) PutRecord(r Record) error                         { return errTODO }
func (tx *Tx) Record(tenant, entity, id string) (Record, error) { return Record{}, errTODO }

// Identity map.
// PutConnected inserts (ID 0) or updates a row and keeps every index in step;
// it returns the row's ID.
func (tx *Tx) PutConnected(c ConnectedObject) (uint64, error) { return 0, errTODO }
func (tx *Tx) Connected(id uint64) (ConnectedObject, error)   { return ConnectedObject{}, errTODO }
func (tx *Tx) ConnectedByRemote(tenant, remoteID string) (ConnectedObject, error) {
	return ConnectedObject{}, errTODO
}
func (tx *Tx) ConnectedByLocal(tenant, kind, localID string) (ConnectedObject, error) {
	return ConnectedObject{}, errTODO
}
func (tx *Tx) DeleteConnected(id uint64) error { return errTODO }

// QueryConnected returns one page of rows and the cursor of the next page
// ("" when there is none).
func (tx *Tx) QueryConnected(q IdmapQuery) ([]ConnectedObject, string, error) {
	return nil, "", errTODO
}

// CountConnected counts rows for a tenant and entity ("" = any) without a scan.
func (tx *Tx) CountConnected(tenant, entity string) (int, error) { return 0, errTODO }

// Billing ledger and run history.
func (tx *Tx) PutBill(b Bill) error                               { return errTODO }
func (tx *Tx) Bill(tenant, groupUID, period string) (Bill, error) { return Bill{}, errTODO }
func (tx *Tx) Bills(period, tenant string) ([]Bill, error)        { return nil, errTODO } // "" = all
func (tx *Tx) PutBillingRun(r BillingRun) (uint64, error)         { return 0, errTODO }
func (tx *Tx) BillingRuns(limit int) ([]BillingRun, error)        { return nil, errTODO } // newest first

// Outbox.
func (tx *Tx) PutOutboxItem(it OutboxItem) (uint64, error)              { return 0, errTODO }
func (tx *Tx) OutboxItem(id uint64) (OutboxItem, error)                 { return OutboxItem{}, errTODO }
func (tx *Tx) OutboxDue(now time.Time, limit int) ([]OutboxItem, error) { return nil, errTODO }
func (tx *Tx) OutboxByStatus(status string) ([]OutboxItem, error)       { return nil, errTODO }

// Activity log (bounded; oldest entries dropped).
func (tx *Tx) AppendEvent(e Event) (uint64, error)                { return 0, errTODO }
func (tx *Tx) EventsAfter(seq uint64, limit int) ([]Event, error) { return nil, errTODO }
func (tx *Tx) RecentEvents(limit int) ([]Event, error)            { return nil, errTODO } // newest first
