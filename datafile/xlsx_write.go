package datafile

import (
	"archive/zip"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"

	"github.com/xuri/excelize/v2"
)

// Excel's limits.
const (
	xlsxMaxDataRows  = excelize.TotalRows - 1 // the first row holds the column names
	xlsxMaxCellChars = excelize.TotalCellChars
	xlsxMaxSheetName = excelize.MaxSheetNameLength
	xlsxMaxColumns   = excelize.MaxColumns
	xlsxMaxIntDigits = 15 // Excel keeps 15 significant digits
)

// cellKind says how a column's values are stored in a workbook.
type cellKind int

const (
	textCell cellKind = iota
	intCell
	dateCell
)

// kindOf maps a PostgreSQL type name to the cell kind that round-trips it
// exactly; anything not known to do so is text.
func kindOf(pgType string) cellKind {
	switch strings.ToLower(pgType) {
	case "integer", "bigint", "smallint", "int", "int2", "int4", "int8":
		return intCell
	case "date":
		return dateCell
	}
	return textCell
}

// excelEpoch is day 0 of Excel's 1900 date system as it is used from
// 1900-03-01 on (Excel counts a 29 February 1900 that never was).
var excelEpoch = time.Date(1899, 12, 30, 0, 0, 0, 0, time.UTC)

// firstExcelDate is the first date whose serial number is exact.
var firstExcelDate = time.Date(1900, 3, 1, 0, 0, 0, 0, time.UTC)

// xlsxWriter writes one sheet per table with excelize's StreamWriter. The
// first row holds the column names. Integer columns (by Table.Types) become
// number cells when the value has at most 15 digits, date columns become
// date cells shown as yyyy-mm-dd, and everything else is a text cell, so
// that reading the workbook back gives the same text. NULL and the empty
// string are both an empty cell.
type xlsxWriter struct {
	f      *excelize.File
	closer io.Closer

	sw        *excelize.StreamWriter
	table     *Table
	kinds     []cellKind
	rows      int64
	sheets    map[string]string // lower-cased sheet name -> table
	dateStyle int
	cells     []any
	maxRows   int64 // xlsxMaxDataRows; lowered by tests
}

func newXLSXWriter(w io.Writer, closer io.Closer) *xlsxWriter {
	f := excelize.NewFile()
	// excelize assembles the finished zip archive in a bytes.Buffer, which
	// would hold the whole compressed workbook in memory. Its ZipWriter hook
	// lets the archive go straight to the output instead (the buffer stays
	// empty). The one thing lost is excelize's patch of the local header
	// version of zip64 entries, needed only for a sheet over 4 GiB of XML;
	// archive/zip still writes valid zip64 records for it.
	f.ZipWriter = func(io.Writer) excelize.ZipWriter { return zip.NewWriter(w) }
	return &xlsxWriter{f: f, closer: closer, sheets: make(map[string]string), maxRows: xlsxMaxDataRows}
}

// checkSheetName reports why a table name cannot be a sheet name.
func checkSheetName(name string) error {
	switch {
	case len(utf16.Encode([]rune(name))) > xlsxMaxSheetName:
		return fmt.Errorf("table name %s is longer than the %d characters of a sheet name", name, xlsxMaxSheetName)
	case strings.ContainsAny(name, `:\/?*[]`):
		return fmt.Errorf(`table name %s cannot be a sheet name: it contains one of : \ / ? * [ ]`, name)
	case strings.HasPrefix(name, "'") || strings.HasSuffix(name, "'"):
		return fmt.Errorf("table name %s cannot be a sheet name: it starts or ends with '", name)
	}
	return nil
}

func (x *xlsxWriter) BeginTable(t *Table) error {
	if err := checkTable(t); err != nil {
		return fmt.Errorf("xlsx: %w", err)
	}
	if err := checkUnmarked(t, XLSX); err != nil {
		return fmt.Errorf("xlsx: %w", err)
	}
	if err := checkSheetName(t.Name); err != nil {
		return fmt.Errorf("xlsx: %w", err)
	}
	if prev, ok := x.sheets[strings.ToLower(t.Name)]; ok {
		return fmt.Errorf("xlsx: table %s needs the sheet name already used by table %s (sheet names ignore case)", t.Name, prev)
	}
	if len(t.Columns) > xlsxMaxColumns {
		return fmt.Errorf("xlsx: table %s has %d columns, a sheet holds at most %d", t.Name, len(t.Columns), xlsxMaxColumns)
	}
	if err := x.endSheet(); err != nil {
		return err
	}
	var err error
	if len(x.sheets) == 0 {
		err = x.f.SetSheetName(x.f.GetSheetName(0), t.Name)
	} else {
		_, err = x.f.NewSheet(t.Name)
	}
	if err == nil {
		x.sw, err = x.f.NewStreamWriter(t.Name)
	}
	if err != nil {
		return fmt.Errorf("xlsx: table %s: %w", t.Name, err)
	}
	x.sheets[strings.ToLower(t.Name)] = t.Name
	x.table, x.rows = t, 0
	x.kinds = x.kinds[:0]
	for i := range t.Columns {
		k := textCell
		if t.Types != nil {
			k = kindOf(t.Types[i])
		}
		x.kinds = append(x.kinds, k)
	}
	if err := x.ensureDateStyle(); err != nil {
		return err
	}
	x.cells = x.cells[:0]
	for _, c := range t.Columns {
		if err := checkCell(c); err != nil {
			return fmt.Errorf("xlsx: table %s column name: %w", t.Name, err)
		}
		x.cells = append(x.cells, c)
	}
	if err := x.sw.SetRow("A1", x.cells); err != nil {
		return fmt.Errorf("xlsx: table %s header: %w", t.Name, err)
	}
	return nil
}

