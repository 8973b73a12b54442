package store

import (
	"encoding/binary"
	"fmt"

	"go.etcd.io/bbolt"
)

// The bucket registry: every bucket of the store is declared here, once,
// with its kind, and nowhere else; the lists below are derived from it.
// Values are encoded by encodeValue (codec.go); index buckets hold empty
// values and carry all their information in the key, but for outbox-due,
// whose value is the item's tenant (for the scans that skip tenants other
// replicas work; empty in entries written before).
//
// On etcd a bucket is the key prefix <store prefix><name>/ (etcd.go).
var registry []*bucketDef

// bucketKind says what a bucket holds and so what may be rebuilt from what.
type bucketKind int

const (
	kindData    bucketKind = iota // records of their own
	kindIndex                     // derived from the bucket named by of
	kindCounter                   // counts derived from the bucket named by of ("" = kept by their writers)
)

// bucketDef is one bucket of the registry.
type bucketDef struct {
	name string
	bolt []byte // name as bbolt keys it, made once: Tx.Bucket runs per row
	kind bucketKind
	of   *bucketDef // the data bucket an index or counter is derived from
	v1   bool       // schema 1 stored its values as plain JSON (migrateV1toV2)
	id   int        // position in registry
}

func (b *bucketDef) String() string { return b.name }

// key is the bucket's name as bbolt stores it.
func (b *bucketDef) key() []byte { return b.bolt }

func def(name string, kind bucketKind, of *bucketDef, v1 bool) *bucketDef {
	b := &bucketDef{name: name, bolt: []byte(name), kind: kind, of: of, v1: v1, id: len(registry)}
	registry = append(registry, b)
	return b
}

// data, indexOf and counterOf declare the three kinds of bucket.
func data(name string, v1 bool) *bucketDef          { return def(name, kindData, nil, v1) }
func indexOf(of *bucketDef, name string) *bucketDef { return def(name, kindIndex, of, false) }
func counterOf(of *bucketDef, name string) *bucketDef {
	return def(name, kindCounter, of, false)
}

const v1JSON = true // the bucket's schema-1 values were plain JSON

var (
	bucketMeta = data("meta", false) // schema version and housekeeping

	bucketTenants          = data("tenants", v1JSON)                        // key
	bucketUsers            = data("users", v1JSON)                          // tenant\x00uid
	bucketGroups           = data("groups", v1JSON)                         // tenant\x00uid
	bucketMemberships      = data("memberships", v1JSON)                    // tenant\x00group\x00user
	bucketMembershipByUser = indexOf(bucketMemberships, "memberships-user") // tenant\x00user\x00group
	bucketSessions         = data("sessions", v1JSON)                       // id
	bucketAuthnRequests    = data("authn-requests", false)                  // tenant\x00id; tenant\x00 holds the pending count (pending.go)
	bucketAssertions       = data("assertions", false)                      // replay cache: tenant\x00id
	bucketInvoices         = data("invoices", v1JSON)                       // id ("inv-000001"); sequence = last id
	bucketInvoiceByTenant  = indexOf(bucketInvoices, "invoices-tenant")     // tenant\x00id
	bucketRecords          = data("records", v1JSON)                        // tenant\x00entity\x00id
	bucketIdmap            = data("idmap", v1JSON)                          // be64 id
	bucketIdmapEntity      = indexOf(bucketIdmap, "idmap-entity")           // tenant\x00entity\x00be64
	bucketIdmapEntityOnly  = indexOf(bucketIdmap, "idmap-entity-only")      // entity\x00be64
	bucketIdmapRemote      = indexOf(bucketIdmap, "idmap-remote")           // tenant\x00remote\x00be64
	bucketIdmapLocal       = indexOf(bucketIdmap, "idmap-local")            // tenant\x00kind\x00local\x00be64
	bucketIdmapName        = indexOf(bucketIdmap, "idmap-name")             // name\x00tenant\x00entity\x00be64
	bucketIdmapTenantName  = indexOf(bucketIdmap, "idmap-tenant-name")      // tenant\x00name\x00entity\x00be64
	bucketIdmapGroup       = indexOf(bucketIdmap, "idmap-group")            // tenant\x00group\x00be64
	bucketIdmapCounts      = counterOf(bucketIdmap, "idmap-counts")         // counter key -> be64 count
	bucketBills            = data("bills", v1JSON)                          // tenant\x00period\x00group
	bucketBillByPeriod     = indexOf(bucketBills, "bills-period")           // period\x00tenant\x00group
	bucketBillingRuns      = data("billing-runs", v1JSON)                   // be64 id
	bucketOutbox           = data("outbox", v1JSON)                         // be64 id
	bucketOutboxDue        = indexOf(bucketOutbox, "outbox-due")            // be64 time, be64 id (outboxDueKey) -> the item's tenant
	bucketOutboxStatus     = indexOf(bucketOutbox, "outbox-status")         // status\x00be64 id
	bucketEvents           = data("events", v1JSON)                         // be64 seq; the sequence of both event classes
	bucketSecurityEvents   = data("events-security", false)                 // be64 seq: refused logins, bad credentials, errors
	bucketPulls            = data("pulls", false)                           // tenant\x00group\x00collection
	bucketPullsDue         = indexOf(bucketPulls, "pulls-due")              // be64 time + pulls key
	bucketPullLinks        = data("pull-links", false)                      // tenant\x00group\x00collection\x00connec id
	bucketPullStops        = data("pull-stops", false)                      // tenant
	bucketAdminAccess      = data("admin-access", false)                    // name: remote admin's token hash, TLS certificate
	bucketSettings         = data("settings", false)                        // setting key ("public-url")
	bucketDayCounts        = counterOf(nil, "day-counts")                   // tenant\x00YYYY-MM-DD\x00kind\x00outcome\x00reason -> be64 (daycounts.go)
)

