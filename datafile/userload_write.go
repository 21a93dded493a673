package datafile

import (
	"bufio"
	"fmt"
	"io"
	"unicode/utf8"

	"golang.org/x/text/encoding"
	"golang.org/x/text/transform"
)

// userloadWriter writes the userload format in its canonical layout:
//
//	TABLE name
//	    col1 col2
//	    { "v1", NULL }
//
// with a blank line between sections. Values escape " \ newline, tab and
// CR, and write other control characters as \0NNN; non-ASCII text is written
// as it is. With literal backslashes (-e) only the double quote is special
// and is doubled, everything else is written raw.
type userloadWriter struct {
	bw      *bufio.Writer
	closer  io.Closer
	literal bool
	enc     *rowEncoder

	table *Table
	rows  int64
	line  []byte
}

func newUserloadWriter(w io.Writer, literal bool, enc encoding.Encoding, closer io.Closer) *userloadWriter {
	return &userloadWriter{bw: bufio.NewWriterSize(w, 64<<10), closer: closer, literal: literal, enc: newRowEncoder(enc)}
}

func (u *userloadWriter) BeginTable(t *Table) error {
	if err := checkTable(t); err != nil {
		return fmt.Errorf("userload: %w", err)
	}
	b := u.line[:0]
	if u.table != nil {
		b = append(b, '\n')
	}
	b = append(b, "TABLE "...)
	b = u.appendName(b, t.Name)
	b = append(b, "\n   "...)
	for _, c := range t.Columns {
		b = append(b, ' ')
		b = u.appendName(b, c)
	}
	b = append(b, '\n')
	u.line = b
	u.table, u.rows = t, 0
	return u.write(0)
}

func (u *userloadWriter) WriteRow(vals []Value) error {
	if err := checkRow(u.table, vals, u.rows+1); err != nil {
		return fmt.Errorf("userload: %w", err)
	}
	u.rows++
	b := append(u.line[:0], "    {"...)
	for i, v := range vals {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, ' ')
		if v.Null {
			b = append(b, "NULL"...)
		} else {
			b = u.appendQuoted(b, v.Str)
		}
	}
	b = append(b, " }\n"...)
	u.line = b
	return u.write(u.rows)
}

// write sends the line buffer to the output, converted to the output
// encoding; row numbers the line for an error message (0: the header). The
// message is only formatted on error: this runs once per row.
func (u *userloadWriter) write(row int64) error {
	b, err := u.enc.encode(u.line)
	if err != nil {
		return fmt.Errorf("userload: %s: %w", lineName(u.table.Name, row), err)
	}
	_, err = u.bw.Write(b)
	return err
}

// lineName names a line of a table's output in error messages.
func lineName(table string, row int64) string {
	if row == 0 {
		return fmt.Sprintf("table %s header", table)
	}
	return fmt.Sprintf("table %s row %d", table, row)
}

func (u *userloadWriter) Close() error {
	err := u.bw.Flush()
	if u.closer != nil {
		if cerr := u.closer.Close(); err == nil {
			err = cerr
		}
	}
	return err
}

// appendName appends a table or column name: bare when it is a plain
// identifier, quoted otherwise.
func (u *userloadWriter) appendName(b []byte, name string) []byte {
	if isPlainName(name) {
		return append(b, name...)
	}
	return u.appendQuoted(b, name)
}

// isPlainName reports whether name can be written without quotes: it looks
// like an SQL identifier, possibly schema-qualified.
func isPlainName(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z':
		case i > 0 && (c == '$' || c == '.' || '0' <= c && c <= '9'):
		default:
			return false
		}
	}
	return true
}

func (u *userloadWriter) appendQuoted(b []byte, s string) []byte {
	b = append(b, '"')
	if u.literal {
		for i := 0; i < len(s); i++ {
			if s[i] == '"' {
				b = append(b, '"')
			}
			b = append(b, s[i])
		}
		return append(b, '"')
	}
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c != 0x7f {
			continue // copied in runs below: most bytes need no escape
		}
		b = append(b, s[start:i]...)
		start = i + 1
		switch c {
		case '"', '\\':
			b = append(b, '\\', c)
		case '\n':
			b = append(b, '\\', 'n')
		case '\t':
			b = append(b, '\\', 't')
		case '\r':
			b = append(b, '\\', 'r')
		default:
			b = append(b, '\\', '0', '0'+c>>6, '0'+(c>>3)&7, '0'+c&7)
		}
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// checkTable rejects a table no format can write.
func checkTable(t *Table) error {
	if t == nil || t.Name == "" {
		return fmt.Errorf("table without a name")
	}
	if len(t.Columns) == 0 {
		return fmt.Errorf("table %s has no columns", t.Name)
	}
	if !utf8.ValidString(t.Name) {
		return fmt.Errorf("table name %q is not valid UTF-8", t.Name)
	}
	for _, c := range t.Columns {
		if c == "" || !utf8.ValidString(c) {
			return fmt.Errorf("table %s: column name %q is empty or not valid UTF-8", t.Name, c)
		}
	}
	if t.Types != nil && len(t.Types) != len(t.Columns) {
		return fmt.Errorf("table %s has %d columns but %d types", t.Name, len(t.Columns), len(t.Types))
	}
	return nil
}

// checkRow rejects a row that does not fit table t: row is its number in
// the table, counting from 1.
func checkRow(t *Table, vals []Value, row int64) error {
	if t == nil {
		return fmt.Errorf("row written before any table")
	}
	if len(vals) != len(t.Columns) {
		return fmt.Errorf("table %s row %d has %s for %s", t.Name, row, count(len(vals), "value"), count(len(t.Columns), "column"))
	}
	for i, v := range vals {
		if !v.Null && !utf8.ValidString(v.Str) {
			return fmt.Errorf("table %s row %d column %s: value is not valid UTF-8", t.Name, row, t.Columns[i])
		}
	}
	return nil
}

// rowEncoder converts a row's bytes from UTF-8 to the output encoding.
// Converting row by row, rather than wrapping the output, lets an error
// name the row holding a character the encoding lacks.
type rowEncoder struct {
	t   transform.Transformer
	out []byte
}

func newRowEncoder(e encoding.Encoding) *rowEncoder {
	if e == nil {
		return &rowEncoder{}
	}
	return &rowEncoder{t: e.NewEncoder()}
}

func (r *rowEncoder) encode(b []byte) ([]byte, error) {
	if r.t == nil {
		return b, nil
	}
	r.t.Reset()
	out, _, err := transform.Append(r.t, r.out[:0], b)
	if err != nil {
		return nil, fmt.Errorf("cannot convert to the output encoding: %w", err)
	}
	r.out = out
	return out, nil
}
