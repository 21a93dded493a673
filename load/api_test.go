package load_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/tenantkit/tenantkit/datafile"
	"github.com/tenantkit/tenantkit/internal/testkit"
	"github.com/tenantkit/tenantkit/load"
	"github.com/tenantkit/tenantkit/schema"
)

// These tests call load.Run in process, on schemas unlike the fixtures:
// objects in a schema of their own, composite and uuid keys, text with
// quotes, backslashes, newlines and non-ASCII, NULL beside the empty
// string, a tenant column that is not called tenant.

// inProcess loads the object schema of db and returns a function running
// load.Run on it with opts (quiet: no Progress), and the rejects it reported.
func inProcess(t *testing.T, db *testkit.DB, so schema.Options) func(opts load.Options) (*load.Summary, []load.Reject, error) {
	t.Helper()
	ctx := context.Background()
	pool := db.Session(t)
	s, err := schema.Load(ctx, pool, so)
	if err != nil {
		t.Fatalf("schema.Load: %v", err)
	}
	return func(opts load.Options) (*load.Summary, []load.Reject, error) {
		t.Helper()
		var rejects []load.Reject
		opts.OnReject = func(r load.Reject) { rejects = append(rejects, r) }
		sum, err := load.Run(ctx, pool, s, opts)
		return sum, rejects, err
	}
}

// tableCounts is "inserted/updated/unchanged/deleted/rejected" of one table.
func tableCounts(t *testing.T, sum *load.Summary, table string) string {
	t.Helper()
	if sum == nil {
		t.Fatalf("no summary")
	}
	for _, tc := range sum.Tables {
		if tc.Table == table {
			return strings.Join([]string{itoa(tc.Inserted), itoa(tc.Updated), itoa(tc.Unchanged), itoa(tc.Deleted), itoa(tc.Rejected)}, "/")
		}
	}
	t.Fatalf("no counts for %s in %+v", table, sum.Tables)
	return ""
}

func tableOf(t *testing.T, sum *load.Summary, table string) *load.TableCounts {
	t.Helper()
	for _, tc := range sum.Tables {
		if tc.Table == table {
			return tc
		}
	}
	t.Fatalf("no counts for %s", table)
	return nil
}

func rejectTexts(rs []load.Reject) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.String()
	}
	return out
}

// wantErr fails unless err is non-nil and its message holds every part.
func wantErr(t *testing.T, err error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want one with %q", parts)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("error %q lacks %q", err, p)
		}
	}
}

const werkSQL = `
CREATE SCHEMA "Lager";
CREATE TABLE "Lager".werk (kuerzel text PRIMARY KEY, ort text NOT NULL);
CREATE TABLE "Lager"."Teil" (
	werk text REFERENCES "Lager".werk,
	nr integer,
	bezeichnung text NOT NULL,
	notiz text,
	menge integer NOT NULL DEFAULT 0 CHECK (menge >= 0),
	PRIMARY KEY (werk, nr)
);
CREATE TABLE "Lager".beleg (id uuid PRIMARY KEY, text text, teil_werk text, teil_nr int,
	FOREIGN KEY (teil_werk, teil_nr) REFERENCES "Lager"."Teil");
INSERT INTO "Lager".werk VALUES ('N', 'Nord'), ('S', 'Süd');
INSERT INTO "Lager"."Teil" VALUES ('N', 1, 'alt', NULL, 5), ('N', 2, 'bleibt', '', 1);
`

