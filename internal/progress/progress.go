// Package progress reports the progress of long work to the writer it is
// given: a progress bar and the phase under way with its elapsed time when
// that writer is a terminal, plain timestamped log lines otherwise, nothing
// when it is nil (--quiet).
package progress

import (
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// Reporter counts work done and names the phase under way. A nil *Reporter
// is valid and reports nothing.
//
// On a terminal the bar shows the count; while a phase runs its name and
// elapsed time follow the bar's description, and once the bar is gone (its
// total reached, or Finish) a spinner line shows them, redrawn every
// redrawEvery. Elsewhere every phase gets a timestamped line when it starts
// and one with its duration when it ends after more than a second, and the
// count a line every lineEvery.
type Reporter struct {
	w     io.Writer
	desc  string
	unit  string
	bytes bool
	tty   bool
	now   func() time.Time // time.Now; tests move the clock

	mu       sync.Mutex
	bar      *progressbar.ProgressBar // made by barLocked
	total    int64
	done     int64
	rows     int64 // a second count (rows) shown next to bytes
	start    time.Time
	lastLine time.Time
	phase    *step   // the phase of Phase, ended by the next one
	active   []*step // every phase and step under way, oldest first
	drawn    bool    // a spinner line is on the terminal
	frame    int     // the spinner's frame
	stop     chan struct{}
	stopped  chan struct{}
}

// step is a phase under way.
type step struct {
	name  string
	start time.Time
}

// Options configure a Reporter.
type Options struct {
	// Total is the expected amount of work, -1 (or 0) when unknown.
	Total int64
	// Unit names what is counted ("rows", "checks"); "rows" when empty.
	Unit string
	// Bytes counts bytes, shown in human units (kB, MB, GB).
	Bytes bool
}

const (
	// redrawEvery is how often a terminal's phase line is redrawn.
	redrawEvery = 100 * time.Millisecond
	// lineEvery is how often a plain line reports the count.
	lineEvery = 5 * time.Second
	// longPhase is how long a phase must last for a plain line to report
	// its end.
	longPhase = time.Second
)

// New starts reporting to w, describing the work as desc. A nil w reports
// nothing: New returns a nil *Reporter. A w that is a terminal (an *os.File
// with a terminal descriptor) shows a progress bar and the phase; any other
// w receives plain lines.
func New(w io.Writer, desc string, opts Options) *Reporter {
	if w == nil {
		return nil
	}
	r := &Reporter{w: w, desc: desc, unit: opts.Unit, bytes: opts.Bytes, tty: isTerminal(w), now: time.Now}
	r.start = r.now()
	r.lastLine = r.start
	if r.unit == "" {
		r.unit = "rows"
	}
	r.total = opts.Total
	return r
}

// barLocked is the terminal's bar, made on first use: a Reporter that
// only names phases never shows one. It is nil elsewhere.
func (r *Reporter) barLocked() *progressbar.ProgressBar {
	if !r.tty || r.bar != nil {
		return r.bar
	}
	bopts := []progressbar.Option{
		progressbar.OptionSetWriter(r.w),
		progressbar.OptionSetDescription(r.describeLocked(r.now(), r.width()-barRoom)),
		progressbar.OptionShowCount(),
		progressbar.OptionThrottle(redrawEvery),
		progressbar.OptionClearOnFinish(),
	}
	if r.bytes {
		// One rate, in bytes per second with a human unit: the iterations
		// rate would repeat it as a raw number of bytes.
		bopts = append(bopts, progressbar.OptionShowBytes(true))
	} else {
		bopts = append(bopts, progressbar.OptionShowIts(), progressbar.OptionSetItsString(r.unit))
	}
	r.clearLocked()
	r.bar = progressbar.NewOptions64(barMax(r.total), bopts...)
	return r.bar
}

// barMax is the bar's maximum for a total: progressbar refuses zero.
func barMax(total int64) int64 {
	if total <= 0 {
		return -1
	}
	return total
}

// SetTotal sets the expected amount of work when it is known only after
// New.
func (r *Reporter) SetTotal(total int64) {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.total = total
	if r.barShown() {
		r.bar.ChangeMax64(barMax(total))
	}
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
	if r.tty {
		if bar := r.barLocked(); !bar.IsFinished() {
			_ = bar.Add64(n)
		}
		return
	}
	if now := r.now(); now.Sub(r.lastLine) >= lineEvery {
		r.lastLine = now
		r.logf(now, "%s", r.countLocked(now))
	}
}

// countLocked describes the count for a plain line.
func (r *Reporter) countLocked(now time.Time) string {
	rate := float64(r.done) / max(now.Sub(r.start).Seconds(), 1e-3)
	done := fmt.Sprintf("%d %s", r.done, r.unit)
	speed := fmt.Sprintf("%.0f %s/s", rate, r.unit)
	if r.bytes {
		done, speed = humanBytes(float64(r.done)), humanBytes(rate)+"/s"
	}
	if r.rows > 0 {
		done += fmt.Sprintf(", %d rows", r.rows)
	}
	return fmt.Sprintf("%s (%s)", done, speed)
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
	if r.tty && !r.barLocked().IsFinished() {
		r.bar.Describe(r.describeLocked(r.now(), r.width()-barRoom))
	}
}

// Phase starts the named phase of the work ("merging ca_contact"), ending
// the one Phase started before.
func (r *Reporter) Phase(name string) {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()
	r.endLocked(r.phase, now)
	r.phase = r.beginLocked(name, now)
}

// Phasef is Phase with the name formatted as by fmt.Sprintf.
func (r *Reporter) Phasef(format string, args ...any) {
	if r == nil {
		return
	}
	r.Phase(fmt.Sprintf(format, args...))
}

// EndPhase ends the phase Phase started, if any.
func (r *Reporter) EndPhase() {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.endLocked(r.phase, r.now())
	r.phase = nil
}

// Step starts a phase that may overlap others (one of several concurrent
// checks) and returns the function that ends it; calling that more than
// once ends it once. The terminal shows the newest phase under way.
func (r *Reporter) Step(name string) (end func()) {
	if r == nil {
		return func() {}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.beginLocked(name, r.now())
	var once sync.Once
	return func() {
		once.Do(func() {
			r.mu.Lock()
			defer r.mu.Unlock()
			r.endLocked(s, r.now())
		})
	}
}

// beginLocked records a phase starting now and shows it.
func (r *Reporter) beginLocked(name string, now time.Time) *step {
	s := &step{name: name, start: now}
	r.active = append(r.active, s)
	if !r.tty {
		r.logf(now, "%s", name)
		return s
	}
	if r.stop == nil {
		r.stop, r.stopped = make(chan struct{}), make(chan struct{})
		go r.redraw(r.stop, r.stopped)
	}
	r.drawLocked(now)
	return s
}

// endLocked ends s (nil: nothing) if it is still under way.
func (r *Reporter) endLocked(s *step, now time.Time) {
	i := -1
	for j, a := range r.active {
		if a == s {
			i = j
		}
	}
	if s == nil || i < 0 {
		return
	}
	r.active = append(r.active[:i], r.active[i+1:]...)
	if d := now.Sub(s.start); !r.tty && d > longPhase {
		r.logf(now, "%s: done in %s", s.name, elapsed(d))
	}
	if r.tty {
		r.drawLocked(now)
	}
}

// redraw redraws the terminal's line until stop is closed, then closes
// stopped.
func (r *Reporter) redraw(stop <-chan struct{}, stopped chan<- struct{}) {
	defer close(stopped)
	t := time.NewTicker(redrawEvery)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			r.mu.Lock()
			if r.stop == stop { // not yet stopped by Finish
				r.frame++
				r.drawLocked(r.now())
			}
			r.mu.Unlock()
		}
	}
}

