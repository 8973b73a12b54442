package safecsv

import (
	"bytes"
	"encoding/csv"
	"testing"
)

// A formula, and every other start a spreadsheet evaluates, comes back as
// text with a leading '; ordinary cells are unchanged.
func TestFormulaCellsAreWrittenAsText(t *testing.T) {
	cells := map[string]string{
		`=HYPERLINK("http://x","y")`: `'=HYPERLINK("http://x","y")`,
		"+1+1":                       "'+1+1",
		"-2+3":                       "'-2+3",
		"@SUM(A1)":                   "'@SUM(A1)",
		"\t=1":                       "'\t=1",
		"\r=1":                       "'\r=1",
		"Acme = Inc":                 "Acme = Inc",
		"":                           "",
		"'already":                   "'already",
		"42":                         "42",
	}
	var in []string
	for cell := range cells {
		in = append(in, cell)
	}
	var buf bytes.Buffer
	w := NewWriter(&buf)
	if err := w.Write(in); err != nil {
		t.Fatal(err)
	}
	w.Flush()
	if err := w.Error(); err != nil {
		t.Fatal(err)
	}
	back, err := csv.NewReader(&buf).Read()
	if err != nil {
		t.Fatal(err)
	}
	for i, cell := range in {
		if back[i] != cells[cell] {
			t.Errorf("%q came out as %q, want %q", cell, back[i], cells[cell])
		}
	}
}
