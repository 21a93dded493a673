package testkit

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Chromium returns the path of Debian's chromium, which tests drive
// headless to load the HTML reports. Without one the test is skipped,
// unless TENANTKIT_REQUIRE_CHROMIUM is set (scripts/test installs chromium
// and sets it): then a missing browser fails the test.
func Chromium(t testing.TB) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("TENANTKIT_REQUIRE_CHROMIUM") != "" {
		t.Fatalf("testkit: chromium is needed (apt-get install chromium; scripts/test installs it)")
	}
	t.Skip("chromium is not installed (apt-get install chromium; scripts/test installs it)")
	return ""
}

// Browser is one headless chromium run's result.
type Browser struct {
	// Out is what chromium printed: the DOM for DumpDOM.
	Out string
	// Log is chromium's stderr, with the page's console messages.
	Log string
	// Took is the wall time of the run, the browser's start included.
	Took time.Duration
}

// headless runs chromium on file with a fresh profile, no network
// services, and the page's console logged to stderr.
func headless(t testing.TB, file string, args ...string) Browser {
	t.Helper()
	bin := Chromium(t)
	abs, err := filepath.Abs(file)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	all := append([]string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--disable-dev-shm-usage", "--user-data-dir=" + t.TempDir(),
		"--enable-logging=stderr", "--v=0"}, args...)
	cmd := exec.CommandContext(ctx, bin, append(all, "file://"+abs)...)
	var out, log bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &log
	start := time.Now()
	err = cmd.Run()
	took := time.Since(start)
	if err != nil {
		t.Fatalf("chromium %s: %v\n%s", file, err, log.String())
	}
	return Browser{Out: out.String(), Log: log.String(), Took: took}
}

// DumpDOM loads the HTML file in headless chromium and returns the DOM as
// the page's scripts left it once loaded.
func DumpDOM(t testing.TB, file string) Browser {
	t.Helper()
	return headless(t, file, "--dump-dom")
}

// Screenshot loads the HTML file in headless chromium, width by height
// pixels, and writes a PNG of it to png.
func Screenshot(t testing.TB, file, png string, width, height int) {
	t.Helper()
	abs, err := filepath.Abs(png)
	if err != nil {
		t.Fatal(err)
	}
	headless(t, file, "--screenshot="+abs, fmt.Sprintf("--window-size=%d,%d", width, height), "--hide-scrollbars")
	if fi, err := os.Stat(abs); err != nil || fi.Size() == 0 {
		t.Fatalf("chromium wrote no screenshot %s: %v", png, err)
	}
}

// PageErrors lists what the page logged as an error: the reports' own
// collector (#tk-errors; the body's data-errors must say 0) and every line
// of chromium's console log (the reports log nothing when all is well).
func (b Browser) PageErrors() []string {
	var out []string
	if !strings.Contains(b.Out, `data-errors="0"`) {
		out = append(out, "the page's error collector did not report zero errors:\n"+Grep(b.Out, "tk-errors"))
	}
	for _, line := range strings.Split(b.Log, "\n") {
		if strings.Contains(line, ":CONSOLE") || strings.Contains(line, "Uncaught") {
			out = append(out, "chromium logged: "+line)
		}
	}
	return out
}

// Grep returns the lines of s holding sub, for failure messages.
func Grep(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
