package connec

import (
	"encoding/json"
	"testing"
)

func TestParseID(t *testing.T) {
	var decoded any
	if err := json.Unmarshal([]byte(`[{"id":"c-1","provider":"connec","realm":"org-1"},{"id":"inv-1","provider":"app-acme","realm":"cld-1"}]`), &decoded); err != nil {
		t.Fatal(err)
	}
	for name, v := range map[string]any{
		"raw array":     json.RawMessage(`[{"id":"c-1","provider":"connec","realm":"org-1"},{"id":"inv-1","provider":"app-acme","realm":"cld-1"}]`),
		"decoded array": decoded,
	} {
		ids, err := ParseID(v)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if ids.Connec() != "c-1" || ids.Find("app-acme", "cld-1") != "inv-1" || ids.Find("app-acme", "cld-2") != "" {
			t.Errorf("%s: %+v", name, ids)
		}
	}
	for _, v := range []any{"c-1", json.RawMessage(`"c-1"`), []byte(` "c-1"`)} {
		ids, err := ParseID(v)
		if err != nil || ids.Connec() != "c-1" {
			t.Errorf("plain id %v: %+v %v", v, ids, err)
		}
	}
	for _, bad := range []any{nil, "", json.RawMessage(`null`), json.RawMessage(`[]`), json.RawMessage(`42`),
		json.RawMessage(`[{"id":"x"}]`), json.RawMessage(`[{"provider":"connec"}]`), []any{"x"}, 42} {
		if ids, err := ParseID(bad); err == nil {
			t.Errorf("%v: accepted as %+v", bad, ids)
		}
	}
}
