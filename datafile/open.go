package datafile

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/text/transform"
)

// Options control how a data file is read or written. The zero value reads
// and writes UTF-8 files whose format follows from the file name.
type Options struct {
	// Format is the file format; empty means: from the file name (see
	// DetectFormat).
	Format Format
	// LiteralBackslash makes backslashes ordinary characters inside
	// userload values (userload -e); a double quote is then written twice.
	LiteralBackslash bool
	// Encoding names the text encoding of userload and CSV files, such as
	// "latin1", "windows-1252" or "utf-8" (the default). Readers convert
	// from it to UTF-8 and writers from UTF-8 to it. XLSX files are always
	// Unicode.
	Encoding string
	// Null is the CSV text that means NULL when unquoted. Nil means the
	// unquoted empty field; with a marker set, the unquoted empty field is
	// the empty string.
	Null *string
	// Table names the table of a CSV file being read; the default is the
	// file's base name without its extension.
	Table string
	// NullQuoted makes a quoted CSV field equal to the NULL marker NULL
	// too, as COPY's FORCE_NULL does for every column: with the default
	// marker, "" is NULL (as Python's csv module writes None under
	// QUOTE_ALL), and the empty string cannot be written.
	NullQuoted bool
	// LenientQuotes accepts a double quote inside an unquoted CSV field as
	// an ordinary character (x"y reads as x"y), as Python's csv reader and
	// PostgreSQL's COPY do, instead of reporting it as malformed.
	LenientQuotes bool
	// OnLenientQuote, when set, is called with the position of every field
	// that LenientQuotes accepted.
	OnLenientQuote func(Pos)
	// Stdin is what Open reads for the path "-" (a command passes its
	// standard input); nil makes "-" an ErrNoStdin error.
	Stdin io.Reader
	// Stdout is what Create writes for the path "-"; nil makes "-" an
	// ErrNoStdout error.
	Stdout io.Writer
}

// ErrNoStdin and ErrNoStdout are the errors for the path "-" when Options
// give no Stdin or Stdout.
var (
	ErrNoStdin  = errors.New(`"-" means standard input, and none was given (Options.Stdin is nil)`)
	ErrNoStdout = errors.New(`"-" means standard output, and none was given (Options.Stdout is nil)`)
)

// DetectFormat returns the format of the file at path. A non-empty explicit
// format (a --format flag) wins and must name a known format. Otherwise the
// extension decides: .csv is CSV, .xlsx is XLSX, and anything else (.dat,
// .txt, none) is userload; a directory, or a path ending in a separator,
// means one CSV file per table.
func DetectFormat(path string, explicit Format) (Format, error) {
	if explicit != "" {
		switch f := Format(strings.ToLower(string(explicit))); f {
		case Userload, CSV, XLSX:
			return f, nil
		}
		return "", fmt.Errorf("unknown format %q (want userload, csv or xlsx)", explicit)
	}
	if path == "-" {
		return Userload, nil
	}
	if strings.HasSuffix(path, "/") || strings.HasSuffix(path, string(filepath.Separator)) {
		return CSV, nil
	}
	switch strings.ToLower(filepath.Ext(path)) {
	case ".csv":
		return CSV, nil
	case ".xlsx":
		return XLSX, nil
	case ".dat", ".txt":
		return Userload, nil
	}
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		return CSV, nil
	}
	return Userload, nil
}

