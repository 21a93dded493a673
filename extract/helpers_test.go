package extract_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/tenantkit/tenantkit/datafile"
	"github.com/tenantkit/tenantkit/internal/sqlq"
	"github.com/tenantkit/tenantkit/internal/testkit"
)

func TestMain(m *testing.M) { testkit.Main(m) }

// section is one table of a data file, read back whole (test files are small).
type section struct {
	columns []string
	rows    [][]datafile.Value
}

// readData reads a data file (or CSV directory) into its sections by table.
func readData(t *testing.T, path string) map[string]*section {
	t.Helper()
	r, err := datafile.Open(path, datafile.Options{})
	if err != nil {
		t.Fatalf("opening %s: %v", path, err)
	}
	defer r.Close()
	out := map[string]*section{}
	for r.Next() {
		if r.Values() == nil {
			continue // a table without rows: the tests compare rows
		}
		tab := r.Table()
		s := out[tab.Name]
		if s == nil {
			s = &section{columns: append([]string(nil), tab.Columns...)}
			out[tab.Name] = s
		}
		s.rows = append(s.rows, append([]datafile.Value(nil), r.Values()...))
	}
	if err := r.Err(); err != nil {
		t.Fatalf("reading %s: %v", path, err)
	}
	return out
}

// column returns the values of one column of a section as text ("NULL"
// for NULL), in file order.
func (s *section) column(t *testing.T, name string) []string {
	t.Helper()
	if s == nil {
		return nil
	}
	for i, c := range s.columns {
		if c == name {
			var out []string
			for _, r := range s.rows {
				if r[i].Null {
					out = append(out, "NULL")
				} else {
					out = append(out, r[i].Str)
				}
			}
			return out
		}
	}
	t.Fatalf("no column %s in %v", name, s.columns)
	return nil
}

// loadData is a test-only loader standing in for userload: it loads every
// section of a data file into the table of the same name with COPY FROM in
// text format, foreign keys unchecked, into dbSchema ("" = the current one).
func loadData(t *testing.T, db *testkit.DB, dbSchema, path string) {
	t.Helper()
	ctx := context.Background()
	r, err := datafile.Open(path, datafile.Options{})
	if err != nil {
		t.Fatalf("opening %s: %v", path, err)
	}
	defer r.Close()
	var buf bytes.Buffer
	var cur *datafile.Table
	flush := func() {
		if cur == nil {
			return
		}
		cols := make([]string, len(cur.Columns))
		for i, c := range cur.Columns {
			cols[i] = sqlq.Ident(c)
		}
		table := pgx.Identifier{cur.Name}
		if dbSchema != "" {
			table = pgx.Identifier{dbSchema, cur.Name}
		}
		sql := fmt.Sprintf("COPY %s (%s) FROM STDIN", sqlq.Ident(table...), strings.Join(cols, ", "))
		conn, err := db.Pool.Acquire(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Release()
		// A CSV directory comes in file name order, not parents first.
		if _, err := conn.Exec(ctx, "SET session_replication_role = replica"); err != nil {
			t.Fatal(err)
		}
		defer conn.Exec(ctx, "RESET session_replication_role")
		if _, err := conn.Conn().PgConn().CopyFrom(ctx, &buf, sql); err != nil {
			t.Fatalf("loading %s into %s: %v", path, cur.Name, err)
		}
		buf.Reset()
	}
	for r.Next() {
		if r.Table() != cur {
			flush()
			cur = r.Table()
		}
		if r.Values() == nil {
			continue // a table without rows
		}
		for i, v := range r.Values() {
			if i > 0 {
				buf.WriteByte('\t')
			}
			if v.Null {
				buf.WriteString(`\N`)
				continue
			}
			buf.WriteString(copyEscaper.Replace(v.Str))
		}
		buf.WriteByte('\n')
	}
	if err := r.Err(); err != nil {
		t.Fatalf("reading %s: %v", path, err)
	}
	flush()
}

var copyEscaper = strings.NewReplacer(`\`, `\\`, "\t", `\t`, "\n", `\n`, "\r", `\r`)

// checksums returns, per table of the current schema, an md5 over the text
// of its rows in sorted order. With emptyIsNull, empty strings count as
// NULL (what an XLSX round trip keeps).
func checksums(t *testing.T, db *testkit.DB, emptyIsNull bool) map[string]string {
	t.Helper()
	tables := db.Rows(t, `SELECT c.relname, string_agg(quote_ident(a.attname), ',' ORDER BY a.attnum)
		FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
		WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind = 'r'
		GROUP BY c.relname ORDER BY 1`)
	out := map[string]string{}
	for _, tab := range tables {
		cols := strings.Split(tab[1], ",")
		var exprs []string
		for _, c := range cols {
			if emptyIsNull {
				exprs = append(exprs, "nullif(t."+c+"::text, '')")
			} else {
				exprs = append(exprs, "t."+c+"::text")
			}
		}
		row := "row(" + strings.Join(exprs, ", ") + ")::text"
		out[tab[0]] = db.Value(t, fmt.Sprintf(`SELECT count(*) || ':' || md5(coalesce(string_agg(%s, E'\n' ORDER BY %s), '')) FROM %s t`,
			row, row, sqlq.Ident(tab[0])))
	}
	return out
}

// run runs the binary and fails the test unless it exits with want.
func run(t *testing.T, db *testkit.DB, want int, args ...string) testkit.Result {
	t.Helper()
	res := testkit.Run(t, db, args...)
	if res.Code != want {
		t.Fatalf("tenantkit %s: exit %d, want %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), res.Code, want, res.Stdout, res.Stderr)
	}
	return res
}

// files lists the names in dir, hidden ones included, sorted.
func files(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	sort.Strings(out)
	return out
}

func join(parts ...string) string { return filepath.Join(parts...) }
