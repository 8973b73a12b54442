package store

import (
	"slices"
	"testing"
)

// The lists derived from the bucket registry are the ones that were kept
// by hand before it: a bucket added with the wrong kind changes one of
// them, and the migration, the index rebuild or Inspect with it.
func TestBucketRegistryDerivesTheLists(t *testing.T) {
	names := func(bs []*bucketDef) []string {
		var out []string
		for _, b := range bs {
			out = append(out, b.name)
		}
		return out
	}
	wantIdmap := []string{"idmap-entity", "idmap-entity-only", "idmap-remote", "idmap-local",
		"idmap-name", "idmap-tenant-name", "idmap-group", "idmap-counts"}
	if got := names(idmapIndexBuckets); !slices.Equal(got, wantIdmap) {
		t.Errorf("idmap index buckets %v, want %v", got, wantIdmap)
	}
	wantV1 := []string{"tenants", "users", "groups", "memberships", "sessions", "invoices", "records",
		"idmap", "bills", "billing-runs", "outbox", "events"}
	if got := names(v1ValueBuckets); !slices.Equal(got, wantV1) {
		t.Errorf("v1 JSON buckets %v, want %v", got, wantV1)
	}
	if len(allBuckets) != 36 || allBuckets[0] != bucketMeta {
		t.Errorf("%d buckets starting with %v, want 36 starting with meta", len(allBuckets), allBuckets[0])
	}
	seen := map[string]bool{}
	for i, b := range allBuckets {
		if seen[b.name] || b.id != i {
			t.Errorf("bucket %s: id %d at %d, or named twice", b.name, b.id, i)
		}
		seen[b.name] = true
		if (b.kind == kindIndex) != (b.of != nil && b.kind != kindCounter) || (b.of != nil && b.of.kind != kindData) {
			t.Errorf("bucket %s: kind %d derived from %v", b.name, b.kind, b.of)
		}
	}
	for i, b := range idmapIndexBucket {
		if b.kind != kindIndex || b.of != bucketIdmap {
			t.Errorf("idmapIndexBucket[%d] = %s is not an index of idmap", i, b)
		}
	}
	for name := range documents {
		if !seen[name] {
			t.Errorf("document bucket %q is not in the registry", name)
		}
	}
}
