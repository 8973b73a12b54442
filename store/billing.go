package store

import (
	"encoding/binary"
	"fmt"
)

// PutBill writes a billing-ledger row, one per (tenant, group, period).
func (tx *Tx) PutBill(b Bill) error {
	for _, p := range []struct{ what, v string }{{"bill tenant", b.Tenant}, {"bill group uid", b.GroupUID}, {"bill period", b.Period}} {
		if err := checkPart(p.what, p.v, true); err != nil {
			return err
		}
	}
	if err := put(tx.bucket(bucketBills), key(b.Tenant, b.Period, b.GroupUID), b); err != nil {
		return fmt.Errorf("put bill %s/%s/%s: %w", b.Tenant, b.GroupUID, b.Period, err)
	}
	return tx.bucket(bucketBillByPeriod).Put(key(b.Period, b.Tenant, b.GroupUID), nil)
}

// Bill returns the ledger row of a group for a period.
func (tx *Tx) Bill(tenant, groupUID, period string) (Bill, error) {
	var b Bill
	if err := get(tx.bucket(bucketBills), key(tenant, period, groupUID), &b); err != nil {
		return b, wrapGet(err, "bill", tenant, period, groupUID)
	}
	return b, nil
}

// Bills returns ledger rows filtered by period and tenant ("" = all), in
// (tenant, period, group) order, or (period, tenant, group) order when only
// the period is given.
func (tx *Tx) Bills(period, tenant string) ([]Bill, error) {
	bills := tx.bucket(bucketBills)
	switch {
	case tenant != "" && period != "":
		return decodeAll[Bill](bills, prefix(tenant, period))
	case tenant != "":
		return decodeAll[Bill](bills, prefix(tenant))
	case period == "":
		return decodeAll[Bill](bills, nil)
	}
	p := prefix(period)
	var out []Bill
	err := scanPrefix(tx.bucket(bucketBillByPeriod), p, func(k, _ []byte) error {
		tenant, group, ok := cut(string(k[len(p):]))
		if !ok {
			return fmt.Errorf("%w: bill index key %q", ErrCorrupt, k)
		}
		var b Bill
		if err := get(bills, key(tenant, period, group), &b); err != nil {
			return wrapGet(err, "bill", tenant, period, group)
		}
		out = append(out, b)
		return nil
	})
	return out, err
}

// PutBillingRun stores a billing run, assigning an id when r.ID is 0.
func (tx *Tx) PutBillingRun(r BillingRun) (uint64, error) {
	b := tx.bucket(bucketBillingRuns)
	if r.ID == 0 {
		id, err := b.NextSequence()
		if err != nil {
			return 0, fmt.Errorf("put billing run: %w", err)
		}
		r.ID = id
	}
	if err := put(b, be64(r.ID), r); err != nil {
		return 0, fmt.Errorf("put billing run %d: %w", r.ID, err)
	}
	return r.ID, nil
}

// BillingRuns returns up to limit runs, newest first (limit <= 0: all).
func (tx *Tx) BillingRuns(limit int) ([]BillingRun, error) {
	c := tx.bucket(bucketBillingRuns).Cursor()
	var out []BillingRun
	for k, v := c.Last(); k != nil && (limit <= 0 || len(out) < limit); k, v = c.Prev() {
		var r BillingRun
		if err := decodeValue(v, &r); err != nil {
			return out, fmt.Errorf("billing run %d: %w", binary.BigEndian.Uint64(k), err)
		}
		out = append(out, r)
	}
	return out, nil
}
