package datafile

import (
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
	"unsafe"
)

// userloadReader parses the userload format:
//
//	# a comment
//	TABLE ca_contact
//	    id last_name "first name"
//	    { "1001", "Smith", NULL }
//
// A TABLE line names the table; the next non-blank, non-comment line holds
// the column names (bare words or quoted names, separated by blanks). Records
// follow: braces around values that are quoted strings or the bare word NULL,
// separated by commas. Outside a record, blanks and newlines are free and a
// '#' starts a comment that runs to the end of the line. The keywords TABLE
// and NULL are matched without regard to case.
//
// Inside quotes a backslash starts an escape: \" \\ \n \t \r, or \0 followed
// by exactly three octal digits, which stands for the character with that
// code (U+0000 to U+00FF; \0012 is a newline). Any other escape is an error.
// Raw newlines, tabs and other characters may appear inside quotes as they
// are.
//
// With literal backslashes (userload -e) a backslash is an ordinary
// character and no escapes exist; a double quote inside a value is written
// twice, as in CSV ("say ""hi"""), so "" alone is still the empty string.
type userloadReader struct {
	textReader
	literal bool
	// unseen: the current table's header was read and no record yet.
	unseen bool
}

func newUserloadReader(r io.Reader, name string, literal bool, closer io.Closer) *userloadReader {
	return &userloadReader{textReader: newTextReader(r, name, closer), literal: literal}
}

// textReader is the state and the Reader accessors the text formats share.
type textReader struct {
	s      *scanner
	closer io.Closer
	maxLen int

	table  *Table
	vals   []Value // the current row; nil for a table without rows
	row    []Value // keeps the row buffer while vals is nil
	recPos Pos
	fpos   []Pos // where each field of the current record starts
	err    error
	sb     []byte // scratch for the value being read
	// blocks hold the start of a value longer than valueBlock, held bytes.
	blocks [][]byte
	held   int
}

// valueBlock is the size of the buffer a reader keeps for the next value,
// and of the blocks a longer value is gathered in (see room).
const valueBlock = 1 << 20

// room makes room for n more bytes of the value being read into sb. Past
// valueBlock, a full buffer is set aside as a block instead of grown, so a
// huge value is copied once (by text) rather than at every doubling, with
// the old copies left for the garbage collector.
func (t *textReader) room(sb []byte, n int) []byte {
	if len(sb)+n <= cap(sb) || cap(sb) < valueBlock {
		return sb
	}
	t.blocks = append(t.blocks, sb)
	t.held += len(sb)
	return make([]byte, 0, max(valueBlock, n))
}

// text returns the value gathered in the blocks and sb, and clears the
// blocks. A value of several blocks is copied once into a buffer of its
// exact size that becomes the string itself (as strings.Builder does:
// nothing writes to it again).
func (t *textReader) text(sb []byte) string {
	if len(t.blocks) == 0 {
		return string(sb)
	}
	buf := make([]byte, 0, t.held+len(sb))
	for _, b := range t.blocks {
		buf = append(buf, b...)
	}
	buf = append(buf, sb...)
	t.blocks, t.held = nil, 0
	return unsafe.String(unsafe.SliceData(buf), len(buf))
}

// head is the start of the value being read, for an error message.
func (t *textReader) head(sb []byte) string {
	if len(t.blocks) > 0 {
		return excerpt(t.blocks[0])
	}
	return excerpt(sb)
}

// keep is the buffer to read the next value into: sb emptied, unless it
// grew past valueBlock; the blocks of a value not taken by text are dropped.
func (t *textReader) keep(sb []byte) []byte {
	t.blocks, t.held = nil, 0
	if cap(sb) > valueBlock {
		return nil
	}
	return sb[:0]
}

func newTextReader(r io.Reader, name string, closer io.Closer) textReader {
	return textReader{s: newScanner(r, name), closer: closer, maxLen: maxValueLen}
}

