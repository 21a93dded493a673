package load_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/tenantkit/tenantkit/internal/testkit"
)

func TestMain(m *testing.M) { testkit.Main(m) }

// write creates a data file in the test's directory.
func write(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// userload runs the binary and checks its exit code.
func userload(t *testing.T, db *testkit.DB, code int, args ...string) testkit.Result {
	t.Helper()
	res := testkit.Run(t, db, append([]string{"userload"}, args...)...)
	if res.Code != code {
		t.Fatalf("userload %v: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", args, res.Code, code, res.Stdout, res.Stderr)
	}
	return res
}

func rows(t *testing.T, db *testkit.DB, sql string) string {
	t.Helper()
	var lines []string
	for _, r := range db.Rows(t, sql) {
		lines = append(lines, strings.Join(r, "|"))
	}
	return strings.Join(lines, "\n")
}

func wantRows(t *testing.T, db *testkit.DB, sql, want string) {
	t.Helper()
	want = strings.TrimSpace(strings.ReplaceAll(want, "\t", ""))
	if got := rows(t, db, sql); got != want {
		t.Errorf("%s:\ngot:\n%s\nwant:\n%s", sql, got, want)
	}
}

type summary struct {
	Records  int64 `json:"records"`
	Rejected int64 `json:"rejected"`
	Tables   []struct {
		Table     string `json:"table"`
		Inserted  int64  `json:"inserted"`
		Updated   int64  `json:"updated"`
		Unchanged int64  `json:"unchanged"`
		Deleted   int64  `json:"deleted"`
		Rejected  int64  `json:"rejected"`
		FastPath  bool   `json:"fast_path"`
	} `json:"tables"`
}

// counts is "table:inserted/updated/unchanged/deleted/rejected ..." from a --json run.
func counts(t *testing.T, res testkit.Result) string {
	t.Helper()
	var s summary
	if err := json.Unmarshal([]byte(res.Stdout), &s); err != nil {
		t.Fatalf("bad JSON summary: %v\n%s", err, res.Stdout)
	}
	var parts []string
	for _, tc := range s.Tables {
		parts = append(parts, tc.Table+":"+strings.Join([]string{itoa(tc.Inserted), itoa(tc.Updated), itoa(tc.Unchanged), itoa(tc.Deleted), itoa(tc.Rejected)}, "/"))
	}
	return strings.Join(parts, " ")
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

const overlay = "fixtures/schema.xml"

func TestDefaultModeInsertsAndUpdates(t *testing.T) {
	db := testkit.NewFixtureDB(t)
	f := write(t, "pri.dat", `TABLE priority
    code label sort_order
    { "P1", "Critical!", "1" }
    { "P5", "Someday", "5" }
    { "P2", "High", "2" }
`)
	res := userload(t, db, 0, "--json", "-f", f)
	if got := counts(t, res); got != "priority:1/1/1/0/0" {
		t.Errorf("counts %s", got)
	}
	wantRows(t, db, "SELECT code, label, sort_order FROM priority ORDER BY code", `
		P1|Critical!|1
		P2|High|2
		P3|Medium|3
		P4|Low|4
		P5|Someday|5`)
}

func TestKeyFromUniqueConstraintWhenPrimaryKeyAbsent(t *testing.T) {
	db := testkit.NewFixtureDB(t)
	// No overlay: ca_contact's primary key (id) is not in the file, so the
	// unique constraint on userid is the match key.
	f := write(t, "cnt.dat", `TABLE ca_contact
    userid last_name email
    { "rrunner", "Runner", "beep@acme.example" }
    { "newbie", "Newman", NULL }
`)
	res := userload(t, db, 0, "--json", "-f", f)
	if got := counts(t, res); got != "ca_contact:1/1/0/0/0" {
		t.Errorf("counts %s", got)
	}
	wantRows(t, db, "SELECT userid, last_name, coalesce(email, 'NULL'), id::text ~ '^[0-9a-f-]{36}$' FROM ca_contact WHERE userid IN ('rrunner', 'newbie') ORDER BY userid", `
		newbie|Newman|NULL|t
		rrunner|Runner|beep@acme.example|t`)
	wantRows(t, db, "SELECT id FROM ca_contact WHERE userid = 'rrunner'", "00000000-0000-0000-0000-000000000002")
}

func TestMultiMatch(t *testing.T) {
	db := testkit.NewFixtureDB(t)
	db.Exec(t, "INSERT INTO category (id, sym, description) VALUES (10, 'Dup', 'one'), (11, 'Dup', 'two')")
	f := write(t, "cat.dat", `TABLE category
    sym description
    { "Dup", "both" }
`)
	res := userload(t, db, 1, "--key", "sym", "-f", f)
	if !strings.Contains(res.Stderr, f+":3:5: category: key (sym)=(Dup) matches several rows (-a applies the record to all of them)") {
		t.Errorf("stderr:\n%s", res.Stderr)
	}
	wantRows(t, db, "SELECT id, description FROM category WHERE sym = 'Dup' ORDER BY id", "10|one\n11|two")

	res = userload(t, db, 0, "--json", "-a", "--key", "sym", "-f", f)
	if got := counts(t, res); got != "category:0/2/0/0/0" {
		t.Errorf("counts %s", got)
	}
	wantRows(t, db, "SELECT id, description FROM category WHERE sym = 'Dup' ORDER BY id", "10|both\n11|both")

	del := write(t, "del.dat", "TABLE category\n sym\n { \"Dup\" }\n")
	userload(t, db, 1, "-r", "--key", "sym", "-f", del)
	res = userload(t, db, 0, "--json", "-r", "-a", "--key", "sym", "-f", del)
	if got := counts(t, res); got != "category:0/0/0/2/0" {
		t.Errorf("counts %s", got)
	}
	wantRows(t, db, "SELECT count(*) FROM category WHERE sym = 'Dup'", "0")
}

func TestInsertOnly(t *testing.T) {
	db := testkit.NewFixtureDB(t)
	f := write(t, "pri.dat", `TABLE priority
    code label sort_order
    { "P9", "Nine", "9" }
    { "P1", "Again", "1" }
`)
	res := userload(t, db, 1, "-i", "-f", f)
	if !strings.Contains(res.Stderr, f+":4:5: priority: key (code)=(P1) already exists (-i inserts only)") {
		t.Errorf("stderr:\n%s", res.Stderr)
	}
	wantRows(t, db, "SELECT count(*) FROM priority", "4")
	rej := filepath.Join(t.TempDir(), "rej.dat")
	res = userload(t, db, 1, "--json", "-i", "--rejects", rej, "-f", f)
	if got := counts(t, res); got != "priority:1/0/0/0/1" {
		t.Errorf("counts %s", got)
	}
	wantRows(t, db, "SELECT code, label FROM priority WHERE code IN ('P1', 'P9') ORDER BY code", "P1|Critical\nP9|Nine")
	// The rejects file words the reason as the command line does.
	if data, err := os.ReadFile(rej); err != nil || !strings.Contains(string(data), "# "+f+":4:5: key (code)=(P1) already exists (-i inserts only)\n") {
		t.Errorf("rejects file (%v):\n%s", err, data)
	}
}

func TestUpdateOnly(t *testing.T) {
	db := testkit.NewFixtureDB(t)
	f := write(t, "pri.dat", `TABLE priority
    code label
    { "P3", "Normal" }
    { "P7", "Nope" }
`)
	res := userload(t, db, 1, "-u", "-f", f)
	if !strings.Contains(res.Stderr, f+":4:5: priority: no row matches key (code)=(P7)") {
		t.Errorf("stderr:\n%s", res.Stderr)
	}
	wantRows(t, db, "SELECT label FROM priority WHERE code = 'P3'", "Medium")
	ok := write(t, "ok.dat", "TABLE priority\n code label\n { \"P3\", \"Normal\" }\n { \"P4\", \"Low\" }\n")
	res = userload(t, db, 0, "--json", "-u", "-f", ok)
	if got := counts(t, res); got != "priority:0/1/1/0/0" {
		t.Errorf("counts %s", got)
	}
	wantRows(t, db, "SELECT code, label FROM priority ORDER BY code", "P1|Critical\nP2|High\nP3|Normal\nP4|Low")
}

func TestCheckChangesNothingAndReportsEachRecord(t *testing.T) {
	db := testkit.NewFixtureDB(t)
	f := write(t, "mixed.dat", `TABLE priority
    code label sort_order
    { "P1", "Critical", "1" }
    { "P2", "Higher", "2" }
    { "P6", "Six", "6" }
    { "P7", "Seven", "seven" }
`)
	before := rows(t, db, "SELECT * FROM priority ORDER BY code")
	res := userload(t, db, 1, "-c", "-v", "-f", f)
	want := f + ":3:5: unchanged priority\n" +
		f + ":4:5: update priority\n" +
		f + ":5:5: insert priority\n" +
		f + ":6:22: reject priority: column sort_order: invalid input syntax for type integer: \"seven\"\n"
	if !strings.HasPrefix(res.Stdout, want) {
		t.Errorf("stdout:\n%s\nwant prefix:\n%s", res.Stdout, want)
	}
	if !strings.Contains(res.Stdout, "check only: 4 records read, nothing was changed") {
		t.Errorf("stdout:\n%s", res.Stdout)
	}
	if after := rows(t, db, "SELECT * FROM priority ORDER BY code"); after != before {
		t.Errorf("-c changed priority:\n%s", after)
	}
}

func TestChildrenBeforeParentsAndSequences(t *testing.T) {
	db := testkit.NewFixtureDB(t)
	f := write(t, "tree.dat", `# children first, parents last
TABLE call_req
    ref_num summary open_date organization category priority
    { "CR-2001", "New laptop", "2026-04-01 09:00:00", "40", "20", "P9" }
TABLE category
    id sym
    { "20", "Laptops" }
TABLE ca_organization
    id name parent_org_id
    { "41", "Child org", "40" }
    { "40", "Parent org", NULL }
TABLE priority
    code label sort_order
    { "P9", "Nine", "9" }
`)
	// The overlay makes call_req and ca_organization tenant-required.
	db.Exec(t, "INSERT INTO ca_tenant (id, name, service_provider) VALUES (1, 'SP', true)")
	userload(t, db, 0, "--schema", overlay, "-t", "SP", "-f", f)
	wantRows(t, db, "SELECT ref_num, organization, category, priority, tenant FROM call_req WHERE ref_num = 'CR-2001'", "CR-2001|40|20|P9|1")
	wantRows(t, db, "SELECT id, name, coalesce(parent_org_id::text, '-') FROM ca_organization WHERE id >= 40 ORDER BY id", "40|Parent org|-\n41|Child org|40")
	// The sequences behind the loaded keys moved past them: plain INSERTs work.
	db.Exec(t, "INSERT INTO ca_organization (name) VALUES ('after')")
	db.Exec(t, "INSERT INTO category (sym) VALUES ('after')")
	wantRows(t, db, "SELECT id FROM ca_organization WHERE name = 'after'", "42")
	wantRows(t, db, "SELECT id FROM category WHERE sym = 'after'", "21")
}

func TestRejectRollsBackEverything(t *testing.T) {
	db := testkit.NewFixtureDB(t)
	f1 := write(t, "a.dat", "TABLE priority\n code label sort_order\n { \"P8\", \"Eight\", \"8\" }\n")
	f2 := write(t, "b.csv", "id,name,address\n70,Depot,\"1 Main St\"\n71,,\"\"\n72,Dangling,x\n")
	f3 := write(t, "c.dat", `TABLE ca_contact
    userid last_name organization
    { "zed", "Zed", "999" }
`)
	res := userload(t, db, 1, "--table", "ca_location", "-f", f1, "-f", f2, "-f", f3)
	for _, want := range []string{
		f2 + ":3:4: ca_location: column \"name\": NULL in a NOT NULL column",
		f3 + ":3:5: ca_contact: column \"organization\": value \"999\": no row of ca_organization has (id) = (999) (foreign key ca_contact_organization_fkey)",
		"2 record(s) rejected; nothing was loaded",
	} {
		if !strings.Contains(res.Stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, res.Stderr)
		}
	}
	wantRows(t, db, "SELECT (SELECT count(*) FROM priority), (SELECT count(*) FROM ca_location), (SELECT count(*) FROM ca_contact)", "4|4|7")
}

func TestRejectsFileLoadsBackOnceFixed(t *testing.T) {
	db := testkit.NewFixtureDB(t)
	f := write(t, "pri.dat", `TABLE priority
    code label sort_order
    { "P5", "Five", "5" }
    { "P6", "Six \"quoted\"\\back", "six" }
    { "P7", NULL, "7" }
`)
	rej := filepath.Join(t.TempDir(), "rejects.dat")
	res := userload(t, db, 1, "--json", "--rejects", rej, "-f", f)
	if got := counts(t, res); got != "priority:1/0/0/0/2" {
		t.Errorf("counts %s", got)
	}
	wantRows(t, db, "SELECT code FROM priority WHERE code >= 'P5' ORDER BY code", "P5")
	b, err := os.ReadFile(rej)
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	for _, want := range []string{
		"    # " + f + ":4:37: column \"sort_order\": invalid input syntax for type integer: \"six\"\n    { \"P6\", \"Six \\\"quoted\\\"\\\\back\", \"six\" }\n",
		"    # " + f + ":5:13: column \"label\": NULL in a NOT NULL column\n    { \"P7\", NULL, \"7\" }\n",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("rejects file lacks %q:\n%s", want, text)
		}
	}
	fixed := strings.NewReplacer(`"six"`, `"6"`, `NULL`, `"Seven"`).Replace(text)
	if err := os.WriteFile(rej, []byte(fixed), 0o644); err != nil {
		t.Fatal(err)
	}
	userload(t, db, 0, "-f", rej)
	wantRows(t, db, "SELECT code, label, sort_order FROM priority WHERE code >= 'P5' ORDER BY code",
		"P5|Five|5\nP6|Six \"quoted\"\\back|6\nP7|Seven|7")
}

