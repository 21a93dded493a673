package load

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/tenantkit/tenantkit/schema"
)

// phaseLine is a plain progress line starting a phase.
var phaseLine = regexp.MustCompile(`(?m)^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(Z|[+-]\d\d:\d\d) userload: (.*)$`)

// phases lists the phases a plain progress report started, in order.
func phases(out string) []string {
	var ps []string
	for _, m := range phaseLine.FindAllStringSubmatch(out, -1) {
		if !strings.Contains(m[2], ": done in ") {
			ps = append(ps, m[2])
		}
	}
	return ps
}

// TestProgressPhases: a progress writer that is no terminal receives one
// timestamped line per phase of the load, in the order they run: parents
// before children, each table's checks before its merge, the rejects,
// the commit; the fast path names the rebuild of the table's indexes.
func TestProgressPhases(t *testing.T) {
	db, pool, _ := ioDB(t)
	db.Exec(t, `CREATE TABLE bin (bin_code text PRIMARY KEY, shelf_code text NOT NULL REFERENCES shelf);
		INSERT INTO shelf VALUES ('A', 1)`)
	ctx := context.Background()
	s, err := schema.Load(ctx, pool, schema.Options{})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	f := filepath.Join(dir, "bins.dat")
	data := `TABLE bin
    bin_code shelf_code
    { "b1", "A" }
    { "b2", "Z" }
` + shelves
	if err := os.WriteFile(f, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	rejects := filepath.Join(dir, "rejects.dat")
	sum, err := Run(ctx, pool, s, Options{Files: []string{f}, RejectsFile: rejects, Progress: &out})
	if sum == nil || sum.Rejected != 1 || !sum.Committed {
		t.Fatalf("summary %+v (%v), want one reject and the rest committed", sum, err)
	}
	want := []string{
		// bin is empty: the fast path, whose foreign key refuses b2 once
		// rebuilt; the section is read again into staging.
		"rebuilding the indexes and constraints of bin", "reading " + f + ":1 again into staging",
		"analyzing the staged records of shelf", "checking the records of shelf", "merging shelf",
		"converting the values of bin", "checking the records of bin", "checking the foreign keys of bin", "merging bin",
		"collecting 1 rejected record(s)", "writing the rejects file " + rejects, "committing",
	}
	if got := phases(out.String()); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("phases:\n%s\nwant:\n%s\noutput:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"), out.String())
	}
	if got := db.Value(t, `SELECT string_agg(bin_code, ',' ORDER BY bin_code) FROM public.bin`); got != "b1" {
		t.Errorf("bin holds %s, want b1", got)
	}

	// The fast path: into the empty table, its indexes rebuilt after COPY.
	db.Exec(t, `CREATE TABLE crate (crate_code text PRIMARY KEY, weight int)`)
	if s, err = schema.Load(ctx, pool, schema.Options{}); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(f, []byte("TABLE crate\n    crate_code weight\n    { \"c1\", \"7\" }\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if sum, err = Run(ctx, pool, s, Options{Files: []string{f}, Progress: &out}); err != nil || !sum.Tables[0].FastPath {
		t.Fatalf("summary %+v (%v), want the fast path", sum, err)
	}
	want = []string{"rebuilding the indexes and constraints of crate", "committing"}
	if got := phases(out.String()); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("fast-path phases %q, want %q\noutput:\n%s", got, want, out.String())
	}
}
