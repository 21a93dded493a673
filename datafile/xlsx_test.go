package datafile

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"
)

func TestXLSXTypedCells(t *testing.T) {
	tb := &Table{Name: "t", Columns: []string{"i", "d", "ts", "n", "s"},
		Types: []string{"bigint", "date", "timestamp with time zone", "numeric", "text"}}
	rows := [][]Value{
		row(str("123456789012345"), str("2024-01-31"), str("2024-01-31 10:00:00+01"), str("1.50"), str("007")),
		row(str("-999999999999999"), str("1900-03-01"), str("x"), str("1e3"), str(" lead")),
		row(str("1234567890123456"), str("1900-02-28"), null(), null(), str("trail ")),
		row(str("007"), str("9999-12-31"), null(), str("0"), str("l1\r\nl2\tx")),
		row(str("-0"), str("2024-02-30"), null(), null(), str("_x000D_")),
		row(str("+5"), str("infinity"), null(), null(), str("<&>\"'")),
	}
	path := filepath.Join(t.TempDir(), "book.xlsx")
	w, err := Create(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	writeSections(t, w, []section{{tb, rows}})

	f, err := excelize.OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	// A number cell has no type attribute: excelize reports it unset.
	for cell, want := range map[string]excelize.CellType{
		"A2": excelize.CellTypeUnset, "A4": excelize.CellTypeInlineString, "A5": excelize.CellTypeInlineString,
		"B2": excelize.CellTypeUnset, "B4": excelize.CellTypeInlineString, "B5": excelize.CellTypeUnset,
		"C2": excelize.CellTypeInlineString, "D2": excelize.CellTypeInlineString, "E2": excelize.CellTypeInlineString,
	} {
		if got, _ := f.GetCellType("t", cell); got != want {
			t.Errorf("%s: cell type %v, want %v", cell, got, want)
		}
	}

	r, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	got, err := readSections(r)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Table.Name != "t" || strings.Join(got[0].Table.Columns, ",") != "i,d,ts,n,s" {
		t.Fatalf("tables %+v", got)
	}
	if !equalRows(got[0].Rows, rows) {
		t.Errorf("rows\n%+v\nwant\n%+v", got[0].Rows, rows)
	}
}

func equalRows(a, b [][]Value) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if len(a[i]) != len(b[i]) {
			return false
		}
		for j := range a[i] {
			if a[i][j] != b[i][j] {
				return false
			}
		}
	}
	return true
}