func TestRunUpsertCompositeKeyInProcess(t *testing.T) {
	db := testkit.NewDB(t)
	db.Exec(t, werkSQL)
	run := inProcess(t, db, schema.Options{DBSchema: "Lager"})
	f := write(t, "teil.dat", `TABLE Teil
    werk nr bezeichnung notiz menge
    { "N", "1", "Säge \"fein\" \\ C:\\tmp", "zwei\nZeilen", "7" }
    { "N", "2", "bleibt", "", "1" }
    { "S", "1", "Öl", NULL, "0" }
    { "S", "2", "leer", "", "3" }
`)
	sum, rejects, err := run(load.Options{Files: []string{f}})
	if err != nil || len(rejects) > 0 {
		t.Fatalf("Run: %v %v", err, rejectTexts(rejects))
	}
	if !sum.Committed || sum.Records != 4 || sum.Rejected != 0 || sum.Mode != "upsert" {
		t.Errorf("summary %+v", sum)
	}
	if got := tableCounts(t, sum, "Teil"); got != "2/1/1/0/0" {
		t.Errorf("Teil counts %s, want 2/1/1/0/0", got)
	}
	got := db.Rows(t, `SELECT werk, nr, bezeichnung, coalesce(notiz, '<NULL>'), menge FROM "Lager"."Teil" ORDER BY werk, nr`)
	want := [][]string{
		{"N", "1", `Säge "fein" \ C:\tmp`, "zwei\nZeilen", "7"},
		{"N", "2", "bleibt", "", "1"},
		{"S", "1", "Öl", "<NULL>", "0"},
		{"S", "2", "leer", "", "3"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("rows %q, want %q", got, want)
	}
	// A rerun changes nothing: every record matches a row holding its values.
	sum, _, err = run(load.Options{Files: []string{f}})
	if err != nil {
		t.Fatal(err)
	}
	if got := tableCounts(t, sum, "Teil"); got != "0/0/4/0/0" {
		t.Errorf("rerun counts %s, want 0/0/4/0/0", got)
	}
	// A record naming only some columns updates those and leaves the rest.
	g := write(t, "menge.csv", "werk,nr,bezeichnung\nS,1,\"Öl \"\"5W30\"\"\"\nS,2,leer\n")
	sum, rejects, err = run(load.Options{Files: []string{g}, File: datafile.Options{Table: "Teil"}})
	if err != nil {
		t.Fatal(err, rejectTexts(rejects))
	}
	if got := tableCounts(t, sum, "Teil"); got != "0/1/1/0/0" {
		t.Errorf("csv counts %s", got)
	}
	wantRows(t, db, `SELECT bezeichnung, coalesce(notiz, '<NULL>'), menge FROM "Lager"."Teil" WHERE werk = 'S' ORDER BY nr`, "Öl \"5W30\"|<NULL>|0\nleer||3")
}

func TestRunModesInProcess(t *testing.T) {
	db := testkit.NewDB(t)
	db.Exec(t, werkSQL)
	run := inProcess(t, db, schema.Options{DBSchema: "Lager"})
	f := write(t, "teil.dat", "TABLE Teil\n werk nr bezeichnung\n { \"N\", \"1\", \"neu\" }\n { \"S\", \"7\", \"sieben\" }\n")

	// Insert only: the existing key is a reject, and nothing is applied.
	sum, rejects, err := run(load.Options{Files: []string{f}, Mode: load.InsertOnly})
	wantErr(t, err, "1 record(s) rejected")
	if len(rejects) != 1 || rejects[0].Pos.Line != 3 || rejects[0].Table != "Teil" || rejects[0].Kind != "key exists" {
		t.Errorf("insert-only rejects %+v", rejects)
	}
	if sum.Committed || sum.Mode != "insert-only" {
		t.Errorf("summary %+v", sum)
	}
	wantRows(t, db, `SELECT count(*) FROM "Lager"."Teil" WHERE werk = 'S'`, "0")

	// Update only: the record without a match is the reject.
	sum, rejects, err = run(load.Options{Files: []string{f}, Mode: load.UpdateOnly})
	wantErr(t, err, "1 record(s) rejected")
	if len(rejects) != 1 || rejects[0].Pos.Line != 4 || rejects[0].Kind != "no match" {
		t.Errorf("update-only rejects %+v", rejects)
	}
	wantRows(t, db, `SELECT bezeichnung FROM "Lager"."Teil" WHERE (werk, nr) = ('N', 1)`, "alt")

	// With a rejects file the rest is committed and the reject written there.
	rej := filepath.Join(t.TempDir(), "rejects.dat")
	sum, _, err = run(load.Options{Files: []string{f}, Mode: load.UpdateOnly, RejectsFile: rej})
	wantErr(t, err, "1 record(s) rejected", rej)
	if !sum.Committed || sum.RejectsFile != rej || tableCounts(t, sum, "Teil") != "0/1/0/0/1" {
		t.Errorf("partial load summary %+v %s", sum, tableCounts(t, sum, "Teil"))
	}
	wantRows(t, db, `SELECT bezeichnung FROM "Lager"."Teil" WHERE (werk, nr) = ('N', 1)`, "neu")
	b, err := os.ReadFile(rej)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "{ \"S\", \"7\", \"sieben\" }") || strings.Contains(string(b), `"neu"`) {
		t.Errorf("rejects file:\n%s", b)
	}

	// Delete by a key given with Key: every match with All.
	del := write(t, "del.dat", "TABLE Teil\n werk\n { \"N\" }\n")
	_, rejects, err = run(load.Options{Files: []string{del}, Mode: load.Delete, Key: []string{"werk"}})
	if err == nil || len(rejects) != 1 || rejects[0].Kind != "several matches" {
		t.Errorf("delete of two matches without All: %v %+v", err, rejects)
	}
	sum, _, err = run(load.Options{Files: []string{del}, Mode: load.Delete, Key: []string{"werk"}, All: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := tableCounts(t, sum, "Teil"); got != "0/0/0/2/0" {
		t.Errorf("delete counts %s", got)
	}
	wantRows(t, db, `SELECT count(*) FROM "Lager"."Teil"`, "0")
}

// TestRunRejectsNameEveryRecordAndApplyNothing: every reason a record is
// refused is named at its position, and the run changes nothing.
func TestRunRejectsNameEveryRecordAndApplyNothing(t *testing.T) {
	db := testkit.NewDB(t)
	db.Exec(t, werkSQL)
	run := inProcess(t, db, schema.Options{DBSchema: "Lager"})
	f := write(t, "mixed.dat", `TABLE werk
    kuerzel ort
    { "W", "West" }
TABLE Teil
    werk nr bezeichnung menge
    { "W", "1", "gut", "1" }
    { "N", "zwei", "kein int", "1" }
    { "N", "3", NULL, "1" }
    { "X", "4", "kein werk", "1" }
    { "N", "5", "negativ", "-1" }
    { "W", "1", "doppelt", "2" }
`)
	sum, rejects, err := run(load.Options{Files: []string{f}})
	wantErr(t, err, "5 record(s) rejected", "nothing was loaded")
	want := []string{
		f + `:7:12: Teil: column "nr": value "zwei": invalid input syntax for type integer: "zwei"`,
		f + `:8:17: Teil: column "bezeichnung": NULL in a NOT NULL column`,
		f + `:9:5: Teil: column "werk": value "X": no row of werk has (kuerzel) = (X) (foreign key Teil_werk_fkey)`,
		f + `:10:5: Teil: new row for relation "Teil" violates check constraint "Teil_menge_check"`,
		f + `:11:5: Teil: duplicate key (werk, nr)=(W, 1) in the loaded data (first at ` + f + `:6)`,
	}
	got := rejectTexts(rejects)
	for _, w := range want {
		found := false
		for _, g := range got {
			found = found || strings.HasPrefix(g, w)
		}
		if !found {
			t.Errorf("no reject %q in:\n%s", w, strings.Join(got, "\n"))
		}
	}
	if len(got) != len(want) {
		t.Errorf("%d rejects, want %d:\n%s", len(got), len(want), strings.Join(got, "\n"))
	}
	if sum.Committed || sum.Records != 7 || sum.Rejected != 5 {
		t.Errorf("summary %+v", sum)
	}
	if sum.RejectsByReason["NOT NULL"] != 1 || sum.RejectsByReason["dangling foreign key"] != 1 {
		t.Errorf("rejects by reason %v", sum.RejectsByReason)
	}
	wantRows(t, db, `SELECT (SELECT count(*) FROM "Lager".werk), (SELECT count(*) FROM "Lager"."Teil")`, "2|2")

	// Check reports the same rejects and changes nothing even when all is well.
	ok := write(t, "ok.dat", "TABLE werk\n kuerzel ort\n { \"W\", \"West\" }\n { \"N\", \"Norden\" }\n")
	var detail bytes.Buffer
	sum, _, err = run(load.Options{Files: []string{ok}, Check: true, Verbose: true, Detail: &detail})
	if err != nil {
		t.Fatal(err)
	}
	if !sum.Checked || sum.Committed || tableCounts(t, sum, "werk") != "1/1/0/0/0" {
		t.Errorf("check summary %+v", sum)
	}
	for _, w := range []string{ok + ":3:2: insert werk", ok + ":4:2: update werk"} {
		if !strings.Contains(detail.String(), w) {
			t.Errorf("detail lacks %q:\n%s", w, detail.String())
		}
	}
	wantRows(t, db, `SELECT kuerzel, ort FROM "Lager".werk ORDER BY 1`, "N|Nord\nS|Süd")
}

// TestRunFastPathIntoEmptyTable: an empty table is loaded by the fast path;
// when the database refuses a row there the records go through staging,
// which names the bad one, and nothing is loaded.
func TestRunFastPathIntoEmptyTable(t *testing.T) {
	db := testkit.NewDB(t)
	db.Exec(t, werkSQL)
	db.Exec(t, `DELETE FROM "Lager"."Teil"`)
	run := inProcess(t, db, schema.Options{DBSchema: "Lager"})
	bad := write(t, "beleg.csv", "id,text\n"+
		"8a5e3c1e-0000-4000-8000-000000000001,\"a,\"\"b\"\"\"\n"+
		"not-a-uuid,x\n")
	_, rejects, err := run(load.Options{Files: []string{bad}, File: datafile.Options{Table: "beleg"}})
	wantErr(t, err, "1 record(s) rejected")
	if got := rejectTexts(rejects); len(got) != 1 || !strings.HasPrefix(got[0], bad+`:3:1: beleg: column "id": value "not-a-uuid": invalid input syntax for type uuid`) {
		t.Errorf("rejects %q", got)
	}
	wantRows(t, db, `SELECT count(*) FROM "Lager".beleg`, "0")

	good := write(t, "beleg.csv", "id,text,teil_werk,teil_nr\n"+
		"8a5e3c1e-0000-4000-8000-000000000001,\"a,\"\"b\"\"\",,\\N\n"+
		"8a5e3c1e-0000-4000-8000-000000000002,\"\",\\N,\\N\n")
	null := "\\N"
	sum, rejects, err := run(load.Options{Files: []string{good}, Mode: load.InsertOnly, File: datafile.Options{Table: "beleg", Null: &null}})
	if err != nil || len(rejects) > 0 {
		t.Fatalf("Run: %v %v", err, rejectTexts(rejects))
	}
	if tc := tableOf(t, sum, "beleg"); !tc.FastPath || tc.Inserted != 2 {
		t.Errorf("beleg counts %+v, want 2 inserted by the fast path", tc)
	}
	// With --null \N, empty fields are empty strings, not NULL.
	wantRows(t, db, `SELECT id, text IS NULL, text, teil_werk IS NULL, teil_nr IS NULL FROM "Lager".beleg ORDER BY id`,
		"8a5e3c1e-0000-4000-8000-000000000001|f|a,\"b\"|f|t\n8a5e3c1e-0000-4000-8000-000000000002|f||t|t")
}

// Two runs on one pool: a committed run leaves its session's temporary
// helpers behind, and the next run on that connection must not trip on them.
func TestTwoRunsOnOnePool(t *testing.T) {
	db := testkit.NewDB(t)
	db.Exec(t, `CREATE TABLE gauge (tag text PRIMARY KEY, reading numeric)`)
	ctx := context.Background()
	pool := db.Session(t)
	s, err := schema.Load(ctx, pool, schema.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i, body := range []string{"tag,reading\nA,1\n", "tag,reading\nA,2\nB,3\n"} {
		f := write(t, "gauge.csv", body)
		if _, err := load.Run(ctx, pool, s, load.Options{Files: []string{f}}); err != nil {
			t.Fatalf("run %d: %v", i+1, err)
		}
	}
	wantRows(t, db, "SELECT tag || '=' || reading FROM gauge ORDER BY tag", "A=2\nB=3")
}

// A file that leaves out a NOT NULL column without a default updates the
// rows its records match and rejects only the records that would insert.
func TestUpsertWithoutARequiredColumnUpdatesMatches(t *testing.T) {
	db := testkit.NewDB(t)
	db.Exec(t, `CREATE TABLE member (handle text PRIMARY KEY, joined date NOT NULL, note text);
		INSERT INTO member VALUES ('ann', '2020-01-01', NULL), ('bob', '2021-02-02', 'x')`)
	run := inProcess(t, db, schema.Options{})
	f := write(t, "member.csv", "handle,note\nann,\"it's \"\"ann\"\"\"\nbob,\ncyd,new\n")
	sum, rejects, err := run(load.Options{Files: []string{f}})
	if err == nil || sum.Rejected != 1 || len(rejects) != 1 ||
		!strings.Contains(rejects[0].String(), ":4:1: member: column \"joined\": cannot insert: the column is NOT NULL, has no default and is not in the file") {
		t.Fatalf("rejects %v, err %v", rejectTexts(rejects), err)
	}
	f = write(t, "member.csv", "handle,note\nann,\"it's \"\"ann\"\"\"\nbob,\n")
	if sum, rejects, err = run(load.Options{Files: []string{f}}); err != nil || len(rejects) > 0 {
		t.Fatalf("rejects %v, err %v", rejectTexts(rejects), err)
	}
	if got := tableCounts(t, sum, "member"); got != "0/2/0/0/0" {
		t.Errorf("counts %s", got)
	}
	wantRows(t, db, "SELECT handle || ' ' || joined || ' ' || coalesce(note, 'NULL') FROM member ORDER BY handle",
		"ann 2020-01-01 it's \"ann\"\nbob 2021-02-02 NULL")
}
