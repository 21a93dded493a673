package extract

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/tenantkit/tenantkit/datafile"
	"github.com/tenantkit/tenantkit/internal/fault"
)

// outputFile is where a run writes. Files are written under a temporary
// name next to the target and renamed into place by commit, so that a
// failed or killed run leaves no partial file behind (and an earlier file
// of the same name untouched).
type outputFile struct {
	format datafile.Format
	target string // "" for standard output
	tmp    string // the temporary file, or directory in directory mode
	dir    bool   // one CSV file per table in the target directory
	w      datafile.Writer
	done   bool
}

// openOutput opens the output for a run writing n tables.
func openOutput(out Output, n int) (*outputFile, error) {
	path := out.Path
	if path == "-" {
		path = ""
	}
	format, err := datafile.DetectFormat(path, out.Format)
	if err != nil {
		return nil, fault.Usage(err)
	}
	f := &outputFile{format: format, target: path}
	if path == "" {
		if format == datafile.CSV && n > 1 {
			return nil, fault.Usagef("%d tables as CSV need a directory: give a directory as Output.Path", n)
		}
		if out.Stdout == nil {
			return nil, fault.Usagef(`the output "-" is standard output, and none was given (Output.Stdout is nil)`)
		}
		if f.w, err = datafile.NewWriter(out.Stdout, datafile.Options{Format: format}); err != nil {
			return nil, fault.Usage(err)
		}
		return f, nil
	}
	fi, statErr := os.Stat(path)
	isDir := statErr == nil && fi.IsDir()
	toDir := isDir || strings.HasSuffix(path, string(filepath.Separator)) || strings.HasSuffix(path, "/")
	if format == datafile.CSV && n > 1 && !toDir && strings.EqualFold(filepath.Ext(path), ".csv") {
		return nil, fault.Usagef("%d tables as CSV need a directory, and %s names a file: give a directory as Output.Path", n, path)
	}
	if format == datafile.CSV && (n > 1 || toDir) {
		return f.openDir(path, statErr == nil && !isDir)
	}
	if isDir {
		return nil, fault.Usagef("output %s is a directory; only CSV is written to a directory", path)
	}
	a, err := datafile.CreateAtomic(path)
	if err != nil {
		return nil, fault.Usage(fmt.Errorf("output %s: %w", path, err))
	}
	f.tmp = a.Temp
	if f.w, err = datafile.Create(f.tmp, datafile.Options{Format: format}); err != nil {
		a.Abort()
		return nil, fault.Usage(fmt.Errorf("output %s: %w", path, err))
	}
	return f, nil
}

// openDir prepares directory mode: the tables are written into a temporary
// directory inside the target and moved up when the run succeeds.
func (f *outputFile) openDir(path string, isFile bool) (*outputFile, error) {
	if isFile {
		return nil, fault.Usagef("output %s is a file; several tables as CSV need a directory", path)
	}
	f.dir, f.target = true, strings.TrimRight(path, "/"+string(filepath.Separator))
	if f.target == "" {
		f.target = string(filepath.Separator)
	}
	if err := os.MkdirAll(f.target, 0o777); err != nil {
		return nil, fault.Usage(fmt.Errorf("output directory: %w", err))
	}
	tmp, err := os.MkdirTemp(f.target, ".extract-tmp-")
	if err != nil {
		return nil, fault.Usage(fmt.Errorf("output directory: %w", err))
	}
	f.tmp = tmp
	if f.w, err = datafile.Create(tmp+string(filepath.Separator), datafile.Options{Format: datafile.CSV}); err != nil {
		os.RemoveAll(tmp)
		return nil, fault.Usage(fmt.Errorf("output %s: %w", path, err))
	}
	return f, nil
}

// name names the output in summaries.
func (f *outputFile) name() string {
	if f.target == "" {
		return "-"
	}
	return f.target
}

// commit finishes the output and moves it into place.
func (f *outputFile) commit() error {
	f.done = true
	if err := f.w.Close(); err != nil {
		f.cleanup()
		return fault.Failure(fmt.Errorf("writing %s: %w", f.name(), err))
	}
	if f.tmp == "" {
		return nil
	}
	if !f.dir {
		if err := os.Rename(f.tmp, f.target); err != nil {
			f.cleanup()
			return fault.Failure(err)
		}
		return nil
	}
	entries, err := os.ReadDir(f.tmp)
	if err != nil {
		f.cleanup()
		return fault.Failure(err)
	}
	for _, e := range entries {
		if err := os.Rename(filepath.Join(f.tmp, e.Name()), filepath.Join(f.target, e.Name())); err != nil {
			f.cleanup()
			return fault.Failure(err)
		}
	}
	return fault.Failure(os.Remove(f.tmp))
}

// abort drops the output of a failed run; it does nothing after commit.
func (f *outputFile) abort() {
	if f.done {
		return
	}
	f.done = true
	f.w.Close()
	f.cleanup()
}

func (f *outputFile) cleanup() {
	if f.tmp != "" {
		os.RemoveAll(f.tmp)
	}
}
