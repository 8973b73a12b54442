package settings

import "testing"

// Every value a user types goes through one check per key: it never
// panics, and what it keeps passes the same check unchanged (so a stored
// value reads back as itself after a restart). File checks are left out:
// they depend on the file system, not on the text.
func FuzzValidate(f *testing.F) {
	for _, s := range []string{"https://td.example.com/", "127.0.0.1:8765", "[::1]:0", "10.0.0.1, ::ffff:10.0.0.2 10.0.0.0/8",
		"/api/config/v1/marketplaces", "1h", "off", "90m", "k-1", "http://h:99999", "", " ", "::", "\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		for _, d := range Defs {
			if d.Key == TLSCert || d.Key == TLSKey {
				continue
			}
			out, err := d.validate(in)
			if err != nil {
				continue
			}
			again, err := d.validate(out)
			if err != nil || again != out {
				t.Fatalf("%s: %q kept as %q, which reads back as %q (%v)", d.Key, in, out, again, err)
			}
		}
	})
}
