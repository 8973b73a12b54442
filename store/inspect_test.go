package store

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"go.etcd.io/bbolt"
)

func TestInspectAcceptsOnlyTenantdeskFilesOfAKnownSchema(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.db")
	db, err := Open(good, Options{})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	if v, err := Inspect(good); err != nil || v != SchemaVersion {
		t.Fatalf("good file: %d, %v", v, err)
	}

	text := filepath.Join(dir, "notes.txt")
	os.WriteFile(text, []byte("hello"), 0o600)
	foreign := filepath.Join(dir, "foreign.db")
	b, _ := bbolt.Open(foreign, 0o600, nil)
	b.Update(func(tx *bbolt.Tx) error { _, err := tx.CreateBucket([]byte("other")); return err })
	b.Close()
	newer := filepath.Join(dir, "newer.db")
	b, _ = bbolt.Open(newer, 0o600, nil)
	b.Update(func(tx *bbolt.Tx) error { return setSchemaVersion(tx, SchemaVersion+1) })
	b.Close()
	for _, path := range []string{text, foreign, newer} {
		if _, err := Inspect(path); !errors.Is(err, ErrSchema) {
			t.Errorf("%s: %v, want ErrSchema", filepath.Base(path), err)
		}
	}
	if _, err := Inspect(filepath.Join(dir, "missing.db")); err == nil {
		t.Error("a missing file passed")
	}
	// Inspect changed nothing.
	if _, err := Inspect(newer); !errors.Is(err, ErrSchema) {
		t.Error("second look differs")
	}
}
