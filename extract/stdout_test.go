package extract

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/tenantkit/tenantkit/datafile"
	"github.com/tenantkit/tenantkit/internal/fault"
)

// TestStdoutInjected: the output "-" (or none) is Output.Stdout; without
// one it is a usage error, not a write to the process's standard output.
func TestStdoutInjected(t *testing.T) {
	for _, path := range []string{"", "-"} {
		_, err := openOutput(Output{Path: path}, 1)
		if !errors.Is(err, fault.ErrUsage) || !strings.Contains(err.Error(), "Output.Stdout is nil") {
			t.Errorf("Path %q without Stdout: %v", path, err)
		}
	}
	var out bytes.Buffer
	f, err := openOutput(Output{Path: "-", Stdout: &out, Format: datafile.CSV}, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.w.BeginTable(&datafile.Table{Name: "t", Columns: []string{"a"}}); err != nil {
		t.Fatal(err)
	}
	if err := f.w.WriteRow([]datafile.Value{{Str: "x"}}); err != nil {
		t.Fatal(err)
	}
	if err := f.commit(); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); got != "a\nx\n" {
		t.Errorf("Stdout got %q", got)
	}
}
