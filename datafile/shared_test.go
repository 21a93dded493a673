package datafile

import (
	"bytes"
	"strings"
	"testing"
)

// A SHARED section survives a userload round trip; other formats refuse it.
func TestSharedSections(t *testing.T) {
	var buf bytes.Buffer
	w, err := NewWriter(&buf, Options{Format: Userload})
	if err != nil {
		t.Fatal(err)
	}
	for _, tb := range []*Table{{Name: "category", Columns: []string{"id", "sym"}, Shared: true}, {Name: "category", Columns: []string{"id", "sym"}}} {
		if err := w.BeginTable(tb); err != nil {
			t.Fatal(err)
		}
		if err := w.WriteRow([]Value{{Str: "1"}, {Str: "x"}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	want := "TABLE category SHARED\n    id sym\n    { \"1\", \"x\" }\n\nTABLE category\n    id sym\n    { \"1\", \"x\" }\n"
	if buf.String() != want {
		t.Fatalf("written:\n%s\nwant:\n%s", buf.String(), want)
	}
	r, err := NewReader(strings.NewReader("TABLE category shared\n id sym\n {\"1\",\"x\"}\nTABLE category\n id sym\n"), "f.dat", Options{Format: Userload})
	if err != nil {
		t.Fatal(err)
	}
	var got []bool
	var cur *Table
	for r.Next() {
		if r.Table() != cur {
			cur = r.Table()
			got = append(got, cur.Shared)
		}
	}
	if r.Err() != nil || len(got) != 2 || !got[0] || got[1] {
		t.Fatalf("read shared flags %v, err %v; want [true false]", got, r.Err())
	}
	for _, in := range []struct{ text, msg string }{
		{"TABLE t PUBLIC\n a\n", `f.dat:1:9: unexpected "PUBLIC" after the table name t`},
		{"TABLE t SHARED x\n a\n", `f.dat:1:16: unexpected "x" after TABLE t SHARED`},
	} {
		r, _ := NewReader(strings.NewReader(in.text), "f.dat", Options{Format: Userload})
		for r.Next() {
		}
		if r.Err() == nil || !strings.HasPrefix(r.Err().Error(), in.msg) {
			t.Errorf("%q: error %v, want %s", in.text, r.Err(), in.msg)
		}
	}
	for _, f := range []Format{CSV, XLSX} {
		w, err := NewWriter(&bytes.Buffer{}, Options{Format: f})
		if err != nil {
			t.Fatal(err)
		}
		err = w.BeginTable(&Table{Name: "category", Columns: []string{"id"}, Shared: true})
		if err == nil || !strings.Contains(err.Error(), "section of shared rows (SHARED), which the "+string(f)+" format cannot mark") {
			t.Errorf("%s: BeginTable of a shared table: %v", f, err)
		}
	}
}
