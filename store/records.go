package store

import (
	"fmt"
)

// NextInvoiceID reserves the next local invoice id ("inv-000001").
func (tx *Tx) NextInvoiceID() (string, error) {
	n, err := tx.bucket(bucketInvoices).NextSequence()
	if err != nil {
		return "", fmt.Errorf("next invoice id: %w", err)
	}
	return fmt.Sprintf("inv-%06d", n), nil
}

// PutInvoice stores an invoice (its ID from NextInvoiceID) and keeps the
// by-tenant index in step when its tenant changes.
func (tx *Tx) PutInvoice(inv Invoice) error {
	if err := checkPart("invoice id", inv.ID, true); err != nil {
		return err
	}
	if err := checkPart("invoice tenant", inv.Tenant, false); err != nil {
		return err
	}
	b := tx.bucket(bucketInvoices)
	byTenant := tx.bucket(bucketInvoiceByTenant)
	var old Invoice
	if err := get(b, key(inv.ID), &old); err == nil && old.Tenant != inv.Tenant {
		if err := byTenant.Delete(key(old.Tenant, inv.ID)); err != nil {
			return fmt.Errorf("put invoice %q: %w", inv.ID, err)
		}
	}
	if err := put(b, key(inv.ID), inv); err != nil {
		return fmt.Errorf("put invoice %q: %w", inv.ID, err)
	}
	return byTenant.Put(key(inv.Tenant, inv.ID), nil)
}

// Invoice returns an invoice by id.
func (tx *Tx) Invoice(id string) (Invoice, error) {
	var inv Invoice
	if err := get(tx.bucket(bucketInvoices), []byte(id), &inv); err != nil {
		return inv, wrapGet(err, "invoice", id)
	}
	return inv, nil
}

// Invoices returns a tenant's invoices in id order; "" returns all.
func (tx *Tx) Invoices(tenant string) ([]Invoice, error) {
	b := tx.bucket(bucketInvoices)
	if tenant == "" {
		return decodeAll[Invoice](b, nil)
	}
	p := prefix(tenant)
	var out []Invoice
	err := scanPrefix(tx.bucket(bucketInvoiceByTenant), p, func(k, _ []byte) error {
		id := string(k[len(p):])
		var inv Invoice
		if err := get(b, []byte(id), &inv); err != nil {
			return wrapGet(err, "invoice", id)
		}
		out = append(out, inv)
		return nil
	})
	return out, err
}

// PutRecord stores a Connec! record of a collection we do not model.
func (tx *Tx) PutRecord(r Record) error {
	for _, p := range []struct{ what, v string }{{"record tenant", r.Tenant}, {"record entity", r.Entity}, {"record id", r.ID}} {
		if err := checkPart(p.what, p.v, true); err != nil {
			return err
		}
	}
	return put(tx.bucket(bucketRecords), key(r.Tenant, r.Entity, r.ID), r)
}

// Record returns a stored Connec! record.
func (tx *Tx) Record(tenant, entity, id string) (Record, error) {
	var r Record
	if err := get(tx.bucket(bucketRecords), key(tenant, entity, id), &r); err != nil {
		return r, wrapGet(err, "record", tenant, entity, id)
	}
	return r, nil
}
