package load

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tenantkit/tenantkit/datafile"
	"github.com/tenantkit/tenantkit/internal/fault"
	"github.com/tenantkit/tenantkit/internal/testkit"
	"github.com/tenantkit/tenantkit/schema"
)

// ioDB is a database with one table, shelf, and a pool and schema for it.
func ioDB(t *testing.T) (*testkit.DB, *pgxpool.Pool, *schema.Schema) {
	t.Helper()
	db := testkit.NewDB(t)
	db.Exec(t, `CREATE TABLE shelf (shelf_code text PRIMARY KEY, slots int NOT NULL)`)
	ctx := context.Background()
	pool := db.Session(t)
	s, err := schema.Load(ctx, pool, schema.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return db, pool, s
}

const shelves = "TABLE shelf\n    shelf_code slots\n    { \"A\", \"3\" }\n    { \"B\", \"5\" }\n"

// TestProgressWriter: the progress report goes to Options.Progress and
// nowhere else. A terminal there draws a bar; with a nil Progress nothing
// is written, not even to the process's standard error when that is a
// terminal (the package once wrote there itself).
func TestProgressWriter(t *testing.T) {
	db, pool, s := ioDB(t)
	ctx := context.Background()
	// Big enough to be read in several pieces: a bar is drawn on the way
	// (a file read at once is done before anything is shown).
	var data strings.Builder
	data.WriteString(shelves)
	for i := range 20000 {
		fmt.Fprintf(&data, "    { \"S%05d\", \"%d\" }\n", i, i)
	}
	f := filepath.Join(t.TempDir(), "shelves.dat")
	if err := os.WriteFile(f, []byte(data.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	tty, output := testkit.Terminal(t)
	if _, err := Run(ctx, pool, s, Options{Files: []string{f}, Check: true, Progress: tty}); err != nil {
		t.Fatal(err)
	}
	if got := output(); !strings.Contains(got, "userload") {
		t.Errorf("progress on a terminal: %q, want a bar described as userload", got)
	}

	stderr, quiet := testkit.Terminal(t)
	saved := os.Stderr
	os.Stderr = stderr
	_, err := Run(ctx, pool, s, Options{Files: []string{f}})
	os.Stderr = saved
	if err != nil {
		t.Fatal(err)
	}
	if got := quiet(); got != "" {
		t.Errorf("a run without Progress wrote %q to standard error", got)
	}
	if got := db.Value(t, `SELECT count(*) FROM public.shelf`); got != "20002" {
		t.Errorf("shelf holds %s rows, want 20002", got)
	}
}

// TestStdin: the file "-" reads Options.File.Stdin, also when a section is
// read a second time (the fast path into the empty table refuses a row, so
// the section is staged from the kept copy and the bad record named); a run
// without Stdin refuses "-" before it starts.
func TestStdin(t *testing.T) {
	db, pool, s := ioDB(t)
	ctx := context.Background()
	in := shelves + "    { \"C\", NULL }\n"
	var rejects []string
	_, err := Run(ctx, pool, s, Options{Files: []string{"-"}, File: datafile.Options{Stdin: strings.NewReader(in)},
		OnReject: func(r Reject) { rejects = append(rejects, r.String()) }})
	if !errors.Is(err, fault.ErrRejected) {
		t.Fatalf("err %v, want rejects", err)
	}
	if want := `-:5:12: shelf: column "slots": NULL in a NOT NULL column`; len(rejects) != 1 || rejects[0] != want {
		t.Errorf("rejects %q, want [%q]", rejects, want)
	}
	sum, err := Run(ctx, pool, s, Options{Files: []string{"-"}, File: datafile.Options{Stdin: strings.NewReader(shelves)}})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Records != 2 {
		t.Errorf("%d records read from stdin, want 2", sum.Records)
	}
	if got := db.Value(t, `SELECT string_agg(shelf_code || '=' || slots, ',' ORDER BY shelf_code) FROM public.shelf`); got != "A=3,B=5" {
		t.Errorf("shelf holds %s, want A=3,B=5", got)
	}

	_, err = Run(ctx, pool, s, Options{Files: []string{"-"}})
	if !errors.Is(err, fault.ErrUsage) || !errors.Is(err, datafile.ErrNoStdin) {
		t.Errorf("no Stdin: %v (kind %v), want a usage error with ErrNoStdin", err, fault.KindOf(err))
	}
}
