// Package safecsv is the one CSV writer of the app. Exports are untrusted
// output (SPEC §15): a cell a spreadsheet would run as a formula, such as a
// Connec! organization named =HYPERLINK("http://x","y"), is written with a
// leading ' so that it opens as the text it is (OWASP's CSV injection rule).
package safecsv

import (
	"encoding/csv"
	"io"
)

// Writer is encoding/csv's writer with every cell neutralized.
type Writer struct {
	cw  *csv.Writer
	row []string
}

// NewWriter writes CSV to w.
func NewWriter(w io.Writer) *Writer { return &Writer{cw: csv.NewWriter(w)} }

// Write writes one record, its cells neutralized.
func (w *Writer) Write(record []string) error {
	w.row = w.row[:0]
	for _, cell := range record {
		w.row = append(w.row, Neutralize(cell))
	}
	return w.cw.Write(w.row)
}

// Flush writes what is buffered; Error reports any error of a Write or
// the Flush.
func (w *Writer) Flush()       { w.cw.Flush() }
func (w *Writer) Error() error { return w.cw.Error() }

// Neutralize prefixes a cell that starts with =, +, -, @, a tab or a
// carriage return with a ', which spreadsheets show and do not evaluate.
func Neutralize(cell string) string {
	if cell == "" {
		return cell
	}
	switch cell[0] {
	case '=', '+', '-', '@', '\t', '\r':
		return "'" + cell
	}
	return cell
}
