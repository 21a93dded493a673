package datafile

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"golang.org/x/text/encoding"
)

// csvDirWriter writes each table to its own file, DIR/TABLE.csv.
type csvDirWriter struct {
	dir   string
	null  *string
	enc   encoding.Encoding
	cur   *csvWriter
	files map[string]bool
}

func newCSVDirWriter(dir string, null *string, enc encoding.Encoding) (*csvDirWriter, error) {
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return nil, fmt.Errorf("csv: %w", err)
	}
	return &csvDirWriter{dir: dir, null: null, enc: enc, files: make(map[string]bool)}, nil
}

func (d *csvDirWriter) BeginTable(t *Table) error {
	if err := checkTable(t); err != nil {
		return fmt.Errorf("csv: %w", err)
	}
	if t.Name == "." || t.Name == ".." || strings.ContainsAny(t.Name, "/\\\x00") {
		return fmt.Errorf("csv: table name %q cannot be a file name in %s", t.Name, d.dir)
	}
	if d.files[t.Name] {
		return fmt.Errorf("csv: table %s written twice to %s", t.Name, d.dir)
	}
	if err := d.closeCurrent(); err != nil {
		return err
	}
	path := filepath.Join(d.dir, t.Name+".csv")
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("csv: %w", err)
	}
	d.files[t.Name] = true
	d.cur = newCSVWriter(f, path, d.null, d.enc, f)
	return d.cur.BeginTable(t)
}

func (d *csvDirWriter) WriteRow(vals []Value) error {
	if d.cur == nil {
		return fmt.Errorf("csv: row written before any table")
	}
	return d.cur.WriteRow(vals)
}

func (d *csvDirWriter) closeCurrent() error {
	if d.cur == nil {
		return nil
	}
	err := d.cur.Close()
	d.cur = nil
	return err
}

func (d *csvDirWriter) Close() error { return d.closeCurrent() }

// csvDirReader reads the .csv files of a directory in name order, each as a
// table named after its file.
type csvDirReader struct {
	files []string
	opts  Options
	cur   Reader
	err   error
}

func openCSVDir(dir string, opts Options) (*csvDirReader, error) {
	if opts.Table != "" {
		return nil, fmt.Errorf("csv: %s is a directory: a table name applies to one CSV file", dir)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("csv: %w", err)
	}
	var files []string
	for _, e := range entries {
		if !e.IsDir() && strings.EqualFold(filepath.Ext(e.Name()), ".csv") {
			files = append(files, filepath.Join(dir, e.Name()))
		}
	}
	sort.Strings(files)
	opts.Format = CSV
	return &csvDirReader{files: files, opts: opts}, nil
}

func (d *csvDirReader) Next() bool {
	for d.err == nil {
		if d.cur != nil && d.cur.Next() {
			return true
		}
		if d.cur != nil {
			d.err = d.cur.Err()
			if cerr := d.cur.Close(); d.err == nil {
				d.err = cerr
			}
			d.cur = nil
			if d.err != nil {
				return false
			}
		}
		if len(d.files) == 0 {
			return false
		}
		d.cur, d.err = Open(d.files[0], d.opts)
		d.files = d.files[1:]
	}
	return false
}

func (d *csvDirReader) Table() *Table {
	if d.cur == nil {
		return nil
	}
	return d.cur.Table()
}

func (d *csvDirReader) Values() []Value {
	if d.cur == nil {
		return nil
	}
	return d.cur.Values()
}

func (d *csvDirReader) Pos() Pos {
	if d.cur == nil {
		return Pos{}
	}
	return d.cur.Pos()
}

func (d *csvDirReader) FieldPos(i int) Pos {
	if d.cur == nil {
		return Pos{}
	}
	return d.cur.FieldPos(i)
}

func (d *csvDirReader) Err() error { return d.err }

func (d *csvDirReader) Close() error {
	d.files = nil
	if d.cur == nil {
		return nil
	}
	err := d.cur.Close()
	d.cur = nil
	return err
}
