package load

import (
	"context"
	"fmt"
	"io"
	"os"
	"slices"

	"github.com/tenantkit/tenantkit/datafile"
	"github.com/tenantkit/tenantkit/internal/fault"
	"github.com/tenantkit/tenantkit/schema"
)

// batchSize is the number of records handed from the reader to the copier
// at once; queueDepth bounds how many batches wait between them.
const (
	batchSize  = 2000
	queueDepth = 4
)

// record is one row of a data file, with its run-wide sequence number.
type record struct {
	vals []datafile.Value
	pos  datafile.Pos
	n    int64
}

// section is a run of records of one table in one file.
type section struct {
	file    int // index into Options.Files
	ordinal int // the section's number within its file, from 0
	table   *datafile.Table
	obj     *schema.Object
	cols    []*schema.Column
	first   datafile.Pos
}

// batch is a slice of consecutive records of one section.
type batch struct {
	sec  *section
	recs []record
}

// sectionReader reads every file in order and emits batches.
type sectionReader struct {
	files  []string
	opts   datafile.Options
	schema *schema.Schema
	// records numbers the records read, across files and re-reads.
	records int64
	onByte  func(int64)
	onRows  func(int64)
	// stdinCopy receives what is read from opts.Stdin, so that its sections
	// can be read again; nil when no file is "-".
	stdinCopy *os.File
	// onBad, when set, receives the sections that cannot be loaded, which
	// are then skipped (Options.SkipBadSections); nil stops at the first.
	onBad func(BadSection)
}

