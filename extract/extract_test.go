package extract_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/tenantkit/tenantkit/fixtures"
	"github.com/tenantkit/tenantkit/internal/testkit"
)

// TestRoundTripFixtures extracts the whole fixture database in every format,
// loads each file into an empty copy of the schema and compares every table.
func TestRoundTripFixtures(t *testing.T) {
	src := testkit.NewFixtureDB(t)
	// A few values the sample rows lack: json next to jsonb, non-UTC
	// offsets, NULL next to the empty string in arrays and text.
	src.Exec(t, `INSERT INTO ca_tenant (id, name, parent, subtenants_ok, service_provider) VALUES
		(1, 'SP', NULL, true, true), (2, E'Tab\there', 1, false, false)`)
	src.Exec(t, `UPDATE call_req SET tags = '{"",NULL,"a\\b"}', last_mod = '2026-06-01 12:00:00.123456+05:30', tenant = 2 WHERE id = 2`)
	src.Exec(t, `UPDATE ca_contact SET attrs = '{"k": "v\u00e9\\n"}', first_name = '' WHERE userid = 'orphan'`)
	want := checksums(t, src, false)
	wantXLSX := checksums(t, src, true)
	if want["call_req"] == "5:d41d8cd98f00b204e9800998ecf8427e" || !strings.HasPrefix(want["call_req"], "5:") {
		t.Fatalf("unexpected source checksum %s", want["call_req"])
	}
	dir := t.TempDir()
	for _, tc := range []struct {
		name, out string
		args      []string
		xlsx      bool
	}{
		{name: "userload", out: join(dir, "all.dat")},
		{name: "csv", out: join(dir, "csvdir"), args: []string{"--format", "csv"}},
		{name: "xlsx", out: join(dir, "all.xlsx"), xlsx: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"extract", "--schema", "fixtures/schema.xml", "-o", tc.out}, tc.args...)
			run(t, src, 0, append(args, "ALL")...)
			dst := testkit.NewDB(t)
			if err := fixtures.Load(context.Background(), dst.Pool, false); err != nil {
				t.Fatal(err)
			}
			loadData(t, dst, "", tc.out)
			got := checksums(t, dst, tc.xlsx)
			w := want
			if tc.xlsx {
				w = wantXLSX
			}
			if !reflect.DeepEqual(got, w) {
				t.Errorf("checksums after the round trip differ\n got %v\nwant %v", got, w)
			}
		})
	}
	// The CSV directory holds one file per table and nothing else.
	got := files(t, join(dir, "csvdir"))
	wantFiles := []string{"ca_contact.csv", "ca_location.csv", "ca_organization.csv", "ca_tenant.csv", "call_req.csv",
		"category.csv", "doc_repository.csv", "notification_rule.csv", "priority.csv"}
	if !reflect.DeepEqual(got, wantFiles) {
		t.Errorf("csv directory = %v", got)
	}
}

// TestExtractExactOutput pins the layout, the row order with and without
// --sorted, --where, --columns
// and the timestamptz text form (UTC whatever the server's zone).
func TestExtractExactOutput(t *testing.T) {
	db := testkit.NewFixtureDB(t)
	db.Exec(t, `ALTER DATABASE `+db.Name+` SET TimeZone = 'America/New_York'`)
	db.Exec(t, `UPDATE category SET last_mod = '2026-01-02 03:04:05.5+01' WHERE id IN (2, 3)`)
	res := run(t, db, 0, "extract", "--sorted", "--schema", "fixtures/schema.xml", "--where", "id >= 2", "--columns", "sym,id,last_mod", "pcat")
	want := `TABLE category
    sym id last_mod
    { "Software", "2", "2026-01-02 02:04:05.5+00" }
    { "Network", "3", "2026-01-02 02:04:05.5+00" }
`
	if res.Stdout != want {
		t.Errorf("output:\n%s\nwant:\n%s", res.Stdout, want)
	}
	// With --sorted rows come out in key order, whatever the physical
	// order; without it, in the order the server reads them (the updated
	// row last), like COPY TO.
	db.Exec(t, `UPDATE priority SET label = label || '!' WHERE code = 'P1'`)
	res = run(t, db, 0, "extract", "--sorted", "--format", "csv", "priority")
	if want := "code,label,sort_order\nP1,Critical!,1\nP2,High,2\nP3,Medium,3\nP4,Low,4\n"; res.Stdout != want {
		t.Errorf("csv output:\n%s\nwant:\n%s", res.Stdout, want)
	}
	res = run(t, db, 0, "extract", "--format", "csv", "priority")
	if want := "code,label,sort_order\nP2,High,2\nP3,Medium,3\nP4,Low,4\nP1,Critical!,1\n"; res.Stdout != want {
		t.Errorf("unsorted csv output:\n%s\nwant:\n%s", res.Stdout, want)
	}
	// A composite key orders by both columns.
	db.Exec(t, `INSERT INTO doc_repository (server, path) VALUES ('a', '/z'), ('files01', '/a')`)
	res = run(t, db, 0, "extract", "--sorted", "--format", "csv", "--columns", "server,path", "doc_repository")
	if want := "server,path\na,/z\nfiles01,/a\nfiles01,/docs/acme\nfiles01,/docs/public\n"; res.Stdout != want {
		t.Errorf("composite key order:\n%s", res.Stdout)
	}
}

