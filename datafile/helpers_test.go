package datafile

import (
	"fmt"
	"strings"
	"testing"
	"testing/iotest"
)

// dump renders everything r yields, one line per section and per row:
//
//	TABLE t (a,b)
//	2:5 "x" NULL
//	TABLE u (c)
//	7:1 (no rows)
func dump(r Reader) (string, error) {
	var b strings.Builder
	var cur *Table
	for r.Next() {
		if t := r.Table(); t != cur {
			cur = t
			fmt.Fprintf(&b, "TABLE %s (%s)\n", t.Name, strings.Join(t.Columns, ","))
		}
		p := r.Pos()
		fmt.Fprintf(&b, "%d:%d", p.Line, p.Col)
		if r.Values() == nil {
			b.WriteString(" (no rows)")
		}
		for _, v := range r.Values() {
			if v.Null {
				b.WriteString(" NULL")
			} else {
				fmt.Fprintf(&b, " %q", v.Str)
			}
		}
		b.WriteByte('\n')
	}
	return b.String(), r.Err()
}

// section is one table and its rows, as a test builds or reads them.
type section struct {
	Table *Table
	Rows  [][]Value
}

// readSections collects everything r yields, copying the reused slices.
//
// It also checks the readers' field positions: within a record every field
// starts after the record does and after the field before it, and within a
// file every record's fields come after the previous record's. A violation
// is returned as a *fieldPosError.
func readSections(r Reader) ([]section, error) {
	var out []section
	var cur *Table
	var last Pos // the last field position seen, in the current file
	for r.Next() {
		if t := r.Table(); t != cur {
			cur = t
			out = append(out, section{Table: t})
		}
		s := &out[len(out)-1]
		if r.Values() == nil {
			if p := r.FieldPos(0); p != (Pos{}) {
				return out, &fieldPosError{fmt.Sprintf("a table without rows has a field position %v", p)}
			}
			continue // a table without rows
		}
		prev := r.Pos()
		if prev.File == last.File && !before(last, prev) {
			return out, &fieldPosError{fmt.Sprintf("record at %v starts before the field at %v", prev, last)}
		}
		for i := range r.Values() {
			p := r.FieldPos(i)
			if p.File != prev.File || p.Line < prev.Line || p.Line == prev.Line && p.Col < prev.Col || i > 0 && !before(prev, p) {
				return out, &fieldPosError{fmt.Sprintf("record at %v: field %d at %v, not after %v", r.Pos(), i+1, p, prev)}
			}
			prev = p
		}
		if p := r.FieldPos(len(r.Values())); p != (Pos{}) {
			return out, &fieldPosError{fmt.Sprintf("record at %v: a field past the last at %v", r.Pos(), p)}
		}
		last = prev
		s.Rows = append(s.Rows, append([]Value(nil), r.Values()...))
	}
	return out, r.Err()
}

// writeSections writes sections to w and closes it.
func writeSections(t testing.TB, w Writer, secs []section) {
	t.Helper()
	for _, s := range secs {
		if err := w.BeginTable(s.Table); err != nil {
			t.Fatal(err)
		}
		for _, row := range s.Rows {
			if err := w.WriteRow(row); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

func ptr[T any](v T) *T { return &v }

func null() Value            { return Value{Null: true} }
func str(s string) Value     { return Value{Str: s} }
func row(v ...Value) []Value { return v }

// readBoth reads in whole and then one byte at a time (which crosses every
// buffer boundary), fails the test when the two disagree, and returns the
// dump and error of the first.
func readBoth(t *testing.T, in, name string, opts Options) (string, error) {
	t.Helper()
	r, err := NewReader(strings.NewReader(in), name, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	got, err := dump(r)
	r1, _ := NewReader(iotest.OneByteReader(strings.NewReader(in)), name, opts)
	got1, err1 := dump(r1)
	if got1 != got || fmt.Sprint(err1) != fmt.Sprint(err) {
		t.Errorf("one byte at a time: %q, %v\nat once: %q, %v", got1, err1, got, err)
	}
	return got, err
}

// before reports whether a comes strictly before b in a file.
func before(a, b Pos) bool { return a.Line < b.Line || a.Line == b.Line && a.Col < b.Col }

// fieldPosError is a broken invariant of FieldPos (see readSections).
type fieldPosError struct{ msg string }

func (e *fieldPosError) Error() string { return "FieldPos: " + e.msg }
