package masterkeys

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zalando/go-keyring"

	"github.com/tenantdesk/tenantdesk/store"
)

func TestKeyFileIsMadeOwnerOnlyAndKeepsEveryKey(t *testing.T) {
	f := File{Path: filepath.Join(t.TempDir(), "conf", "tenantdesk.key")}
	if _, err := f.Find("nope"); !errors.Is(err, store.ErrKeyMissing) {
		t.Fatalf("find in a missing file: %v", err)
	}
	first, err := f.Create()
	if err != nil {
		t.Fatal(err)
	}
	second, err := f.Create()
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(f.Path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v, %v; want 0600", st.Mode().Perm(), err)
	}
	if dir, _ := os.Stat(filepath.Dir(f.Path)); dir.Mode().Perm() != 0o700 {
		t.Fatalf("key folder mode %v; want 0700", dir.Mode().Perm())
	}
	for _, want := range []store.MasterKey{first, second} {
		got, err := f.Find(want.ID)
		if err != nil || string(got.Key) != string(want.Key) || got.ID != store.KeyID(got.Key) {
			t.Fatalf("find %s: %v", want.ID, err)
		}
	}
}

func TestKeyFileReadableByOthersIsRefused(t *testing.T) {
	f := File{Path: filepath.Join(t.TempDir(), "tenantdesk.key")}
	mk, err := f.Create()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(f.Path, 0o644); err != nil {
		t.Fatal(err)
	}
	for name, call := range map[string]func() error{
		"find":   func() error { _, err := f.Find(mk.ID); return err },
		"create": func() error { _, err := f.Create(); return err },
		"chain":  func() error { _, err := Chain{f}.Find(mk.ID); return err },
	} {
		err := call()
		if !errors.Is(err, ErrKeyFileMode) || errors.Is(err, store.ErrKeyMissing) ||
			!strings.Contains(err.Error(), "chmod 600 "+f.Path) {
			t.Errorf("%s with mode 0644: %v", name, err)
		}
	}
	if b, _ := os.ReadFile(f.Path); strings.Count(string(b), "\n") != 3 { // header of two lines, one key
		t.Errorf("a refused create wrote to the key file:\n%s", b)
	}
}

func TestKeyFileOfSomethingElseIsRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "notes.txt")
	if err := os.WriteFile(path, []byte("not a key\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := File{Path: path}.Find("x")
	if err == nil || errors.Is(err, store.ErrKeyMissing) || !strings.Contains(err.Error(), "line 1") {
		t.Fatalf("find in a file of something else: %v", err)
	}
}

// On a desktop the keyring takes a new key; a key kept in the key file
// (made where no keyring answered) is found all the same.
func TestChainKeepsInTheKeyringAndFindsInEither(t *testing.T) {
	keyring.MockInit()
	file := File{Path: filepath.Join(t.TempDir(), "tenantdesk.key")}
	chain := Chain{Keyring{Service: "tenantdesk-test"}, file}
	inRing, err := chain.Create()
	if err != nil || inRing.Where != "the OS keyring" {
		t.Fatalf("create: %+v, %v", inRing, err)
	}
	if _, err := os.Stat(file.Path); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("the key file was made although the keyring took the key")
	}
	inFile, err := file.Create()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []store.MasterKey{inRing, inFile} {
		if got, err := chain.Find(want.ID); err != nil || string(got.Key) != string(want.Key) || got.Where != want.Where {
			t.Fatalf("find %s (%s): %+v, %v", want.ID, want.Where, got, err)
		}
	}
	_, err = chain.Find("0123456789abcdef")
	if !errors.Is(err, store.ErrKeyMissing) || !strings.Contains(err.Error(), file.Path) {
		t.Fatalf("a key in neither: %v", err)
	}

	keyring.MockInitWithError(errors.New("no Secret Service on this bus"))
	made, err := chain.Create()
	if err != nil || made.Where != file.Where() {
		t.Fatalf("create with the keyring down: %+v, %v; want the key file", made, err)
	}
}
