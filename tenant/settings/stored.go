package settings

import (
	"errors"
	"fmt"
	"time"

	"github.com/tenantdesk/tenantdesk/store"
)

// Stored reads the settings kept in the data file. Keys this build does
// not know (written by a newer one) are left out.
func Stored(tx *store.Tx) (map[Key]string, error) {
	rows, err := tx.Settings()
	if err != nil {
		return nil, err
	}
	out := make(map[Key]string, len(rows))
	for k, s := range rows {
		if _, err := Lookup(k); err == nil {
			out[Key(k)] = s.Value
		}
	}
	return out, nil
}

// Load reads the stored settings and resolves them against ov. The error
// is a read error; validation problems are in each Value's Problem (and in
// the error of Resolve, for callers that want them joined).
func Load(db *store.DB, ov Overrides) (Resolved, error) {
	var stored map[Key]string
	if err := db.View(func(tx *store.Tx) (err error) {
		stored, err = Stored(tx)
		return err
	}); err != nil {
		return Resolved{}, fmt.Errorf("read settings: %w", err)
	}
	r, _ := Resolve(stored, ov)
	return r, nil
}

// Change is one edit of the stored settings: a value to set, or (Unset)
// the key to remove.
type Change struct {
	Key   Key
	Value string
	Unset bool
}

// Apply validates every change and, only when all of them pass, writes
// them in one transaction: a bad value writes nothing. The error of a bad
// value is an *Error per key (joined with errors.Join when several fail).
func Apply(db *store.DB, changes []Change, now time.Time) error {
	clean := make([]Change, 0, len(changes))
	var errs []error
	for _, c := range changes {
		d, err := Lookup(string(c.Key))
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if !c.Unset {
			if c.Value, err = d.validate(c.Value); err != nil {
				errs = append(errs, err)
				continue
			}
		}
		clean = append(clean, c)
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	return db.Update(func(tx *store.Tx) error {
		for _, c := range clean {
			var err error
			if c.Unset {
				err = tx.DeleteSetting(string(c.Key))
			} else {
				err = tx.PutSetting(store.Setting{Key: string(c.Key), Value: c.Value, Updated: now.UTC()})
			}
			if err != nil {
				return fmt.Errorf("save setting %s: %w", c.Key, err)
			}
		}
		return nil
	})
}
