package store

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/bbolt"
)

// The vault (SPEC §15). Every secret field the file holds (a tenant's
// api.key, a secret setting, the admin address's TLS key) is sealed with
// AES-256-GCM under the file's data key, with the record it belongs to as
// additional data (bucket, key, field): a sealed value moved to another
// record does not open. The data key is kept in the file only wrapped by a
// master key that lives outside it (the OS keyring or a key file: see
// MasterKeys), so a copy of the file without that key gives away no secret
// and still shows everything else.
//
// Sealing happens here, in the encoding of the three records that carry
// secrets (PutTenant, PutSetting, PutAdminAccess and their readers), above
// any bucket or backend detail, so every backend stores sealed values only.

// MasterKeys keeps the master keys, outside the data file.
type MasterKeys interface {
	// Find returns the master key with id; the error wraps ErrKeyMissing
	// when it is kept nowhere this looks.
	Find(id string) (MasterKey, error)
	// Create makes a new master key and keeps it.
	Create() (MasterKey, error)
	// Where says where keys are looked for, for the missing-key message.
	Where() string
}

// MasterKey is a key that wraps data keys.
type MasterKey struct {
	ID    string // KeyID(Key)
	Key   []byte // 32 bytes
	Where string // where it is kept: "the OS keyring", "key file /etc/tenantdesk.key"
}

// MasterKeySize is the size of a master key and of a data key (AES-256).
const MasterKeySize = 32

// KeyID names a master key without giving it away: a hash of it, short
// enough to read in a message.
func KeyID(key []byte) string {
	sum := sha256.Sum256(append([]byte("tenantdesk master key\x00"), key...))
	return hex.EncodeToString(sum[:8])
}

// ErrKeyMissing is wrapped by MasterKeys.Find for a key kept nowhere.
var ErrKeyMissing = errors.New("key not found")

// ErrKeyUnavailable is wrapped by the reads and writes of secrets of a
// file whose master key this process does not have (see KeyError).
var ErrKeyUnavailable = errors.New("secrets are sealed with a key that is not available")

// KeyError says which key a file's secrets are sealed with and where it
// was looked for. The file is open all the same: everything but its
// secrets can be read, and nothing can be written (DB.Update refuses).
type KeyError struct {
	Path  string // the data file
	KeyID string
	Made  string // where the key was kept when the file was sealed
	Where string // where this process looked
	Err   error  // why it was not found
}

func (e *KeyError) Error() string {
	return fmt.Sprintf("the secrets of %s are sealed with key %s (kept in %s when it was made), not found in %s: %v; "+
		"give the key file with --key-file or TENANTDESK_KEY_FILE; until then its tenants, identity map and exports "+
		"can be read, secrets show as unavailable, and nothing is written to it",
		e.Path, e.KeyID, e.Made, e.Where, e.Err)
}

func (e *KeyError) Unwrap() error { return ErrKeyUnavailable }

// vaultRecord is the meta bucket's "vault" value: the data key, wrapped.
type vaultRecord struct {
	// DataKeyID names the data key in each sealed value (sealedPrefix),
	// so values sealed before and after a rekey tell which key opens them.
	DataKeyID string `json:"data_key_id"`
	KeyID     string `json:"key_id"` // the master key that wraps it
	Made      string `json:"made"`   // where that key was kept
	Wrapped   []byte `json:"wrapped"`
}

var metaVault = []byte("vault")

// dataKey is one data key in memory.
type dataKey struct {
	id   string
	aead cipher.AEAD
}

func newDataKey(id string, key []byte) (*dataKey, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &dataKey{id: id, aead: aead}, nil
}

// sealedPrefix starts every sealed value: "s1.<data key id>.<base64 of
// nonce and ciphertext>".
const sealedPrefix = "s1."

// sealedAD binds a sealed value to its record.
func sealedAD(bucket *bucketDef, key, field string) []byte {
	return []byte(bucket.name + sep + key + sep + field)
}

