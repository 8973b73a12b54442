package store

import (
	"bytes"
	"errors"
	"testing"
)

// fuzzKeyring is a keyring with one fixed data key, made once: the fuzz
// targets decode what a file could hold against it.
func fuzzKeyring(tb testing.TB) (*keyring, vaultRecord, MasterKey) {
	tb.Helper()
	mk := MasterKey{Key: bytes.Repeat([]byte{7}, MasterKeySize)}
	mk.ID = KeyID(mk.Key)
	keys := &memoryKeys{keys: map[string][]byte{mk.ID: mk.Key}}
	fixed := fixedKeys{keys, mk}
	k, rec, err := newVault(fixed)
	if err != nil {
		tb.Fatal(err)
	}
	r := &keyring{path: "fuzz.db", keys: keys}
	r.add(k)
	return r, rec, mk
}

// fixedKeys creates the one key it was given.
type fixedKeys struct {
	*memoryKeys
	mk MasterKey
}

func (f fixedKeys) Create() (MasterKey, error) { return f.mk, nil }

// FuzzSealedValue feeds the sealed-value decoder what a damaged or forged
// file could hold in a secret field: it never panics, anything but a value
// sealed under the file's key for this very record is refused as
// ErrCorrupt, and what opens is what was sealed.
func FuzzSealedValue(f *testing.F) {
	r, _, _ := fuzzKeyring(f)
	ad := sealedAD(bucketTenants, "acme", "api.key")
	good, err := r.seal(ad, "the-api-key")
	if err != nil {
		f.Fatal(err)
	}
	other, _ := r.seal(sealedAD(bucketTenants, "globex", "api.key"), "the-api-key")
	for _, s := range []string{good, other, good[:len(good)-3], "s1.", "s1..", "s1.x.", "s1." + r.current.Load().id + ".AAAA",
		"plain text", "s1." + r.current.Load().id + "." + good[len(sealedPrefix)+len(r.current.Load().id)+1:] + "=="} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		plain, err := r.open(ad, s)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("%q: %v, not ErrCorrupt", s, err)
			}
			return
		}
		if plain != "the-api-key" {
			t.Fatalf("%q opened to %q: only the value sealed for this record may open", s, plain)
		}
	})
}

// FuzzVaultRecord feeds the meta bucket's vault record decoder and the
// unwrapping of its data key a damaged or forged record: no panic, and a
// record that unwraps gives a key that opens what the real one sealed only
// if it is the real one.
func FuzzVaultRecord(f *testing.F) {
	r, rec, mk := fuzzKeyring(f)
	enc, err := encodeValue(rec)
	if err != nil {
		f.Fatal(err)
	}
	ad := sealedAD(bucketSettings, "devpl-env-secret", settingSecretField)
	sealed, _ := r.seal(ad, "secret")
	f.Add(enc)
	f.Add(enc[:len(enc)/2])
	f.Add([]byte{})
	f.Add(append([]byte{codecJSON1}, `{"data_key_id":"x","key_id":"y","wrapped":"AAAA"}`...))
	f.Fuzz(func(t *testing.T, v []byte) {
		var got vaultRecord
		if err := decodeValue(v, &got); err != nil {
			return
		}
		k, err := unwrap(got, mk)
		if err != nil {
			return
		}
		_, box, err := parseSealed(sealed)
		if err != nil {
			t.Fatal(err)
		}
		if plain, err := k.open(ad, box); err == nil && plain != "secret" {
			t.Fatalf("a forged record's key opened the secret as %q", plain)
		}
	})
}
