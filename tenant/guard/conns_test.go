package guard

import "testing"

// The caps of both listeners and the reserve fit within the limit, for the
// limits a machine is likely to have.
func TestLimitsFitTheOpenFileLimit(t *testing.T) {
	for _, files := range []int{256, 1024, 4096, 20000, 1 << 20} {
		l := limitsFor(files)
		if l.Public+l.Admin+reservedFiles > files || l.Public < l.Admin || l.Admin < 4 {
			t.Errorf("%d files: %+v", files, l)
		}
	}
	if l := Limits(); l.Public <= 0 || l.Admin <= 0 {
		t.Errorf("this process: %+v", l)
	}
}
