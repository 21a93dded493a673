package datafile

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tenantkit/tenantkit/internal/fault"
)

func readCSV(t *testing.T, in string, opts Options) (string, error) {
	t.Helper()
	opts.Format = CSV
	return readBoth(t, in, "f.csv", opts)
}

func TestCSVGrammar(t *testing.T) {
	tests := []struct {
		name string
		in   string
		null *string
		want string
	}{
		{"NULL and empty string", "id,name,tenant\n1,,\"\"\n", nil, "TABLE f (id,name,tenant)\n2:1 \"1\" NULL \"\"\n"},
		{"no final line end", "a,b\n1,2", nil, "TABLE f (a,b)\n2:1 \"1\" \"2\"\n"},
		{"header only", "a,b\n", nil, "TABLE f (a,b)\n1:1 (no rows)\n"},
		{"header and blank lines only", "a,b\n\n\r\n", nil, "TABLE f (a,b)\n1:1 (no rows)\n"},
		{"quoting", "a,b,c\n\"x,y\",\"say \"\"hi\"\"\",\"l1\nl2\r\nl3\"\n", nil,
			"TABLE f (a,b,c)\n2:1 \"x,y\" \"say \\\"hi\\\"\" \"l1\\nl2\\r\\nl3\"\n"},
		{"spaces kept", "a,b\n  x , y  \n", nil, "TABLE f (a,b)\n2:1 \"  x \" \" y  \"\n"},
		{"CRLF", "a,b\r\n1,2\r\n3,\r\n", nil, "TABLE f (a,b)\n2:1 \"1\" \"2\"\n3:1 \"3\" NULL\n"},
		// Issue 22: "CSV (Macintosh)" ends lines in a lone CR.
		{"CR-only line ends", "a,b,c\r1,2,3\r4,5,6\r", nil, "TABLE f (a,b,c)\n2:1 \"1\" \"2\" \"3\"\n3:1 \"4\" \"5\" \"6\"\n"},
		{"CR after a quoted field", "a,b\r\"x\r\ny\",\"\"\r\"z\",\r", nil, "TABLE f (a,b)\n2:1 \"x\\r\\ny\" \"\"\n4:1 \"z\" NULL\n"},
		{"lone CR in a quoted field is data", "a,b\n\"1\r2\",3\n", nil, "TABLE f (a,b)\n2:1 \"1\\r2\" \"3\"\n"},
		{"blank lines skipped", "a,b\n\n1,2\n\n", nil, "TABLE f (a,b)\n3:1 \"1\" \"2\"\n"},
		{"blank line is NULL in one column", "a\n\n\"\"\nx\n", nil, "TABLE f (a)\n2:1 NULL\n3:1 \"\"\n4:1 \"x\"\n"},
		{"quoted header", "\"a,1\",\"b\"\"\"\n1,2\n", nil, "TABLE f (a,1,b\")\n2:1 \"1\" \"2\"\n"},
		{"byte order mark", "\uFEFFa\n1\n", nil, "TABLE f (a)\n2:1 \"1\"\n"},
		{"non-ASCII", "nåme\n日本語\n", nil, "TABLE f (nåme)\n2:1 \"日本語\"\n"},
		{"NULL marker", "a,b,c\n\\N,,\"\\N\"\n", ptr(`\N`), "TABLE f (a,b,c)\n2:1 NULL \"\" \"\\\\N\"\n"},
		{"NULL marker blank line", "a\n\n", ptr(`\N`), "TABLE f (a)\n2:1 \"\"\n"},
		{"quoted field then line end at EOF", "a\n\"x\"", nil, "TABLE f (a)\n2:1 \"x\"\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := readCSV(t, tt.in, Options{Null: tt.null})
			if err != nil {
				t.Fatalf("error: %v", err)
			}
			if got != tt.want {
				t.Errorf("got\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}

// TestCSVOtherWriters: the options for files of writers that differ from
// RFC 4180 or from tenantkit's NULL convention (issue 22, point 7).
func TestCSVOtherWriters(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		opts    Options
		want    string
		lenient []string // positions reported by OnLenientQuote
	}{
		// Python's csv.writer(quoting=csv.QUOTE_ALL) writes None as "".
		{"quoted empty is NULL", "id,n,s\n\"1\",\"\",\"x\"\n\"2\",\"3\",\"\"\n", Options{NullQuoted: true},
			"TABLE f (id,n,s)\n2:1 \"1\" NULL \"x\"\n3:1 \"2\" \"3\" NULL\n", nil},
		{"quoted empty is the empty string by default", "id,n\n\"1\",\"\"\n", Options{},
			"TABLE f (id,n)\n2:1 \"1\" \"\"\n", nil},
		{"quoted marker is NULL", "a,b,c\n\"\\N\",\\N,\"\"\n", Options{NullQuoted: true, Null: ptr(`\N`)},
			"TABLE f (a,b,c)\n2:1 NULL NULL \"\"\n", nil},
		// csv-spectrum's location_coordinates: a bare quote in an unquoted field.
		{"lenient quotes", "Location,Coordinates\nHelsinki,60°10'N 24°56\"E\n2\"x\",\"a\"\"b\"\n", Options{LenientQuotes: true},
			"TABLE f (Location,Coordinates)\n2:1 \"Helsinki\" \"60°10'N 24°56\\\"E\"\n3:1 \"2\\\"x\\\"\" \"a\\\"b\"\n",
			[]string{"f.csv:2:10", "f.csv:3:1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var lenient []string
			opts := tt.opts
			opts.OnLenientQuote = func(p Pos) { lenient = append(lenient, p.String()) }
			got, err := readCSV(t, tt.in, opts)
			if err != nil {
				t.Fatalf("error: %v", err)
			}
			if got != tt.want {
				t.Errorf("got\n%s\nwant\n%s", got, tt.want)
			}
			// readBoth reads twice: the positions come twice.
			if want := append(append([]string(nil), tt.lenient...), tt.lenient...); strings.Join(lenient, " ") != strings.Join(want, " ") {
				t.Errorf("lenient fields at %q, want %q", lenient, tt.lenient)
			}
		})
	}
}

func TestCSVErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"empty file", "", `f.csv:1:1: no header row of column names`},
		{"empty column name", "a,,c\n", `f.csv:1:1: empty column name in header field 2`},
		{"duplicate column", "a,b,a\n", `f.csv:1:1: duplicate column a in the header`},
		{"NUL bytes", strings.Repeat("\x00", 1000), `f.csv:1:1: header field 1 holds a NUL byte: not a column name (is this a text file?)`},
		{"bare quote", "a,b\n1,x\"y\n", `f.csv:2:4: bare " in an unquoted field (quote the field and double the ", or read with Options.LenientQuotes) (near "x")`},
		{"junk after quote", "a,b\n\"x\"y,2\n", `f.csv:2:4: unexpected "y" after a quoted field`},
		{"CR-only line ends count lines", "a,b\r1,2\r3\r", `f.csv:3:1: record has 1 field, the header has 2`},
		{"unterminated quote", "a,b\n1,\"abc\n", `f.csv:2:3: unterminated quoted field (near "abc\n")`},
		{"too few fields", "a,b\n1,2\n3\n", `f.csv:3:1: record has 1 field, the header has 2`},
		{"too many fields", "a,b\n1,2,3\n", `f.csv:2:1: record has more fields than the 2 of the header`},
		{"invalid UTF-8", "a,b\n1,\"x\xc3(\"\n", `f.csv:2:5: invalid UTF-8 byte 0xc3`},
		{"invalid UTF-8 unquoted", "a\xff\n", `f.csv:1:2: invalid UTF-8 byte 0xff`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := readCSV(t, tt.in, Options{})
			if err == nil {
				t.Fatalf("no error; read\n%s", got)
			}
			if _, ok := err.(*fault.PosError); !ok {
				t.Errorf("error is %T, want *fault.PosError", err)
			}
			if err.Error() != tt.want {
				t.Errorf("error\n%s\nwant\n%s", err, tt.want)
			}
		})
	}
}

