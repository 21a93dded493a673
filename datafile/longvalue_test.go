package datafile

import (
	"bytes"
	"io"
	"runtime"
	"strings"
	"testing"
	"unicode/utf8"
)

// TestLongValues: values longer than a reader's value block and a writer's
// line part (so read in blocks and written in parts) survive every format
// and encoding byte for byte, with their quotes, escapes and non-ASCII
// characters on the part boundaries.
func TestLongValues(t *testing.T) {
	unit := `aé"\` + "\n,x\r\t" + "ÿ"
	long := strings.Repeat(unit, (3*valueBlock)/len(unit)+7)
	plain := strings.Repeat("x", 2*valueBlock+3)
	tb := &Table{Name: "t", Columns: []string{"a", "b", "c"}}
	rows := [][]Value{
		row(str(long), null(), str("short")),
		row(str(plain), str(prefix(long, spillSize+1)), str("")),
		row(str(prefix(long, valueBlock-1)), str(plain[:spillSize-1]), str(prefix(long, 2*spillSize+3))),
	}
	for _, opts := range []Options{
		{Format: Userload}, {Format: Userload, LiteralBackslash: true}, {Format: CSV},
		{Format: Userload, Encoding: "latin1"}, {Format: CSV, Encoding: "latin1"}, {Format: CSV, Null: ptr(`\N`)},
	} {
		var b bytes.Buffer
		w, err := NewWriter(&b, opts)
		if err != nil {
			t.Fatal(err)
		}
		writeSections(t, w, []section{{tb, rows}})
		opts.Table = "t"
		r, err := NewReader(bytes.NewReader(b.Bytes()), "long", opts)
		if err != nil {
			t.Fatal(err)
		}
		got, err := readSections(r)
		if err != nil {
			t.Fatalf("%+v: %v", opts, err)
		}
		if len(got) != 1 || !equalRows(got[0].Rows, rows) {
			t.Errorf("%+v: the values changed", opts)
		}
	}
}

// prefix is s cut to at most n bytes, between characters.
func prefix(s string, n int) string {
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// TestLongValueMemory: converting a file of one huge value allocates about
// twice the value (its blocks, then the value itself), whatever the
// formats (issue 22: a 50 MB value took 385 MB, the reader's buffer growing
// by copies and each writer building the whole line again).
func TestLongValueMemory(t *testing.T) {
	const n = 16 << 20
	v := strings.Repeat("x", n/2) + `"` + strings.Repeat("y", n/2)
	inputs := map[Format][]byte{
		Userload: []byte("TABLE t\n a b\n { \"1\", \"" + strings.ReplaceAll(v, `"`, `\"`) + "\" }\n"),
		CSV:      []byte("a,b\n1,\"" + strings.ReplaceAll(v, `"`, `""`) + "\"\n"),
	}
	for in, data := range inputs {
		for _, out := range []Format{Userload, CSV} {
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			r, err := NewReader(bytes.NewReader(data), "t", Options{Format: in})
			if err != nil {
				t.Fatal(err)
			}
			w, err := NewWriter(io.Discard, Options{Format: out})
			if err != nil {
				t.Fatal(err)
			}
			if rows, err := Copy(w, r); err != nil || rows != 1 {
				t.Fatalf("%s to %s: %d rows, %v", in, out, rows, err)
			}
			w.Close()
			runtime.ReadMemStats(&after)
			if alloc := after.TotalAlloc - before.TotalAlloc; float64(alloc) > 2.3*float64(len(v)) {
				t.Errorf("%s to %s: %.1f MB allocated for a value of %.1f MB", in, out, float64(alloc)/(1<<20), float64(len(v))/(1<<20))
			}
		}
	}
}
