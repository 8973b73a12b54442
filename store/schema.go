package store

import (
	"encoding/binary"
	"fmt"

	"go.etcd.io/bbolt"
)

// The bucket registry: every bucket of the file is named here and nowhere
// else. Values are encoded by encodeValue (codec.go); index buckets hold
// empty values and carry all their information in the key.
var (
	bucketMeta = []byte("meta") // schema version and housekeeping

	bucketTenants          = []byte("tenants")           // key
	bucketUsers            = []byte("users")             // tenant\x00uid
	bucketGroups           = []byte("groups")            // tenant\x00uid
	bucketMemberships      = []byte("memberships")       // tenant\x00group\x00user
	bucketMembershipByUser = []byte("memberships-user")  // index: tenant\x00user\x00group
	bucketSessions         = []byte("sessions")          // id
	bucketAuthnRequests    = []byte("authn-requests")    // tenant\x00id; tenant\x00 holds the pending count (pending.go)
	bucketAssertions       = []byte("assertions")        // replay cache: tenant\x00id
	bucketInvoices         = []byte("invoices")          // id ("inv-000001"); sequence = last id
	bucketInvoiceByTenant  = []byte("invoices-tenant")   // index: tenant\x00id
	bucketRecords          = []byte("records")           // tenant\x00entity\x00id
	bucketIdmap            = []byte("idmap")             // be64 id
	bucketIdmapEntity      = []byte("idmap-entity")      // index: tenant\x00entity\x00be64
	bucketIdmapEntityOnly  = []byte("idmap-entity-only") // index: entity\x00be64
	bucketIdmapRemote      = []byte("idmap-remote")      // index: tenant\x00remote\x00be64
	bucketIdmapLocal       = []byte("idmap-local")       // index: tenant\x00kind\x00local\x00be64
	bucketIdmapName        = []byte("idmap-name")        // index: name\x00tenant\x00entity\x00be64
	bucketIdmapTenantName  = []byte("idmap-tenant-name") // index: tenant\x00name\x00entity\x00be64
	bucketIdmapGroup       = []byte("idmap-group")       // index: tenant\x00group\x00be64
	bucketIdmapCounts      = []byte("idmap-counts")      // counter key -> be64 count
	bucketBills            = []byte("bills")             // tenant\x00period\x00group
	bucketBillByPeriod     = []byte("bills-period")      // index: period\x00tenant\x00group
	bucketBillingRuns      = []byte("billing-runs")      // be64 id
	bucketOutbox           = []byte("outbox")            // be64 id
	bucketOutboxDue        = []byte("outbox-due")        // index: be64 time\x00... see outboxDueKey
	bucketOutboxStatus     = []byte("outbox-status")     // index: status\x00be64 id
	bucketEvents           = []byte("events")            // be64 seq; the sequence of both event classes
	bucketSecurityEvents   = []byte("events-security")   // be64 seq: refused logins, bad credentials, errors
	bucketPulls            = []byte("pulls")             // tenant\x00group\x00collection
	bucketPullsDue         = []byte("pulls-due")         // index: be64 time + pulls key
	bucketPullLinks        = []byte("pull-links")        // tenant\x00group\x00collection\x00connec id
	bucketPullStops        = []byte("pull-stops")        // tenant
	bucketAdminAccess      = []byte("admin-access")      // name: remote admin's token hash, TLS certificate
	bucketSettings         = []byte("settings")          // setting key ("public-url")
	bucketDayCounts        = []byte("day-counts")        // tenant\x00YYYY-MM-DD\x00kind\x00outcome\x00reason -> be64 (daycounts.go)
)

// allBuckets lists every bucket of the current schema; Open creates the
// missing ones after the migrations ran.
var allBuckets = [][]byte{
	bucketMeta,
	bucketTenants, bucketUsers, bucketGroups, bucketMemberships, bucketMembershipByUser,
	bucketSessions, bucketAuthnRequests, bucketAssertions,
	bucketInvoices, bucketInvoiceByTenant, bucketRecords,
	bucketIdmap, bucketIdmapEntity, bucketIdmapEntityOnly, bucketIdmapRemote, bucketIdmapLocal,
	bucketIdmapName, bucketIdmapTenantName, bucketIdmapGroup, bucketIdmapCounts,
	bucketBills, bucketBillByPeriod, bucketBillingRuns,
	bucketOutbox, bucketOutboxDue, bucketOutboxStatus,
	bucketEvents, bucketSecurityEvents,
	bucketPulls, bucketPullsDue, bucketPullLinks, bucketPullStops,
	bucketAdminAccess,
	bucketSettings,
	bucketDayCounts,
}

