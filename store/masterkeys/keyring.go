package masterkeys

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/zalando/go-keyring"

	"github.com/tenantdesk/tenantdesk/store"
)

// Keyring keeps master keys in the OS keyring: the Secret Service over
// the D-Bus session bus on Linux, the Keychain on macOS, the Credential
// Manager on Windows (github.com/zalando/go-keyring: pure Go on each, so
// the build needs no cgo of its own and -tags ci still builds; the Secret
// Service speaks through godbus, which Fyne already brings).
type Keyring struct {
	Service string // the keyring's service name; "tenantdesk" when empty
}

// keyringTimeout bounds a call to the keyring: a Secret Service that
// waits on an unlock prompt nobody answers (a desktop session without a
// screen) must not hang the app.
const keyringTimeout = 5 * time.Second

func (k Keyring) service() string {
	if k.Service == "" {
		return "tenantdesk"
	}
	return k.Service
}

func (Keyring) user(id string) string { return "master-key " + id }

// Where names the keyring in messages.
func (Keyring) Where() string { return "the OS keyring" }

// Find returns the key with id from the keyring; a keyring that cannot be
// reached is a missing key, so that the next place is tried.
func (k Keyring) Find(id string) (store.MasterKey, error) {
	var secret string
	err := withTimeout(func() (err error) {
		secret, err = keyring.Get(k.service(), k.user(id))
		return err
	})
	if errors.Is(err, keyring.ErrNotFound) {
		return store.MasterKey{}, fmt.Errorf("not in %s: %w", k.Where(), store.ErrKeyMissing)
	}
	if err != nil {
		return store.MasterKey{}, fmt.Errorf("%s: %v: %w", k.Where(), err, store.ErrKeyMissing)
	}
	key, err := base64.StdEncoding.DecodeString(secret)
	if err != nil || len(key) != store.MasterKeySize || store.KeyID(key) != id {
		return store.MasterKey{}, fmt.Errorf("%s holds something else under %q", k.Where(), k.user(id))
	}
	return store.MasterKey{ID: id, Key: key, Where: k.Where()}, nil
}

// Create makes a new key and keeps it in the keyring.
func (k Keyring) Create() (store.MasterKey, error) {
	key := make([]byte, store.MasterKeySize)
	if _, err := rand.Read(key); err != nil {
		return store.MasterKey{}, err
	}
	id := store.KeyID(key)
	err := withTimeout(func() error {
		return keyring.Set(k.service(), k.user(id), base64.StdEncoding.EncodeToString(key))
	})
	if err != nil {
		return store.MasterKey{}, fmt.Errorf("%s: %w", k.Where(), err)
	}
	return store.MasterKey{ID: id, Key: key, Where: k.Where()}, nil
}

func withTimeout(fn func() error) error {
	done := make(chan error, 1)
	go func() { done <- fn() }() // ends with the keyring call; only its answer is dropped
	select {
	case err := <-done:
		return err
	case <-time.After(keyringTimeout):
		return fmt.Errorf("no answer within %s", keyringTimeout)
	}
}

// Chain looks for a key in each of its places in turn, and keeps a new one
// in the first that takes it.
type Chain []store.MasterKeys

// Where names every place, in order.
func (c Chain) Where() string {
	names := make([]string, len(c))
	for i, k := range c {
		names[i] = k.Where()
	}
	return strings.Join(names, ", then ")
}

// Find returns the key from the first place that has it. A place that
// refuses for another reason than a missing key (a key file others can
// read) stops the search: that is for the user to mend.
func (c Chain) Find(id string) (store.MasterKey, error) {
	var missing []error
	for _, k := range c {
		mk, err := k.Find(id)
		if err == nil {
			return mk, nil
		}
		if !errors.Is(err, store.ErrKeyMissing) {
			return store.MasterKey{}, err
		}
		missing = append(missing, err)
	}
	return store.MasterKey{}, errors.Join(missing...)
}

// Create keeps a new key in the first place that takes it.
func (c Chain) Create() (store.MasterKey, error) {
	var errs []error
	for _, k := range c {
		mk, err := k.Create()
		if err == nil {
			return mk, nil
		}
		if errors.Is(err, ErrKeyFileMode) {
			return store.MasterKey{}, err
		}
		errs = append(errs, err)
	}
	return store.MasterKey{}, errors.Join(errs...)
}

// ForApp is where the app keeps its master keys: the key file named by
// --key-file or TENANTDESK_KEY_FILE, and only it; else, on a desktop, the
// OS keyring and then the default key file (for a key made where no
// keyring answered); else the default key file.
func ForApp(keyFile string) (store.MasterKeys, error) {
	if keyFile != "" {
		return File{Path: keyFile}, nil
	}
	path, err := DefaultFile()
	if err != nil {
		return nil, err
	}
	if desktop() {
		return Chain{Keyring{}, File{Path: path}}, nil
	}
	return File{Path: path}, nil
}

// desktop reports whether an OS keyring can be asked: always on macOS and
// Windows; on Linux and the BSDs only within a D-Bus session, which a
// server's shell or a service does not have.
func desktop() bool {
	switch runtime.GOOS {
	case "darwin", "windows":
		return true
	}
	return os.Getenv("DBUS_SESSION_BUS_ADDRESS") != ""
}
