package progress

import (
	"bytes"
	"os"
	"strings"
	"testing"
	"time"
)

func TestLogLines(t *testing.T) {
	var out bytes.Buffer
	r := &Reporter{w: &out, desc: "userload", unit: "bytes", start: time.Now().Add(-10 * time.Second), lastLine: time.Now().Add(-10 * time.Second)}
	r.AddRows(42)
	r.Add(1000)
	if got := out.String(); !strings.HasPrefix(got, "userload: 1000 bytes, 42 rows (") {
		t.Errorf("log line %q", got)
	}
	var nilReporter *Reporter // quiet: every method is a no-op
	nilReporter.Add(1)
	nilReporter.AddRows(1)
	nilReporter.Finish()
}

func TestNewWriter(t *testing.T) {
	if r := New(nil, "quiet", Options{}); r != nil {
		t.Errorf("New(nil) = %v, want a nil Reporter", r)
	}
	var out bytes.Buffer
	r := New(&out, "load", Options{Total: -1})
	if r == nil || r.bar != nil || r.w != &out || r.unit != "rows" {
		t.Fatalf("New(buffer) = %+v, want plain lines on the buffer counting rows", r)
	}
	r.lastLine = time.Now().Add(-10 * time.Second)
	r.Add(7)
	r.Finish()
	if got := out.String(); !strings.HasPrefix(got, "load: 7 rows (") {
		t.Errorf("log line %q", got)
	}
	// A file that is not a terminal gets plain lines too, not a bar.
	f, err := os.CreateTemp(t.TempDir(), "progress")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if r := New(f, "load", Options{}); r == nil || r.bar != nil {
		t.Errorf("New(regular file) = %+v, want no bar", r)
	}
}