// spinner are the frames of the terminal's phase line.
var spinner = []string{"⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"}

// drawLocked shows the newest phase under way on the terminal: in the
// bar's description while the bar is shown, else on a line of its own.
func (r *Reporter) drawLocked(now time.Time) {
	width := r.width()
	if r.barShown() {
		// The bar shrinks to fit the terminal; its counts and times do not.
		r.bar.Describe(r.describeLocked(now, width-barRoom))
		_ = r.bar.Add64(0) // render it: the bar redraws only on a change
		return
	}
	if len(r.active) == 0 {
		r.clearLocked()
		return
	}
	// A wrapped line would not be erased by \r.
	line := spinner[r.frame%len(spinner)] + " " + r.describeLocked(now, width-3)
	fmt.Fprintf(r.w, "\r%s\x1b[K", truncate(line, width-1))
	r.drawn = true
}

// barRoom is what a bar's line needs beside its description: the percent,
// a short bar, the counts and the times.
const barRoom = 50

// width is the terminal's width, 80 when unknown.
func (r *Reporter) width() int {
	if f, ok := r.w.(interface{ Fd() uintptr }); ok {
		if w, _, err := term.GetSize(int(f.Fd())); err == nil && w > 1 {
			return w
		}
	}
	return 80
}

// clearLocked erases the terminal's phase line, if drawn.
func (r *Reporter) clearLocked() {
	if r.drawn {
		fmt.Fprint(r.w, "\r\x1b[K")
		r.drawn = false
	}
}