// Open opens the data file at path for reading; "-" is opts.Stdin.
// A directory is read as one table per .csv file, in name order.
func Open(path string, opts Options) (Reader, error) {
	format, err := DetectFormat(path, opts.Format)
	if err != nil {
		return nil, err
	}
	opts.Format = format
	if path != "-" {
		if fi, err := os.Stat(path); err == nil && fi.IsDir() {
			if format != CSV {
				return nil, fmt.Errorf("%s is a directory; only CSV is read from a directory", path)
			}
			return openCSVDir(path, opts)
		}
	}
	if path == "-" {
		if opts.Stdin == nil {
			return nil, ErrNoStdin
		}
		if format == XLSX {
			return newXLSXReader(opts.Stdin, path, opts)
		}
		return newReader(opts.Stdin, path, opts, nil)
	}
	if format == XLSX {
		return openXLSX(path, opts)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	r, err := newReader(f, path, opts, f)
	if err != nil {
		f.Close()
	}
	return r, err
}

// NewReader reads a data file from r. Name stands for the file in positions
// and is the default table name of a CSV file. The format must be given in
// opts or follow from name. Closing the Reader does not close r.
func NewReader(r io.Reader, name string, opts Options) (Reader, error) {
	format, err := DetectFormat(name, opts.Format)
	if err != nil {
		return nil, err
	}
	opts.Format = format
	if format == XLSX {
		return newXLSXReader(r, name, opts)
	}
	return newReader(r, name, opts, nil)
}

// newReader builds a userload or CSV reader on r.
func newReader(r io.Reader, name string, opts Options, closer io.Closer) (Reader, error) {
	enc, err := lookupEncoding(opts.Encoding)
	if err != nil {
		return nil, err
	}
	if enc != nil {
		r = transform.NewReader(r, enc.NewDecoder())
	}
	switch opts.Format {
	case CSV:
		if err := checkNullMarker(opts.Null); err != nil {
			return nil, err
		}
		table := opts.Table
		if table == "" {
			base := filepath.Base(name)
			table = strings.TrimSuffix(base, filepath.Ext(base))
			if name == "-" || table == "" {
				table = "stdin"
			}
		}
		c := newCSVReader(r, name, table, opts.Null, closer)
		c.nullQuoted, c.lenient, c.onLenient = opts.NullQuoted, opts.LenientQuotes, opts.OnLenientQuote
		return c, nil
	case Userload:
		return newUserloadReader(r, name, opts.LiteralBackslash, closer), nil
	}
	return nil, fmt.Errorf("unknown format %q", opts.Format)
}

// Create creates (or truncates) the data file at path for writing; "-" is
// opts.Stdout. For CSV, a path that is a directory or ends in a
// separator receives one TABLE.csv file per table (the directory is created
// if need be); a plain CSV file holds one table.
func Create(path string, opts Options) (Writer, error) {
	format, err := DetectFormat(path, opts.Format)
	if err != nil {
		return nil, err
	}
	opts.Format = format
	if format == CSV && path != "-" {
		isDir := strings.HasSuffix(path, "/") || strings.HasSuffix(path, string(filepath.Separator))
		if fi, err := os.Stat(path); err == nil && fi.IsDir() {
			isDir = true
		}
		if isDir {
			enc, err := lookupEncoding(opts.Encoding)
			if err != nil {
				return nil, err
			}
			if err := checkNullMarker(opts.Null); err != nil {
				return nil, err
			}
			return newCSVDirWriter(path, opts.Null, enc)
		}
	}
	if err := checkWriterOptions(opts); err != nil {
		return nil, err
	}
	if path == "-" {
		if opts.Stdout == nil {
			return nil, ErrNoStdout
		}
		return newWriter(opts.Stdout, "standard output", opts, nil)
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	w, err := newWriter(f, path, opts, f)
	if err != nil {
		f.Close()
	}
	return w, err
}

// NewWriter writes a data file of format opts.Format (userload if empty) to
// w. Closing the Writer flushes it but does not close w.
func NewWriter(w io.Writer, opts Options) (Writer, error) {
	if opts.Format == "" {
		opts.Format = Userload
	}
	format, err := DetectFormat("", opts.Format)
	if err != nil {
		return nil, err
	}
	opts.Format = format
	if err := checkWriterOptions(opts); err != nil {
		return nil, err
	}
	return newWriter(w, "output", opts, nil)
}

func checkWriterOptions(opts Options) error {
	if _, err := lookupEncoding(opts.Encoding); err != nil {
		return err
	}
	if opts.Format == CSV {
		return checkNullMarker(opts.Null)
	}
	return nil
}

func newWriter(w io.Writer, name string, opts Options, closer io.Closer) (Writer, error) {
	enc, _ := lookupEncoding(opts.Encoding)
	switch opts.Format {
	case CSV:
		return newCSVWriter(w, name, opts.Null, enc, closer), nil
	case XLSX:
		if enc != nil {
			return nil, errors.New("xlsx: workbooks are always Unicode; an encoding applies only to userload and CSV")
		}
		return newXLSXWriter(w, closer), nil
	default:
		return newUserloadWriter(w, opts.LiteralBackslash, enc, closer), nil
	}
}

// Copy copies every row of src to dst, starting a new table in dst each time
// the table of src changes, and returns the number of rows copied. It closes
// neither. Errors carry the position of the row in src. A table without
// rows is begun in dst all the same, so its header survives.
func Copy(dst Writer, src Reader) (rows int64, err error) {
	var cur *Table
	for src.Next() {
		if t := src.Table(); t != cur {
			if err := dst.BeginTable(t); err != nil {
				return rows, fmt.Errorf("%s: %w", src.Pos(), err)
			}
			cur = t
		}
		if src.Values() == nil {
			continue // a table without rows
		}
		if err := dst.WriteRow(src.Values()); err != nil {
			return rows, fmt.Errorf("%s: %w", src.Pos(), err)
		}
		rows++
	}
	return rows, src.Err()
}
