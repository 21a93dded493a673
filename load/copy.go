package load

import (
	"errors"
	"io"
	"strconv"
	"strings"

	"github.com/tenantkit/tenantkit/datafile"
)

// errNulInValue stops a fast-path COPY: PostgreSQL text cannot hold NUL, and
// the staging path turns the record into a positioned reject.
var errNulInValue = errors.New("a value holds a NUL character")

// nulReject is a record with a NUL character, found while staging.
type nulReject struct {
	rec    record
	file   int
	column string
	value  string
	grp    *group
}

// stageSource feeds one section to a binary COPY into its staging table:
// the record's number and position, then its values as text.
type stageSource struct {
	stream *batchStream
	sec    *section
	grp    *group
	cur    batch
	i      int
	vals   []any
	rows   int64
	nuls   []nulReject
}

func (s *stageSource) Next() bool {
	for s.i >= len(s.cur.recs) {
		b, ok := s.stream.nextOf(s.sec)
		if !ok {
			return false
		}
		s.cur, s.i = b, 0
	}
	rec := s.cur.recs[s.i]
	s.i++
	s.rows++
	if s.vals == nil {
		s.vals = make([]any, auxColumns+len(s.grp.cols))
	}
	s.vals[0], s.vals[1], s.vals[2], s.vals[3] = rec.n, int32(s.sec.file), int32(rec.pos.Line), int32(rec.pos.Col)
	for j := range s.grp.cols {
		switch v := s.grp.value(rec, j); {
		case v.Null:
			s.vals[auxColumns+j] = nil
		case strings.IndexByte(v.Str, 0) >= 0:
			s.nuls = append(s.nuls, nulReject{rec: rec, file: s.sec.file, column: s.grp.cols[j].Name, value: v.Str, grp: s.grp})
			s.vals[auxColumns+j] = nil
		default:
			s.vals[auxColumns+j] = v.Str
		}
	}
	return true
}

func (s *stageSource) Values() ([]any, error) { return s.vals, nil }
func (s *stageSource) Err() error             { return nil }

// textCopySource encodes one section in COPY's text format for a fast-path
// COPY straight into the target table; the server parses every value with
// the column type's own input function, exactly as psql's \copy does.
type textCopySource struct {
	// nul is set when the source stopped the COPY with errNulInValue.
	nul    bool
	stream *batchStream
	sec    *section
	grp    *group
	aux    bool // lead each row with the record's number and position
	buf    []byte
	off    int
	rows   int64
	done   bool
}

func (s *textCopySource) Read(p []byte) (int, error) {
	for s.off >= len(s.buf) {
		if s.done {
			return 0, io.EOF
		}
		s.buf, s.off = s.buf[:0], 0
		b, ok := s.stream.nextOf(s.sec)
		if !ok {
			s.done = true
			return 0, io.EOF
		}
		for _, rec := range b.recs {
			s.rows++
			if s.aux {
				s.buf = strconv.AppendInt(s.buf, rec.n, 10)
				s.buf = append(s.buf, '\t')
				s.buf = strconv.AppendInt(s.buf, int64(s.sec.file), 10)
				s.buf = append(s.buf, '\t')
				s.buf = strconv.AppendInt(s.buf, int64(rec.pos.Line), 10)
				s.buf = append(s.buf, '\t')
				s.buf = strconv.AppendInt(s.buf, int64(rec.pos.Col), 10)
				s.buf = append(s.buf, '\t')
			}
			for j := range s.grp.cols {
				v := s.grp.value(rec, j)
				if j > 0 {
					s.buf = append(s.buf, '\t')
				}
				if v.Null {
					s.buf = append(s.buf, `\N`...)
					continue
				}
				if strings.IndexByte(v.Str, 0) >= 0 {
					s.nul = true
					return 0, errNulInValue
				}
				s.buf = datafile.AppendCopyText(s.buf, v.Str)
			}
			s.buf = append(s.buf, '\n')
		}
	}
	n := copy(p, s.buf[s.off:])
	s.off += n
	return n, nil
}
