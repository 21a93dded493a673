// Package progress reports the progress of long work on stderr: a progress
// bar when stderr is a terminal, plain log lines every few seconds otherwise,
// nothing with --quiet.
package progress

import (
	"fmt"
	"io"
	"os"
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
	Quiet bool
	// Total is the expected amount of work, -1 when unknown.
	Total int64
	// Unit names what is counted in log lines ("rows", "bytes").
	Unit string
	// Bytes shows the bar's numbers as byte sizes.
	Bytes bool
}

// New starts reporting on stderr.
func New(desc string, opts Options) *Reporter {
	if opts.Quiet {
		return nil
	}
	r := &Reporter{w: os.Stderr, desc: desc, unit: opts.Unit, total: opts.Total, start: time.Now(), lastLine: time.Now()}
	if r.unit == "" {
		r.unit = "rows"
	}
	if term.IsTerminal(int(os.Stderr.Fd())) {
		bopts := []progressbar.Option{
			progressbar.OptionSetWriter(os.Stderr),
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