// idmapIndexBuckets are derived entirely from the idmap bucket and can be
// rebuilt from it at any time.
var idmapIndexBuckets = [][]byte{
	bucketIdmapEntity, bucketIdmapEntityOnly, bucketIdmapRemote, bucketIdmapLocal,
	bucketIdmapName, bucketIdmapTenantName, bucketIdmapGroup, bucketIdmapCounts,
}

var (
	metaSchemaVersion = []byte("schema-version")
	// counts of the two event classes (events.go)
	metaEventsCount         = []byte("events-count")
	metaSecurityEventsCount = []byte("events-security-count")
)

// SchemaVersion is the layout this code reads and writes.
//
//	1  first release: plain JSON values, identity map with a remote-id index only
//	2  values carry a codec byte; identity map indexes by tenant+entity, local id,
//	   name, group, and O(1) counters
const SchemaVersion = 2

// A migration moves the file from version to-1 to version to. All steps run
// in the one transaction of Open, so a failed step leaves the file as it was.
type migration struct {
	to   uint64
	what string
	run  func(*bbolt.Tx) error
}

var migrations = []migration{
	{to: 2, what: "add codec byte to values; rebuild identity-map indexes", run: migrateV1toV2},
}

// upToDate reports whether the file is at SchemaVersion with every bucket:
// then Open has nothing to write.
func upToDate(btx *bbolt.Tx) bool {
	if v, err := schemaVersion(btx); err != nil || v != SchemaVersion {
		return false
	}
	for _, name := range allBuckets {
		if btx.Bucket(name) == nil {
			return false
		}
	}
	return true
}

// migrate brings a file to SchemaVersion. A file Open has just created
// gets the current layout directly; an existing file without a schema
// version is not ours (or not one any more) and is refused, never
// initialized.
func migrate(btx *bbolt.Tx, path string, created bool) error {
	version, err := schemaVersion(btx)
	if err != nil {
		return err
	}
	if version == 0 {
		if !created {
			return fmt.Errorf("%s: %w: no schema version (not a Tenantdesk data file?)", path, ErrSchema)
		}
		version = SchemaVersion
	}
	if version > SchemaVersion {
		return fmt.Errorf("%s: %w: file has schema version %d, this build knows up to %d; use a newer Tenantdesk",
			path, ErrSchema, version, SchemaVersion)
	}
	for _, m := range migrations {
		if m.to <= version {
			continue
		}
		if err := m.run(btx); err != nil {
			return fmt.Errorf("%s: migrate to schema %d (%s): %w", path, m.to, m.what, err)
		}
		version = m.to
	}
	for _, name := range allBuckets {
		if _, err := btx.CreateBucketIfNotExists(name); err != nil {
			return fmt.Errorf("%s: create bucket %s: %w", path, name, err)
		}
	}
	return setSchemaVersion(btx, version)
}

func schemaVersion(btx *bbolt.Tx) (uint64, error) {
	meta := btx.Bucket(bucketMeta)
	if meta == nil {
		return 0, nil
	}
	v := meta.Get(metaSchemaVersion)
	if len(v) != 8 {
		return 0, fmt.Errorf("%w: schema version of %d bytes", ErrSchema, len(v))
	}
	return binary.BigEndian.Uint64(v), nil
}

func setSchemaVersion(btx *bbolt.Tx, version uint64) error {
	meta, err := btx.CreateBucketIfNotExists(bucketMeta)
	if err != nil {
		return err
	}
	return meta.Put(metaSchemaVersion, be64(version))
}

// v1 buckets whose values were plain JSON documents.
var v1ValueBuckets = [][]byte{
	bucketTenants, bucketUsers, bucketGroups, bucketMemberships, bucketSessions,
	bucketInvoices, bucketRecords, bucketIdmap, bucketBills, bucketBillingRuns,
	bucketOutbox, bucketEvents,
}

func migrateV1toV2(btx *bbolt.Tx) error {
	for _, name := range v1ValueBuckets {
		b := btx.Bucket(name)
		if b == nil {
			continue
		}
		// Collect first: bbolt cursors are not stable under Put.
		type kv struct{ k, v []byte }
		var rows []kv
		err := b.ForEach(func(k, v []byte) error {
			if v == nil { // nested bucket: v1 had none
				return nil
			}
			rows = append(rows, kv{k: clone(k), v: append([]byte{codecJSON1}, v...)})
			return nil
		})
		if err != nil {
			return err
		}
		for _, r := range rows {
			if err := b.Put(r.k, r.v); err != nil {
				return fmt.Errorf("bucket %s: %w", name, err)
			}
		}
	}
	return rebuildIdmapIndexes(btx)
}
