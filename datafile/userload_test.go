package datafile

import (
	"bytes"
	"strings"
	"testing"

	"github.com/tenantkit/tenantkit/internal/fault"
)

func readUserload(t *testing.T, in string, opts Options) (string, error) {
	t.Helper()
	opts.Format = Userload
	return readBoth(t, in, "f.dat", opts)
}

func TestUserloadGrammar(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		literal bool
		want    string
	}{
		{"spec example", "TABLE ca_contact\n    id last_name tenant\n    { \"1001\" ,\"Smith\" ,NULL }\n    { \"1002\", \"O\\\"Brien\", \"\" }\n",
			false, "TABLE ca_contact (id,last_name,tenant)\n3:5 \"1001\" \"Smith\" NULL\n4:5 \"1002\" \"O\\\"Brien\" \"\"\n"},
		{"empty input", "", false, ""},
		{"only comments and blanks", "# nothing\n\n   # here\n", false, ""},
		{"record spans lines", "TABLE t\na b\n{\n\"1\"\n,\nNULL\n}\n", false, "TABLE t (a,b)\n3:1 \"1\" NULL\n"},
		{"comma after value", "TABLE t\na b\n{ \"1\", \"2\" }", false, "TABLE t (a,b)\n3:1 \"1\" \"2\"\n"},
		{"comma before value", "TABLE t\na b\n{ \"1\"\n ,\"2\" }", false, "TABLE t (a,b)\n3:1 \"1\" \"2\"\n"},
		{"no blanks at all", "TABLE t\na b\n{\"1\",\"2\"}{\"3\",NULL}", false, "TABLE t (a,b)\n3:1 \"1\" \"2\"\n3:10 \"3\" NULL\n"},
		{"raw newline in value", "TABLE t\na\n{ \"x\ny\" }\n{ \"z\" }", false, "TABLE t (a)\n3:1 \"x\\ny\"\n5:1 \"z\"\n"},
		{"escapes", `TABLE t
a
{ "\"\\\n\t\r|\0012|\0101|\0000|\0351" }`, false, "TABLE t (a)\n3:1 \"\\\"\\\\\\n\\t\\r|\\n|A|\\x00|é\"\n"},
		{"NULL any case", "TABLE t\na b c\n{ NULL, null, Null }", false, "TABLE t (a,b,c)\n3:1 NULL NULL NULL\n"},
		{"empty string is not NULL", "TABLE t\na\n{ \"\" }", false, "TABLE t (a)\n3:1 \"\"\n"},
		{"comments", "# head\n  # indented\nTABLE t # why\n# between\na b # cols\n# before\n{ \"1\", \"#x\" } # after\n", false,
			"TABLE t (a,b)\n7:1 \"1\" \"#x\"\n"},
		{"several tables", "TABLE a\nx\n{ \"1\" }\nTABLE b\ny z\n{ \"2\", \"3\" }\n{ \"4\", \"5\" }\n", false,
			"TABLE a (x)\n3:1 \"1\"\nTABLE b (y,z)\n6:1 \"2\" \"3\"\n7:1 \"4\" \"5\"\n"},
		{"empty table section", "TABLE a\nx\nTABLE b\ny\n{ \"1\" }", false, "TABLE a (x)\n1:1 (no rows)\nTABLE b (y)\n5:1 \"1\"\n"},
		{"empty last section", "TABLE a\nx\n{ \"1\" }\n\n  TABLE b\n y z\n# end\n", false, "TABLE a (x)\n3:1 \"1\"\nTABLE b (y,z)\n5:3 (no rows)\n"},
		{"keyword any case", "table t\na\n{ \"1\" }", false, "TABLE t (a)\n3:1 \"1\"\n"},
		{"quoted names", "TABLE \"my table\"\n\"my col\" b \"TABLE\"\n{ \"1\", \"2\", \"3\" }", false,
			"TABLE my table (my col,b,TABLE)\n3:1 \"1\" \"2\" \"3\"\n"},
		{"qualified name", "TABLE public.t\na\n{ \"1\" }", false, "TABLE public.t (a)\n3:1 \"1\"\n"},
		{"CRLF line ends", "TABLE t\r\na b\r\n{ \"1\", NULL }\r\n", false, "TABLE t (a,b)\n3:1 \"1\" NULL\n"},
		{"byte order mark", "\uFEFFTABLE t\na\n{ \"1\" }", false, "TABLE t (a)\n3:1 \"1\"\n"},
		{"non-ASCII", "TABLE tàb\nnåme\n{ \"日本語 ✓\" }", false, "TABLE tàb (nåme)\n3:1 \"日本語 ✓\"\n"},
		{"columns count characters", "TABLE t\na b\n{ \"é\",\"x\" }{ \"1\", \"2\" }", false, "TABLE t (a,b)\n3:1 \"é\" \"x\"\n3:12 \"1\" \"2\"\n"},
		{"literal backslashes", `TABLE t
a b c
{ "C:\temp\new", "say ""hi""", "" }`, true, "TABLE t (a,b,c)\n3:1 \"C:\\\\temp\\\\new\" \"say \\\"hi\\\"\" \"\"\n"},
		{"literal backslash before quote", `TABLE t
a
{ "end\" }`, true, "TABLE t (a)\n3:1 \"end\\\\\"\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := readUserload(t, tt.in, Options{LiteralBackslash: tt.literal})
			if err != nil {
				t.Fatalf("error: %v", err)
			}
			if got != tt.want {
				t.Errorf("got\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}

func TestUserloadErrors(t *testing.T) {
	const hdr = "TABLE t\na b\n"
	tests := []struct {
		name    string
		in      string
		literal bool
		want    string
	}{
		{"record before TABLE", "\n  { \"1\" }", false, `f.dat:2:3: record before any TABLE line`},
		{"garbage word", hdr + "{ \"1\", \"2\" }\nfoo", false, `f.dat:4:1: expected "{" or TABLE, found "foo"`},
		{"garbage punctuation", hdr + "}", false, `f.dat:3:1: expected "{" or TABLE, found "}"`},
		{"control character", hdr + "\x01", false, `f.dat:3:1: expected "{" or TABLE, found "\x01"`},
		{"TABLE without name", "TABLE\na\n", false, `f.dat:1:1: TABLE needs a table name on the same line`},
		{"TABLE with record", "TABLE { \"1\" }", false, `f.dat:1:1: TABLE needs a table name on the same line`},
		{"junk after table name", "TABLE t x\na\n", false, `f.dat:1:9: unexpected "x" after the table name t`},
		{"empty table name", "TABLE \"\"\na\n", false, `f.dat:1:7: empty table name`},
		{"no column line at end", "TABLE t\n# none\n", false, `f.dat:3:1: table t has no line of column names`},
		{"record instead of columns", "TABLE t\n  { \"1\" }", false, `f.dat:2:3: table t has no line of column names`},
		{"punctuation in columns", "TABLE t\na, b\n", false, `f.dat:2:2: unexpected "," in the column names of table t`},
		{"empty column name", "TABLE t\na \"\"\n", false, `f.dat:2:3: empty column name`},
		{"duplicate column", "TABLE t\na b a\n", false, `f.dat:2:5: duplicate column a in table t`},
		{"NUL in a column name", "TABLE t\na \"b\\0000\"\n", false, `f.dat:2:3: column name holds a NUL character`},
		{"NUL bytes", strings.Repeat("\x00", 1000), false, `f.dat:1:1: expected "{" or TABLE, found "\x00"`},
		{"too few values", hdr + "{ \"1\" }", false, `f.dat:3:1: record has 1 value, table t has 2 columns`},
		{"no values", hdr + "\n  {}", false, `f.dat:4:3: record has 0 values, table t has 2 columns`},
		{"too many values", hdr + "{ \"1\", \"2\",\n \"3\" }", false, `f.dat:3:1: record has more values than the 2 columns of table t`},
		{"missing comma", hdr + "{ \"1\" \"2\" }", false, `f.dat:3:7: missing "," between values`},
		{"trailing comma", hdr + "{ \"1\", }", false, `f.dat:3:8: expected a value after ","`},
		{"leading comma", hdr + "{ , \"1\" }", false, `f.dat:3:3: expected a value before ","`},
		{"double comma", hdr + "{ \"1\",, \"2\" }", false, `f.dat:3:7: expected a value before ","`},
		{"unquoted value", hdr + "{ 1, 2 }", false, `f.dat:3:3: values must be quoted or NULL, found "1"`},
		{"comment in record", hdr + "{ \"1\",\n# no\n\"2\" }", false, `f.dat:4:1: unexpected "#" in a record`},
		{"record not closed", hdr + "{ \"1\", \"2\"\n\n", false, `f.dat:3:1: record not closed: missing "}"`},
		{"unterminated quote", hdr + "{ \"1\", \"abc\n}\n", false, `f.dat:3:8: unterminated quoted value (near "abc\n}\n")`},
		{"unterminated after escape", hdr + "{ \"1\", \"ab\\", false, `f.dat:3:8: unterminated quoted value (near "ab")`},
		{"unknown escape", hdr + "{ \"a\\x\", \"b\" }", false, `f.dat:3:5: unknown escape \x`},
		{"unknown non-ASCII escape", hdr + "{ \"a\\é\", \"b\" }", false, `f.dat:3:5: unknown escape \é`},
		{"short octal escape", hdr + "{ \"\\012\", \"b\" }", false, `f.dat:3:4: invalid octal escape: \0 must be followed by three octal digits (near "\\012\"")`},
		{"non-octal digit", hdr + "{ \"\\0128\", \"b\" }", false, `f.dat:3:4: invalid octal escape: \0 must be followed by three octal digits (near "\\0128")`},
		{"invalid UTF-8 in value", hdr + "{ \"ab\xff\", \"b\" }", false, `f.dat:3:6: invalid UTF-8 byte 0xff`},
		{"invalid UTF-8 in word", "TABLE t\xe9\na\n", false, `f.dat:1:8: invalid UTF-8 byte 0xe9`},
		{"invalid UTF-8 in comment", "# caf\xe9\n", false, `f.dat:1:6: invalid UTF-8 byte 0xe9`},
		{"truncated UTF-8 at end", hdr + "{ \"a\xe2\x82", false, `f.dat:3:5: invalid UTF-8 byte 0xe2`},
		{"literal: quote ends value", hdr + "{ \"a\\\"b\" }", true, `f.dat:3:7: missing "," between values`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := readUserload(t, tt.in, Options{LiteralBackslash: tt.literal})
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

func TestUserloadValueLimit(t *testing.T) {
	r := newUserloadReader(strings.NewReader("TABLE t\na\n{ \"abcdefghijkl\" }"), "f.dat", false, nil)
	r.maxLen = 5
	_, err := dump(r)
	const want = `f.dat:3:3: quoted value longer than 5 bytes (near "abcdefghijkl")`
	if err == nil || err.Error() != want {
		t.Errorf("error %v, want %s", err, want)
	}
}

func TestUserloadStopsAfterError(t *testing.T) {
	r, _ := NewReader(strings.NewReader("{"), "f.dat", Options{})
	for i := 0; i < 3; i++ {
		if r.Next() {
			t.Fatal("Next after an error")
		}
	}
	if r.Err() == nil {
		t.Fatal("no error")
	}
}

func TestUserloadWriterLayout(t *testing.T) {
	secs := []section{
		{&Table{Name: "ca_contact", Columns: []string{"id", "last name", "tenant"}}, [][]Value{
			row(str("1001"), str("O\"Brien\\"), null()),
			row(str("a\nb\tc\rd"), str("\x01\x7f\x00"), str("")),
			row(str("日本"), str("é"), str("# not a comment")),
		}},
		{&Table{Name: "my.t", Columns: []string{"x"}}, [][]Value{row(null())}},
	}
	var b bytes.Buffer
	w, _ := NewWriter(&b, Options{})
	writeSections(t, w, secs)
	const want = `TABLE ca_contact
    id "last name" tenant
    { "1001", "O\"Brien\\", NULL }
    { "a\nb\tc\rd", "\0001\0177\0000", "" }
    { "日本", "é", "# not a comment" }

TABLE my.t
    x
    { NULL }
`
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}

	b.Reset()
	w, _ = NewWriter(&b, Options{LiteralBackslash: true})
	writeSections(t, w, secs[:1])
	const wantLiteral = "TABLE ca_contact\n    id \"last name\" tenant\n" +
		"    { \"1001\", \"O\"\"Brien\\\", NULL }\n" +
		"    { \"a\nb\tc\rd\", \"\x01\x7f\x00\", \"\" }\n" +
		"    { \"日本\", \"é\", \"# not a comment\" }\n"
	if b.String() != wantLiteral {
		t.Errorf("literal: got\n%s\nwant\n%s", b.String(), wantLiteral)
	}
}

func TestWriterErrors(t *testing.T) {
	tb := &Table{Name: "t", Columns: []string{"a", "b"}}
	for _, f := range []Format{Userload, CSV, XLSX} {
		t.Run(string(f), func(t *testing.T) {
			var b bytes.Buffer
			w, err := NewWriter(&b, Options{Format: f})
			if err != nil {
				t.Fatal(err)
			}
			if err := w.WriteRow(row(str("1"), str("2"))); err == nil || !strings.Contains(err.Error(), "row written before any table") {
				t.Errorf("row before table: %v", err)
			}
			if err := w.BeginTable(&Table{Name: "t"}); err == nil || !strings.HasSuffix(err.Error(), "table t has no columns") {
				t.Errorf("no columns: %v", err)
			}
			if err := w.BeginTable(tb); err != nil {
				t.Fatal(err)
			}
			if err := w.WriteRow(row(str("1"))); err == nil || !strings.HasSuffix(err.Error(), "table t row 1 has 1 value for 2 columns") {
				t.Errorf("short row: %v", err)
			}
			if err := w.WriteRow(row(str("1"), str("\xff"))); err == nil || !strings.HasSuffix(err.Error(), "table t row 1 column b: value is not valid UTF-8") {
				t.Errorf("bad UTF-8: %v", err)
			}
		})
	}
}

// TestFieldPos: each field's own position, in a record that spans lines
// (userload; CSV with a quoted field holding a line end) and in a sheet's
// cells.
func TestFieldPos(t *testing.T) {
	var book bytes.Buffer
	w, err := NewWriter(&book, Options{Format: XLSX})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.BeginTable(&Table{Name: "s", Columns: []string{"a", "b", "c"}}); err != nil {
		t.Fatal(err)
	}
	w.WriteRow([]Value{{Str: "1"}, {Null: true}, {Str: "x"}})
	w.WriteRow([]Value{{Null: true}, {Null: true}, {Null: true}}) // an empty row
	w.WriteRow([]Value{{Str: "3"}, {Str: "y"}, {Str: "z"}})
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, data string
		opts       Options
		want       []string // per record: the record's position, then each field's
	}{
		{"in.dat", "TABLE t\n a b c d\n{ \"1\",\n  NULL, \"x\ny\" ,\n\n\t\"z\" }\n{\"2\",NULL,\"\",NULL}\n", Options{Format: Userload},
			[]string{"in.dat:3:1 in.dat:3:3 in.dat:4:3 in.dat:4:9 in.dat:7:2", "in.dat:8:1 in.dat:8:2 in.dat:8:6 in.dat:8:11 in.dat:8:14"}},
		{"in.csv", "a,b,c\n1,\"x\r\ny\",\"\"\r\n\n2,,z\n", Options{Format: CSV, Table: "t"},
			[]string{"in.csv:2:1 in.csv:2:1 in.csv:2:3 in.csv:3:4", "in.csv:5:1 in.csv:5:1 in.csv:5:3 in.csv:5:4"}},
		{"in.xlsx", book.String(), Options{Format: XLSX},
			[]string{"in.xlsx[s]:2:1 in.xlsx[s]:2:1 in.xlsx[s]:2:2 in.xlsx[s]:2:3", "in.xlsx[s]:3:1 in.xlsx[s]:3:1 in.xlsx[s]:3:2 in.xlsx[s]:3:3",
				"in.xlsx[s]:4:1 in.xlsx[s]:4:1 in.xlsx[s]:4:2 in.xlsx[s]:4:3"}},
	} {
		r, err := NewReader(strings.NewReader(tc.data), tc.name, tc.opts)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for r.Next() {
			line := []string{r.Pos().String()}
			for i := range r.Values() {
				line = append(line, r.FieldPos(i).String())
			}
			got = append(got, strings.Join(line, " "))
		}
		if err := r.Err(); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		r.Close()
		if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
			t.Errorf("%s:\ngot:\n%s\nwant:\n%s", tc.name, strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
		}
	}
}
