package store

import (
	"fmt"
	"time"
)

// Setting is one app-wide setting kept in the data file (public URL,
// listener address, TLS files, developer platform). The store keeps the
// text as given: what a key means and which values it accepts is decided
// above the store, in one place (tenant/settings).
type Setting struct {
	Key     string    `json:"key"`
	Value   string    `json:"value"`
	Updated time.Time `json:"updated"`
	// Secret seals Value at rest: the file holds it in Sealed only. Reads
	// set it for a sealed value.
	Secret bool   `json:"-"`
	Sealed string `json:"sealed,omitempty"`
	// Locked is set by a read of a file whose key is missing: the value
	// is sealed and Value is empty.
	Locked bool `json:"-"`
}

// Settings returns every stored setting, by key.
func (tx *Tx) Settings() (map[string]Setting, error) {
	rows, err := decodeAll[Setting](tx.bucket(bucketSettings), nil)
	if err != nil {
		return nil, fmt.Errorf("settings: %w", err)
	}
	out := make(map[string]Setting, len(rows))
	for _, r := range rows {
		if err := tx.openSetting(&r); err != nil {
			return nil, fmt.Errorf("settings: %w", err)
		}
		out[r.Key] = r
	}
	return out, nil
}

// PutSetting stores s under its key, replacing what was there.
func (tx *Tx) PutSetting(s Setting) error {
	if err := checkPart("setting key", s.Key, true); err != nil {
		return err
	}
	if err := tx.sealSetting(&s); err != nil {
		return err
	}
	return put(tx.bucket(bucketSettings), []byte(s.Key), s)
}

// DeleteSetting removes the setting stored under key; a missing key is no
// error.
func (tx *Tx) DeleteSetting(key string) error {
	if err := checkPart("setting key", key, true); err != nil {
		return err
	}
	return tx.bucket(bucketSettings).Delete([]byte(key))
}