// ensureDateStyle registers the yyyy-mm-dd cell style once, when a table
// first has a date column.
func (x *xlsxWriter) ensureDateStyle() error {
	if x.dateStyle != 0 {
		return nil
	}
	for _, k := range x.kinds {
		if k == dateCell {
			// The [$-409] locale (English) does not change how the date
			// shows, but spares excelize's reader a slow search for the
			// locale of every date cell.
			format := "[$-409]yyyy-mm-dd"
			id, err := x.f.NewStyle(&excelize.Style{CustomNumFmt: &format})
			if err != nil {
				return fmt.Errorf("xlsx: date style: %w", err)
			}
			x.dateStyle = id
			return nil
		}
	}
	return nil
}

// checkCell reports why s cannot be a cell's text: it is too long, or it
// holds a character XML 1.0 cannot carry (control characters other than
// tab, CR and LF; U+FFFE and U+FFFF), which excelize would replace.
func checkCell(s string) error {
	for _, r := range s {
		if r < 0x20 && r != '\t' && r != '\n' && r != '\r' || r == 0xFFFE || r == 0xFFFF {
			return fmt.Errorf("character %U cannot be stored in a workbook", r)
		}
	}
	if len(s) <= xlsxMaxCellChars { // bytes >= UTF-16 units
		return nil
	}
	if n := utf16Len(s); n > xlsxMaxCellChars {
		return fmt.Errorf("value of %d characters exceeds Excel's limit of %d characters a cell", n, xlsxMaxCellChars)
	}
	return nil
}

func utf16Len(s string) int {
	n := 0
	for _, r := range s {
		n++
		if r >= 0x10000 {
			n++
		}
	}
	return n
}

func (x *xlsxWriter) WriteRow(vals []Value) error {
	if err := checkRow(x.table, vals, x.rows+1); err != nil {
		return fmt.Errorf("xlsx: %w", err)
	}
	if x.rows >= x.maxRows {
		return fmt.Errorf("xlsx: table %s row %d: a sheet holds at most %d rows of data", x.table.Name, x.rows+1, x.maxRows)
	}
	x.rows++
	x.cells = x.cells[:0]
	for i, v := range vals {
		if err := checkCell(v.Str); err != nil {
			return fmt.Errorf("xlsx: table %s row %d column %s: %w", x.table.Name, x.rows, x.table.Columns[i], err)
		}
		x.cells = append(x.cells, x.cell(x.kinds[i], v))
	}
	cell, err := excelize.CoordinatesToCellName(1, int(x.rows)+1)
	if err == nil {
		err = x.sw.SetRow(cell, x.cells)
	}
	if err != nil {
		return fmt.Errorf("xlsx: table %s row %d: %w", x.table.Name, x.rows, err)
	}
	return nil
}

// cell converts a value to what SetRow stores.
func (x *xlsxWriter) cell(k cellKind, v Value) any {
	if v.Null || v.Str == "" {
		return nil
	}
	switch k {
	case intCell:
		if n, ok := exactInt(v.Str); ok {
			return n
		}
	case dateCell:
		if d, ok := exactDate(v.Str); ok {
			return excelize.Cell{StyleID: x.dateStyle, Value: (d.Unix() - excelEpoch.Unix()) / 86400}
		}
	}
	return v.Str
}

// exactInt parses s as an integer that a number cell shows as s again.
func exactInt(s string) (int64, bool) {
	digits := strings.TrimPrefix(s, "-")
	if len(digits) > xlsxMaxIntDigits {
		return 0, false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || strconv.FormatInt(n, 10) != s {
		return 0, false
	}
	return n, true
}

// exactDate parses s as a yyyy-mm-dd date that a date cell shows as s again.
func exactDate(s string) (time.Time, bool) {
	if len(s) != len("2006-01-02") {
		return time.Time{}, false
	}
	d, err := time.Parse("2006-01-02", s)
	if err != nil || d.Before(firstExcelDate) || d.Year() > 9999 {
		return time.Time{}, false
	}
	return d, true
}

func (x *xlsxWriter) endSheet() error {
	if x.sw == nil {
		return nil
	}
	err := x.sw.Flush()
	x.sw = nil
	if err != nil {
		return fmt.Errorf("xlsx: table %s: %w", x.table.Name, err)
	}
	return nil
}

func (x *xlsxWriter) Close() error {
	err := x.endSheet()
	if err == nil {
		if _, werr := x.f.WriteToBuffer(); werr != nil {
			err = fmt.Errorf("xlsx: %w", werr)
		}
	}
	if cerr := x.f.Close(); err == nil {
		err = cerr
	}
	if x.closer != nil {
		if cerr := x.closer.Close(); err == nil {
			err = cerr
		}
	}
	return err
}
