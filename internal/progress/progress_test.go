package progress

import (
	"bytes"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"
)

// clock is a settable time for a Reporter.
type clock struct{ t time.Time }

func (c *clock) now() time.Time                    { return c.t }
func (c *clock) advance(d time.Duration)           { c.t = c.t.Add(d) }
func newClock() *clock                             { return &clock{t: time.Date(2026, 12, 4, 1, 2, 3, 0, time.UTC)} }
func (c *clock) on(r *Reporter) *Reporter          { r.now = c.now; r.start, r.lastLine = c.t, c.t; return r }
func plain(out *bytes.Buffer, o Options) *Reporter { return New(out, "userload", o) }

// lines splits the output into its lines.
func lines(s string) []string { return strings.Split(strings.TrimSuffix(s, "\n"), "\n") }

func TestCountLines(t *testing.T) {
	var out bytes.Buffer
	c := newClock()
	r := c.on(plain(&out, Options{Total: 52e6, Bytes: true}))
	r.AddRows(42)
	r.Add(29e6) // no line before lineEvery
	c.advance(2 * time.Second)
	r.Add(5e6)
	if out.Len() != 0 {
		t.Errorf("a line before %s: %q", lineEvery, out.String())
	}
	c.advance(3 * time.Second)
	r.Add(0)
	r.Finish()
	// One rate, in human units.
	if want := "2026-12-04T01:02:08Z userload: 34.0 MB, 42 rows (6.8 MB/s)\n"; out.String() != want {
		t.Errorf("count line %q, want %q", out.String(), want)
	}

	out.Reset()
	r = c.on(New(&out, "load", Options{Total: -1}))
	if r.bar != nil || r.unit != "rows" {
		t.Fatalf("New(buffer) = %+v, want plain lines counting rows", r)
	}
	c.advance(10 * time.Second)
	r.Add(70)
	if want := "2026-12-04T01:02:18Z load: 70 rows (7 rows/s)\n"; out.String() != want {
		t.Errorf("count line %q, want %q", out.String(), want)
	}
}

func TestPlainPhases(t *testing.T) {
	var out bytes.Buffer
	c := newClock()
	r := c.on(plain(&out, Options{Total: 100, Bytes: true}))
	r.Phase("checking references of ca_contact")
	c.advance(2500 * time.Millisecond)
	r.Phase("merging ca_contact") // ends the phase before
	c.advance(500 * time.Millisecond)
	end := r.Step("rebuilding indexes of ca_site")
	r.EndPhase() // short: no line for its end
	c.advance(75 * time.Second)
	end()
	end() // once
	r.Phasef("writing %d rejects", 3)
	c.advance(2 * time.Second)
	r.Finish() // ends the last phase
	r.Finish()
	want := []string{
		"2026-12-04T01:02:03Z userload: checking references of ca_contact",
		"2026-12-04T01:02:05Z userload: checking references of ca_contact: done in 2.5s",
		"2026-12-04T01:02:05Z userload: merging ca_contact",
		"2026-12-04T01:02:06Z userload: rebuilding indexes of ca_site",
		"2026-12-04T01:03:21Z userload: rebuilding indexes of ca_site: done in 1m15s",
		"2026-12-04T01:03:21Z userload: writing 3 rejects",
		"2026-12-04T01:03:23Z userload: writing 3 rejects: done in 2.0s",
	}
	if got := lines(out.String()); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("phase lines:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestRealClock: lines carry the wall clock in RFC 3339.
func TestRealClock(t *testing.T) {
	var out bytes.Buffer
	r := New(&out, "verify", Options{Total: 13, Unit: "checks"})
	before := time.Now().Truncate(time.Second)
	r.Phase("check 7/13: reference-rule call_req.customer")
	r.Finish()
	m := regexp.MustCompile(`^(\S+) verify: check 7/13: reference-rule call_req\.customer\n$`).FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("line %q", out.String())
	}
	at, err := time.Parse(time.RFC3339, m[1])
	if err != nil || at.Before(before) || at.After(time.Now()) {
		t.Errorf("timestamp %q (%v), want now in RFC 3339", m[1], err)
	}
}

func TestQuiet(t *testing.T) {
	if r := New(nil, "quiet", Options{}); r != nil {
		t.Errorf("New(nil) = %v, want a nil Reporter", r)
	}
	var r *Reporter // quiet: every method is a no-op
	r.Add(1)
	r.AddRows(1)
	r.Phase("x")
	r.Phasef("x %d", 1)
	r.Step("y")()
	r.EndPhase()
	r.Finish()
	// A file that is not a terminal gets plain lines, not a bar.
	f, err := os.CreateTemp(t.TempDir(), "progress")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if r := New(f, "load", Options{}); r == nil || r.bar != nil || r.tty {
		t.Errorf("New(regular file) = %+v, want plain lines", r)
	}
}

// TestDescribeFits: the phase's name is shortened to fit, its elapsed time
// kept.
func TestDescribeFits(t *testing.T) {
	c := newClock()
	r := c.on(New(&bytes.Buffer{}, "verify", Options{}))
	r.Phase("check 27/37: dangling-reference ca_contact.location -> ca_location")
	c.advance(1500 * time.Millisecond)
	if got, want := r.describeLocked(c.now(), 40), "verify: check 27/37: dangling-re… (1.5s)"; got != want {
		t.Errorf("described in 40: %q, want %q", got, want)
	}
	if got := r.describeLocked(c.now(), 0); !strings.HasSuffix(got, "-> ca_location (1.5s)") {
		t.Errorf("described in any width: %q", got)
	}
}

func TestHumanBytes(t *testing.T) {
	for n, want := range map[float64]string{0: "0 B", 999: "999 B", 1000: "1.0 kB", 16573084: "16.6 MB", 52e9: "52.0 GB"} {
		if got := humanBytes(n); got != want {
			t.Errorf("humanBytes(%v) = %q, want %q", n, got, want)
		}
	}
}
