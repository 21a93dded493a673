package datafile

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestDetectFormat(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		path     string
		explicit Format
		want     Format
	}{
		{"a.dat", "", Userload}, {"a.TXT", "", Userload}, {"a", "", Userload}, {"-", "", Userload},
		{"a.csv", "", CSV}, {"A.CSV", "", CSV}, {"out/", "", CSV}, {dir, "", CSV},
		{"a.xlsx", "", XLSX}, {"a.dat", "CSV", CSV}, {"a.csv", "userload", Userload}, {"x", "xlsx", XLSX},
	}
	for _, tt := range tests {
		got, err := DetectFormat(tt.path, tt.explicit)
		if err != nil || got != tt.want {
			t.Errorf("DetectFormat(%q, %q) = %q, %v; want %q", tt.path, tt.explicit, got, err, tt.want)
		}
	}
	if _, err := DetectFormat("a.csv", "json"); err == nil || err.Error() != `unknown format "json" (want userload, csv or xlsx)` {
		t.Errorf("unknown format: %v", err)
	}
}

func TestEncoding(t *testing.T) {
	latin1 := "TABLE t\na\n{ \"caf\xe9 \x80\" }\n" // 0x80 is a C1 control in ISO 8859-1, € in windows-1252
	for enc, want := range map[string]string{"latin1": "café \u0080", "LATIN1": "café \u0080", "windows-1252": "café €", "win1252": "café €"} {
		r, err := NewReader(strings.NewReader(latin1), "f.dat", Options{Encoding: enc})
		if err != nil {
			t.Fatal(err)
		}
		got, err := readSections(r)
		if err != nil || len(got) != 1 || got[0].Rows[0][0].Str != want {
			t.Errorf("%s: %+v, %v; want %q", enc, got, err, want)
		}
	}

	var b bytes.Buffer
	w, err := NewWriter(&b, Options{Format: CSV, Encoding: "iso-8859-15"})
	if err != nil {
		t.Fatal(err)
	}
	tb := &Table{Name: "t", Columns: []string{"a"}}
	w.BeginTable(tb)
	if err := w.WriteRow(row(str("€uro"))); err != nil {
		t.Fatal(err)
	}
	err = w.WriteRow(row(str("日本")))
	const want = "csv: table t row 2: cannot convert to the output encoding: encoding: rune not supported by encoding."
	if err == nil || err.Error() != want {
		t.Errorf("unencodable: %v\nwant %s", err, want)
	}
	w.Close()
	if b.String() != "a\n\xa4uro\n" {
		t.Errorf("latin9 output %q", b.String())
	}

	if _, err := NewReader(strings.NewReader(""), "f.dat", Options{Encoding: "klingon"}); err == nil || err.Error() != `unknown encoding "klingon"` {
		t.Errorf("unknown encoding: %v", err)
	}
	if _, err := Create(filepath.Join(t.TempDir(), "x.dat"), Options{Encoding: "klingon"}); err == nil {
		t.Errorf("Create accepts an unknown encoding")
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := Open(filepath.Join(dir, "missing.dat"), Options{}); !os.IsNotExist(err) {
		t.Errorf("missing file: %v", err)
	}
	if _, err := Open(dir, Options{Format: Userload}); err == nil || !strings.Contains(err.Error(), "only CSV is read from a directory") {
		t.Errorf("directory as userload: %v", err)
	}
	if _, err := Open(dir, Options{Table: "x"}); err == nil || !strings.Contains(err.Error(), "a table name applies to one CSV file") {
		t.Errorf("directory with table name: %v", err)
	}
	bad := filepath.Join(dir, "bad.xlsx")
	os.WriteFile(bad, []byte("not a zip"), 0o666)
	if _, err := Open(bad, Options{}); err == nil || !strings.HasPrefix(err.Error(), "xlsx: "+bad+": ") {
		t.Errorf("bad workbook: %v", err)
	}
}

func TestCSVTableName(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "ca_contact.csv")
	os.WriteFile(path, []byte("id\n1\n"), 0o666)
	for table, want := range map[string]string{"": "ca_contact", "other": "other"} {
		r, err := Open(path, Options{Table: table})
		if err != nil {
			t.Fatal(err)
		}
		if !r.Next() || r.Table().Name != want {
			t.Errorf("table %q: read %v, want %s", table, r.Table(), want)
		}
		r.Close()
	}
}

