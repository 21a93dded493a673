package datafile

import (
	"reflect"
	"strings"
	"testing"
)

func TestDecodeField(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Value
	}{
		{`\N`, Value{Null: true}},
		{``, Value{}},
		{`N`, Value{Str: "N"}},
		{`\\N`, Value{Str: `\N`}},
		{`a\tb\nc\rd\\e`, Value{Str: "a\tb\nc\rd\\e"}},
		{`\b\f\v`, Value{Str: "\b\f\v"}},
		{`\101\0\12x`, Value{Str: "A\x00\nx"}},
		{`\1234`, Value{Str: "S4"}},
		{`\x41\x4g\xz`, Value{Str: "A\x04gxz"}},
		{`\q\.`, Value{Str: "q."}},
		{`é\t✓`, Value{Str: "é\t✓"}},
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
func collect(t *testing.T, ncols int, pieces ...string) ([][]Value, error) {
	t.Helper()
	var rows [][]Value
	d := NewCopyDecoder(ncols, func(v []Value) error {
		row := make([]Value, len(v))
		for i, x := range v {
			row[i] = Value{Str: strings.Clone(x.Str), Null: x.Null}
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
	want := [][]Value{
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
func encodeCopy(vals []Value) string {
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
		vals := []Value{{Str: a}, {Str: b, Null: bNull}}
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

func TestAppendCopyText(t *testing.T) {
	for in, want := range map[string]string{
		"plain":        "plain",
		"a\tb":         `a\tb`,
		"line\nbreak":  `line\nbreak`,
		`back\slash`:   `back\\slash`,
		"cr\r":         `cr\r`,
		`\N`:           `\\N`,
		"Ünïcødé ✓":    "Ünïcødé ✓",
		`quote " here`: `quote " here`,
	} {
		if got := string(AppendCopyText(nil, in)); got != want {
			t.Errorf("AppendCopyText(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzAppendCopyText checks that an encoded field holds no raw field or
// row separator and decodes back to the value.
func FuzzAppendCopyText(f *testing.F) {
	for _, s := range []string{"", "a\tb\nc", `\\N`, "\r\n", "é\\"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		enc := string(AppendCopyText(nil, s))
		if strings.ContainsAny(enc, "\t\n\r") {
			t.Fatalf("raw separator in %q", enc)
		}
		if enc == `\N` {
			t.Fatalf("%q encodes as NULL", s)
		}
		// The decoder reads back what the encoder wrote: one codec.
		if got, err := decodeField(enc); err != nil || got != (Value{Str: s}) {
			t.Fatalf("round trip %q -> %q -> %+v, %v", s, enc, got, err)
		}
	})
}