func TestFastPathRefusedFallsBackToPositionedRejects(t *testing.T) {
	db := testkit.NewDB(t)
	db.Exec(t, `CREATE TABLE t (id int PRIMARY KEY, n int NOT NULL CHECK (n >= 0), d date)`)
	f := write(t, "t.csv", "id,n,d\n1,1,2026-01-01\n2,-5,2026-01-02\n3,3,2026-02-30\n1,4,\n")
	res := userload(t, db, 1, "-f", f)
	for _, want := range []string{
		f + `:3:1: t: new row for relation "t" violates check constraint "t_n_check"`,
		f + `:4:5: t: column "d": value "2026-02-30": date/time field value out of range: "2026-02-30"`,
		f + `:5:1: t: duplicate key (id)=(1) in the loaded data (first at ` + f + `:2)`,
	} {
		if !strings.Contains(res.Stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, res.Stderr)
		}
	}
	wantRows(t, db, "SELECT count(*) FROM t", "0")
	good := write(t, "t.csv", "id,n,d\n1,1,2026-01-01\n2,5,\n")
	res = userload(t, db, 0, "--json", "-f", good)
	if !strings.Contains(res.Stdout, `"fast_path": true`) {
		t.Errorf("empty table not loaded by the fast path:\n%s", res.Stdout)
	}
	wantRows(t, db, "SELECT id, n, coalesce(d::text, 'NULL') FROM t ORDER BY id", "1|1|2026-01-01\n2|5|NULL")
}