func TestExtractSQL(t *testing.T) {
	db := testkit.NewFixtureDB(t)
	out := join(t.TempDir(), "q.dat")
	res := run(t, db, 0, "--json", "extract", "-o", out, "--sql", "SELECT id, ref_num, cost FROM call_req WHERE cost > 50 ORDER BY id DESC;")
	var sum struct {
		Rows   int64
		Tables []struct {
			Table string
			Rows  int64
		}
	}
	if err := json.Unmarshal([]byte(res.Stdout), &sum); err != nil {
		t.Fatalf("summary %q: %v", res.Stdout, err)
	}
	if sum.Rows != 2 || len(sum.Tables) != 1 || sum.Tables[0].Table != "call_req" || sum.Tables[0].Rows != 2 {
		t.Errorf("summary = %+v", sum)
	}
	data := readData(t, out)
	if got := data["call_req"].column(t, "ref_num"); !reflect.DeepEqual(got, []string{"CR-1005", "CR-1001"}) {
		t.Errorf("ref_num = %v", got)
	}
	// A result mixing tables is named "query" unless --name says otherwise.
	res = run(t, db, 0, "extract", "--format", "csv", "--sql", "SELECT c.userid, o.name FROM ca_contact c JOIN ca_organization o ON o.id = c.organization WHERE c.userid = 'wcoyote'")
	if res.Stdout != "userid,name\nwcoyote,Acme\n" {
		t.Errorf("query output %q", res.Stdout)
	}
	res = run(t, db, 0, "extract", "--name", "pairs", "--sql", "VALUES (1, 'x')")
	if !strings.HasPrefix(res.Stdout, "TABLE pairs\n    column1 column2\n") {
		t.Errorf("named query output %q", res.Stdout)
	}
}

func TestExtractBadInput(t *testing.T) {
	db := testkit.NewFixtureDB(t)
	dir := t.TempDir()
	out := join(dir, "out.dat")
	for _, tc := range []struct {
		name string
		args []string
		msg  string
	}{
		{"unknown table", []string{"extract", "-o", out, "priority", "nosuch"}, `unknown object or table "nosuch"`},
		{"no table", []string{"extract", "-o", out}, "name the tables to extract"},
		{"unknown column", []string{"extract", "-o", out, "--columns", "code,colour", "priority"}, `table priority has no column "colour"`},
		{"unknown column in where", []string{"extract", "-o", out, "--where", "colour = 'red'", "priority"}, `table priority: column "colour" does not exist`},
		{"bad where", []string{"extract", "-o", out, "--where", "1) TO STDOUT; DELETE FROM priority; COPY (SELECT 1", "priority"}, "table priority: syntax error"},
		{"bad literal in where", []string{"extract", "-o", out, "--where", "sort_order = 'x'", "priority"}, "invalid input syntax for type integer"},
		{"delete", []string{"extract", "-o", out, "--sql", "DELETE FROM priority"}, `only a single read-only SELECT can be extracted, not "DELETE"`},
		{"two statements", []string{"extract", "-o", out, "--sql", "SELECT 1; DELETE FROM priority"}, "cannot insert multiple commands"},
		{"writing CTE", []string{"extract", "-o", out, "--sql", "WITH d AS (DELETE FROM priority RETURNING *) SELECT * FROM d"}, "read-only"},
		{"nextval", []string{"extract", "-o", out, "--sql", "SELECT nextval('category_id_seq')"}, "read-only"},
		{"unknown format", []string{"extract", "-o", out, "--format", "parquet", "priority"}, `unknown format "parquet"`},
		{"csv to stdout", []string{"extract", "--format", "csv", "priority", "category"}, "need a directory"},
		{"csv file for two tables", []string{"extract", "-o", join(dir, "two.csv"), "priority", "category"}, "names a file: give -o DIRECTORY"},
		{"unknown tenant", []string{"tenant-extract", "--schema", "fixtures/schema.xml", "-o", out, "--tenant", "Nobody"}, `unknown tenant "Nobody": no tenant or tenant group has this name or key`},
		{"no tenant", []string{"tenant-extract", "--schema", "fixtures/schema.xml", "-o", out}, "needs --tenant"},
		{"untenanted object", []string{"tenant-extract", "--schema", "fixtures/schema.xml", "-o", out, "--tenant", "SP", "--objects", "pri"}, "object pri (table priority) has no tenant column"},
		{"public and references", []string{"tenant-extract", "--schema", "fixtures/schema.xml", "-o", out, "--tenant", "SP", "--with-public", "--with-references"}, "--with-references already includes the public rows"},
		{"references as csv", []string{"tenant-extract", "--schema", "fixtures/schema.xml", "-o", join(dir, "x.csv"), "--tenant", "SP", "--with-references"}, "only the userload format can mark"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name == "unknown tenant" || tc.name == "untenanted object" || tc.name == "public and references" || tc.name == "references as csv" {
				db.Exec(t, `INSERT INTO ca_tenant (id, name, service_provider) VALUES (1, 'SP', true) ON CONFLICT DO NOTHING`)
			}
			res := run(t, db, 2, tc.args...)
			if !strings.Contains(res.Stderr, tc.msg) {
				t.Errorf("stderr %q does not contain %q", res.Stderr, tc.msg)
			}
			if strings.Count(strings.TrimSpace(res.Stderr), "\n") > 0 {
				t.Errorf("want a one-line message, got %q", res.Stderr)
			}
			if got := files(t, dir); len(got) != 0 {
				t.Errorf("a failed run left files: %v", got)
			}
		})
	}
	if n := db.Value(t, "SELECT count(*) FROM priority"); n != "4" {
		t.Errorf("priority has %s rows after the bad runs, want 4", n)
	}
}