func (k *dataKey) seal(ad []byte, plain string) string {
	nonce := make([]byte, k.aead.NonceSize(), k.aead.NonceSize()+len(plain)+k.aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	out := k.aead.Seal(nonce, nonce, []byte(plain), ad)
	return sealedPrefix + k.id + "." + base64.RawStdEncoding.EncodeToString(out)
}

// parseSealed splits a sealed value into its data key id and the nonce
// and ciphertext; it is the decoder of what a file says, so it trusts
// nothing about it.
func parseSealed(s string) (keyID string, box []byte, err error) {
	rest, ok := strings.CutPrefix(s, sealedPrefix)
	if !ok {
		return "", nil, fmt.Errorf("%w: not a sealed value", ErrCorrupt)
	}
	keyID, b64, ok := strings.Cut(rest, ".")
	if !ok || keyID == "" || len(keyID) > 32 {
		return "", nil, fmt.Errorf("%w: sealed value without a data key id", ErrCorrupt)
	}
	box, err = base64.RawStdEncoding.DecodeString(b64)
	if err != nil {
		return "", nil, fmt.Errorf("%w: sealed value: %v", ErrCorrupt, err)
	}
	return keyID, box, nil
}

func (k *dataKey) open(ad []byte, box []byte) (string, error) {
	n := k.aead.NonceSize()
	if len(box) < n+k.aead.Overhead() {
		return "", fmt.Errorf("%w: sealed value too short", ErrCorrupt)
	}
	plain, err := k.aead.Open(nil, box[:n], box[n:], ad)
	if err != nil {
		return "", fmt.Errorf("%w: sealed value does not open here (damaged, or moved from another record)", ErrCorrupt)
	}
	return string(plain), nil
}

// keyring is a DB's data keys: the current one seals, every one it has
// held since Open opens (a read that began before a rekey committed still
// sees values sealed under the old key).
type keyring struct {
	path    string
	keys    MasterKeys
	mu      sync.Mutex // serializes Rekey's swap
	current atomic.Pointer[dataKey]
	all     atomic.Pointer[map[string]*dataKey]
	// locked is the *KeyError of a file whose master key is missing.
	locked error
}

// add makes k the key that seals, and one that opens.
func (r *keyring) add(k *dataKey) {
	r.know(k)
	r.current.Store(k)
}

// know makes k one of the keys that open.
func (r *keyring) know(k *dataKey) {
	m := map[string]*dataKey{k.id: k}
	if old := r.all.Load(); old != nil {
		for id, v := range *old {
			m[id] = v
		}
	}
	r.all.Store(&m)
}

func (r *keyring) seal(ad []byte, plain string) (string, error) {
	k := r.current.Load()
	if k == nil {
		return "", r.locked
	}
	return k.seal(ad, plain), nil
}

func (r *keyring) open(ad []byte, sealed string) (string, error) {
	id, box, err := parseSealed(sealed)
	if err != nil {
		return "", err
	}
	if r.locked != nil {
		return "", r.locked
	}
	var k *dataKey
	if m := r.all.Load(); m != nil {
		k = (*m)[id]
	}
	if k == nil {
		return "", fmt.Errorf("%w: sealed under data key %q, which this file does not name", ErrCorrupt, id)
	}
	return k.open(ad, box)
}

// loadVault reads the file's vault record and unwraps its data key; a file
// without one (new, or written by an older version) gets a new data key
// under a new master key. A missing master key is not an error of Open:
// the keyring is then locked, and r.locked says why.
func (r *keyring) load(btx *bbolt.Tx) error {
	rec, ok, err := readVault(btx)
	if err != nil {
		return err
	}
	if !ok {
		return r.create(btx)
	}
	mk, err := r.keys.Find(rec.KeyID)
	if err != nil && !errors.Is(err, ErrKeyMissing) {
		return err // a key store to mend (a key file others can read), not a missing key
	}
	if err != nil {
		r.locked = &KeyError{Path: r.path, KeyID: rec.KeyID, Made: rec.Made, Where: r.keys.Where(), Err: err}
		return nil
	}
	k, err := unwrap(rec, mk)
	if err != nil {
		return err
	}
	r.add(k)
	return nil
}

func readVault(btx *bbolt.Tx) (vaultRecord, bool, error) {
	var rec vaultRecord
	meta := btx.Bucket(bucketMeta.key())
	if meta == nil {
		return rec, false, nil
	}
	v := meta.Get(metaVault)
	if v == nil {
		return rec, false, nil
	}
	if err := decodeValue(v, &rec); err != nil {
		return rec, false, fmt.Errorf("vault record: %w", err)
	}
	return rec, true, nil
}

// create makes a data key, wraps it under a new master key and writes the
// vault record.
func (r *keyring) create(btx *bbolt.Tx) error {
	k, rec, err := newVault(r.keys)
	if err != nil {
		return err
	}
	if err := writeVault(btx, rec); err != nil {
		return err
	}
	r.add(k)
	return nil
}

func newVault(keys MasterKeys) (*dataKey, vaultRecord, error) {
	mk, err := keys.Create()
	if err != nil {
		return nil, vaultRecord{}, fmt.Errorf("new master key: %w", err)
	}
	if len(mk.Key) != MasterKeySize {
		return nil, vaultRecord{}, fmt.Errorf("new master key: %d bytes, want %d", len(mk.Key), MasterKeySize)
	}
	raw := make([]byte, MasterKeySize+4)
	if _, err := rand.Read(raw); err != nil {
		return nil, vaultRecord{}, err
	}
	id := hex.EncodeToString(raw[MasterKeySize:])
	k, err := newDataKey(id, raw[:MasterKeySize])
	if err != nil {
		return nil, vaultRecord{}, err
	}
	wrapper, err := newDataKey("", mk.Key)
	if err != nil {
		return nil, vaultRecord{}, err
	}
	nonce := make([]byte, wrapper.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, vaultRecord{}, err
	}
	rec := vaultRecord{DataKeyID: id, KeyID: mk.ID, Made: mk.Where}
	rec.Wrapped = wrapper.aead.Seal(nonce, nonce, raw[:MasterKeySize], wrapAD(rec))
	return k, rec, nil
}

// wrapAD binds the wrapped data key to the ids the record names.
func wrapAD(rec vaultRecord) []byte {
	return []byte("tenantdesk data key" + sep + rec.DataKeyID + sep + rec.KeyID)
}

func unwrap(rec vaultRecord, mk MasterKey) (*dataKey, error) {
	wrapper, err := newDataKey("", mk.Key)
	if err != nil {
		return nil, fmt.Errorf("master key %s: %w", rec.KeyID, err)
	}
	n := wrapper.aead.NonceSize()
	if len(rec.Wrapped) < n {
		return nil, fmt.Errorf("%w: vault record: wrapped data key too short", ErrCorrupt)
	}
	raw, err := wrapper.aead.Open(nil, rec.Wrapped[:n], rec.Wrapped[n:], wrapAD(rec))
	if err != nil {
		return nil, fmt.Errorf("%w: the data key does not open with master key %s (%s): damaged vault record or wrong key",
			ErrCorrupt, rec.KeyID, mk.Where)
	}
	return newDataKey(rec.DataKeyID, raw)
}

func writeVault(btx *bbolt.Tx, rec vaultRecord) error {
	meta, err := btx.CreateBucketIfNotExists(bucketMeta.key())
	if err != nil {
		return err
	}
	return put(kvBucket{bolt: meta}, metaVault, rec)
}

// readOnly is the error of every write to a file whose key is missing:
// such a file is a copy from elsewhere, or one whose key went astray, and
// is read, never changed (SPEC §15), until it is opened with its key.
func (r *keyring) readOnly() error {
	if r.locked != nil {
		return fmt.Errorf("nothing is written: %w", r.locked)
	}
	return nil
}

// KeyErr is nil when the file's secrets can be opened here, else the
// *KeyError that names the missing key: the one message the CLI and the
// GUI show for a file opened without its key.
func (db *DB) KeyErr() error { return db.vault.locked }

// VaultKey says which master key seals this file and where it was kept.
func (db *DB) VaultKey() (id, made string, err error) {
	err = db.view(func(btx *bbolt.Tx) error {
		rec, _, err := readVault(btx)
		id, made = rec.KeyID, rec.Made
		return err
	})
	return id, made, err
}

// The records that hold secrets, and which of their fields.
const (
	settingSecretField = "value"
	accessSecretField  = "value"
)

// sealedAccess are the admin-access names whose values are secrets (the
// token is kept as a hash already).
var sealedAccess = map[string]bool{AdminTLSPair: true}

func (tx *Tx) seal(bucket *bucketDef, key, field, plain string) (string, error) {
	return tx.vault.seal(sealedAD(bucket, key, field), plain)
}

func (tx *Tx) open(bucket *bucketDef, key, field, sealed string) (string, error) {
	s, err := tx.vault.open(sealedAD(bucket, key, field), sealed)
	if err != nil {
		return "", fmt.Errorf("%s %q %s: %w", bucket, key, field, err)
	}
	return s, nil
}

// sealTenant fills t.Sealed from t.Secrets. It runs in write transactions
// only, which a file without its key never gets (keyring.readOnly).
func (tx *Tx) sealTenant(t *Tenant) error {
	t.Sealed = nil
	for field, v := range t.Secrets {
		if v == "" {
			continue
		}
		s, err := tx.seal(bucketTenants, t.Key, field, v)
		if err != nil {
			return err
		}
		if t.Sealed == nil {
			t.Sealed = make(map[string]string, len(t.Secrets))
		}
		t.Sealed[field] = s
	}
	return nil
}

// openTenant fills t.Secrets from t.Sealed, or sets t.SecretsLocked.
func (tx *Tx) openTenant(t *Tenant) error {
	if len(t.Sealed) == 0 {
		return nil
	}
	if tx.vault.locked != nil {
		t.SecretsLocked = true
		return nil
	}
	t.Secrets = make(map[string]string, len(t.Sealed))
	for field, s := range t.Sealed {
		v, err := tx.open(bucketTenants, t.Key, field, s)
		if err != nil {
			return err
		}
		t.Secrets[field] = v
	}
	return nil
}

// sealSetting moves a secret setting's value into s.Sealed (in a write
// transaction, as sealTenant).
func (tx *Tx) sealSetting(s *Setting) error {
	s.Sealed = ""
	if !s.Secret {
		return nil
	}
	sealed, err := tx.seal(bucketSettings, s.Key, settingSecretField, s.Value)
	if err != nil {
		return err
	}
	s.Sealed, s.Value = sealed, ""
	return nil
}

func (tx *Tx) openSetting(s *Setting) error {
	if s.Sealed == "" {
		return nil
	}
	s.Secret = true
	if tx.vault.locked != nil {
		s.Locked = true
		return nil
	}
	v, err := tx.open(bucketSettings, s.Key, settingSecretField, s.Sealed)
	if err != nil {
		return err
	}
	s.Value = v
	return nil
}

// Rekey seals every secret of the file under a new data key, wrapped by a
// new master key kept where the file's keys are kept (Options.Keys), in
// one transaction; values that are read meanwhile open with either key.
// The old master key is not deleted: backups made before still need it.
// It returns the new key's id and where it is kept, never the key.
func (db *DB) Rekey() (MasterKey, error) {
	mk, err := db.rekey()
	if err != nil {
		return mk, err
	}
	// The values sealed under the old key stay in the file's free pages
	// (and a backup copies those): the file is rewritten without them.
	if _, err := db.CompactInPlace(time.Time{}); err != nil {
		return mk, fmt.Errorf("rekey done, but the file still holds the old sealed values in its free pages: %w", err)
	}
	return mk, nil
}

func (db *DB) rekey() (MasterKey, error) {
	db.replacing.Lock() // the vault is the file's: no swap meanwhile
	defer db.replacing.Unlock()
	r := db.vault
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.locked != nil {
		return MasterKey{}, fmt.Errorf("rekey: %w", r.locked)
	}
	k, rec, err := newVault(r.keys)
	if err != nil {
		return MasterKey{}, fmt.Errorf("rekey: %w", err)
	}
	next := &keyring{path: r.path, keys: r.keys}
	next.add(k)
	// The new key opens values from now on, before they are written: a
	// read that starts once the rekey commits finds it.
	r.know(k)
	err = db.Update(func(tx *Tx) error {
		if err := resealAll(tx.kv.bolt, r, next); err != nil {
			return err
		}
		return writeVault(tx.kv.bolt, rec)
	})
	if err != nil {
		return MasterKey{}, fmt.Errorf("rekey: %w", err)
	}
	r.add(k)
	mk, err := r.keys.Find(rec.KeyID)
	if err != nil {
		return MasterKey{}, fmt.Errorf("rekey: the new key is not found where it was kept: %w", err)
	}
	return MasterKey{ID: mk.ID, Where: mk.Where}, nil
}

// resealAll opens every sealed value of the file with from and seals it
// again with to: the tenants' secret fields, the secret settings and the
// sealed admin-access values. With from nil the values are plain text
// (the schema 3 migration).
func resealAll(btx *bbolt.Tx, from, to *keyring) error {
	reseal := func(bucket *bucketDef, key, field, old string) (string, error) {
		plain := old
		if from != nil {
			var err error
			if plain, err = from.open(sealedAD(bucket, key, field), old); err != nil {
				return "", fmt.Errorf("%s %q %s: %w", bucket, key, field, err)
			}
		}
		return to.seal(sealedAD(bucket, key, field), plain)
	}
	if err := rewriteAll(btx.Bucket(bucketTenants.key()), func(k []byte, t *Tenant) error {
		for field, s := range t.Sealed {
			var err error
			if t.Sealed[field], err = reseal(bucketTenants, t.Key, field, s); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		return err
	}
	if err := rewriteAll(btx.Bucket(bucketSettings.key()), func(k []byte, s *Setting) error {
		if s.Sealed == "" {
			return nil
		}
		var err error
		s.Sealed, err = reseal(bucketSettings, s.Key, settingSecretField, s.Sealed)
		return err
	}); err != nil {
		return err
	}
	access := btx.Bucket(bucketAdminAccess.key())
	for name := range sealedAccess {
		v := access.Get([]byte(name))
		if v == nil {
			continue
		}
		s, err := reseal(bucketAdminAccess, name, accessSecretField, string(v))
		if err != nil {
			return err
		}
		if err := access.Put([]byte(name), []byte(s)); err != nil {
			return err
		}
	}
	return nil
}

// rewriteAll decodes every value of b, lets fn change it, and writes it back.
func rewriteAll[T any](b *bbolt.Bucket, fn func(k []byte, v *T) error) error {
	if b == nil {
		return nil
	}
	type kv struct {
		k []byte
		v T
	}
	var rows []kv
	err := b.ForEach(func(k, v []byte) error {
		var item T
		if err := decodeValue(v, &item); err != nil {
			return fmt.Errorf("key %q: %w", k, err)
		}
		rows = append(rows, kv{clone(k), item})
		return nil
	})
	if err != nil {
		return err
	}
	for i := range rows {
		if err := fn(rows[i].k, &rows[i].v); err != nil {
			return err
		}
		if err := put(kvBucket{bolt: b}, rows[i].k, rows[i].v); err != nil {
			return err
		}
	}
	return nil
}

// migrateV2toV3 seals the secrets that schema 2 kept in plain text: the
// api.key inside each tenant's configuration, the devpl-env-secret
// setting and the admin address's TLS pair. It knows schema 2's layout
// (where those values were), which is a fact of the past and not of the
// tenant package.
func migrateV2toV3(btx *bbolt.Tx, r *keyring) error {
	if r.locked != nil { // a schema-2 file has no vault record, so cannot be locked
		return r.locked
	}
	if err := rewriteAll(btx.Bucket(bucketTenants.key()), func(k []byte, t *Tenant) error {
		var cfg map[string]json.RawMessage
		if err := json.Unmarshal(t.Config, &cfg); err != nil {
			return fmt.Errorf("tenant %q: %w: %v", t.Key, ErrCorrupt, err)
		}
		var api map[string]json.RawMessage
		if raw, ok := cfg["api"]; ok {
			if err := json.Unmarshal(raw, &api); err != nil {
				return fmt.Errorf("tenant %q api: %w: %v", t.Key, ErrCorrupt, err)
			}
		}
		var key string
		if raw, ok := api["key"]; ok {
			if err := json.Unmarshal(raw, &key); err != nil {
				return fmt.Errorf("tenant %q api.key: %w: %v", t.Key, ErrCorrupt, err)
			}
			delete(api, "key")
			b, err := json.Marshal(api)
			if err != nil {
				return err
			}
			cfg["api"] = b
			if t.Config, err = json.Marshal(cfg); err != nil {
				return err
			}
		}
		t.Sealed = nil
		if key != "" {
			s, err := r.seal(sealedAD(bucketTenants, t.Key, "api.key"), key)
			if err != nil {
				return err
			}
			t.Sealed = map[string]string{"api.key": s}
		}
		return nil
	}); err != nil {
		return err
	}
	if err := rewriteAll(btx.Bucket(bucketSettings.key()), func(k []byte, s *Setting) error {
		if s.Key != "devpl-env-secret" || s.Sealed != "" {
			return nil
		}
		var err error
		s.Sealed, err = r.seal(sealedAD(bucketSettings, s.Key, settingSecretField), s.Value)
		s.Value = ""
		return err
	}); err != nil {
		return err
	}
	access := btx.Bucket(bucketAdminAccess.key())
	if access == nil {
		return nil
	}
	for name := range sealedAccess {
		v := access.Get([]byte(name))
		if v == nil || strings.HasPrefix(string(v), sealedPrefix) {
			continue
		}
		s, err := r.seal(sealedAD(bucketAdminAccess, name, accessSecretField), string(v))
		if err != nil {
			return err
		}
		if err := access.Put([]byte(name), []byte(s)); err != nil {
			return err
		}
	}
	return nil
}

// memoryKeys keeps master keys in this process's memory only: the keys of
// a DB opened without Options.Keys (tests). A file sealed with them cannot
// be opened by another process.
type memoryKeys struct {
	mu   sync.Mutex
	keys map[string][]byte
}

// NewMemoryKeys is a key store in this process's memory: what tests use
// for "another machine", whose keys a file does not find.
func NewMemoryKeys() MasterKeys { return &memoryKeys{} }

var processKeys = &memoryKeys{}

func (m *memoryKeys) Find(id string) (MasterKey, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	k, ok := m.keys[id]
	if !ok {
		return MasterKey{}, fmt.Errorf("key %s: %w", id, ErrKeyMissing)
	}
	return MasterKey{ID: id, Key: k, Where: m.Where()}, nil
}

func (m *memoryKeys) Create() (MasterKey, error) {
	k := make([]byte, MasterKeySize)
	if _, err := rand.Read(k); err != nil {
		return MasterKey{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.keys == nil {
		m.keys = map[string][]byte{}
	}
	id := KeyID(k)
	m.keys[id] = k
	return MasterKey{ID: id, Key: k, Where: m.Where()}, nil
}

func (m *memoryKeys) Where() string { return "this process's memory" }
