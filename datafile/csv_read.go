package datafile

import (
	"io"
	"strings"
	"unicode/utf8"
)

// csvReader parses one table from RFC 4180 CSV: a header row of column
// names, then one record per line. Lines end in LF, CRLF or a lone CR (as
// written by old Macintosh tools); a quoted field may hold commas, doubled
// quotes and line ends. NULL is an unquoted empty
// field and the empty string is "", unless a NULL marker is set: then an
// unquoted field equal to the marker is NULL and an unquoted empty field is
// the empty string. A blank line is a record of one empty field, so it is
// skipped in tables of more than one column (where it cannot be a record).
//
// Two options loosen the grammar for files of other writers: nullQuoted
// makes a quoted field equal to the marker NULL as well (COPY's
// FORCE_NULL), and lenient accepts a double quote inside an unquoted field
// as a character, reporting each such field to onLenient.
type csvReader struct {
	textReader
	null   *string
	quoted []bool
	rows   int64 // records returned
	empty  bool  // the table without rows was returned

	nullQuoted bool
	lenient    bool
	onLenient  func(Pos)
	bare       bool // the field just read held a bare quote (lenient)
}

func newCSVReader(r io.Reader, file, table string, null *string, closer io.Closer) *csvReader {
	c := &csvReader{textReader: newTextReader(r, file, closer), null: null}
	c.table = &Table{Name: table, Pos: Pos{File: file, Line: 1, Col: 1}}
	return c
}

func (c *csvReader) Next() bool {
	if c.err != nil {
		return false
	}
	if c.table.Columns == nil {
		if err := c.readHeader(); err != nil {
			c.fail(err)
			return false
		}
	}
	for {
		more, err := c.readRecord()
		if err == nil && !more && c.rows == 0 && !c.empty {
			c.empty = true
			c.vals, c.recPos = nil, c.table.Pos
			return true
		}
		if err != nil || !more {
			c.fail(err)
			return false
		}
		if len(c.vals) == 1 && len(c.table.Columns) > 1 && !c.quoted[0] && c.vals[0].Str == "" {
			continue // blank line
		}
		if len(c.vals) != len(c.table.Columns) {
			c.fail(c.s.errorf(c.recPos, "", "record has %s, the header has %d",
				count(len(c.vals), "field"), len(c.table.Columns)))
			return false
		}
		for i, q := range c.quoted {
			c.vals[i] = c.value(c.vals[i].Str, q)
		}
		c.rows++
		return true
	}
}

func (c *csvReader) fail(err error) {
	c.err = err
	c.vals = c.vals[:0]
}

// value interprets a field's text.
func (c *csvReader) value(s string, quoted bool) Value {
	if quoted && !c.nullQuoted {
		return Value{Str: s}
	}
	if c.null == nil && s == "" || c.null != nil && s == *c.null {
		return Value{Null: true}
	}
	return Value{Str: s}
}

func (c *csvReader) readHeader() error {
	more, err := c.readRecord()
	if err != nil {
		return err
	}
	if !more {
		return c.s.errorf(c.s.pos(), "", "no header row of column names")
	}
	cols := make([]string, len(c.vals))
	seen := make(map[string]bool, len(c.vals))
	for i, v := range c.vals {
		if v.Str == "" {
			return c.s.errorf(c.recPos, "", "empty column name in header field %d", i+1)
		}
		if strings.IndexByte(v.Str, 0) >= 0 {
			return c.s.errorf(c.recPos, "", "header field %d holds a NUL byte: not a column name (is this a text file?)", i+1)
		}
		if seen[v.Str] {
			return c.s.errorf(c.recPos, "", "duplicate column %s in the header", v.Str)
		}
		seen[v.Str] = true
		cols[i] = v.Str
	}
	c.table.Columns = cols
	return nil
}