// TestCopy converts userload to CSV files, those to a workbook and that back
// to userload, which must give the input again.
func TestCopy(t *testing.T) {
	const in = `TABLE a
    x y
    { "1", NULL }
    { "2", "two" }

TABLE b
    z
    { "é" }
`
	dir := t.TempDir()
	src, _ := NewReader(strings.NewReader(in), "in.dat", Options{})
	csvDir := filepath.Join(dir, "csv") + "/"
	dst, err := Create(csvDir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if n, err := Copy(dst, src); err != nil || n != 3 {
		t.Fatalf("to csv: %d rows, %v", n, err)
	}
	dst.Close()

	book := filepath.Join(dir, "book.xlsx")
	src, _ = Open(csvDir, Options{})
	dst, _ = Create(book, Options{})
	if n, err := Copy(dst, src); err != nil || n != 3 {
		t.Fatalf("to xlsx: %d rows, %v", n, err)
	}
	src.Close()
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}

	src, _ = Open(book, Options{})
	defer src.Close()
	var out bytes.Buffer
	dst, _ = NewWriter(&out, Options{})
	if _, err := Copy(dst, src); err != nil {
		t.Fatal(err)
	}
	dst.Close()
	if out.String() != in {
		t.Errorf("got\n%s\nwant\n%s", out.String(), in)
	}
}

func TestCopyErrorHasPosition(t *testing.T) {
	src, _ := NewReader(strings.NewReader("TABLE a\nx\n{ \"1\" }\nTABLE a\nx\n{ \"2\" }\n"), "in.dat", Options{})
	_, err := Copy(newCSVWriter(&bytes.Buffer{}, "out.csv", nil, nil, nil), src)
	const want = "in.dat:6:1: csv: out.csv holds only one table, cannot add table a after a; write several tables into a directory (a path ending in /)"
	if err == nil || err.Error() != want {
		t.Errorf("error %v\nwant %s", err, want)
	}
}

// TestTableHeaderPosition checks that every reader tells where a table's
// header is, so that errors about the table or its columns point there.
func TestTableHeaderPosition(t *testing.T) {
	var book bytes.Buffer
	w, err := NewWriter(&book, Options{Format: XLSX})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"first", "second"} {
		if err := w.BeginTable(&Table{Name: name, Columns: []string{"a"}}); err != nil {
			t.Fatal(err)
		}
		if err := w.WriteRow([]Value{{Str: "x"}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, file string
		data       []byte
		want       []Pos
	}{
		{"userload", "in.dat", []byte("# comment\nTABLE first\n a\n { \"1\" }\n\n  TABLE second\n a\n { \"2\" }\n"),
			[]Pos{{"in.dat", 2, 1}, {"in.dat", 6, 3}}},
		{"csv", "first.csv", []byte("a\n1\n2\n"), []Pos{{"first.csv", 1, 1}}},
		{"xlsx", "in.xlsx", book.Bytes(), []Pos{{"in.xlsx[first]", 1, 1}, {"in.xlsx[second]", 1, 1}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, err := NewReader(bytes.NewReader(tc.data), tc.file, Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			var got []Pos
			var last *Table
			for r.Next() {
				if tb := r.Table(); tb != last {
					got, last = append(got, tb.Pos), tb
				}
			}
			if err := r.Err(); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("header positions %v, want %v", got, tc.want)
			}
		})
	}
}

// TestStandardStreams: the path "-" reads Options.Stdin (a workbook too)
// and writes Options.Stdout; without them "-" is an error, and the process's
// own streams are never touched.
func TestStandardStreams(t *testing.T) {
	var out bytes.Buffer
	w, err := Create("-", Options{Format: CSV, Stdout: &out})
	if err != nil {
		t.Fatal(err)
	}
	r, err := Open("-", Options{Stdin: strings.NewReader("TABLE t\n a b\n{ \"1\", NULL }\n")})
	if err != nil {
		t.Fatal(err)
	}
	if n, err := Copy(w, r); n != 1 || err != nil {
		t.Fatalf("Copy = %d, %v", n, err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	r.Close()
	if got := out.String(); got != "a,b\n1,\n" {
		t.Errorf("standard output got %q", got)
	}

	var book bytes.Buffer
	bw, _ := NewWriter(&book, Options{Format: XLSX})
	bw.BeginTable(&Table{Name: "s", Columns: []string{"a"}})
	bw.WriteRow([]Value{{Str: "x"}})
	if err := bw.Close(); err != nil {
		t.Fatal(err)
	}
	r, err = Open("-", Options{Format: XLSX, Stdin: &book})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if !r.Next() || r.Table().Name != "s" || r.Values()[0].Str != "x" {
		t.Errorf("workbook from Stdin: table %v, err %v", r.Table(), r.Err())
	}

	if _, err := Open("-", Options{}); err != ErrNoStdin {
		t.Errorf("Open(-) without Stdin: %v, want ErrNoStdin", err)
	}
	if _, err := Open("-", Options{Format: XLSX}); err != ErrNoStdin {
		t.Errorf("Open(-) of a workbook without Stdin: %v, want ErrNoStdin", err)
	}
	if _, err := Create("-", Options{}); err != ErrNoStdout {
		t.Errorf("Create(-) without Stdout: %v, want ErrNoStdout", err)
	}
}
