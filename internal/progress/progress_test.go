package progress

import (
	"bytes"
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