func TestCSVWriterLayout(t *testing.T) {
	tb := &Table{Name: "t", Columns: []string{"id", "a,b", "\uFEFFc"}}
	rows := [][]Value{
		row(str("1"), null(), str("")),
		row(str(" x "), str("say \"hi\""), str("l1\nl2\rl3")),
		row(str(`\N`), str("é"), str("a,b")),
	}
	tests := []struct {
		null *string
		want string
	}{
		{nil, "id,\"a,b\",\"\uFEFFc\"\n1,,\"\"\n x ,\"say \"\"hi\"\"\",\"l1\nl2\rl3\"\n\\N,é,\"a,b\"\n"},
		{ptr(`\N`), "id,\"a,b\",\"\uFEFFc\"\n1,\\N,\n x ,\"say \"\"hi\"\"\",\"l1\nl2\rl3\"\n\"\\N\",é,\"a,b\"\n"},
	}
	for _, tt := range tests {
		var b bytes.Buffer
		w, err := NewWriter(&b, Options{Format: CSV, Null: tt.null})
		if err != nil {
			t.Fatal(err)
		}
		writeSections(t, w, []section{{tb, rows}})
		if b.String() != tt.want {
			t.Errorf("null %v: got\n%q\nwant\n%q", tt.null, b.String(), tt.want)
		}
	}
}

func TestCSVOneTablePerFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out.csv")
	w, err := Create(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if err := w.BeginTable(&Table{Name: "a", Columns: []string{"x"}}); err != nil {
		t.Fatal(err)
	}
	err = w.BeginTable(&Table{Name: "b", Columns: []string{"x"}})
	want := "csv: " + path + " holds only one table, cannot add table b after a; write several tables into a directory (a path ending in /)"
	if err == nil || err.Error() != want {
		t.Errorf("error %v\nwant %s", err, want)
	}
}

func TestCSVNullMarkerChecked(t *testing.T) {
	const want = `csv: the NULL marker "a,b" may not contain a comma, a double quote or a line end`
	if _, err := NewWriter(&bytes.Buffer{}, Options{Format: CSV, Null: ptr("a,b")}); err == nil || err.Error() != want {
		t.Errorf("writer: %v", err)
	}
	if _, err := NewReader(strings.NewReader(""), "x.csv", Options{Null: ptr("\"")}); err == nil {
		t.Errorf("reader: no error")
	}
}

func TestCSVDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out") + "/"
	secs := []section{
		{&Table{Name: "zeta", Columns: []string{"a", "b"}}, [][]Value{row(str("1"), null())}},
		{&Table{Name: "alpha", Columns: []string{"c"}}, [][]Value{row(str("x")), row(str(""))}},
	}
	w, err := Create(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	writeSections(t, w, secs)
	for name, want := range map[string]string{"zeta.csv": "a,b\n1,\n", "alpha.csv": "c\nx\n\"\"\n"} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil || string(b) != want {
			t.Errorf("%s: %q, %v; want %q", name, b, err, want)
		}
	}
	os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("ignored"), 0o666)

	r, err := Open(strings.TrimSuffix(dir, "/"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	got, err := dump(r)
	if err != nil {
		t.Fatal(err)
	}
	const want = "TABLE alpha (c)\n2:1 \"x\"\n3:1 \"\"\nTABLE zeta (a,b)\n2:1 \"1\" NULL\n"
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	if r.Next() {
		t.Error("Next after the end")
	}

	w, _ = Create(dir, Options{})
	defer w.Close()
	if err := w.BeginTable(&Table{Name: "a/b", Columns: []string{"x"}}); err == nil || !strings.Contains(err.Error(), `table name "a/b" cannot be a file name`) {
		t.Errorf("slash in table name: %v", err)
	}
}

func TestCSVDirectoryErrorNamesFile(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "a.csv"), []byte("x\n1\n"), 0o666)
	os.WriteFile(filepath.Join(dir, "b.csv"), []byte("x\n\"2\n"), 0o666)
	r, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	_, err = dump(r)
	want := filepath.Join(dir, "b.csv") + `:2:1: unterminated quoted field (near "2\n")`
	if err == nil || err.Error() != want {
		t.Errorf("error %v\nwant %s", err, want)
	}
}
