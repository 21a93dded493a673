package extract

import (
	"reflect"
	"strings"
	"testing"

	"github.com/tenantkit/tenantkit/datafile"
)

func TestDecodeField(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want datafile.Value
	}{
		{`\N`, datafile.Value{Null: true}},
		{``, datafile.Value{}},
		{`N`, datafile.Value{Str: "N"}},
		{`\\N`, datafile.Value{Str: `\N`}},
		{`a\tb\nc\rd\\e`, datafile.Value{Str: "a\tb\nc\rd\\e"}},
		{`\b\f\v`, datafile.Value{Str: "\b\f\v"}},
		{`\101\0\12x`, datafile.Value{Str: "A\x00\nx"}},
		{`\1234`, datafile.Value{Str: "S4"}},
		{`\x41\x4g\xz`, datafile.Value{Str: "A\x04gxz"}},
		{`\q\.`, datafile.Value{Str: "q."}},
		{`é\t✓`, datafile.Value{Str: "é\t✓"}},
	} {
		got, err := decodeField(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("decodeField(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
	if _, err := decodeField(`abc\`); err == nil {
		t.Errorf("a lone trailing backslash is accepted")
	}
}

// collect decodes input written in the given pieces.
func collect(t *testing.T, ncols int, pieces ...string) ([][]datafile.Value, error) {
	t.Helper()
	var rows [][]datafile.Value
	d := newCopyDecoder(ncols, func(v []datafile.Value) error {
		row := make([]datafile.Value, len(v))
		for i, x := range v {
			row[i] = datafile.Value{Str: strings.Clone(x.Str), Null: x.Null}
		}
		rows = append(rows, row)
		return nil
	})
	for _, p := range pieces {
		if _, err := d.Write([]byte(p)); err != nil {
			return rows, err
		}
	}
	return rows, d.Close()
}

func TestCopyDecoderSplitsAnywhere(t *testing.T) {
	data := "1\t\\N\tx\\ty\n2\t\t\\\\\n3\té\t\\N\n"
	want := [][]datafile.Value{
		{{Str: "1"}, {Null: true}, {Str: "x\ty"}},
		{{Str: "2"}, {}, {Str: `\`}},
		{{Str: "3"}, {Str: "é"}, {Null: true}},
	}
	for cut1 := 0; cut1 <= len(data); cut1++ {
		for cut2 := cut1; cut2 <= len(data); cut2++ {
			got, err := collect(t, 3, data[:cut1], data[cut1:cut2], data[cut2:])
			if err != nil || !reflect.DeepEqual(got, want) {
				t.Fatalf("cuts %d,%d: %v, %v", cut1, cut2, got, err)
			}
		}
	}
}

func TestCopyDecoderErrors(t *testing.T) {
	for _, tc := range []struct{ in, msg string }{
		{"1\t2\t3\n", "more than 2 fields"},
		{"1\n", "has 1 fields, want 2"},
		{"1\t2", "ends inside row 1"},
		{"1\t2\\\n", "lone backslash"},
	} {
		_, err := collect(t, 2, tc.in)
		if err == nil || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%q: error %v, want %q", tc.in, err, tc.msg)
		}
	}
}

// encodeCopy writes values the way PostgreSQL's COPY TO does.
func encodeCopy(vals []datafile.Value) string {
	var b strings.Builder
	for i, v := range vals {
		if i > 0 {
			b.WriteByte('\t')
		}
		if v.Null {
			b.WriteString(`\N`)
			continue
		}
		for j := 0; j < len(v.Str); j++ {
			switch c := v.Str[j]; c {
			case '\\':
				b.WriteString(`\\`)
			case '\n':
				b.WriteString(`\n`)
			case '\r':
				b.WriteString(`\r`)
			case '\t':
				b.WriteString(`\t`)
			case '\b':
				b.WriteString(`\b`)
			case '\f':
				b.WriteString(`\f`)
			case '\v':
				b.WriteString(`\v`)
			default:
				b.WriteByte(c)
			}
		}
	}
	b.WriteByte('\n')
	return b.String()
}

// FuzzCopyDecoder checks that any values encoded as COPY text decode back
// unchanged, however the stream is cut, and that arbitrary input never
// panics.
func FuzzCopyDecoder(f *testing.F) {
	f.Add("a", "", false, 1)
	f.Add("tab\there", `back\slash`, true, 3)
	f.Add("\\N", "new\nline\r\n", false, 0)
	f.Add("\x00\x01é✓", "\\x41\\101", false, 7)
	f.Fuzz(func(t *testing.T, a, b string, bNull bool, cut int) {
		vals := []datafile.Value{{Str: a}, {Str: b, Null: bNull}}
		if bNull {
			vals[1].Str = ""
		}
		data := encodeCopy(vals) + encodeCopy(vals)
		if cut < 0 {
			cut = -cut
		}
		cut %= len(data) + 1
		got, err := collect(t, 2, data[:cut], data[cut:])
		if err != nil {
			t.Fatalf("decoding %q: %v", data, err)
		}
		if len(got) != 2 || !reflect.DeepEqual(got[0], vals) || !reflect.DeepEqual(got[1], vals) {
			t.Fatalf("decoded %q as %+v, want %+v twice", data, got, vals)
		}
		// Raw input: errors are fine, panics are not.
		_, _ = collect(t, 2, a, b)
	})
}

func TestFirstWord(t *testing.T) {
	for in, want := range map[string]string{
		"SELECT 1":                     "SELECT",
		"  \n(select 1)":               "select",
		"-- note\n/* x */ WITH a AS (": "WITH",
		"/* unterminated":              "",
		"-- only a comment":            "",
		"delete from t":                "delete",
		"VALUES(1)":                    "VALUES",
		"":                             "",
	} {
		if got := firstWord(in); got != want {
			t.Errorf("firstWord(%q) = %q, want %q", in, got, want)
		}
	}
}
