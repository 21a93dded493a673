package datafile

import (
	"fmt"
	"io"
	"strings"

	"golang.org/x/text/encoding"
)

// csvWriter writes one table as RFC 4180 CSV with LF line ends: a header
// row, then one line per row. A field is quoted only when it must be: when
// it holds a comma, a double quote, CR or LF, starts with a byte order mark,
// equals the NULL marker (by default the empty string, so the empty string
// is written "" and NULL as nothing), or is exactly \. , which PostgreSQL's
// COPY (and psql's \copy) take for the end of the data when it stands alone
// on a line; PostgreSQL's own CSV writer quotes it too.
type csvWriter struct {
	lineOut
	closer io.Closer
	null   string
	name   string // output name for the one-table error

	table *Table
	rows  int64
	line  []byte
}

func newCSVWriter(w io.Writer, name string, null *string, enc encoding.Encoding, closer io.Closer) *csvWriter {
	c := &csvWriter{lineOut: newLineOut(w, enc), closer: closer, name: name}
	if null != nil {
		c.null = *null
	}
	return c
}

// checkNullMarker rejects a NULL marker that would need quoting, since a
// quoted field is never NULL.
func checkNullMarker(null *string) error {
	if null != nil && strings.ContainsAny(*null, "\",\r\n") {
		return fmt.Errorf("csv: the NULL marker %q may not contain a comma, a double quote or a line end", *null)
	}
	return nil
}

func (c *csvWriter) BeginTable(t *Table) error {
	if err := checkTable(t); err != nil {
		return fmt.Errorf("csv: %w", err)
	}
	if err := checkUnmarked(t, CSV); err != nil {
		return fmt.Errorf("csv: %w", err)
	}
	if c.table != nil {
		return fmt.Errorf("csv: %s holds only one table, cannot add table %s after %s; write several tables into a directory (a path ending in /)",
			c.name, t.Name, c.table.Name)
	}
	c.table = t
	b := c.line[:0]
	for i, col := range t.Columns {
		if i > 0 {
			b = append(b, ',')
		}
		b = c.appendField(b, col, false)
	}
	c.line = append(b, '\n')
	return c.write(0)
}

func (c *csvWriter) WriteRow(vals []Value) error {
	if err := checkRow(c.table, vals, c.rows+1); err != nil {
		return fmt.Errorf("csv: %w", err)
	}
	c.rows++
	b := c.line[:0]
	for i, v := range vals {
		if i > 0 {
			b = append(b, ',')
		}
		if v.Null {
			b = append(b, c.null...)
		} else {
			b = c.appendField(b, v.Str, true)
		}
	}
	c.line = append(b, '\n')
	return c.write(c.rows)
}

func (c *csvWriter) write(row int64) error {
	if err := c.send(c.line); err != nil {
		return fmt.Errorf("csv: %s: %w", lineName(c.table.Name, row), err)
	}
	return nil
}

// appendField appends s, quoted if it must be. A value (as opposed to a
// column name) equal to the NULL marker is quoted so that it reads back as
// text.
func (c *csvWriter) appendField(b []byte, s string, value bool) []byte {
	quote := strings.ContainsAny(s, ",\"\r\n") || strings.HasPrefix(s, "\uFEFF") ||
		(value && s == c.null) || s == `\.`
	if !quote {
		return c.appendRun(b, s)
	}
	return append(c.appendDoubled(append(b, '"'), s), '"')
}

func (c *csvWriter) Close() error {
	err := c.bw.Flush()
	if c.closer != nil {
		if cerr := c.closer.Close(); err == nil {
			err = cerr
		}
	}
	return err
}
