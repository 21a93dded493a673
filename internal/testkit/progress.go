package testkit

import (
	"regexp"
	"strings"
)

// progressLine is a plain line of a progress report (internal/progress):
// a timestamp in RFC 3339, then the command's words.
var progressLine = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(Z|[+-]\d\d:\d\d) `)

// WithoutProgress is s, a command's standard error, without the plain
// lines of its progress report (standard error is no terminal in tests).
func WithoutProgress(s string) string {
	lines := strings.SplitAfter(s, "\n")
	kept := lines[:0]
	for _, l := range lines {
		if !progressLine.MatchString(l) {
			kept = append(kept, l)
		}
	}
	return strings.Join(kept, "")
}