// TestFailedRunKeepsOldFile checks that an existing output survives a run
// that fails half way (a value XLSX cannot hold).
func TestFailedRunKeepsOldFile(t *testing.T) {
	db := testkit.NewFixtureDB(t)
	out := join(t.TempDir(), "desk.xlsx")
	if err := os.WriteFile(out, []byte("old"), 0o666); err != nil {
		t.Fatal(err)
	}
	db.Exec(t, `UPDATE ca_organization SET description = E'bell\x07' WHERE id = 3`)
	res := run(t, db, 2, "extract", "-o", out, "ca_location", "ca_organization")
	if !strings.Contains(res.Stderr, "table ca_organization") || !strings.Contains(res.Stderr, "cannot be stored in a workbook") {
		t.Errorf("stderr %q", res.Stderr)
	}
	if b, _ := os.ReadFile(out); string(b) != "old" {
		t.Errorf("the old file was replaced: %q", b)
	}
	if got := files(t, join(out, "..")); len(got) != 1 {
		t.Errorf("files left: %v", got)
	}
}

// TestRoundTripUserload loads an extract of the fixture database back with
// the real userload into an empty copy of the schema. No overlay: the
// fixture rows have no tenants yet, which the overlay's tenant-required
// objects would reject.
func TestRoundTripUserload(t *testing.T) {
	src := testkit.NewFixtureDB(t)
	src.Exec(t, `UPDATE call_req SET tags = '{"",NULL,"a\\b"}', last_mod = '2026-06-01 12:00:00.123456+05:30' WHERE id = 2`)
	out := join(t.TempDir(), "all.dat")
	run(t, src, 0, "extract", "-o", out, "ALL")
	dst := testkit.NewDB(t)
	if err := fixtures.Load(context.Background(), dst.Pool, false); err != nil {
		t.Fatal(err)
	}
	run(t, dst, 0, "userload", "-q", "-f", out)
	if got, want := checksums(t, dst, false), checksums(t, src, false); !reflect.DeepEqual(got, want) {
		t.Errorf("checksums after extract | userload differ\n got %v\nwant %v", got, want)
	}
}

// TestSortedOrdersTiesOfTheKey: a sort key that does not tell every row
// apart (here a unique constraint over a nullable column, which settenant
// rightly does not take for a row key) is followed by every column, so
// that the rows it ties still come out in one order, run after run.
func TestSortedOrdersTiesOfTheKey(t *testing.T) {
	db := testkit.NewFixtureDB(t)
	db.Exec(t, `CREATE TABLE tk_tie (email text UNIQUE, name text)`)
	db.Exec(t, `INSERT INTO tk_tie SELECT NULL, 'n' || lpad(i::text, 2, '0') FROM generate_series(30, 1, -1) i`)
	db.Exec(t, `INSERT INTO tk_tie VALUES ('x@example.com', 'z')`)
	res := run(t, db, 0, "extract", "--sorted", "--format", "csv", "tk_tie")
	var want strings.Builder
	want.WriteString("email,name\nx@example.com,z\n")
	for i := 1; i <= 30; i++ {
		fmt.Fprintf(&want, ",n%02d\n", i)
	}
	if res.Stdout != want.String() {
		t.Errorf("sorted output:\n%s\nwant:\n%s", res.Stdout, want.String())
	}
}
