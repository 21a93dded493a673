// Package datafile reads and writes the data files tenantkit exchanges with
// its users: the native userload format, CSV and Excel workbooks.
//
// Every format is a stream of rows grouped in tables. Readers and writers
// hold one row at a time, so memory does not grow with the file. Open and
// Create pick the format from the file name (see DetectFormat), and Copy
// converts between any two:
//
//	r, err := datafile.Open("in.dat", datafile.Options{})
//	...
//	w, err := datafile.Create("out/", datafile.Options{}) // one CSV file per table
//	...
//	n, err := datafile.Copy(w, r)
//
// The path "-" stands for a command's standard input or output, which the
// caller passes in Options.Stdin and Options.Stdout; NewReader and NewWriter
// work on any stream. The package also holds what other packages need of
// files: CreateAtomic (a file that appears complete or not at all) and the
// text form of COPY (AppendCopyText, CopyDecoder).
//
// The grammar of each format is described on its reader type in the
// source. What does not survive a round trip:
//
//   - XLSX cannot keep NULL apart from the empty string: both are an empty
//     cell, which reads back as NULL. Empty rows at the end of a sheet are
//     dropped, and control characters other than tab, CR and LF cannot be
//     stored (the writer reports them).
//   - XLSX cells are read as the text a spreadsheet shows: the writer only
//     types cells whose display is the exact value (integers of at most 15
//     digits, dates as yyyy-mm-dd); everything else is a text cell.
package datafile

import (
	"fmt"

	"github.com/tenantkit/tenantkit/internal/fault"
)

// Format names a data file format.
type Format string

// The supported formats.
const (
	Userload Format = "userload"
	CSV      Format = "csv"
	XLSX     Format = "xlsx"
)

// Value is one field of a row. The zero value is the empty string; Null marks
// SQL NULL, which every format keeps apart from the empty string except XLSX
// (where an empty cell reads back as NULL).
type Value struct {
	Str  string
	Null bool
}

// Table describes the section a row belongs to.
type Table struct {
	Name    string
	Columns []string
	// Types optionally holds the PostgreSQL type name of each column
	// (format_type output, e.g. "integer", "timestamp with time zone").
	// Writers use it to choose typed cells (XLSX); readers leave it nil.
	Types []string
	// Pos is where a reader found the table's header (the TABLE line, a
	// CSV file's header line, a sheet's first row); zero when unknown.
	Pos Pos
	// Shared marks a section of shared rows (TABLE name SHARED, userload
	// format only): rows of other owners — public rows, a supertenant's,
	// the service provider's — that a tenant's rows reference, which
	// userload inserts only where the database lacks them (see
	// tenant-extract --with-references). CSV and XLSX cannot mark it: their
	// writers refuse such a table.
	Shared bool
}

// sharedKeyword follows the table name of a Shared section.
const sharedKeyword = "SHARED"

// checkUnmarked refuses a Shared table in a format that cannot mark it.
func checkUnmarked(t *Table, format Format) error {
	if t != nil && t.Shared {
		return fmt.Errorf("table %s is a section of shared rows (SHARED), which the %s format cannot mark: write the userload format (.dat)", t.Name, format)
	}
	return nil
}

// Pos is a position in an input file. Line and Col count from 1.
type Pos struct {
	File string
	Line int
	Col  int
}

// String formats p as FILE:LINE:COL, or FILE:LINE when the column is unknown.
func (p Pos) String() string {
	if p.Col > 0 {
		return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col)
	}
	return fmt.Sprintf("%s:%d", p.File, p.Line)
}

// errorAt builds the *fault.PosError that reports malformed input at p:
// the file cannot be read further. Its text is "FILE:LINE:COL: message".
func errorAt(p Pos, format string, args ...any) *fault.PosError {
	return fault.At(p.File, p.Line, p.Col, format, args...)
}

// Reader streams the rows of one or more tables.
//
//	for r.Next() {
//		t, vals, pos := r.Table(), r.Values(), r.Pos()
//		if vals == nil { ... } // a table without rows
//	}
//	if err := r.Err(); err != nil { ... }
//
// Every table a file names is seen, rows or not: a table without rows (a
// TABLE section with no records, a CSV file or a sheet with only a header)
// is one step of Next whose Values are nil and whose Pos is the table's
// header, so that consumers check its name and columns all the same.
type Reader interface {
	// Next advances to the next row, or to a table without rows, and
	// reports whether there is one.
	Next() bool
	// Table is the table of the current row. It stays the same pointer for
	// every row of one section.
	Table() *Table
	// Values are the current row's fields, one per column of Table, or nil
	// when the current table has no rows. The slice is reused by the next
	// call to Next.
	Values() []Value
	// Pos is where the current record starts.
	Pos() Pos
	// FieldPos is where field i of the current record starts (its opening
	// quote, if quoted; for XLSX the cell), the zero Pos when i is out of
	// range or the current table has no rows. A record may span lines, so
	// a field's line can be past the record's.
	FieldPos(i int) Pos
	// Err is the error that stopped Next, nil at a clean end of input.
	// Malformed input yields a *fault.PosError.
	Err() error
	// Close releases the underlying file.
	Close() error
}

// Writer writes rows grouped in tables.
type Writer interface {
	// BeginTable starts a new section (a TABLE block, a sheet, a CSV file).
	BeginTable(t *Table) error
	// WriteRow writes one row of the current table.
	WriteRow(vals []Value) error
	// Close flushes and finishes the output.
	Close() error
}
