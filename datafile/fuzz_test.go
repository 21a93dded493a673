package datafile

import (
	"bytes"
	"fmt"
	"testing"
	"testing/iotest"

	"github.com/tenantkit/tenantkit/internal/fault"
)

// fuzzRead reads data with opts at once and one byte at a time; both must
// agree. It returns what was read.
func fuzzRead(t *testing.T, data []byte, name string, opts Options) ([]section, error) {
	r, err := NewReader(bytes.NewReader(data), name, opts)
	if err != nil {
		t.Fatal(err)
	}
	secs, err := readSections(r)
	r1, _ := NewReader(iotest.OneByteReader(bytes.NewReader(data)), name, opts)
	secs1, err1 := readSections(r1)
	if fmt.Sprint(err) != fmt.Sprint(err1) || fmt.Sprint(sectionsText(secs)) != fmt.Sprint(sectionsText(secs1)) {
		t.Fatalf("one byte at a time differs:\n%v %v\n%v %v", sectionsText(secs1), err1, sectionsText(secs), err)
	}
	if err != nil {
		if _, ok := err.(*fault.PosError); !ok {
			t.Fatalf("error %T is not a *fault.PosError: %v", err, err)
		}
	}
	return secs, err
}

func sectionsText(secs []section) []string {
	var out []string
	for _, s := range secs {
		out = append(out, fmt.Sprintf("%q %q %v", s.Table.Name, s.Table.Columns, s.Rows))
	}
	return out
}

// fuzzRoundTrip writes what was read and reads it again: it must be the same.
func fuzzRoundTrip(t *testing.T, secs []section, name string, opts Options) {
	if len(secs) == 0 {
		return // nothing was read: a CSV writer would write nothing either
	}
	var b bytes.Buffer
	w, err := NewWriter(&b, opts)
	if err != nil {
		t.Fatal(err)
	}
	writeSections(t, w, secs)
	again, err := fuzzRead(t, b.Bytes(), name, opts)
	if err != nil {
		t.Fatalf("rereading the written file: %v\n%s", err, b.Bytes())
	}
	checkSame(t, again, secs, b.Bytes())
}

func FuzzUserloadReader(f *testing.F) {
	f.Add([]byte("TABLE ca_contact\n    id last_name tenant\n    { \"1001\" ,\"Smith\" ,NULL }\n    { \"1002\", \"O\\\"Brien\", \"\" }\n"), false)
	f.Add([]byte("# c\nTABLE \"a b\"\n\"x y\" z\n{\"\\0012\\t\\r\\n\\\\\",\n\"é\"}\nTABLE t\nq\n{ \"a\nb\" }"), false)
	f.Add([]byte("TABLE t\na\n{ \"C:\\x\" }\n{ \"say \"\"hi\"\"\" }\n"), true)
	f.Add([]byte("TABLE t\na b\n{ \"1\" \"2\" }"), false)
	f.Fuzz(func(t *testing.T, data []byte, literal bool) {
		opts := Options{Format: Userload, LiteralBackslash: literal}
		secs, err := fuzzRead(t, data, "fuzz.dat", opts)
		if err == nil {
			fuzzRoundTrip(t, secs, "fuzz.dat", opts)
		}
	})
}

func FuzzCSVReader(f *testing.F) {
	f.Add([]byte("id,name,tenant\n1,,\"\"\n2,\"a,b\",\"say \"\"hi\"\"\"\r\n3,\"l1\nl2\",x\n"), false)
	f.Add([]byte("a\n\n\"\"\n\\N\n"), true)
	f.Add([]byte("a,b\n1,x\"y\n"), false)
	f.Add([]byte("\uFEFFa,b\n\"x\"y,2"), true)
	f.Fuzz(func(t *testing.T, data []byte, marker bool) {
		opts := Options{Format: CSV, Table: "t"}
		if marker {
			opts.Null = ptr(`\N`)
		}
		secs, err := fuzzRead(t, data, "fuzz.csv", opts)
		if err == nil {
			fuzzRoundTrip(t, secs, "fuzz.csv", opts)
		}
	})
}

// FuzzCSVReaderLoose reads with the options for other writers' files
// (--lenient-quotes, --null-quoted): no panic, the same rows however the
// input is split, and what it reads round-trips through the writer.
func FuzzCSVReaderLoose(f *testing.F) {
	f.Add([]byte("Location,Coordinates\nHelsinki,60N 24\"E\n\"x\",\"\"\n"), false)
	f.Add([]byte("\"a\",\"b\"\r\n\"1\",\"\"\r\"\",x\"\"y\r"), true)
	f.Add([]byte("a\n\"\\N\"\n\\N\n\"\"\n"), true)
	f.Fuzz(func(t *testing.T, data []byte, marker bool) {
		opts := Options{Format: CSV, Table: "t", LenientQuotes: true, NullQuoted: true}
		if marker {
			opts.Null = ptr(`\N`)
		}
		secs, err := fuzzRead(t, data, "fuzz.csv", opts)
		if err == nil {
			fuzzRoundTrip(t, secs, "fuzz.csv", opts)
		}
	})
}
