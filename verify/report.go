package verify

import (
	"fmt"
	"io"
	"strings"
)

// WriteText prints the report for people: the total per check, then each
// finding with its sample offenders, one per line.
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	width := len("check")
	for _, c := range r.Checks {
		width = max(width, len(c.Check))
	}
	fmt.Fprintf(&b, "%-*s  %10s\n", width, "check", "violations")
	for _, c := range r.Checks {
		fmt.Fprintf(&b, "%-*s  %10d\n", width, c.Check, c.Violations)
	}
	fmt.Fprintf(&b, "%-*s  %10d\n", width, "total", r.Violations)
	for _, n := range r.Notes {
		fmt.Fprintf(&b, "note: %s\n", n)
	}
	for _, f := range r.Findings {
		fmt.Fprintf(&b, "\n%s %s: %d\n", f.Check, f.Where(), f.Count)
		for _, s := range f.Samples {
			fmt.Fprintf(&b, "  %s\n", s)
		}
		if int64(len(f.Samples)) < f.Count && len(f.Samples) > 0 {
			fmt.Fprintf(&b, "  … and %d more\n", f.Count-int64(len(f.Samples)))
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}
