package datafile

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tenantkit/tenantkit/internal/testkit"
)

// copyLoad loads a CSV file written by this package into a fresh table of
// text columns with PostgreSQL's own COPY … CSV HEADER, and returns the
// rows in file order.
func copyLoad(t testing.TB, pool *pgxpool.Pool, ncols int, data []byte, marker *string) [][]Value {
	t.Helper()
	ctx := context.Background()
	conn, err := pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	var defs, names []string
	for i := 0; i < ncols; i++ {
		defs = append(defs, fmt.Sprintf("c%d text", i))
		names = append(names, fmt.Sprintf("c%d", i))
	}
	if _, err := conn.Exec(ctx, "DROP TABLE IF EXISTS rt; CREATE TABLE rt (n int GENERATED ALWAYS AS IDENTITY, "+strings.Join(defs, ", ")+")"); err != nil {
		t.Fatal(err)
	}
	opts := "FORMAT csv, HEADER"
	if marker != nil {
		opts += ", NULL " + quoteLiteral(*marker)
	}
	sql := fmt.Sprintf("COPY rt (%s) FROM STDIN (%s)", strings.Join(names, ", "), opts)
	if _, err := conn.Conn().PgConn().CopyFrom(ctx, bytes.NewReader(data), sql); err != nil {
		t.Fatalf("COPY: %v\n%q", err, data)
	}
	rows, err := conn.Query(ctx, "SELECT "+strings.Join(names, ", ")+" FROM rt ORDER BY n", pgx.QueryExecModeSimpleProtocol)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out [][]Value
	for rows.Next() {
		var vals []Value
		for _, raw := range rows.RawValues() {
			if raw == nil {
				vals = append(vals, null())
			} else {
				vals = append(vals, str(string(raw)))
			}
		}
		out = append(out, vals)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func quoteLiteral(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// storable makes a value PostgreSQL text can hold: no NUL character.
func storable(v Value) Value {
	v.Str = strings.ReplaceAll(v.Str, "\x00", "")
	return v
}

// checkCopyRoundTrip writes sec as CSV and checks that COPY … CSV HEADER
// loads exactly its rows.
func checkCopyRoundTrip(t testing.TB, pool *pgxpool.Pool, sec section, null *string) {
	t.Helper()
	var b bytes.Buffer
	w, err := NewWriter(&b, Options{Format: CSV, Null: null})
	if err != nil {
		t.Fatal(err)
	}
	writeSections(t, w, []section{sec})
	got := copyLoad(t, pool, len(sec.Table.Columns), b.Bytes(), null)
	if !equalRows(got, sec.Rows) {
		t.Fatalf("COPY loaded\n%+v\nwrote\n%+v\nfile:\n%q", got, sec.Rows, b.Bytes())
	}
}

// TestCSVLoadsWithCopy: every CSV file the writer produces loads with
// PostgreSQL's COPY … CSV HEADER unchanged (issue 22: a value that is
// exactly \. was written unquoted, and COPY stopped there).
func TestCSVLoadsWithCopy(t *testing.T) {
	db := testkit.NewDB(t)
	// The case: one column, the second of five values is \. .
	sec := section{&Table{Name: "t", Columns: []string{"a"}},
		[][]Value{row(str("1")), row(str(`\.`)), row(str("3")), row(null()), row(str(""))}}
	checkCopyRoundTrip(t, db.Pool, sec, nil)
	checkCopyRoundTrip(t, db.Pool, sec, ptr(`\N`))

	rng := rand.New(rand.NewPCG(22, 4))
	for i := 0; i < 150; i++ {
		sec := randSections(rng, genOptions{}, 1)[0]
		for _, r := range sec.Rows {
			for j := range r {
				if r[j] = storable(r[j]); rng.IntN(10) == 0 {
					r[j] = str(`\.`)
				}
			}
		}
		var null *string
		if i%2 == 1 {
			null = ptr(`\N`)
		}
		checkCopyRoundTrip(t, db.Pool, sec, null)
	}
}

// FuzzCSVWriterCopy: whatever two values hold, the CSV written for them
// loads back unchanged with COPY, in one column and in two.
func FuzzCSVWriterCopy(f *testing.F) {
	f.Add(`\.`, "x", false, false)
	f.Add("a\n\\.\nb", `\.`, true, true)
	f.Add("\r", `"`, false, true)
	f.Add("\uFEFF", `\N`, true, false)
	db := testkit.NewDB(f)
	f.Fuzz(func(t *testing.T, a, b string, two, marker bool) {
		if !utf8.ValidString(a) || !utf8.ValidString(b) {
			t.Skip("not UTF-8")
		}
		va, vb := storable(str(a)), storable(str(b))
		sec := section{&Table{Name: "t", Columns: []string{"a"}}, [][]Value{row(va), row(null()), row(vb), row(str(""))}}
		if two {
			sec = section{&Table{Name: "t", Columns: []string{"a", "b"}}, [][]Value{row(va, vb), row(vb, null()), row(str(""), va)}}
		}
		var null *string
		if marker {
			null = ptr(`\N`)
		}
		checkCopyRoundTrip(t, db.Pool, sec, null)
	})
}