// readRecord reads the fields of one line into vals (Str only) and quoted.
// It reports false at the end of input.
func (c *csvReader) readRecord() (bool, error) {
	s := c.s
	if _, ok := s.peek(); !ok {
		return false, s.err
	}
	c.recPos = s.pos()
	c.vals, c.quoted, c.fpos = c.vals[:0], c.quoted[:0], c.fpos[:0]
	limit := len(c.table.Columns)
	for {
		b, _ := s.peek()
		var text string
		var err error
		quoted := b == '"'
		start := s.pos()
		if quoted {
			text, err = c.readQuoted()
		} else {
			text, err = c.readUnquoted()
		}
		if err != nil {
			return false, err
		}
		if c.bare {
			c.bare = false
			if c.onLenient != nil {
				c.onLenient(start)
			}
		}
		c.vals = append(c.vals, Value{Str: text})
		c.quoted = append(c.quoted, quoted)
		c.fpos = append(c.fpos, start)
		if limit > 0 && len(c.vals) > limit {
			return false, s.errorf(c.recPos, "", "record has more fields than the %d of the header", limit)
		}
		b, ok := s.peek()
		switch {
		case !ok:
			return true, s.err
		case b == ',':
			s.skip()
		case b == '\n':
			s.skip()
			return true, nil
		case b == '\r':
			s.skip()
			if b, ok := s.peek(); ok && b == '\n' {
				s.skip()
			} else {
				s.line, s.col = s.line+1, 1 // a lone CR ends the line
			}
			return true, nil
		default:
			return false, s.errorf(s.pos(), "", "unexpected %q after a quoted field", peekRune(s))
		}
	}
}

// csvSpecial marks the bytes that end the fast path through a field.
var csvSpecial = func() (t [2][256]bool) {
	for b := utf8.RuneSelf; b < 256; b++ {
		t[0][b], t[1][b] = true, true
	}
	t[0][','], t[0]['\r'], t[0]['\n'], t[0]['"'] = true, true, true, true
	t[1]['"'], t[1]['\n'] = true, true
	return t
}()

// readUnquoted reads a field up to a comma, a line end (LF, CRLF or a lone
// CR) or the end of input.
func (c *csvReader) readUnquoted() (string, error) {
	s := c.s
	start := s.pos()
	sb := c.sb[:0]
	defer func() { c.sb = c.keep(sb) }()
	for {
		if !s.ensure(1) {
			return c.text(sb), s.err
		}
		chunk := s.buf[s.r:s.w]
		i := 0
		for i < len(chunk) && !csvSpecial[0][chunk[i]] {
			i++
		}
		sb = append(c.room(sb, i), chunk[:i]...)
		s.r += i
		s.col += i
		if c.held+len(sb) > c.maxLen {
			return "", s.errorf(start, c.head(sb), "field longer than %d bytes", c.maxLen)
		}
		if i == len(chunk) {
			continue
		}
		var err error
		switch chunk[i] {
		case ',', '\n':
			return c.text(sb), nil
		case '\r':
			return c.text(sb), nil
		case '"':
			if !c.lenient {
				return "", s.errorf(s.pos(), c.head(sb), `bare " in an unquoted field (quote the field and double the ", or read with Options.LenientQuotes)`)
			}
			s.skip()
			sb, c.bare = append(sb, '"'), true
		default:
			sb, _, err = s.readRune(sb)
		}
		if err != nil {
			return "", err
		}
	}
}

// readQuoted reads a quoted field starting at its opening quote.
func (c *csvReader) readQuoted() (string, error) {
	s := c.s
	start := s.pos()
	s.skip()
	sb := c.sb[:0]
	defer func() { c.sb = c.keep(sb) }()
	for {
		if !s.ensure(1) {
			if s.err != nil {
				return "", s.err
			}
			return "", s.errorf(start, c.head(sb), "unterminated quoted field")
		}
		chunk := s.buf[s.r:s.w]
		i := 0
		for i < len(chunk) && !csvSpecial[1][chunk[i]] {
			i++
		}
		sb = append(c.room(sb, i), chunk[:i]...)
		s.r += i
		s.col += i
		if c.held+len(sb) > c.maxLen {
			return "", s.errorf(start, c.head(sb), "field longer than %d bytes", c.maxLen)
		}
		if i == len(chunk) {
			continue
		}
		var err error
		switch chunk[i] {
		case '"':
			s.skip()
			if b, ok := s.peek(); ok && b == '"' {
				s.skip()
				sb = append(sb, '"')
				continue
			}
			return c.text(sb), nil
		case '\n':
			s.skip()
			sb = append(sb, '\n')
		default:
			sb, _, err = s.readRune(sb)
		}
		if err != nil {
			return "", err
		}
	}
}

// peekRune returns the next character for an error message.
func peekRune(s *scanner) string {
	s.ensure(utf8.UTFMax)
	r, _ := utf8.DecodeRune(s.buf[s.r:s.w])
	return string(r)
}
