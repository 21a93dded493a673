package datafile

import (
	"fmt"
	"io"
	"unicode/utf8"
)

// scanBufSize is the size of a scanner's read buffer. It bounds the memory a
// reader needs besides the values of the current record.
const scanBufSize = 64 << 10

// maxValueLen caps a single value (or quoted name). PostgreSQL cannot store
// a larger field anyway, and the cap keeps an unterminated quote from
// swallowing a whole file into memory.
const maxValueLen = 1 << 30

// scanner reads UTF-8 text from a stream, byte by byte or chunk by chunk,
// and tracks the line and column (in characters) of the next unread byte.
type scanner struct {
	src       io.Reader
	file      string
	buf       []byte
	r, w      int
	eof       bool
	err       error // first read error other than io.EOF
	line, col int
}

func newScanner(src io.Reader, file string) *scanner {
	s := &scanner{src: src, file: file, buf: make([]byte, scanBufSize), line: 1, col: 1}
	// Skip a UTF-8 byte order mark, as written by Windows tools.
	if s.ensure(3) && string(s.buf[:3]) == "\uFEFF" {
		s.r = 3
	}
	return s
}

// ensure tries to make n bytes available in buf[r:w] and reports whether it
// did. It is false at the end of input (or on a read error, kept in err).
func (s *scanner) ensure(n int) bool {
	zeroReads := 0
	for s.w-s.r < n {
		if s.eof || s.err != nil {
			return false
		}
		if s.r > 0 {
			s.w = copy(s.buf, s.buf[s.r:s.w])
			s.r = 0
		}
		m, err := s.src.Read(s.buf[s.w:])
		s.w += m
		switch {
		case err == io.EOF:
			s.eof = true
		case err != nil:
			s.err = fmt.Errorf("read %s: %w", s.file, err)
		case m == 0:
			if zeroReads++; zeroReads > 100 {
				s.err = fmt.Errorf("read %s: %w", s.file, io.ErrNoProgress)
			}
		}
	}
	return true
}

// peek returns the next byte without consuming it; ok is false at the end.
func (s *scanner) peek() (b byte, ok bool) {
	if !s.ensure(1) {
		return 0, false
	}
	return s.buf[s.r], true
}

// skip consumes one ASCII byte.
func (s *scanner) skip() {
	if s.buf[s.r] == '\n' {
		s.line++
		s.col = 1
	} else {
		s.col++
	}
	s.r++
}

// pos is the position of the next unread byte.
func (s *scanner) pos() Pos { return Pos{File: s.file, Line: s.line, Col: s.col} }

// errorf builds a *fault.PosError at p, followed by the excerpt (a short
// piece of the offending input) if there is one.
func (s *scanner) errorf(p Pos, excerpt string, format string, args ...any) error {
	if excerpt != "" {
		return errorAt(p, "%s (near %q)", fmt.Sprintf(format, args...), excerpt)
	}
	return errorAt(p, format, args...)
}

// readRune consumes one character, which may be multi-byte, and appends its
// bytes to dst. Invalid UTF-8 is a *fault.PosError at the offending byte.
func (s *scanner) readRune(dst []byte) ([]byte, rune, error) {
	if !s.ensure(1) {
		return dst, 0, s.endErr()
	}
	if b := s.buf[s.r]; b < utf8.RuneSelf {
		s.skip()
		return append(dst, b), rune(b), nil
	}
	s.ensure(utf8.UTFMax)
	r, size := utf8.DecodeRune(s.buf[s.r:s.w])
	if r == utf8.RuneError && size <= 1 {
		return dst, 0, s.errorf(s.pos(), "", "invalid UTF-8 byte 0x%02x", s.buf[s.r])
	}
	dst = append(dst, s.buf[s.r:s.r+size]...)
	s.r += size
	s.col++
	return dst, r, nil
}

// endErr is the error to report when input ends: the read error if any,
// else io.ErrUnexpectedEOF (callers that expect an end test for it first).
func (s *scanner) endErr() error {
	if s.err != nil {
		return s.err
	}
	return io.ErrUnexpectedEOF
}

// isEnd reports whether the input ended cleanly.
func (s *scanner) isEnd() bool { return !s.ensure(1) && s.err == nil }

// excerpt shortens b to a few characters for an error message.
func excerpt(b []byte) string {
	const max = 20
	n := 0
	for i := range string(b) {
		if n == max {
			return string(b[:i]) + "..."
		}
		n++
	}
	return string(b)
}

// count spells n things, as in "1 value" or "3 values".
func count(n int, thing string) string {
	if n == 1 {
		return "1 " + thing
	}
	return fmt.Sprintf("%d %ss", n, thing)
}
