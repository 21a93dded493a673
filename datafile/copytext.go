package datafile

import (
	"bytes"
	"fmt"
	"strings"
	"unsafe"
)

// CopyDecoder turns the output of COPY … TO STDOUT in text format into rows.
// It is an io.Writer so that pgconn.CopyTo can stream into it: the server
// sends one row per message, but the decoder does not rely on that and joins
// rows split across writes.
//
// Text format: fields separated by tabs, rows ended by a newline, \N alone
// is NULL, and backslash escapes (\b \f \n \r \t \v \\, octal \NNN, hex \xHH,
// any other \c meaning c) stand for the bytes the format cannot carry raw.
type CopyDecoder struct {
	ncols int
	// emit receives each row; it must not keep the values after it
	// returns.
	emit    func([]Value) error
	vals    []Value
	partial []byte
	rows    int64
}

// NewCopyDecoder decodes rows of ncols fields, passing each to emit.
func NewCopyDecoder(ncols int, emit func([]Value) error) *CopyDecoder {
	return &CopyDecoder{ncols: ncols, emit: emit, vals: make([]Value, ncols)}
}

// Write decodes every complete row in p and keeps the rest for the next call.
func (d *CopyDecoder) Write(p []byte) (int, error) {
	n := len(p)
	if len(d.partial) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			d.partial = append(d.partial, p...)
			return n, nil
		}
		d.partial = append(d.partial, p[:i]...)
		if err := d.row(d.partial); err != nil {
			return 0, err
		}
		d.partial = d.partial[:0]
		p = p[i+1:]
	}
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			d.partial = append(d.partial, p...)
			break
		}
		if err := d.row(p[:i]); err != nil {
			return 0, err
		}
		p = p[i+1:]
	}
	return n, nil
}

// Rows counts the rows decoded so far.
func (d *CopyDecoder) Rows() int64 { return d.rows }

// Close reports a row left unfinished at the end of the data.
func (d *CopyDecoder) Close() error {
	if len(d.partial) > 0 {
		return fmt.Errorf("COPY data ends inside row %d", d.rows+1)
	}
	return nil
}

// row decodes one line. Fields without escapes are substrings of the line,
// viewed as a string without copying: they are valid only until emit
// returns, which the writers honour (they copy each row into their own
// buffer), and save an allocation and a copy per row.
func (d *CopyDecoder) row(line []byte) error {
	d.rows++
	var s string
	if len(line) > 0 {
		s = unsafe.String(&line[0], len(line))
	}
	col := 0
	for {
		i := strings.IndexByte(s, '\t')
		field := s
		if i >= 0 {
			field = s[:i]
		}
		if col == d.ncols {
			return fmt.Errorf("COPY row %d has more than %d fields", d.rows, d.ncols)
		}
		v, err := decodeField(field)
		if err != nil {
			return fmt.Errorf("COPY row %d field %d: %w", d.rows, col+1, err)
		}
		d.vals[col] = v
		col++
		if i < 0 {
			break
		}
		s = s[i+1:]
	}
	if col != d.ncols {
		return fmt.Errorf("COPY row %d has %d fields, want %d", d.rows, col, d.ncols)
	}
	return d.emit(d.vals)
}

// decodeField decodes one text-format field.
func decodeField(f string) (Value, error) {
	if f == `\N` {
		return Value{Null: true}, nil
	}
	if strings.IndexByte(f, '\\') < 0 {
		return Value{Str: f}, nil
	}
	b := make([]byte, 0, len(f))
	for i := 0; i < len(f); i++ {
		c := f[i]
		if c != '\\' {
			b = append(b, c)
			continue
		}
		i++
		if i == len(f) {
			return Value{}, fmt.Errorf("field ends with a lone backslash")
		}
		switch c = f[i]; c {
		case 'b':
			b = append(b, '\b')
		case 'f':
			b = append(b, '\f')
		case 'n':
			b = append(b, '\n')
		case 'r':
			b = append(b, '\r')
		case 't':
			b = append(b, '\t')
		case 'v':
			b = append(b, '\v')
		case 'x':
			v, n := 0, 0
			for n < 2 && i+1 < len(f) && isHex(f[i+1]) {
				i++
				v = v<<4 | hexVal(f[i])
				n++
			}
			if n == 0 {
				b = append(b, 'x')
			} else {
				b = append(b, byte(v))
			}
		case '0', '1', '2', '3', '4', '5', '6', '7':
			v := int(c - '0')
			for n := 1; n < 3 && i+1 < len(f) && f[i+1] >= '0' && f[i+1] <= '7'; n++ {
				i++
				v = v<<3 | int(f[i]-'0')
			}
			b = append(b, byte(v))
		default:
			b = append(b, c)
		}
	}
	return Value{Str: string(b)}, nil
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func hexVal(c byte) int {
	switch {
	case c <= '9':
		return int(c - '0')
	case c >= 'a':
		return int(c-'a') + 10
	default:
		return int(c-'A') + 10
	}
}

// AppendCopyText appends s escaped for COPY's text format, the inverse of
// the decoder: a backslash and the characters that separate fields and rows
// are written as escapes, so no value can end a field or become \N.
func AppendCopyText(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\':
			b = append(b, '\\', '\\')
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		default:
			b = append(b, c)
		}
	}
	return b
}