func TestStandardInput(t *testing.T) {
	db := testkit.NewFixtureDB(t)
	in := []byte("TABLE priority\n code label sort_order\n { \"P5\", \"Five\", \"5\" }\n { \"P6\", \"Six\", \"x\" }\n")
	res := testkit.RunIn(t, db, in, "userload", "-f", "-")
	if res.Code != 1 || !strings.Contains(res.Stderr, `-:4:17: priority: column "sort_order": value "x": invalid input syntax for type integer: "x"`) {
		t.Fatalf("exit %d\n%s", res.Code, res.Stderr)
	}
	in = []byte("TABLE priority\n code label sort_order\n { \"P5\", \"Five\", \"5\" }\n")
	if res := testkit.RunIn(t, db, in, "userload", "-f", "-"); res.Code != 0 {
		t.Fatalf("exit %d\n%s", res.Code, res.Stderr)
	}
	wantRows(t, db, "SELECT label FROM priority WHERE code = 'P5'", "Five")
}

func TestBadInputChangesNothing(t *testing.T) {
	db := testkit.NewFixtureDB(t)
	good := "TABLE priority\n code label sort_order\n { \"P5\", \"Five\", \"5\" }\n"
	cases := []struct {
		name, file string
		args       []string
		want       string
	}{
		{"unknown table", good + "TABLE nosuch\n a\n { \"1\" }\n", nil, `in.dat:4:1: unknown table "nosuch"`},
		{"unknown column", good + "TABLE category\n sym colour\n { \"a\", \"b\" }\n", nil, `in.dat:4:1: table "category" has no column "colour"`},
		// Issue 22: a section is checked whether it has records or not.
		{"unknown table without records", good + "TABLE nosuch\n a\n", nil, `in.dat:4:1: unknown table "nosuch"`},
		{"unknown column without records", "TABLE category\n sym colour\nTABLE priority\n code\n", nil, `in.dat:1:1: table "category" has no column "colour"`},
		{"unknown column in a last section without records", good + "\nTABLE category\n sym colour\n# nothing\n", nil, `in.dat:5:1: table "category" has no column "colour"`},
		{"key column missing", "TABLE category\n sym\n { \"a\" }\n", []string{"--key", "description"}, `table "category": the match key (description, from --key) is not among the file's columns`},
		{"key column unknown", good, []string{"--key", "nope"}, `--key: table "priority" has no column "nope"`},
		{"overlay key missing", "TABLE ca_contact\n id last_name\n { \"00000000-0000-0000-0000-000000000009\", \"X\" }\n", []string{"--schema", overlay}, `the match key (userid, from the schema overlay's key) is not among the file's columns`},
		{"malformed", good + "TABLE category\n sym\n { \"unterminated }\n", nil, ".dat:6:"},
		{"field count", good + "TABLE category\n sym description\n { \"a\" }\n", nil, ".dat:6:"},
		{"update without key", "TABLE category\n sym\n { \"a\" }\n", []string{"-u"}, "no match key among the file's columns"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := write(t, "in.dat", tc.file)
			res := userload(t, db, 2, append(tc.args, "-f", f)...)
			if !strings.Contains(res.Stderr, tc.want) {
				t.Errorf("stderr lacks %q:\n%s", tc.want, res.Stderr)
			}
			wantRows(t, db, "SELECT count(*) FROM priority", "4")
		})
	}
	res := userload(t, db, 2, "-i", "-u", "-f", "x.dat")
	if !strings.Contains(res.Stderr, "-i, -u and -r exclude each other") {
		t.Errorf("stderr: %s", res.Stderr)
	}
}

