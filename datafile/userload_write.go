package datafile

import (
	"bufio"
	"fmt"
	"io"
	"strings"
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
	lineOut
	closer  io.Closer
	literal bool

	table *Table
	rows  int64
	line  []byte
}

func newUserloadWriter(w io.Writer, literal bool, enc encoding.Encoding, closer io.Closer) *userloadWriter {
	return &userloadWriter{lineOut: newLineOut(w, enc), closer: closer, literal: literal}
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
	if t.Shared {
		b = append(b, " "+sharedKeyword...)
	}
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
	if err := u.send(u.line); err != nil {
		return fmt.Errorf("userload: %s: %w", lineName(u.table.Name, row), err)
	}
	return nil
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
		return append(u.appendDoubled(b, s), '"')
	}
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c != 0x7f {
			continue // copied in runs below: most bytes need no escape
		}
		b = u.appendRun(b, s[start:i])
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
	b = u.appendRun(b, s[start:])
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

// spillSize is how long a line may grow before it is sent on in parts.
const spillSize = 64 << 10

// lineOut sends the lines a writer assembles to the output, converted to
// the output encoding. A line holding a huge value is sent in parts as it
// grows (see appendRun), so that the value is never held a second time.
type lineOut struct {
	bw  *bufio.Writer
	enc *rowEncoder
	err error // the first error of a partial send, reported by send
}

func newLineOut(w io.Writer, enc encoding.Encoding) lineOut {
	return lineOut{bw: bufio.NewWriterSize(w, spillSize), enc: newRowEncoder(enc)}
}

// appendRun appends s to the line b, sending the line on whenever it
// reaches spillSize; it cuts s only between characters, so each part
// converts on its own.
func (o *lineOut) appendRun(b []byte, s string) []byte {
	for len(b)+len(s) > spillSize && o.err == nil {
		n := max(spillSize-len(b), 0) // b may have grown past it in small appends
		for n > 0 && !utf8.RuneStart(s[n]) {
			n--
		}
		b = append(b, s[:n]...)
		s = s[n:]
		out, err := o.enc.encode(b)
		if err == nil {
			_, err = o.bw.Write(out)
		}
		b, o.err = b[:0], err
	}
	return append(b, s...)
}

// appendDoubled appends s with each double quote doubled.
func (o *lineOut) appendDoubled(b []byte, s string) []byte {
	for {
		i := strings.IndexByte(s, '"')
		if i < 0 {
			return o.appendRun(b, s)
		}
		b = append(o.appendRun(b, s[:i+1]), '"')
		s = s[i+1:]
	}
}

// send sends the rest of a line.
func (o *lineOut) send(b []byte) error {
	if err := o.err; err != nil {
		o.err = nil
		return err
	}
	out, err := o.enc.encode(b)
	if err != nil {
		return err
	}
	_, err = o.bw.Write(out)
	return err
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
