package datafile

import (
	"fmt"
	"os"
	"path/filepath"
)

// Atomic is a file written under a temporary name beside its target and
// renamed onto the target only when complete: a failed or interrupted write
// leaves the target as it was and nothing else behind, and two writers of
// one target at once never share a temporary file.
type Atomic struct {
	// Target is the path the file gets on Commit.
	Target string
	// Temp is the path to write: an empty file, created exclusively in the
	// target's directory (so the rename stays within one file system),
	// keeping the target's extension so formats are still detected by it.
	Temp string
}

// CreateAtomic creates the temporary file for target.
func CreateAtomic(target string) (*Atomic, error) {
	base := filepath.Base(target)
	f, err := os.CreateTemp(filepath.Dir(target), "."+base+".tmp-*"+filepath.Ext(base))
	if err != nil {
		return nil, err
	}
	if err := f.Close(); err != nil {
		os.Remove(f.Name())
		return nil, err
	}
	return &Atomic{Target: target, Temp: f.Name()}, nil
}

// Commit renames the temporary file onto the target.
func (a *Atomic) Commit() error {
	if err := os.Rename(a.Temp, a.Target); err != nil {
		os.Remove(a.Temp)
		return fmt.Errorf("putting %s in place: %w", a.Target, err)
	}
	return nil
}

// Abort removes the temporary file; after Commit it does nothing.
func (a *Atomic) Abort() { os.Remove(a.Temp) }
