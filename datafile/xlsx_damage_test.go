package datafile

import (
	"archive/zip"
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/tenantkit/tenantkit/internal/fault"
)

// writeBook writes a workbook with this package: one sheet t (id, name)
// holding rows 1..n (spreadsheet rows 2..n+1).
func writeBook(t testing.TB, n int) []byte {
	t.Helper()
	var b bytes.Buffer
	w, err := NewWriter(&b, Options{Format: XLSX})
	if err != nil {
		t.Fatal(err)
	}
	sec := section{Table: &Table{Name: "t", Columns: []string{"id", "name"}, Types: []string{"integer", "text"}}}
	for i := 1; i <= n; i++ {
		sec.Rows = append(sec.Rows, row(str(fmt.Sprint(i)), str(fmt.Sprintf("name %d", i))))
	}
	writeSections(t, w, []section{sec})
	return b.Bytes()
}

// rewritePart rebuilds the zip archive book with part changed by edit: the
// archive stays valid, only the part's content is damaged.
func rewritePart(t testing.TB, book []byte, part string, edit func([]byte) []byte) []byte {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(book), int64(len(book)))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	zw := zip.NewWriter(&out)
	found := false
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		if f.Name == part {
			data, found = edit(data), true
		}
		w, err := zw.Create(f.Name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(data); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if !found {
		t.Fatalf("no part %s in the workbook", part)
	}
	return out.Bytes()
}

// cutAt returns an edit that keeps the part up to the first occurrence of
// mark (plus skip bytes) and replaces the rest with tail.
func cutAt(t testing.TB, mark string, skip int, tail string) func([]byte) []byte {
	return func(data []byte) []byte {
		i := bytes.Index(data, []byte(mark))
		if i < 0 {
			t.Fatalf("no %q in the part", mark)
		}
		return append(append([]byte(nil), data[:i+skip]...), tail...)
	}
}

// TestXLSXDamagedSheet: a sheet whose XML is damaged or cut off is an
// error at the row where it breaks, never a shorter sheet (issue 22:
// excelize's row iterator ends the sheet silently at the first XML error).
func TestXLSXDamagedSheet(t *testing.T) {
	const sheet = "xl/worksheets/sheet1.xml"
	book := writeBook(t, 6000)
	rest := func(data []byte, mark string) string {
		return string(data[bytes.Index(data, []byte(mark)):])
	}
	tests := []struct {
		name string
		edit func([]byte) []byte
		want string
	}{
		{"garbage inside row 5000", func(data []byte) []byte {
			return cutAt(t, `<row r="5000"`, len(`<row r="5000">`), `<c r="A5000"<<garbage`+rest(data, `<c r="A5000"`))(data)
		}, `book.xlsx[t]:5000:1: damaged sheet: ` + sheet + `: expected attribute name in element (line 2 of the part) in row 5000; the sheet cannot be read past row 4999`},
		{"cut inside row 5000", cutAt(t, `<row r="5000"`, 30, ""),
			`book.xlsx[t]:5000:1: damaged sheet: ` + sheet + `: the XML ends inside <v> in row 5000; the sheet cannot be read past row 4999`},
		{"cut inside a cell", cutAt(t, `<c r="B5000"`, len(`<c r="B5000"`)+12, ""),
			`book.xlsx[t]:5000:1: damaged sheet: ` + sheet + `: `},
		{"cut between rows", cutAt(t, `<row r="5000"`, 0, ""),
			`book.xlsx[t]:5000:1: damaged sheet: ` + sheet + `: the XML ends inside <sheetData> after row 4999; the sheet cannot be read past it`},
		{"end tags crossed", func(data []byte) []byte {
			return bytes.Replace(data, []byte(`</c></row><row r="5001"`), []byte(`</row></c><row r="5001"`), 1)
		}, `book.xlsx[t]:5000:1: damaged sheet: ` + sheet + `: unexpected </row> in row 5000; the sheet cannot be read past row 4999`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			damaged := rewritePart(t, book, sheet, tt.edit)
			r, err := NewReader(bytes.NewReader(damaged), "book.xlsx", Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			secs, err := readSections(r)
			var se *fault.PosError
			if !errors.As(err, &se) || !strings.HasPrefix(err.Error(), tt.want) {
				n := 0
				if len(secs) > 0 {
					n = len(secs[0].Rows)
				}
				t.Fatalf("read %d rows, error %v\nwant %s", n, err, tt.want)
			}
		})
	}

	// The intact workbook reads whole, and so does a sheet whose part has
	// no sheetData (or stray XML after it, which holds no cells).
	r, err := NewReader(bytes.NewReader(book), "book.xlsx", Options{})
	if err != nil {
		t.Fatal(err)
	}
	secs, err := readSections(r)
	r.Close()
	if err != nil || len(secs) != 1 || len(secs[0].Rows) != 6000 || secs[0].Rows[5999][1].Str != "name 6000" {
		t.Fatalf("intact workbook: %d sections, error %v", len(secs), err)
	}
}

// FuzzXLSXReader reads workbooks written by this package whose sheet XML
// was mutated: the reader must not panic, and whenever the sheet data is
// not well-formed XML it must fail with a positioned error rather than
// return a shorter sheet.
func FuzzXLSXReader(f *testing.F) {
	book := writeBook(f, 20)
	zr, err := zip.NewReader(bytes.NewReader(book), int64(len(book)))
	if err != nil {
		f.Fatal(err)
	}
	var sheetXML []byte
	for _, zf := range zr.File {
		if zf.Name == "xl/worksheets/sheet1.xml" {
			rc, _ := zf.Open()
			sheetXML, _ = io.ReadAll(rc)
			rc.Close()
		}
	}
	f.Add(uint16(0), uint8(0), []byte(nil))
	f.Add(uint16(bytes.Index(sheetXML, []byte(`<row r="10"`))), uint8(5), []byte("<<"))
	f.Add(uint16(bytes.Index(sheetXML, []byte(`</sheetData>`))), uint8(255), []byte(""))
	f.Add(uint16(bytes.Index(sheetXML, []byte(`<t>`))), uint8(3), []byte("<v>"))
	f.Fuzz(func(t *testing.T, at uint16, cut uint8, insert []byte) {
		i := int(at) % (len(sheetXML) + 1)
		j := min(i+int(cut), len(sheetXML))
		mutated := append(append(append([]byte(nil), sheetXML[:i]...), insert...), sheetXML[j:]...)
		damaged := rewritePart(t, book, "xl/worksheets/sheet1.xml", func([]byte) []byte { return mutated })
		r, err := NewReader(bytes.NewReader(damaged), "fuzz.xlsx", Options{})
		if err != nil {
			return // excelize refused the workbook while opening it
		}
		defer r.Close()
		_, err = readSections(r)
		if xerr := sheetDataError(mutated); xerr != nil {
			var se *fault.PosError
			if !errors.As(err, &se) {
				t.Fatalf("damaged sheet (%v) read with error %v", xerr, err)
			}
		}
	})
}

// sheetDataError is the fuzz target's oracle, independent of checkSheetXML:
// encoding/xml's own checks (Token matches end tags) up to </sheetData>.
func sheetDataError(part []byte) error {
	d := xml.NewDecoder(bytes.NewReader(part))
	for {
		tok, err := d.Token()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if e, ok := tok.(xml.EndElement); ok && e.Name.Local == "sheetData" {
			return nil
		}
	}
}