// run reads all files into out and closes it.
func (sr *sectionReader) run(ctx context.Context, out chan<- batch) error {
	defer close(out)
	for i, path := range sr.files {
		err := sr.readFile(ctx, i, path, -1, func(b batch) error {
			select {
			case out <- b:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// readFile streams one file. With only >= 0 it emits only the section of
// that ordinal (a re-read after a failed fast path).
func (sr *sectionReader) readFile(ctx context.Context, fileIdx int, path string, only int, emit func(batch) error) error {
	r, err := sr.open(path, only < 0)
	if err != nil {
		return fault.Usage(fmt.Errorf("%s: %w", path, err))
	}
	defer r.Close()
	var (
		cur     *section
		curT    *datafile.Table
		ordinal = -1
		b       batch
	)
	flush := func() error {
		if len(b.recs) == 0 {
			return nil
		}
		if sr.onRows != nil {
			sr.onRows(int64(len(b.recs)))
		}
		err := emit(b)
		b = batch{sec: cur}
		return err
	}
	for r.Next() {
		if t := r.Table(); t != curT {
			if err := flush(); err != nil {
				return err
			}
			curT, ordinal = t, ordinal+1
			cur = nil
			if only < 0 || ordinal == only {
				var bad []BadSection
				if cur, bad = sr.resolve(fileIdx, ordinal, t, r.Pos()); len(bad) > 0 {
					if sr.onBad == nil {
						return fault.Usage(&badSectionError{bad[0]})
					}
					for _, b := range bad {
						sr.onBad(b)
					}
					cur = nil // skipped
				}
			}
			b = batch{sec: cur}
		}
		if only >= 0 && ordinal > only {
			break
		}
		if cur == nil || r.Values() == nil {
			continue // not the section re-read, or a table without rows (resolved all the same)
		}
		sr.records++
		vals := make([]datafile.Value, len(r.Values()))
		copy(vals, r.Values())
		b.recs = append(b.recs, record{vals: vals, pos: r.Pos(), n: sr.records})
		if len(b.recs) == batchSize {
			if err := flush(); err != nil {
				return err
			}
			if err := ctx.Err(); err != nil {
				return err
			}
		}
	}
	if err := r.Err(); err != nil {
		return err // a *datafile.SyntaxError is classified as bad input
	}
	return flush()
}

// open opens a data file, counting the bytes read when count is set and the
// format is a stream.
func (sr *sectionReader) open(path string, count bool) (datafile.Reader, error) {
	format, err := datafile.DetectFormat(path, sr.opts.Format)
	if err != nil {
		return nil, err
	}
	opts := sr.opts
	opts.Format = format
	if !count {
		opts.OnLenientQuote = nil // a re-read: the fields were counted the first time
	}
	if path == "-" && sr.stdinCopy != nil {
		return sr.openStdin(count, opts)
	}
	fi, statErr := os.Stat(path)
	if format == datafile.XLSX || path == "-" || statErr != nil || !fi.Mode().IsRegular() || !count {
		return datafile.Open(path, opts)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	r, err := datafile.NewReader(&countingReader{r: f, sr: sr}, path, opts)
	if err != nil {
		f.Close()
		return nil, err
	}
	return &closingReader{Reader: r, c: f}, nil
}

// openStdin reads opts.Stdin the first time, keeping a copy of it in stdinCopy,
// and that copy when a section must be read again.
func (sr *sectionReader) openStdin(first bool, opts datafile.Options) (datafile.Reader, error) {
	if first {
		if opts.Stdin == nil {
			return nil, datafile.ErrNoStdin
		}
		return datafile.NewReader(&countingReader{r: io.TeeReader(opts.Stdin, sr.stdinCopy), sr: sr}, "-", opts)
	}
	f, err := os.Open(sr.stdinCopy.Name())
	if err != nil {
		return nil, err
	}
	r, err := datafile.NewReader(f, "-", opts)
	if err != nil {
		f.Close()
		return nil, err
	}
	return &closingReader{Reader: r, c: f}, nil
}

// resolve finds the object and columns of a section: an unknown table or
// column, or a generated or repeated column, is bad input. It returns
// every problem of the section.
func (sr *sectionReader) resolve(fileIdx, ordinal int, t *datafile.Table, pos datafile.Pos) (*section, []BadSection) {
	if t.Pos.Line > 0 {
		pos = t.Pos // the header names the table and its columns
	}
	where := fmt.Sprintf("%s:%d:%d", pos.File, pos.Line, pos.Col)
	bad := func(problem, column, format string, args ...any) BadSection {
		return BadSection{Pos: pos, Table: t.Name, Column: column, Problem: problem, Message: where + ": " + fmt.Sprintf(format, args...)}
	}
	obj := sr.schema.Object(t.Name)
	if obj == nil {
		return nil, []BadSection{bad(UnknownTable, "", "unknown table %q (not in schema %q)", t.Name, sr.schema.DBSchema)}
	}
	sec := &section{file: fileIdx, ordinal: ordinal, table: t, obj: obj, first: pos}
	var problems []BadSection
	seen := map[string]bool{}
	for _, name := range t.Columns {
		c := obj.Column(name)
		switch {
		case c == nil:
			problems = append(problems, bad(UnknownColumn, name, "table %q has no column %q", obj.Table, name))
		case c.Generated:
			problems = append(problems, bad(GeneratedColumn, name, "column %q of table %q is generated and cannot be loaded", name, obj.Table))
		case seen[name]:
			problems = append(problems, bad(RepeatedColumn, name, "column %q appears twice in the header of table %q", name, obj.Table))
		default:
			sec.cols = append(sec.cols, c)
		}
		seen[name] = true
	}
	return sec, problems
}

type countingReader struct {
	r  io.Reader
	sr *sectionReader
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if c.sr.onByte != nil {
		c.sr.onByte(int64(n))
	}
	return n, err
}

// closingReader closes the file under a reader built with NewReader.
type closingReader struct {
	datafile.Reader
	c io.Closer
}

func (r *closingReader) Close() error {
	err := r.Reader.Close()
	if cerr := r.c.Close(); err == nil {
		err = cerr
	}
	return err
}

// batchStream hands batches to the copier one section at a time.
type batchStream struct {
	ch     <-chan batch
	peeked *batch
}

// next returns the next batch, if any.
func (s *batchStream) next() (batch, bool) {
	if s.peeked != nil {
		b := *s.peeked
		s.peeked = nil
		return b, true
	}
	b, ok := <-s.ch
	return b, ok
}

// nextOf returns the next batch if it belongs to sec, else keeps it back.
func (s *batchStream) nextOf(sec *section) (batch, bool) {
	b, ok := s.next()
	if !ok {
		return batch{}, false
	}
	if b.sec != sec {
		s.peeked = &b
		return batch{}, false
	}
	return b, true
}

// fieldKey names one field of one record: the record's file and position,
// its table, and the column.
type fieldKey struct {
	rec    recordKey
	column string
}

// recordKey names a record by its file, its position and its table (the
// sheets of a workbook number their rows alike).
type recordKey struct {
	file, line, col int
	table           string
}

// fieldPositions reads the files again to find where the fields named in
// want start (see datafile.Reader.FieldPos), stopping in each file after
// the last record wanted. Fields it does not find (a column that is not in
// the file) are left out; on an error, what was found before it is
// returned with it.
func (sr *sectionReader) fieldPositions(ctx context.Context, want []fieldKey) (map[fieldKey]datafile.Pos, error) {
	byRec := map[recordKey][]string{}
	perFile := map[int]int{}
	for _, k := range want {
		if byRec[k.rec] == nil {
			perFile[k.rec.file]++
		}
		byRec[k.rec] = append(byRec[k.rec], k.column)
	}
	found := make(map[fieldKey]datafile.Pos, len(want))
	for fileIdx, path := range sr.files {
		if perFile[fileIdx] > 0 {
			if err := sr.fieldPositionsIn(ctx, fileIdx, path, byRec, perFile[fileIdx], found); err != nil {
				return found, err
			}
		}
	}
	return found, nil
}

// fieldPositionsIn reads one file for fieldPositions; left counts the
// records wanted in it.
func (sr *sectionReader) fieldPositionsIn(ctx context.Context, fileIdx int, path string, byRec map[recordKey][]string, left int, found map[fieldKey]datafile.Pos) error {
	r, err := sr.open(path, false)
	if err != nil {
		return fault.Usage(fmt.Errorf("%s: %w", path, err))
	}
	defer r.Close()
	var (
		curT  *datafile.Table
		table string
		n     int
	)
	for left > 0 && r.Next() {
		if n++; n%batchSize == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		if t := r.Table(); t != curT {
			curT, table = t, ""
			if obj := sr.schema.Object(t.Name); obj != nil {
				table = obj.Table
			}
		}
		if r.Values() == nil || table == "" {
			continue
		}
		p := r.Pos()
		rk := recordKey{file: fileIdx, line: p.Line, col: p.Col, table: table}
		columns, ok := byRec[rk]
		if !ok {
			continue
		}
		delete(byRec, rk)
		left--
		for _, name := range columns {
			if i := slices.Index(curT.Columns, name); i >= 0 {
				found[fieldKey{rec: rk, column: name}] = r.FieldPos(i)
			}
		}
	}
	return r.Err()
}
