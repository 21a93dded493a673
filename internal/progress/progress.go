// Package progress reports the progress of long work to the writer it is
// given: a progress bar when that writer is a terminal, plain log lines every
// few seconds otherwise, nothing when it is nil (--quiet).
package progress

import (
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// Reporter counts work done. A nil *Reporter is valid and reports nothing.
type Reporter struct {
	bar      *progressbar.ProgressBar
	w        io.Writer
	desc     string
	unit     string
	total    int64
	mu       sync.Mutex
	done     int64
	rows     int64 // a second count (rows) shown next to bytes
	start    time.Time
	lastLine time.Time
}

// Options configure a Reporter.
type Options struct {
	// Total is the expected amount of work, -1 when unknown.
	Total int64
	// Unit names what is counted in log lines ("rows", "bytes").
	Unit string
	// Bytes shows the bar's numbers as byte sizes.
	Bytes bool
}

// New starts reporting to w, describing the work as desc. A nil w reports
// nothing: New returns a nil *Reporter. A w that is a terminal (an *os.File
// with a terminal descriptor) shows a progress bar; any other w receives a
// plain line every few seconds.
func New(w io.Writer, desc string, opts Options) *Reporter {
	if w == nil {
		return nil
	}
	r := &Reporter{w: w, desc: desc, unit: opts.Unit, total: opts.Total, start: time.Now(), lastLine: time.Now()}
	if r.unit == "" {
		r.unit = "rows"
	}
	if isTerminal(w) {
		bopts := []progressbar.Option{
			progressbar.OptionSetWriter(w),
			progressbar.OptionSetDescription(desc),
			progressbar.OptionShowCount(),
			progressbar.OptionShowIts(),
			progressbar.OptionSetItsString(r.unit),
			progressbar.OptionThrottle(100 * time.Millisecond),
			progressbar.OptionClearOnFinish(),
		}
		if opts.Bytes {
			bopts = append(bopts, progressbar.OptionShowBytes(true))
		}
		r.bar = progressbar.NewOptions64(opts.Total, bopts...)
	}
	return r
}

// isTerminal reports whether w is a terminal: a file (such as os.Stderr)
// whose descriptor is one.
func isTerminal(w io.Writer) bool {
	f, ok := w.(interface{ Fd() uintptr })
	return ok && term.IsTerminal(int(f.Fd()))
}

// Add records n more units done.
func (r *Reporter) Add(n int64) {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.done += n
	if r.bar != nil {
		_ = r.bar.Add64(n)
		return
	}
	if now := time.Now(); now.Sub(r.lastLine) >= 5*time.Second {
		r.lastLine = now
		rows := ""
		if r.rows > 0 {
			rows = fmt.Sprintf(", %d rows", r.rows)
		}
		fmt.Fprintf(r.w, "%s: %d %s%s (%.0f %s/s)\n", r.desc, r.done, r.unit, rows, float64(r.done)/now.Sub(r.start).Seconds(), r.unit)
	}
}

// AddRows records n more rows done, shown next to the main count when that
// counts something else (bytes).
func (r *Reporter) AddRows(n int64) {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.rows += n
	if r.bar != nil {
		r.bar.Describe(fmt.Sprintf("%s (%d rows)", r.desc, r.rows))
	}
}

// Finish closes the bar.
func (r *Reporter) Finish() {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.bar != nil {
		_ = r.bar.Finish()
	}
}
