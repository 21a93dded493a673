package datafile

import (
	"bytes"
	"fmt"
	"io"
	"testing"
)

// benchSection is a table of typical rows: keys, names, text with a few
// characters that need quoting, NULLs and dates.
func benchSection(rows int) section {
	t := &Table{Name: "ca_contact", Columns: []string{"id", "last_name", "first_name", "notes", "tenant", "created"},
		Types: []string{"integer", "text", "text", "text", "uuid", "date"}}
	s := section{Table: t}
	for i := 0; i < rows; i++ {
		notes := null()
		if i%3 != 0 {
			notes = str(fmt.Sprintf("called on %d, said \"ok\", see ticket\\%d", i, i*7))
		}
		s.Rows = append(s.Rows, row(str(fmt.Sprint(1000+i)), str("Smith-Ångström"), str("Jo"), notes,
			str("5b0c5a8e-6c0e-4c1a-9f55-2b4c4c1d0a7e"), str("2024-01-31")))
	}
	return s
}

func encode(b *testing.B, f Format, s section) []byte {
	var buf bytes.Buffer
	w, err := NewWriter(&buf, Options{Format: f})
	if err != nil {
		b.Fatal(err)
	}
	writeSections(b, w, []section{s})
	return buf.Bytes()
}

var benchFormats = []Format{Userload, CSV, XLSX}

func BenchmarkRead(b *testing.B) {
	s := benchSection(20000)
	for _, f := range benchFormats {
		data := encode(b, f, s)
		b.Run(string(f), func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				r, err := NewReader(bytes.NewReader(data), "bench."+string(f), Options{Format: f})
				if err != nil {
					b.Fatal(err)
				}
				n := 0
				for r.Next() {
					n++
				}
				if r.Err() != nil || n != len(s.Rows) {
					b.Fatalf("%d rows, %v", n, r.Err())
				}
				r.Close()
			}
		})
	}
}

func BenchmarkWrite(b *testing.B) {
	s := benchSection(20000)
	for _, f := range benchFormats {
		size := len(encode(b, f, s))
		b.Run(string(f), func(b *testing.B) {
			b.SetBytes(int64(size))
			for b.Loop() {
				w, err := NewWriter(io.Discard, Options{Format: f})
				if err != nil {
					b.Fatal(err)
				}
				writeSections(b, w, []section{s})
			}
		})
	}
}
