package store

import (
	"errors"
	"fmt"
)

// ErrNotEmpty is returned by Copy for a target that already holds data.
var ErrNotEmpty = errors.New("the target store already holds data")

// copyChunk is how many keys Copy writes per transaction (UpdateLarge:
// journaled chunks on etcd).
const copyChunk = 20000

// Copied counts what Copy wrote.
type Copied struct {
	Keys    int
	Buckets int
}

// Copy copies every record of src into dst, bucket by bucket and key by
// key as stored (sealed secrets stay sealed: the vault record goes along,
// so dst opens them with the same master key), with each bucket's
// sequence. It refuses a dst that holds any record already, so it never
// merges two stores. src is read in one read transaction: a consistent
// copy even while src is in use.
func Copy(dst, src *DB) (Copied, error) {
	var res Copied
	if err := dst.View(func(tx *Tx) error {
		for _, b := range allBuckets {
			if b == bucketMeta {
				continue // the new store's schema version and vault record
			}
			if k, _ := tx.bucket(b).Cursor().First(); k != nil {
				return fmt.Errorf("%w (bucket %s): copy into an empty one", ErrNotEmpty, b)
			}
		}
		return nil
	}); err != nil {
		return res, err
	}
	type kv struct{ k, v []byte }
	err := src.View(func(stx *Tx) error {
		for _, b := range allBuckets {
			from := stx.bucket(b)
			if !from.exists() {
				continue
			}
			var batch []kv
			flush := func() error {
				if len(batch) == 0 {
					return nil
				}
				err := dst.UpdateLarge(func(dtx *Tx) error {
					to := dtx.bucket(b)
					for _, e := range batch {
						if err := to.Put(e.k, e.v); err != nil {
							return err
						}
					}
					return nil
				})
				res.Keys += len(batch)
				batch = batch[:0]
				return err
			}
			err := from.ForEach(func(k, v []byte) error {
				if b == bucketMeta && string(k) == string(metaSchemaVersion) {
					return nil
				}
				batch = append(batch, kv{clone(k), clone(v)})
				if len(batch) == copyChunk {
					return flush()
				}
				return nil
			})
			if err == nil {
				err = flush()
			}
			if err == nil {
				err = dst.UpdateLarge(func(dtx *Tx) error { return dtx.bucket(b).raiseSequence(from.Sequence()) })
			}
			if err != nil {
				return fmt.Errorf("copy bucket %s: %w", b, err)
			}
			res.Buckets++
		}
		return nil
	})
	if err != nil {
		return res, err
	}
	return res, dst.reloadVault()
}

// reloadVault reads the vault record again: Copy has replaced it with the
// source's, which sealed what was copied.
func (db *DB) reloadVault() error {
	if db.etcd != nil {
		r, err := db.etcd.openVault(db.path, db.vault.keys)
		if err == nil {
			db.vault = r
		}
		return err
	}
	r := &keyring{path: db.path, keys: db.vault.keys}
	if err := db.view(r.load); err != nil {
		return fmt.Errorf("reload the copied vault record: %w", err)
	}
	db.vault = r
	return nil
}