// barShown reports whether the terminal's bar is on screen: made, and not
// yet cleared (it clears itself once its total is reached).
func (r *Reporter) barShown() bool {
	return r.bar != nil && !r.bar.IsFinished()
}

// describeLocked is the description of the work with the rows counted and
// the newest phase under way with its elapsed time, in at most limit runes
// (0: any) by shortening the phase's name.
func (r *Reporter) describeLocked(now time.Time, limit int) string {
	d := r.desc
	if r.rows > 0 {
		d += fmt.Sprintf(" (%d rows)", r.rows)
	}
	if n := len(r.active); n > 0 {
		s := r.active[n-1]
		took := fmt.Sprintf(" (%s)", elapsed(now.Sub(s.start)))
		name := s.name
		if limit > 0 {
			name = truncate(name, max(limit-len([]rune(d))-2-len(took), 10))
		}
		d += ": " + name + took
	}
	return d
}

// logf writes a plain line stamped with now.
func (r *Reporter) logf(now time.Time, format string, args ...any) {
	fmt.Fprintf(r.w, "%s %s: %s\n", now.Format(time.RFC3339), r.desc, fmt.Sprintf(format, args...))
}

// Finish ends the count (the bar is cleared) and every phase under way,
// and stops redrawing the terminal. Phases may start again afterwards;
// Finish then has to be called again.
func (r *Reporter) Finish() {
	if r == nil {
		return
	}
	r.mu.Lock()
	now := r.now()
	r.endLocked(r.phase, now)
	r.phase = nil
	for len(r.active) > 0 {
		r.endLocked(r.active[0], now)
	}
	if r.barShown() {
		_ = r.bar.Finish()
	}
	r.clearLocked()
	stop, stopped := r.stop, r.stopped
	r.stop, r.stopped = nil, nil
	r.mu.Unlock()
	if stop != nil {
		close(stop)
		<-stopped
	}
}

// elapsed formats a phase's duration: tenths of a second under a minute,
// whole seconds above.
func elapsed(d time.Duration) string {
	if d < time.Minute {
		return fmt.Sprintf("%.1fs", d.Seconds())
	}
	return d.Truncate(time.Second).String()
}

// humanBytes formats n bytes in decimal units, as the bar does.
func humanBytes(n float64) string {
	const units = "kMGTPE"
	if n < 1000 {
		return fmt.Sprintf("%.0f B", n)
	}
	i := -1
	for n >= 1000 && i < len(units)-1 {
		n /= 1000
		i++
	}
	return fmt.Sprintf("%.1f %cB", n, units[i])
}

// truncate shortens s to at most n runes, the last an ellipsis.
func truncate(s string, n int) string {
	rs := []rune(s)
	if len(rs) <= n || n < 1 {
		return s
	}
	return string(rs[:n-1]) + "…"
}
