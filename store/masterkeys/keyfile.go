// Package masterkeys keeps the master keys that seal a data file's secrets
// (store/vault.go), outside the data file: a key file for servers (mode
// 0600, --key-file / TENANTDESK_KEY_FILE), the OS keyring on a desktop,
// and the chain of both that the app uses when no key file is named.
package masterkeys

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/tenantdesk/tenantdesk/store"
)

// File keeps master keys in a file of its own, one key a line (base64),
// the newest last. A rekey appends a key and leaves the older ones: a
// backup made before it still opens with this file. The file must be
// readable by its owner only; a wider one is refused, not used.
type File struct {
	Path string
}

// DefaultFile is where the key file is kept when none is named: beside
// the user's configuration, never inside the data file's folder's copies.
func DefaultFile() (string, error) {
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("no key file given and no user config directory: %w", err)
	}
	return filepath.Join(dir, "tenantdesk", "tenantdesk.key"), nil
}

const fileHeader = "# Tenantdesk master keys (one a line, newest last). Keep this file private (mode 0600)\n" +
	"# and apart from the data file and its backups: whoever has both has every secret.\n"

// Where names the file in messages.
func (f File) Where() string { return "key file " + f.Path }

// Find returns the key with id from the file.
func (f File) Find(id string) (store.MasterKey, error) {
	fh, err := os.Open(f.Path)
	if errors.Is(err, os.ErrNotExist) {
		return store.MasterKey{}, fmt.Errorf("%s does not exist: %w", f.Path, store.ErrKeyMissing)
	}
	if err != nil {
		return store.MasterKey{}, fmt.Errorf("key file: %w", err)
	}
	defer fh.Close()
	if err := f.checkMode(fh); err != nil {
		return store.MasterKey{}, err
	}
	keys, err := parseKeys(fh)
	if err != nil {
		return store.MasterKey{}, fmt.Errorf("key file %s: %w", f.Path, err)
	}
	for _, k := range keys {
		if store.KeyID(k) == id {
			return store.MasterKey{ID: id, Key: k, Where: f.Where()}, nil
		}
	}
	return store.MasterKey{}, fmt.Errorf("%s holds %d keys, not %s: %w", f.Path, len(keys), id, store.ErrKeyMissing)
}

// Create makes a new key and appends it to the file, creating the file
// (mode 0600) and its folder (0700) when they are missing.
func (f File) Create() (store.MasterKey, error) {
	k := make([]byte, store.MasterKeySize)
	if _, err := rand.Read(k); err != nil {
		return store.MasterKey{}, err
	}
	if err := os.MkdirAll(filepath.Dir(f.Path), 0o700); err != nil {
		return store.MasterKey{}, fmt.Errorf("key file: %w", err)
	}
	fh, err := os.OpenFile(f.Path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return store.MasterKey{}, fmt.Errorf("key file: %w", err)
	}
	defer fh.Close()
	if err := f.checkMode(fh); err != nil {
		return store.MasterKey{}, err
	}
	st, err := fh.Stat()
	if err != nil {
		return store.MasterKey{}, fmt.Errorf("key file: %w", err)
	}
	line := base64.StdEncoding.EncodeToString(k) + "\n"
	if st.Size() == 0 {
		line = fileHeader + line
	}
	// One write: two processes creating at once each append a whole line.
	if _, err := fh.WriteString(line); err != nil {
		return store.MasterKey{}, fmt.Errorf("key file %s: %w", f.Path, err)
	}
	if err := fh.Sync(); err != nil {
		return store.MasterKey{}, fmt.Errorf("key file %s: %w", f.Path, err)
	}
	return store.MasterKey{ID: store.KeyID(k), Key: k, Where: f.Where()}, nil
}

// ErrKeyFileMode is wrapped by the error for a key file that others than
// its owner may read or write.
var ErrKeyFileMode = errors.New("key file readable by others")

// checkMode refuses a key file that its group or others may use. Windows
// has no such mode bits: the file's folder under the user's profile is
// the user's own.
func (f File) checkMode(fh *os.File) error {
	st, err := fh.Stat()
	if err != nil {
		return fmt.Errorf("key file: %w", err)
	}
	if !st.Mode().IsRegular() {
		return fmt.Errorf("key file %s is not a regular file", f.Path)
	}
	if runtime.GOOS == "windows" {
		return nil
	}
	if perm := st.Mode().Perm(); perm&0o077 != 0 {
		return fmt.Errorf("%w: %s has mode %04o; it must be readable by its owner only: chmod 600 %s",
			ErrKeyFileMode, f.Path, perm, f.Path)
	}
	return nil
}

// maxKeyFile bounds what is read of a key file: it holds a few lines.
const maxKeyFile = 1 << 20

func parseKeys(r io.Reader) ([][]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxKeyFile+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxKeyFile {
		return nil, fmt.Errorf("larger than %d bytes: not a key file", maxKeyFile)
	}
	var keys [][]byte
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, err := base64.StdEncoding.DecodeString(line)
		if err != nil || len(k) != store.MasterKeySize {
			return nil, fmt.Errorf("line %d is not a key (%d bytes of base64 each)", n, store.MasterKeySize)
		}
		keys = append(keys, k)
	}
	return keys, sc.Err()
}