func (t *textReader) Table() *Table   { return t.table }
func (t *textReader) Values() []Value { return t.vals }
func (t *textReader) Pos() Pos        { return t.recPos }
func (t *textReader) Err() error      { return t.err }

func (t *textReader) FieldPos(i int) Pos {
	if t.vals == nil || i < 0 || i >= len(t.vals) || i >= len(t.fpos) {
		return Pos{}
	}
	return t.fpos[i]
}

func (t *textReader) Close() error {
	if t.closer == nil {
		return nil
	}
	return t.closer.Close()
}

func (u *userloadReader) Next() bool {
	if u.err != nil {
		return false
	}
	if err := u.next(); err != nil {
		if err != io.EOF {
			u.err = err
		}
		u.vals = u.vals[:0]
		return false
	}
	return true
}

// next reads up to the next record, or past a table without records (then
// vals is nil); io.EOF means a clean end.
func (u *userloadReader) next() error {
	s := u.s
	for {
		if err := u.skipBlank(true); err != nil {
			return err
		}
		b, ok := s.peek()
		if !ok && s.err != nil {
			return s.err
		}
		if u.unseen && b != '{' {
			u.unseen = false
			u.vals, u.recPos = nil, u.table.Pos
			return nil
		}
		if !ok {
			return io.EOF
		}
		p := s.pos()
		switch {
		case b == '{':
			if u.table == nil {
				return s.errorf(p, "", "record before any TABLE line")
			}
			u.unseen = false
			return u.readRecord()
		case isWordByte(b):
			w, err := u.readWord()
			if err != nil {
				return err
			}
			if !strings.EqualFold(w, "TABLE") {
				return s.errorf(p, "", `expected "{" or TABLE, found %q`, excerpt([]byte(w)))
			}
			if err := u.readHeader(p); err != nil {
				return err
			}
		default:
			return s.errorf(p, "", `expected "{" or TABLE, found %q`, peekRune(u.s))
		}
	}
}

// skipBlank skips blanks; with newlines it also skips line ends and
// comments, else it stops at a line end.
func (u *userloadReader) skipBlank(newlines bool) error {
	s := u.s
	for {
		b, ok := s.peek()
		if !ok {
			return nil
		}
		switch {
		case b == ' ' || b == '\t' || b == '\r' || b == '\f' || b == '\v':
			s.skip()
		case b == '#':
			for {
				b, ok := s.peek()
				if !ok || b == '\n' {
					break
				}
				if b < utf8.RuneSelf {
					s.skip()
				} else if _, _, err := s.readRune(nil); err != nil {
					return err
				}
			}
		case b == '\n' && newlines:
			s.skip()
		default:
			return nil
		}
	}
}

// isWordByte reports whether b may start a bare word.
func isWordByte(b byte) bool {
	switch b {
	case ' ', '\t', '\r', '\n', '\f', '\v', '"', '{', '}', ',', '#':
		return false
	}
	return b >= 0x20 && b != 0x7f
}

// readWord reads a bare word: a run of characters up to a blank or one of
// the punctuation characters " { } ,.
func (u *userloadReader) readWord() (string, error) {
	s := u.s
	u.sb = u.sb[:0]
	for {
		b, ok := s.peek()
		if !ok || (!isWordByte(b) && b != '#') {
			return string(u.sb), nil
		}
		var err error
		if u.sb, _, err = s.readRune(u.sb); err != nil {
			return "", err
		}
	}
}

// readName reads a table or column name, bare or quoted.
func (u *userloadReader) readName(what string) (string, error) {
	s := u.s
	p := s.pos()
	b, _ := s.peek()
	var name string
	var err error
	if b == '"' {
		name, err = u.readQuoted()
	} else {
		name, err = u.readWord()
	}
	if err == nil && name == "" {
		err = s.errorf(p, "", "empty %s name", what)
	}
	if err == nil && strings.IndexByte(name, 0) >= 0 {
		err = s.errorf(p, "", "%s name holds a NUL character", what)
	}
	return name, err
}