// A schema unlike the fixtures: other names, a tenant column called
// owner_ref, a composite natural key, a uuid key with a default, a serial
// key with a sequence behind, a self-reference, tricky text.
const otherSchema = `
CREATE SCHEMA inv;
CREATE TABLE inv.owners (owner_id serial PRIMARY KEY, name text NOT NULL UNIQUE);
CREATE TABLE inv.shelf (
    site text NOT NULL, code varchar(4) NOT NULL, capacity numeric(6,1),
    owner_ref int REFERENCES inv.owners (owner_id),
    PRIMARY KEY (site, code));
CREATE TABLE inv.item (
    item_uuid uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    sku text NOT NULL UNIQUE,
    note text,
    site text, code varchar(4),
    parent_uuid uuid REFERENCES inv.item (item_uuid),
    tags text[],
    FOREIGN KEY (site, code) REFERENCES inv.shelf (site, code));
`

func TestOtherSchema(t *testing.T) {
	db := testkit.NewDB(t)
	db.Exec(t, otherSchema)
	f := write(t, "inv.dat", `TABLE item
    item_uuid sku note site code parent_uuid tags
    { "11111111-1111-1111-1111-111111111112", "B-2", "child of A", "north", "A1", "11111111-1111-1111-1111-111111111111", "{x,\"y z\"}" }
    { "11111111-1111-1111-1111-111111111111", "A-1", "quote \" backslash \\ newline\nend", "north", "A1", NULL, NULL }
    { "11111111-1111-1111-1111-111111111113", "C-3", "", NULL, NULL, NULL, "{}" }
    { "11111111-1111-1111-1111-111111111114", "D-4", "Ünïcødé ✓", NULL, NULL, NULL, NULL }
TABLE shelf
    site code capacity owner_ref
    { "north", "A1", "10.25", NULL }
    { "south", "B2", NULL, "1" }
TABLE owners
    owner_id name
    { "1", "Ops" }
`)
	res := userload(t, db, 0, "--db-schema", "inv", "--tenant-column", "owner_ref", "--json", "-f", f)
	if got := counts(t, res); got != "item:4/0/0/0/0 owners:1/0/0/0/0 shelf:2/0/0/0/0" {
		t.Errorf("counts %s", got)
	}
	wantRows(t, db, "SELECT sku, note, coalesce(site, 'NULL'), coalesce(parent_uuid::text, 'NULL'), coalesce(tags::text, 'NULL') FROM inv.item ORDER BY sku", `
		A-1|quote " backslash \ newline
end|north|NULL|NULL
		B-2|child of A|north|11111111-1111-1111-1111-111111111111|{x,"y z"}
		C-3||NULL|NULL|{}
		D-4|Ünïcødé ✓|NULL|NULL|NULL`)
	wantRows(t, db, "SELECT site, code, coalesce(capacity::text, 'NULL') FROM inv.shelf ORDER BY site", "north|A1|10.3\nsouth|B2|NULL")

	// Composite key update, a too-long varchar, a dangling composite
	// reference, and a uuid key found through the unique sku.
	g := write(t, "upd.csv", "site,code,capacity\nnorth,A1,11\nwest,TOOLONG,1\n")
	res = userload(t, db, 1, "--db-schema", "inv", "-f", g, "--table", "shelf")
	if !strings.Contains(res.Stderr, g+`:3:6: shelf: column "code": value "TOOLONG": value too long for type character varying(4)`) {
		t.Errorf("stderr:\n%s", res.Stderr)
	}
	h := write(t, "item.csv", "sku,note,site,code\nA-1,,north,A1\nE-5,\"\",east,Z9\n")
	res = userload(t, db, 1, "--db-schema", "inv", "-f", h)
	if !strings.Contains(res.Stderr, h+`:3:1: item: column "site, code": no row of shelf has (site, code) = (east, Z9) (foreign key item_site_code_fkey)`) {
		t.Errorf("stderr:\n%s", res.Stderr)
	}
	h2 := write(t, "item.csv", "sku,note\nA-1,\nE-5,\"\"\n")
	userload(t, db, 0, "--db-schema", "inv", "-f", h2)
	wantRows(t, db, "SELECT sku, coalesce(note, 'NULL'), item_uuid::text LIKE '11111111-%' FROM inv.item WHERE sku IN ('A-1', 'E-5') ORDER BY sku", "A-1|NULL|t\nE-5||f")

	// The serial key's sequence is past the loaded value.
	db.Exec(t, "INSERT INTO inv.owners (name) VALUES ('next')")
	wantRows(t, db, "SELECT owner_id FROM inv.owners WHERE name = 'next'", "2")
}

