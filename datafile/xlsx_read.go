package datafile

import (
	"archive/zip"
	"fmt"
	"io"
	"os"
	"sync/atomic"

	"github.com/xuri/excelize/v2"
)

// xlsxReader reads every sheet of a workbook as a table, with excelize's
// Rows iterator. The first row of a sheet holds the column names; a sheet
// whose first row is empty and that holds nothing else is skipped. Cells are
// read as the text a spreadsheet shows (dates formatted by their number
// format); an empty cell is NULL. Empty rows between rows of data are rows
// of NULLs, empty rows after the last row of data are dropped.
//
// Each sheet's part is also read by checkSheetXML while excelize iterates
// it, so that a damaged or truncated sheet is an error rather than a short
// sheet.
//
// Memory: rows are streamed, but a workbook saved by Excel keeps its text in
// a shared-strings table that excelize loads whole. Workbooks written by
// this package use inline strings and have no such table.
type xlsxReader struct {
	f      *excelize.File
	name   string
	sheets []string
	zip    *zip.ReadCloser      // the same workbook, for checkSheetXML
	parts  map[string]*zip.File // sheet name -> worksheet part
	check  chan *sheetDamage    // the current sheet's check, nil if none
	stop   atomic.Bool          // abandons a running check on Close
	tmp    string               // a temporary copy of standard input, removed on Close

	rows    *excelize.Rows
	sheet   string
	table   *Table
	row     int // spreadsheet row of the last row read
	pending int // empty rows read but not yet returned
	held    bool
	cells   []string // a non-empty row held back behind pending empty rows
	data    int      // rows of data returned from the current sheet
	empty   bool     // the sheet ended with no rows of data: say so once
	vals    []Value  // nil for a sheet without rows of data
	rowBuf  []Value  // keeps the row buffer while vals is nil
	pos     Pos
	err     error
}

// openXLSX opens the workbook in the file at path.
func openXLSX(path string, opts Options) (Reader, error) {
	if err := checkXLSXOptions(opts); err != nil {
		return nil, err
	}
	return newXLSXFileReader(path, path, "")
}

// newXLSXFileReader opens the workbook in the file at path, called name in
// positions; tmp, if set, is removed on Close.
func newXLSXFileReader(path, name, tmp string) (*xlsxReader, error) {
	f, err := excelize.OpenFile(path)
	if err != nil {
		return nil, fmt.Errorf("xlsx: %s: %w", name, err)
	}
	z, err := zip.OpenReader(path)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("xlsx: %s: %w", name, err)
	}
	return &xlsxReader{f: f, name: name, sheets: f.GetSheetList(), zip: z, parts: sheetParts(&z.Reader), tmp: tmp}, nil
}

// newXLSXReader reads a workbook from r. A zip archive needs random access,
// so the stream is first copied to a temporary file.
func newXLSXReader(r io.Reader, name string, opts Options) (Reader, error) {
	if err := checkXLSXOptions(opts); err != nil {
		return nil, err
	}
	tmp, err := os.CreateTemp("", "tenantkit-*.xlsx")
	if err != nil {
		return nil, fmt.Errorf("xlsx: %w", err)
	}
	_, err = io.Copy(tmp, r)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp.Name())
		return nil, fmt.Errorf("xlsx: copy %s: %w", name, err)
	}
	x, err := newXLSXFileReader(tmp.Name(), name, tmp.Name())
	if err != nil {
		os.Remove(tmp.Name())
		return nil, err
	}
	return x, nil
}

func checkXLSXOptions(opts Options) error {
	enc, err := lookupEncoding(opts.Encoding)
	if err != nil {
		return err
	}
	if enc != nil {
		return fmt.Errorf("xlsx: workbooks are always Unicode; an encoding applies only to userload and CSV")
	}
	return nil
}

func (x *xlsxReader) Table() *Table   { return x.table }
func (x *xlsxReader) Values() []Value { return x.vals }
func (x *xlsxReader) Pos() Pos        { return x.pos }
func (x *xlsxReader) Err() error      { return x.err }

// FieldPos is the cell of column i in the current row.
func (x *xlsxReader) FieldPos(i int) Pos {
	if x.vals == nil || i < 0 || i >= len(x.vals) {
		return Pos{}
	}
	return x.posAt(x.pos.Line, i+1)
}

func (x *xlsxReader) Close() error {
	var err error
	if x.rows != nil {
		err = x.rows.Close()
		x.rows = nil
	}
	if x.check != nil {
		x.stop.Store(true)
		<-x.check
		x.check = nil
	}
	if cerr := x.zip.Close(); err == nil {
		err = cerr
	}
	if cerr := x.f.Close(); err == nil {
		err = cerr
	}
	if x.tmp != "" {
		os.Remove(x.tmp)
	}
	return err
}