// readHeader reads the rest of a TABLE line and the column line after it.
// p is the position of the TABLE keyword.
func (u *userloadReader) readHeader(p Pos) error {
	s := u.s
	if err := u.skipBlank(false); err != nil {
		return err
	}
	if b, ok := s.peek(); !ok || b == '\n' || (!isWordByte(b) && b != '"') {
		return s.errorf(p, "", "TABLE needs a table name on the same line")
	}
	name, err := u.readName("table")
	if err != nil {
		return err
	}
	if err := u.skipBlank(false); err != nil {
		return err
	}
	shared := false
	if b, ok := s.peek(); ok && b != '\n' {
		wp := s.pos()
		if !isWordByte(b) {
			return s.errorf(wp, "", "unexpected %q after the table name %s", peekRune(u.s), name)
		}
		w, err := u.readWord()
		if err != nil {
			return err
		}
		if !strings.EqualFold(w, sharedKeyword) {
			return s.errorf(wp, "", "unexpected %q after the table name %s", excerpt([]byte(w)), name)
		}
		if err := u.skipBlank(false); err != nil {
			return err
		}
		if b, ok := s.peek(); ok && b != '\n' {
			return s.errorf(s.pos(), "", "unexpected %q after TABLE %s SHARED", peekRune(u.s), name)
		}
		shared = true
	}
	if err := u.skipBlank(true); err != nil {
		return err
	}
	t := &Table{Name: name, Pos: p, Shared: shared}
	if b, ok := s.peek(); !ok || b == '{' {
		return s.errorf(s.pos(), "", "table %s has no line of column names", name)
	}
	seen := make(map[string]bool)
	for {
		if err := u.skipBlank(false); err != nil {
			return err
		}
		b, ok := s.peek()
		if !ok || b == '\n' {
			break
		}
		cp := s.pos()
		if !isWordByte(b) && b != '"' {
			return s.errorf(cp, "", "unexpected %q in the column names of table %s", peekRune(u.s), name)
		}
		col, err := u.readName("column")
		if err != nil {
			return err
		}
		if seen[col] {
			return s.errorf(cp, "", "duplicate column %s in table %s", col, name)
		}
		seen[col] = true
		t.Columns = append(t.Columns, col)
	}
	u.table, u.unseen = t, true
	return nil
}

// readRecord reads "{ value, ... }" into vals.
func (u *userloadReader) readRecord() error {
	s := u.s
	u.recPos = s.pos()
	s.skip() // {
	u.vals, u.fpos = u.row[:0], u.fpos[:0]
	defer func() { u.row = u.vals }()
	ncols := len(u.table.Columns)
	const (
		start = iota
		afterValue
		afterComma
	)
	state := start
	for {
		for {
			b, ok := s.peek()
			if !ok || !(b == ' ' || b == '\t' || b == '\r' || b == '\n' || b == '\f' || b == '\v') {
				break
			}
			s.skip()
		}
		b, ok := s.peek()
		if !ok {
			if s.err != nil {
				return s.err
			}
			return s.errorf(u.recPos, "", `record not closed: missing "}"`)
		}
		p := s.pos()
		switch {
		case b == '}':
			if state == afterComma {
				return s.errorf(p, "", `expected a value after ","`)
			}
			s.skip()
			if len(u.vals) != ncols {
				return s.errorf(u.recPos, "", "record has %s, table %s has %s",
					count(len(u.vals), "value"), u.table.Name, count(ncols, "column"))
			}
			return nil
		case b == ',':
			if state != afterValue {
				return s.errorf(p, "", `expected a value before ","`)
			}
			s.skip()
			state = afterComma
			continue
		case state == afterValue && (b == '"' || isWordByte(b)):
			return s.errorf(p, "", `missing "," between values`)
		case b == '"':
			v, err := u.readQuoted()
			if err != nil {
				return err
			}
			u.vals = append(u.vals, Value{Str: v})
			u.fpos = append(u.fpos, p)
		case isWordByte(b):
			w, err := u.readWord()
			if err != nil {
				return err
			}
			if !strings.EqualFold(w, "NULL") {
				return s.errorf(p, "", "values must be quoted or NULL, found %q", excerpt([]byte(w)))
			}
			u.vals = append(u.vals, Value{Null: true})
			u.fpos = append(u.fpos, p)
		default:
			return s.errorf(p, "", "unexpected %q in a record", peekRune(u.s))
		}
		state = afterValue
		if len(u.vals) > ncols {
			return s.errorf(u.recPos, "", "record has more values than the %s of table %s",
				count(ncols, "column"), u.table.Name)
		}
	}
}