func TestXLSXReader(t *testing.T) {
	f := excelize.NewFile()
	f.SetSheetName("Sheet1", "people")
	f.SetSheetRow("people", "A1", &[]any{"id", "name"})
	f.SetSheetRow("people", "A2", &[]any{1, "Ann"})
	f.SetSheetRow("people", "A4", &[]any{3, nil})
	f.SetCellValue("people", "B6", "") // a formatted but empty row at the end
	f.NewSheet("empty")
	f.NewSheet("more")
	f.SetSheetRow("more", "A1", &[]any{"x"})
	f.SetSheetRow("more", "A2", &[]any{"y"})
	var b bytes.Buffer
	if err := f.Write(&b); err != nil {
		t.Fatal(err)
	}
	r, err := NewReader(&b, "book.xlsx", Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var out strings.Builder
	for r.Next() {
		out.WriteString(r.Pos().String())
		for _, v := range r.Values() {
			if v.Null {
				out.WriteString(" NULL")
			} else {
				out.WriteString(" " + v.Str)
			}
		}
		out.WriteString("\n")
	}
	if r.Err() != nil {
		t.Fatal(r.Err())
	}
	const want = "book.xlsx[people]:2:1 1 Ann\nbook.xlsx[people]:3:1 NULL NULL\nbook.xlsx[people]:4:1 3 NULL\nbook.xlsx[more]:2:1 y\n"
	if out.String() != want {
		t.Errorf("got\n%s\nwant\n%s", out.String(), want)
	}
}

func TestXLSXReaderErrors(t *testing.T) {
	tests := []struct {
		name  string
		build func(f *excelize.File)
		want  string
	}{
		{"empty column name", func(f *excelize.File) { f.SetSheetRow("s", "A1", &[]any{"a", nil, "c"}) },
			"book.xlsx[s]:1:2: empty column name in column B"},
		{"duplicate column", func(f *excelize.File) { f.SetSheetRow("s", "A1", &[]any{"a", "a"}) },
			"book.xlsx[s]:1:2: duplicate column a"},
		{"value beyond header", func(f *excelize.File) {
			f.SetSheetRow("s", "A1", &[]any{"a", "b"})
			f.SetSheetRow("s", "A2", &[]any{"1", "2", nil, "4"})
		}, "book.xlsx[s]:2:4: value in column D, beyond the 2 columns named in row 1"},
		{"no header row", func(f *excelize.File) { f.SetSheetRow("s", "A3", &[]any{"a"}) },
			"book.xlsx[s]:3:1: row 1 must hold the column names"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := excelize.NewFile()
			f.SetSheetName("Sheet1", "s")
			tt.build(f)
			var b bytes.Buffer
			f.Write(&b)
			r, err := NewReader(&b, "book.xlsx", Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			_, err = dump(r)
			if err == nil || err.Error() != tt.want {
				t.Errorf("error %v\nwant  %s", err, tt.want)
			}
		})
	}
}

func TestXLSXWriterLimits(t *testing.T) {
	begin := func(name string) error {
		w := newXLSXWriter(&bytes.Buffer{}, nil)
		return w.BeginTable(&Table{Name: name, Columns: []string{"a"}})
	}
	for name, want := range map[string]string{
		strings.Repeat("x", 32): "xlsx: table name " + strings.Repeat("x", 32) + " is longer than the 31 characters of a sheet name",
		"a:b":                   `xlsx: table name a:b cannot be a sheet name: it contains one of : \ / ? * [ ]`,
		"a[1]":                  `xlsx: table name a[1] cannot be a sheet name: it contains one of : \ / ? * [ ]`,
		"'q":                    `xlsx: table name 'q cannot be a sheet name: it starts or ends with '`,
	} {
		if err := begin(name); err == nil || err.Error() != want {
			t.Errorf("%s: %v\nwant %s", name, err, want)
		}
	}
	if err := begin(strings.Repeat("é", 31)); err != nil {
		t.Errorf("31 characters: %v", err)
	}

	w := newXLSXWriter(&bytes.Buffer{}, nil)
	w.maxRows = 2
	defer w.Close()
	if err := w.BeginTable(&Table{Name: "T", Columns: []string{"a"}}); err != nil {
		t.Fatal(err)
	}
	if err := w.BeginTable(&Table{Name: "t", Columns: []string{"a"}}); err == nil ||
		err.Error() != "xlsx: table t needs the sheet name already used by table T (sheet names ignore case)" {
		t.Errorf("same sheet twice: %v", err)
	}
	for i := 0; i < 2; i++ {
		if err := w.WriteRow(row(str("x"))); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.WriteRow(row(str("x"))); err == nil || err.Error() != "xlsx: table T row 3: a sheet holds at most 2 rows of data" {
		t.Errorf("too many rows: %v", err)
	}
	w.maxRows = 10
	long := strings.Repeat("ab", 16384)
	if err := w.WriteRow(row(str(long))); err == nil ||
		err.Error() != "xlsx: table T row 3 column a: value of 32768 characters exceeds Excel's limit of 32767 characters a cell" {
		t.Errorf("long cell: %v", err)
	}
	if err := w.WriteRow(row(str(long[1:]))); err != nil {
		t.Errorf("32767 characters: %v", err)
	}
	if err := w.WriteRow(row(str("a\x01"))); err == nil ||
		err.Error() != "xlsx: table T row 5 column a: character U+0001 cannot be stored in a workbook" {
		t.Errorf("control character: %v", err)
	}
}

func TestXLSXNoEncoding(t *testing.T) {
	if _, err := NewWriter(&bytes.Buffer{}, Options{Format: XLSX, Encoding: "latin1"}); err == nil {
		t.Error("writer accepts an encoding")
	}
	if _, err := NewReader(strings.NewReader(""), "a.xlsx", Options{Encoding: "latin1"}); err == nil {
		t.Error("reader accepts an encoding")
	}
}
