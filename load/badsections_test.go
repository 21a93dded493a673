package load

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/tenantkit/tenantkit/internal/fault"
	"github.com/tenantkit/tenantkit/internal/testkit"
	"github.com/tenantkit/tenantkit/schema"
)

// TestSkipBadSections calls Run in process: with SkipBadSections a check
// run lists every section userload cannot load, in file order (a repeated
// column is the reader's syntax error already), and checks
// the others; without it the run stops at the first with exit 2; a run that
// commits may not skip sections.
func TestSkipBadSections(t *testing.T) {
	db := testkit.NewDB(t)
	db.Exec(t, `CREATE TABLE shelf (shelf_code text PRIMARY KEY, slots int NOT NULL, label text GENERATED ALWAYS AS (upper(shelf_code)) STORED);
		CREATE TABLE bin (bin_no int PRIMARY KEY, shelf_code text REFERENCES shelf)`)
	ctx := context.Background()
	pool := db.Session(t)
	s, err := schema.Load(ctx, pool, schema.Options{})
	if err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(t.TempDir(), "store.dat")
	if err := os.WriteFile(f, []byte(`TABLE crate
    n
    { "1" }
TABLE shelf
    shelf_code slots label width
    { "A", "3", "A", "1" }
TABLE bin
    bin_no shelf_code
    { "1", "A" }
    { "x", "NOWHERE" }
`), 0o600); err != nil {
		t.Fatal(err)
	}
	var rejects []string
	sum, err := Run(ctx, pool, s, Options{Files: []string{f}, Check: true, SkipBadSections: true,
		OnReject: func(r Reject) { rejects = append(rejects, r.Pos.String()+" "+r.Kind) }})
	if !errors.Is(err, fault.ErrRejected) {
		t.Fatalf("err %v", err)
	}
	var got []string
	for _, b := range sum.BadSections {
		got = append(got, b.Pos.String()+" "+b.Problem+" "+b.Column)
	}
	want := []string{f + ":1:1 unknown table ", f + ":4:1 generated column label", f + ":4:1 unknown column width"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("bad sections %q, want %q", got, want)
	}
	// bin's records are checked; shelf A was skipped, so both references dangle.
	if want := []string{f + ":9:5 dangling foreign key", f + ":10:7 bad value"}; !reflect.DeepEqual(rejects, want) {
		t.Errorf("rejects %q, want %q", rejects, want)
	}
	_, err = Run(ctx, pool, s, Options{Files: []string{f}, Check: true})
	if want := f + `:1:1: unknown table "crate" (not in schema "public")`; !errors.Is(err, fault.ErrUsage) || err.Error() != want {
		t.Errorf("without SkipBadSections: %v, want %q", err, want)
	}
	if _, err = Run(ctx, pool, s, Options{Files: []string{f}, SkipBadSections: true}); !errors.Is(err, fault.ErrUsage) {
		t.Errorf("SkipBadSections without Check: %v", err)
	}
}
