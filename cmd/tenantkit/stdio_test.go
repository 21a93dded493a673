package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestStandardStreams runs the command in process: "-" reads the stdin and
// writes the stdout run is given, and the summary goes to its stderr.
func TestStandardStreams(t *testing.T) {
	in := strings.NewReader("TABLE t\n a b\n{ \"1\", NULL }\n{ \"2\", \"x\" }\n")
	var out, errOut bytes.Buffer
	if code := run([]string{"tenantkit", "convert", "--format", "csv", "-", "-"}, in, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	if got := out.String(); got != "a,b\n1,\n2,x\n" {
		t.Errorf("stdout %q", got)
	}
	if got := errOut.String(); got != "converted 2 rows\n" {
		t.Errorf("stderr %q", got)
	}
}
