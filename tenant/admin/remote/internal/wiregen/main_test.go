package main

import (
	"bytes"
	"os"
	"testing"
)

// api_gen.go is what wiregen writes from today's admin.API: a method added
// to the interface without `go generate ./tenant/admin/remote` fails here
// (and the build, where a Client is an admin.API).
func TestAPIGenIsCurrent(t *testing.T) {
	want, err := Source()
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile("../../api_gen.go")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("tenant/admin/remote/api_gen.go is stale: run go generate ./tenant/admin/remote")
	}
}