// special marks the bytes that end the fast path through a quoted value.
var special = func() (t [2][256]bool) {
	for _, lit := range []int{0, 1} {
		t[lit]['"'] = true
		t[lit]['\n'] = true
		for b := utf8.RuneSelf; b < 256; b++ {
			t[lit][b] = true
		}
	}
	t[0]['\\'] = true
	return t
}()

// readQuoted reads a quoted string starting at the opening quote.
func (u *userloadReader) readQuoted() (string, error) {
	s := u.s
	start := s.pos()
	s.skip() // "
	sb := u.sb[:0]
	defer func() { u.sb = u.keep(sb) }()
	lit := 0
	if u.literal {
		lit = 1
	}
	spec := &special[lit]
	for {
		if !s.ensure(1) {
			if s.err != nil {
				return "", s.err
			}
			return "", s.errorf(start, u.head(sb), "unterminated quoted value")
		}
		chunk := s.buf[s.r:s.w]
		i := 0
		for i < len(chunk) && !spec[chunk[i]] {
			i++
		}
		sb = append(u.room(sb, i), chunk[:i]...)
		s.r += i
		s.col += i
		if u.held+len(sb) > u.maxLen {
			return "", s.errorf(start, u.head(sb), "quoted value longer than %d bytes", u.maxLen)
		}
		if i == len(chunk) {
			continue
		}
		var err error
		switch chunk[i] {
		case '"':
			s.skip()
			if !u.literal {
				return u.text(sb), nil
			}
			if b, ok := s.peek(); !ok || b != '"' {
				return u.text(sb), nil
			}
			s.skip()
			sb = append(sb, '"')
		case '\n':
			s.skip()
			sb = append(sb, '\n')
		case '\\':
			sb, err = u.readEscape(sb)
		default:
			sb, _, err = s.readRune(sb)
		}
		if err != nil {
			if err == io.ErrUnexpectedEOF {
				err = s.errorf(start, u.head(sb), "unterminated quoted value")
			}
			return "", err
		}
	}
}

// readEscape reads a backslash escape and appends the character it stands
// for to sb.
func (u *userloadReader) readEscape(sb []byte) ([]byte, error) {
	s := u.s
	p := s.pos()
	s.skip() // backslash
	b, ok := s.peek()
	if !ok {
		return sb, s.endErr()
	}
	switch b {
	case '"', '\\':
		sb = append(sb, b)
	case 'n':
		sb = append(sb, '\n')
	case 't':
		sb = append(sb, '\t')
	case 'r':
		sb = append(sb, '\r')
	case '0':
		s.ensure(4)
		d := s.buf[s.r:min(s.r+4, s.w)]
		if len(d) < 4 || !isOctal(d[1]) || !isOctal(d[2]) || !isOctal(d[3]) {
			return sb, s.errorf(p, `\`+string(d), `invalid octal escape: \0 must be followed by three octal digits`)
		}
		code := rune(d[1]-'0')<<6 | rune(d[2]-'0')<<3 | rune(d[3]-'0')
		s.r += 3
		s.col += 3
		sb = utf8.AppendRune(sb, code)
	default:
		c := peekRune(u.s)
		if c == string(utf8.RuneError) {
			c = fmt.Sprintf("\\x%02x", b)
		}
		return sb, s.errorf(p, "", `unknown escape \%s`, c)
	}
	s.skip()
	return sb, nil
}

func isOctal(b byte) bool { return '0' <= b && b <= '7' }