func TestHelp(t *testing.T) {
	res := testkit.Run(t, nil, "userload", "--help")
	if res.Code != 0 || !strings.Contains(res.Stdout, "\nEXAMPLES:\n") || !strings.Contains(res.Stdout, "--rejects FILE") {
		t.Errorf("exit %d\n%s", res.Code, res.Stdout)
	}
}

func TestSummaryJSONShape(t *testing.T) {
	db := testkit.NewFixtureDB(t)
	f := write(t, "pri.dat", "TABLE priority\n code label sort_order\n { \"P5\", \"Five\", \"5\" }\n")
	res := userload(t, db, 0, "--json", "-f", f)
	var got map[string]any
	if err := json.Unmarshal([]byte(res.Stdout), &got); err != nil {
		t.Fatal(err)
	}
	keys := []string{}
	for k := range got {
		keys = append(keys, k)
	}
	for _, k := range []string{"mode", "records", "rejected", "committed", "tables"} {
		if _, ok := got[k]; !ok {
			t.Errorf("summary lacks %q: %v", k, keys)
		}
	}
	if !reflect.DeepEqual(got["committed"], true) {
		t.Errorf("committed = %v", got["committed"])
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestEmptyFilesAreChecked: a CSV file with only a header, or one of NUL
// bytes, is checked like any other (issue 22: both used to pass unread).
func TestEmptyFilesAreChecked(t *testing.T) {
	db := testkit.NewFixtureDB(t)
	res := userload(t, db, 2, "-f", write(t, "nosuch.csv", "a,b\n"))
	if !strings.Contains(res.Stderr, `nosuch.csv:1:1: unknown table "nosuch"`) {
		t.Errorf("stderr:\n%s", res.Stderr)
	}
	res = userload(t, db, 2, "-f", write(t, "priority.csv", "code,colour\n"))
	if !strings.Contains(res.Stderr, `priority.csv:1:1: table "priority" has no column "colour"`) {
		t.Errorf("stderr:\n%s", res.Stderr)
	}
	res = userload(t, db, 2, "-f", write(t, "priority.csv", strings.Repeat("\x00", 1000)))
	if !strings.Contains(res.Stderr, `priority.csv:1:1: header field 1 holds a NUL byte`) {
		t.Errorf("stderr:\n%s", res.Stderr)
	}
	res = userload(t, db, 0, "--json", "-f", write(t, "priority.csv", "code,label\n"))
	if got := counts(t, res); got != "" && got != "priority:0/0/0/0/0" {
		t.Errorf("counts %q", got)
	}
	wantRows(t, db, "SELECT count(*) FROM priority", "4")
}

func TestNulCharacterIsARejectNotACrash(t *testing.T) {
	db := testkit.NewFixtureDB(t)
	f := write(t, "nul.dat", `TABLE priority
    code label sort_order
    { "P5", "Five", "5" }
    { "P6", "nul\0000here", "6" }
`)
	res := userload(t, db, 1, "-f", f)
	if !strings.Contains(res.Stderr, f+`:4:13: priority: column "label": value "nul\\0here": the value holds a NUL character`) {
		t.Errorf("stderr:\n%s", res.Stderr)
	}
	wantRows(t, db, "SELECT count(*) FROM priority", "4")
}

// TestChangeColumnStamped: an update whose file does not give the change
// column moves it to now (incremental extracts see the row), in the upsert
// and in the -u path; records equal to the row, and files that give the
// column, leave the stamp to the data.
func TestChangeColumnStamped(t *testing.T) {
	db := testkit.NewFixtureDB(t)
	db.Exec(t, `UPDATE category SET last_mod = '2020-01-01 00:00:00+00'`)
	stamps := `SELECT string_agg(id || ':' || CASE WHEN last_mod > now() - interval '1 hour' THEN 'now' ELSE last_mod::date::text END, ' ' ORDER BY id) FROM category`
	f := write(t, "category.csv", "id,sym,description\n1,Hardware,Changed\n")
	userload(t, db, 0, "--schema", overlay, "-f", f)
	g := write(t, "category.csv", "id,sym,description\n2,Software,Changed too\n")
	userload(t, db, 0, "--schema", overlay, "-u", "-f", g)
	wantRows(t, db, stamps, "1:now 2:now 3:2020-01-01")
	db.Exec(t, `UPDATE category SET last_mod = '2020-01-01 00:00:00+00'`)
	userload(t, db, 0, "--schema", overlay, "-f", f) // the same values: unchanged
	h := write(t, "category.csv", "id,sym,last_mod\n3,Network!,2021-06-01 00:00:00+00\n")
	userload(t, db, 0, "--schema", overlay, "-f", h)
	wantRows(t, db, stamps, "1:2020-01-01 2:2020-01-01 3:2021-06-01")
}

// TestOtherCSVWriters: files of Python's csv module load with
// --null-quoted (None written as "" under QUOTE_ALL) and --lenient-quotes
// (a bare quote in an unquoted field), which the summary counts (issue 22).
func TestOtherCSVWriters(t *testing.T) {
	db := testkit.NewFixtureDB(t)
	quoteAll := write(t, "ca_location.csv", "\"id\",\"name\",\"address\",\"tenant\"\r\n\"901\",\"Depot\",\"\",\"\"\r\n\"902\",\"Annex\",\"1 Main St\",\"\"\r\n")
	res := userload(t, db, 1, "-f", quoteAll)
	if !strings.Contains(res.Stderr, quoteAll+`:2:18: ca_location: column "tenant": value "": invalid input syntax for type integer`) {
		t.Errorf("without --null-quoted, stderr:\n%s", res.Stderr)
	}
	userload(t, db, 0, "--null-quoted", "-f", quoteAll)
	wantRows(t, db, "SELECT id, name, address, tenant FROM ca_location WHERE id > 900 ORDER BY id", `
		901|Depot|NULL|NULL
		902|Annex|1 Main St|NULL`)

	bare := write(t, "ca_location.csv", "id,name,address\n903,Screens,24\" monitors\n904,Plain,x\n905,Two,\"a\"\"b\"\n906,Both,5\"1\"\n")
	res = userload(t, db, 2, "-f", bare)
	if !strings.Contains(res.Stderr, bare+`:2:15: bare " in an unquoted field`) {
		t.Errorf("without --lenient-quotes, stderr:\n%s", res.Stderr)
	}
	res = userload(t, db, 0, "--lenient-quotes", "--json", "-f", bare)
	var sum struct {
		LenientQuotes int64 `json:"lenient_quotes"`
	}
	if err := json.Unmarshal([]byte(res.Stdout), &sum); err != nil || sum.LenientQuotes != 2 {
		t.Errorf("lenient_quotes %d (%v):\n%s", sum.LenientQuotes, err, res.Stdout)
	}
	wantRows(t, db, "SELECT id, address FROM ca_location WHERE id > 902 ORDER BY id", `
		903|24" monitors
		904|x
		905|a"b
		906|5"1"`)
	res = userload(t, db, 0, "--lenient-quotes", "-f", bare)
	if !strings.Contains(res.Stdout, "2 fields with a bare \" accepted (--lenient-quotes)\n") {
		t.Errorf("text summary:\n%s", res.Stdout)
	}
}

// TestWideTables: a table of up to 1,596 columns loads; a wider one is bad
// input naming the limit (exit 2) rather than a database failure (exit 3,
// "tables can have at most 1600 columns"), issue 22.
func TestWideTables(t *testing.T) {
	db := testkit.NewDB(t)
	wide := func(table string, n int) (ddl, file string) {
		var defs, names, vals []string
		for i := 1; i <= n; i++ {
			defs = append(defs, fmt.Sprintf("c%d text", i))
			names = append(names, fmt.Sprintf("c%d", i))
			vals = append(vals, fmt.Sprintf(`"%d"`, i))
		}
		return fmt.Sprintf("CREATE TABLE %s (%s, PRIMARY KEY (c1))", table, strings.Join(defs, ", ")),
			fmt.Sprintf("TABLE %s\n %s\n { %s }\n", table, strings.Join(names, " "), strings.Join(vals, ", "))
	}
	ddl, ok := wide("w1596", 1596)
	db.Exec(t, ddl)
	ddl, tooWide := wide("w1598", 1598)
	db.Exec(t, ddl)
	userload(t, db, 0, "-f", write(t, "ok.dat", ok))
	wantRows(t, db, "SELECT c1, c1596 FROM w1596", "1|1596")
	f := write(t, "wide.dat", tooWide)
	res := userload(t, db, 2, "-f", f)
	if want := f + `:1: table "w1598": 1598 columns to load, but userload stages each record with 4 columns of its own in a table, and PostgreSQL allows 1600 columns a table: load at most 1596 columns at once`; !strings.Contains(res.Stderr, want) {
		t.Errorf("stderr lacks %q:\n%s", want, res.Stderr)
	}
	wantRows(t, db, "SELECT count(*) FROM w1598", "0")
	// verify -f is userload's check: the same limit, the same message.
	res = testkit.Run(t, db, "verify", "-f", f)
	if want := f + `:1: table "w1598": 1598 columns to load`; res.Code != 2 || !strings.Contains(res.Stderr, want) || !strings.Contains(res.Stdout, "too-many-columns") {
		t.Errorf("verify -f of 1598 columns: exit %d, stderr lacks %q:\n%s%s", res.Code, want, res.Stdout, res.Stderr)
	}
}