// Lists derived from the registry, once every bucket above is declared.
var (
	// allBuckets lists every bucket of the current schema; Open creates
	// the missing ones after the migrations ran.
	allBuckets []*bucketDef
	// idmapIndexBuckets are derived entirely from the idmap bucket and can
	// be rebuilt from it at any time.
	idmapIndexBuckets []*bucketDef
	// v1ValueBuckets are the schema-1 buckets whose values were plain JSON.
	v1ValueBuckets []*bucketDef
)

func init() {
	allBuckets = registry
	idmapIndexBuckets = derivedFrom(bucketIdmap)
	v1ValueBuckets = bucketsWhere(func(b *bucketDef) bool { return b.v1 })
}

func derivedFrom(of *bucketDef) []*bucketDef {
	return bucketsWhere(func(b *bucketDef) bool { return b.kind != kindData && b.of == of })
}

func bucketsWhere(keep func(*bucketDef) bool) []*bucketDef {
	var out []*bucketDef
	for _, b := range registry {
		if keep(b) {
			out = append(out, b)
		}
	}
	return out
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
//	3  secrets sealed (vault.go): a vault record in meta, tenants' secret fields
//	   in "sealed", secret settings and the admin TLS pair as sealed values
const SchemaVersion = 3

// sealedSchema is the first schema whose secrets are sealed.
const sealedSchema = 3

// A migration moves the file from version to-1 to version to. All steps run
// in the one transaction of Open, so a failed step leaves the file as it was.
type migration struct {
	to   uint64
	what string
	run  func(*bbolt.Tx, *keyring) error
}

var migrations = []migration{
	{to: 2, what: "add codec byte to values; rebuild identity-map indexes",
		run: func(btx *bbolt.Tx, _ *keyring) error { return migrateV1toV2(btx) }},
	{to: 3, what: "seal secrets", run: migrateV2toV3},
}

// upToDate reports whether the file is at SchemaVersion with every bucket
// and its vault record: then Open has nothing to write.
func upToDate(btx *bbolt.Tx) bool {
	if v, err := schemaVersion(btx); err != nil || v != SchemaVersion {
		return false
	}
	for _, name := range allBuckets {
		if btx.Bucket(name.key()) == nil {
			return false
		}
	}
	_, ok, err := readVault(btx)
	return ok && err == nil
}

// migrate brings a file to SchemaVersion. A file Open has just created
// gets the current layout directly; an existing file without a schema
// version is not ours (or not one any more) and is refused, never
// initialized. The vault is loaded (or made) once the file is known to be
// ours, before the steps that seal.
func migrate(btx *bbolt.Tx, path string, created bool, vault *keyring) error {
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
	if err := vault.load(btx); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	for _, m := range migrations {
		if m.to <= version {
			continue
		}
		if err := m.run(btx, vault); err != nil {
			return fmt.Errorf("%s: migrate to schema %d (%s): %w", path, m.to, m.what, err)
		}
		version = m.to
	}
	for _, name := range allBuckets {
		if _, err := btx.CreateBucketIfNotExists(name.key()); err != nil {
			return fmt.Errorf("%s: create bucket %s: %w", path, name, err)
		}
	}
	return setSchemaVersion(btx, version)
}

func schemaVersion(btx *bbolt.Tx) (uint64, error) {
	meta := btx.Bucket(bucketMeta.key())
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
	meta, err := btx.CreateBucketIfNotExists(bucketMeta.key())
	if err != nil {
		return err
	}
	return meta.Put(metaSchemaVersion, be64(version))
}

func migrateV1toV2(btx *bbolt.Tx) error {
	for _, name := range v1ValueBuckets {
		b := btx.Bucket(name.key())
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
