package datafile

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// pieces are the fragments random values are built from: everything the
// formats must quote or escape, and a few words of their grammars.
var pieces = []string{
	"a", "Z", "0", "42", " ", "  ", `"`, `""`, `\`, `\\`, `\0012`, `\n`, "\n", "\t", "\r", "\r\n",
	",", "{", "}", "#", "NULL", "TABLE", "é", "日本", "😀", "\u00a0", "_x000D_", "<&>", "'",
	"\x01", "\x1f", "\x7f", "\x00", "\uFEFF",
	`\.`, ".", `\N`,
}

// xmlUnsafe are the pieces a workbook cannot hold.
var xmlUnsafe = map[string]bool{"\x01": true, "\x1f": true, "\x00": true}

type genOptions struct {
	xlsx bool // sheet-safe names, no XML-unsafe characters
}

func randString(rng *rand.Rand, g genOptions, maxPieces int) string {
	var b strings.Builder
	n := rng.IntN(maxPieces + 1)
	if rng.IntN(50) == 0 {
		n = 500 + rng.IntN(2000) // a long value
	}
	for i := 0; i < n; i++ {
		p := pieces[rng.IntN(len(pieces))]
		if g.xlsx && xmlUnsafe[p] {
			continue
		}
		b.WriteString(p)
	}
	return b.String()
}

func randSections(rng *rand.Rand, g genOptions, maxTables int) []section {
	var secs []section
	for i := 0; i < 1+rng.IntN(maxTables); i++ {
		t := &Table{Name: fmt.Sprintf("t%d_%s", i, randName(rng, g))}
		seen := map[string]bool{}
		for c := 0; c < 1+rng.IntN(5); c++ {
			name := fmt.Sprintf("c%d%s", c, randName(rng, g))
			if !seen[name] {
				seen[name] = true
				t.Columns = append(t.Columns, name)
			}
		}
		var rows [][]Value
		for r := rng.IntN(20); r > 0; r-- {
			vals := make([]Value, len(t.Columns))
			for j := range vals {
				switch rng.IntN(6) {
				case 0:
					vals[j] = null()
				case 1:
					vals[j] = str("")
				default:
					vals[j] = str(randString(rng, g, 8))
				}
			}
			rows = append(rows, vals)
		}
		secs = append(secs, section{t, rows})
	}
	return secs
}

// randName is a short name part: with spaces and quotes unless it must be
// a sheet name.
func randName(rng *rand.Rand, g genOptions) string {
	opts := []string{"", "x", "name", "my col", `q"t`, "é", "a.b", "$"}
	if g.xlsx {
		opts = []string{"", "x", "name", "my col", "é", "a.b"}
	}
	return opts[rng.IntN(len(opts))]
}

func checkSame(t *testing.T, got, want []section, encoded []byte) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("read %d tables, wrote %d\n%s", len(got), len(want), encoded)
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.Table.Name != w.Table.Name || strings.Join(g.Table.Columns, "\x00") != strings.Join(w.Table.Columns, "\x00") {
			t.Fatalf("table %d: read %q %q, wrote %q %q", i, g.Table.Name, g.Table.Columns, w.Table.Name, w.Table.Columns)
		}
		if !equalRows(g.Rows, w.Rows) {
			t.Fatalf("table %s: read\n%+v\nwrote\n%+v\nfile:\n%s", w.Table.Name, g.Rows, w.Rows, encoded)
		}
	}
}

func TestRoundTripUserload(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 300; i++ {
		for _, literal := range []bool{false, true} {
			secs := randSections(rng, genOptions{}, 4)
			opts := Options{Format: Userload, LiteralBackslash: literal}
			var b bytes.Buffer
			w, _ := NewWriter(&b, opts)
			writeSections(t, w, secs)
			r, err := NewReader(bytes.NewReader(b.Bytes()), "rt.dat", opts)
			if err != nil {
				t.Fatal(err)
			}
			got, err := readSections(r)
			if err != nil {
				t.Fatalf("literal=%v: %v\n%s", literal, err, b.Bytes())
			}
			checkSame(t, got, secs, b.Bytes())
		}
	}
}

func TestRoundTripCSV(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for i := 0; i < 500; i++ {
		for _, null := range []*string{nil, ptr(`\N`), ptr("NULL"), ptr("")} {
			secs := randSections(rng, genOptions{}, 1)
			opts := Options{Format: CSV, Null: null, Table: secs[0].Table.Name}
			var b bytes.Buffer
			w, _ := NewWriter(&b, opts)
			writeSections(t, w, secs)
			r, err := NewReader(bytes.NewReader(b.Bytes()), "rt.csv", opts)
			if err != nil {
				t.Fatal(err)
			}
			got, err := readSections(r)
			if err != nil {
				t.Fatalf("null=%v: %v\n%s", null, err, b.Bytes())
			}
			checkSame(t, got, secs, b.Bytes())
		}
	}
}

// xlsxExpected is what a workbook gives back: empty strings read as NULL
// and empty rows after the last row of data are gone (a table may be left
// with no rows, and is still there).
func xlsxExpected(secs []section) []section {
	var out []section
	for _, s := range secs {
		var rows [][]Value
		last := 0
		for i, r := range s.Rows {
			vals := make([]Value, len(r))
			empty := true
			for j, v := range r {
				if v.Str == "" {
					v = null()
				} else {
					empty = false
				}
				vals[j] = v
			}
			rows = append(rows, vals)
			if !empty {
				last = i + 1
			}
		}
		out = append(out, section{s.Table, rows[:last]})
	}
	return out
}

func TestRoundTripXLSX(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for i := 0; i < 60; i++ {
		secs := randSections(rng, genOptions{xlsx: true}, 3)
		var b bytes.Buffer
		w, _ := NewWriter(&b, Options{Format: XLSX})
		writeSections(t, w, secs)
		r, err := NewReader(bytes.NewReader(b.Bytes()), "rt.xlsx", Options{})
		if err != nil {
			t.Fatal(err)
		}
		got, err := readSections(r)
		r.Close()
		if err != nil {
			t.Fatal(err)
		}
		checkSame(t, got, xlsxExpected(secs), nil)
	}
}
