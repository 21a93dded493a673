//go:build linux

package progress

import (
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/tenantkit/tenantkit/internal/testkit"
)

// terminal is a pseudo-terminal of 120 columns (testkit's has none).
func terminal(t *testing.T) (*os.File, func() string) {
	tty, output := testkit.Terminal(t)
	if err := unix.IoctlSetWinsize(int(tty.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: 40, Col: 120}); err != nil {
		t.Fatal(err)
	}
	return tty, output
}

// TestTerminalBar: on a terminal the byte bar shows one rate, in human
// units, and a phase during the count follows its description.
func TestTerminalBar(t *testing.T) {
	tty, output := terminal(t)
	r := New(tty, "userload", Options{Total: 52e6, Bytes: true})
	for range 3 {
		r.Add(5e6)
		time.Sleep(150 * time.Millisecond) // past the bar's throttle
	}
	r.Phase("rebuilding indexes of ca_site")
	time.Sleep(250 * time.Millisecond)
	r.Add(1e6)
	r.Finish()
	if r.bar == nil {
		t.Fatal("no bar on a terminal")
	}
	got := output()
	for _, want := range []string{"MB/s", "/52 MB", "userload: rebuilding indexes of ca_site (0."} {
		if !strings.Contains(got, want) {
			t.Errorf("terminal output lacks %q:\n%q", want, got)
		}
	}
	if strings.Contains(got, "bytes/s") || strings.Contains(got, "rows/s") {
		t.Errorf("terminal output shows a second rate:\n%q", got)
	}
}

// TestTerminalCount: a count whose total is known only later, after the
// phases before it, which show without a bar.
func TestTerminalCount(t *testing.T) {
	tty, output := terminal(t)
	r := New(tty, "buildtenant customer", Options{Total: -1, Unit: "rows"})
	r.Phase("selecting the rows")
	time.Sleep(150 * time.Millisecond)
	if r.bar != nil {
		t.Error("a bar before anything was counted")
	}
	r.SetTotal(40)
	r.Phase("creating the tenants of level 1/2")
	r.Add(10)
	time.Sleep(250 * time.Millisecond)
	r.Finish()
	got := output()
	for _, want := range []string{"buildtenant customer: selecting the rows (0.", "buildtenant customer: creating the tenants of level 1/2 (0.", "10/40", "rows/s"} {
		if !strings.Contains(got, want) {
			t.Errorf("terminal output lacks %q:\n%q", want, got)
		}
	}
}

// TestTerminalPhases: once the bar is gone a spinner line shows the phase
// and its elapsed time, redrawn while the phase runs and erased at the
// end; overlapping steps show the newest.
func TestTerminalPhases(t *testing.T) {
	tty, output := terminal(t)
	r := New(tty, "userload", Options{Total: 10, Bytes: true})
	r.Add(10) // the bar reaches its total and clears itself
	r.Phase("merging ca_contact")
	time.Sleep(450 * time.Millisecond)
	end := r.Step("checking references of ca_site")
	time.Sleep(150 * time.Millisecond)
	end()
	time.Sleep(150 * time.Millisecond)
	r.Finish()
	r.Finish()
	got := output()
	var longest float64
	for _, m := range regexp.MustCompile(`userload: merging ca_contact \((\d+\.\d)s\)`).FindAllStringSubmatch(got, -1) {
		f, _ := strconv.ParseFloat(m[1], 64)
		longest = max(longest, f)
	}
	if longest < 0.3 {
		t.Errorf("the phase line was not redrawn with its elapsed time (longest %.1fs):\n%q", longest, got)
	}
	if !strings.Contains(got, "userload: checking references of ca_site (0.") {
		t.Errorf("the newest step is not shown:\n%q", got)
	}
	// The last thing written erases the line.
	if !strings.HasSuffix(got, "\r\x1b[K") {
		t.Errorf("the phase line is left on the terminal:\n%q", got)
	}
	// After the step ends, the phase shows again.
	if i, j := strings.LastIndex(got, "checking references"), strings.LastIndex(got, "merging ca_contact"); j < i {
		t.Errorf("the phase is not shown again after the step ended:\n%q", got)
	}
}
