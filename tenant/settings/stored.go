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
		if _, err := Lookup(k); err == nil && !s.Locked {
			out[Key(k)] = s.Value
		}
	}
	return out, nil
}

// Locked lists the secret settings the data file holds sealed under a key
// that is missing here: they read as unset until the key is given.
func Locked(tx *store.Tx) ([]Key, error) {
	rows, err := tx.Settings()
	if err != nil {
		return nil, err
	}
	var out []Key
	for k, s := range rows {
		if s.Locked {
			out = append(out, Key(k))
		}
	}
	return out, nil
}

// boundSecrets maps a host setting to the secret that is sent to it: a
// change of the host drops the stored secret unless the same change gives
// it again, so no client can send a stored secret to a host of its
// choosing (SPEC §15).
var boundSecrets = map[Key]Key{DevplHost: DevplEnvSecret}

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
		stored, err := tx.Settings()
		if err != nil {
			return err
		}
		given := make(map[Key]bool, len(clean))
		for _, c := range clean {
			given[c.Key] = true
		}
		for _, c := range clean {
			secret, bound := boundSecrets[c.Key]
			if old := stored[string(c.Key)]; bound && !given[secret] && (c.Unset || old.Value != c.Value) {
				if err := tx.DeleteSetting(string(secret)); err != nil {
					return fmt.Errorf("drop setting %s: %w", secret, err)
				}
			}
		}
		for _, c := range clean {
			var err error
			if c.Unset {
				err = tx.DeleteSetting(string(c.Key))
			} else {
				d, _ := Lookup(string(c.Key))
				err = tx.PutSetting(store.Setting{Key: string(c.Key), Value: c.Value, Updated: now.UTC(), Secret: d.Secret})
			}
			if err != nil {
				return fmt.Errorf("save setting %s: %w", c.Key, err)
			}
		}
		return nil
	})
}