func (x *xlsxReader) Next() bool {
	for x.err == nil {
		switch {
		case x.pending > 0 && x.held:
			x.pos = x.posAt(x.row-x.pending, 1)
			x.pending--
			x.data++
			x.vals = x.rowBuf[:0]
			for range x.table.Columns {
				x.vals = append(x.vals, Value{Null: true})
			}
			x.rowBuf = x.vals
			return true
		case x.held:
			x.held = false
			x.pos = x.posAt(x.row, 1)
			x.err = x.setValues(x.cells)
			x.data++
			return x.err == nil
		case x.empty:
			x.empty = false
			x.vals, x.pos = nil, x.table.Pos
			return true
		case x.rows == nil:
			if len(x.sheets) == 0 {
				return false
			}
			x.err = x.beginSheet(x.sheets[0])
			x.sheets = x.sheets[1:]
		default:
			x.err = x.readRow()
		}
	}
	x.vals = x.vals[:0]
	return false
}

func (x *xlsxReader) posAt(row, col int) Pos {
	return Pos{File: x.sheetFile(), Line: row, Col: col}
}

// sheetFile names the current sheet in positions: FILE[SHEET].
func (x *xlsxReader) sheetFile() string { return x.name + "[" + x.sheet + "]" }

// beginSheet opens the rows of a sheet and reads its header.
func (x *xlsxReader) beginSheet(sheet string) error {
	rows, err := x.f.Rows(sheet)
	if err != nil {
		return fmt.Errorf("xlsx: %s: sheet %s: %w", x.name, sheet, err)
	}
	x.rows, x.sheet, x.row, x.pending, x.held, x.data = rows, sheet, 0, 0, false, 0
	x.table = &Table{Name: sheet, Pos: x.posAt(1, 1)}
	if part := x.parts[sheet]; part != nil {
		ch := make(chan *sheetDamage, 1)
		go func() { ch <- checkSheetXML(part, &x.stop) }()
		x.check = ch
	}
	if !rows.Next() {
		return x.endSheet()
	}
	x.row = 1
	cells, err := rows.Columns()
	if err != nil {
		return fmt.Errorf("xlsx: %s: %w", x.posAt(1, 1), err)
	}
	for len(cells) > 0 && cells[len(cells)-1] == "" {
		cells = cells[:len(cells)-1]
	}
	seen := make(map[string]bool, len(cells))
	for i, c := range cells {
		if c == "" {
			return errorAt(x.posAt(1, i+1), "empty column name in column %s", colName(i+1))
		}
		if seen[c] {
			return errorAt(x.posAt(1, i+1), "duplicate column %s", c)
		}
		seen[c] = true
	}
	x.table.Columns = cells
	return nil
}

func colName(n int) string {
	s, _ := excelize.ColumnNumberToName(n)
	return s
}

// readRow reads the next row of the current sheet, holding it back behind
// the empty rows before it.
func (x *xlsxReader) readRow() error {
	if !x.rows.Next() {
		x.empty = x.data == 0 && len(x.table.Columns) > 0
		return x.endSheet()
	}
	x.row++
	cells, err := x.rows.Columns()
	if err != nil {
		return fmt.Errorf("xlsx: %s: %w", x.posAt(x.row, 1), err)
	}
	for len(cells) > 0 && cells[len(cells)-1] == "" {
		cells = cells[:len(cells)-1]
	}
	if len(cells) == 0 {
		x.pending++
		return nil
	}
	if len(x.table.Columns) == 0 {
		return errorAt(x.posAt(x.row, 1), "row 1 must hold the column names")
	}
	x.cells, x.held = cells, true
	return nil
}

// endSheet closes the rows of the current sheet; trailing empty rows are
// dropped. A sheet whose XML the check found damaged is an error.
func (x *xlsxReader) endSheet() error {
	err := x.rows.Error()
	if cerr := x.rows.Close(); err == nil {
		err = cerr
	}
	x.rows, x.pending = nil, 0
	var dmg *sheetDamage
	if x.check != nil {
		dmg = <-x.check
		x.check = nil
	}
	switch {
	case err != nil:
		return fmt.Errorf("xlsx: %s: sheet %s: %w", x.name, x.sheet, err)
	case dmg != nil:
		return dmg.syntaxError(x.sheetFile())
	}
	return nil
}

func (x *xlsxReader) setValues(cells []string) error {
	n := len(x.table.Columns)
	for i := n; i < len(cells); i++ {
		if cells[i] != "" {
			return errorAt(x.posAt(x.row, i+1), "value in column %s, beyond the %d columns named in row 1", colName(i+1), n)
		}
	}
	x.vals = x.rowBuf[:0]
	defer func() { x.rowBuf = x.vals }()
	for i := 0; i < n; i++ {
		if i < len(cells) && cells[i] != "" {
			x.vals = append(x.vals, Value{Str: cells[i]})
		} else {
			x.vals = append(x.vals, Value{Null: true})
		}
	}
	return nil
}
