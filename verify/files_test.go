package verify

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/tenantkit/tenantkit/datafile"
	"github.com/tenantkit/tenantkit/internal/testkit"
)

func writeTemp(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// A file that would load cleanly for Acme EU: its references point at rows
// of Acme EU, of Acme (a supertenant), public rows, rows missing from the
// database (loaded by the same run), and the service provider's contact
// through the eligible assignee.
const cleanFile = `TABLE ca_contact
    id userid last_name organization location tenant
    { "00000000-0000-0000-0000-0000000000a1", "new1", "O\"Neil", "4", "4", NULL }
    { "00000000-0000-0000-0000-0000000000a2", "new2", "Smith\nJr", "1", NULL, "" }
TABLE call_req
    ref_num summary open_date customer assignee category cost tags
    { "CR-9001", "ok", "2026-01-05 09:30:00", "00000000-0000-0000-0000-0000000000a1", "00000000-0000-0000-0000-000000000007", "1", "12.50", "{a,\"b c\"}" }
    { "CR-9002", "ok", "2026-01-05", "00000000-0000-0000-0000-000000000006", "00000000-0000-0000-0000-000000000001", NULL, NULL, NULL }
`

func TestVerifyFilesClean(t *testing.T) {
	db := testkit.NewFixtureDB(t)
	db.Exec(t, cleanFixture)
	f := writeTemp(t, "clean.dat", cleanFile)
	rep, err := verifyFiles(t, db, "fixtures/schema.xml", FileOptions{Tenant: "Acme EU"}, f)
	if err != nil || rep.Violations != 0 {
		t.Fatalf("%v, %d violations: %q", err, rep.Violations, rep.lines())
	}
	// Nothing was loaded.
	if n := db.Value(t, "SELECT count(*) FROM call_req WHERE ref_num LIKE 'CR-9%'"); n != "0" {
		t.Errorf("%s rows loaded", n)
	}
}

func TestVerifyFilesPlanted(t *testing.T) {
	db := testkit.NewFixtureDB(t)
	db.Exec(t, cleanFixture)
	bad := writeTemp(t, "bad.dat", `# every record below breaks one rule
TABLE ca_contact
    id userid last_name organization location tenant
    { "00000000-0000-0000-0000-0000000000b1", "b1", "A", "1", "2", "2" }
    { "not-a-uuid", "b2", NULL, "2", NULL, "2" }
    { "00000000-0000-0000-0000-0000000000b3", "b3", "C", "x1", NULL, "2" }
TABLE call_req
    ref_num summary open_date customer cost
    { "CR-9101", "x", "2026-13-01", "00000000-0000-0000-0000-000000000003", "1e20" }
    { "CR-9102", "x", "2026-01-01", "00000000-0000-0000-0000-000000000003", "1" }
`)
	csv := writeTemp(t, "ca_organization.csv", "id,name,description\n77,Acme,\n78,,\"multi\nline\"\n")
	rep, err := verifyFiles(t, db, "fixtures/schema.xml", FileOptions{Tenant: "Acme EU"}, bad, csv)
	if err != nil || rep.Violations != 7 {
		t.Errorf("%v, %d violations", err, rep.Violations)
	}
	want := []string{
		`bad-value cnt.id: 1: ` + bad + `:5:7: id="not-a-uuid": invalid input syntax for type uuid: "not-a-uuid"`,
		`bad-value cnt.organization: 1: ` + bad + `:6:58: organization="x1": invalid input syntax for type integer: "x1"`,
		`bad-value cr.cost: 1: ` + bad + `:9:77: cost="1e20": numeric field overflow`,
		`bad-value cr.open_date: 1: ` + bad + `:9:23: open_date="2026-13-01": date/time field value out of range: "2026-13-01"`,
		`null-value org.name: 1: ` + csv + `:3:4: name: NULL in a NOT NULL column`,
		`reference-rule cnt.location->loc: 1: ` + bad + `:4:5: location="2"`,
		`reference-rule cr.customer->cnt: 1: ` + bad + `:10:5: customer="00000000-0000-0000-0000-000000000003"`,
	}
	var got []string
	for _, l := range rep.lines() { // the reasons are userload's
		got = append(got, strings.SplitN(l, ": reference rule: ", 2)[0])
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("findings\n got %q\nwant %q", got, want)
	}
	// Without -t, rows of tenant-required tables need their own tenant.
	rep, err = verifyFiles(t, db, "fixtures/schema.xml", FileOptions{}, bad)
	if err != nil || rep.Violations == 0 {
		t.Errorf("%v, %d violations", err, rep.Violations)
	}
	var tenantLines []string
	for _, l := range rep.lines() {
		if strings.HasPrefix(l, "missing-tenant") {
			tenantLines = append(tenantLines, l)
		}
	}
	if want := []string{"missing-tenant cr.tenant: 1: " + bad + ":10:5: tenant: the table is tenant-required and the record has no tenant (give a tenant value or Options.Tenant)"}; !reflect.DeepEqual(tenantLines, want) {
		t.Errorf("without -t: %q", tenantLines)
	}
	// Sections userload cannot load are listed, all of them, and the file is
	// refused as userload refuses it (exit 2); the other sections are checked.
	structure := writeTemp(t, "structure.dat", `TABLE ca_contact
    id userid bogus tenant
    { "00000000-0000-0000-0000-0000000000b1", "b1", "x", "2" }
TABLE nosuch
    a
    { "1" }
TABLE priority
    code label sort_order
    { "P5", "Five", "five" }
`)
	rep, err = verifyFiles(t, db, "fixtures/schema.xml", FileOptions{}, structure, writeTemp(t, "ca_organization.csv", "name,extra\nAcme,1\n"),
		writeTemp(t, "ca_organization.csv", "name,description\nAcme,x\n"))
	if err == nil || !strings.HasPrefix(err.Error(), structure+":1:1: table \"ca_contact\" has no column \"bogus\" (and 3 more problems, see the report)") {
		t.Errorf("error %v", err)
	}
	var checks []string
	for _, l := range rep.lines() {
		checks = append(checks, strings.SplitN(l, ":", 2)[0])
	}
	if want := []string{"bad-value pri.sort_order", "missing-key org", "unknown-column cnt.bogus", "unknown-column org.extra", "unknown-table nosuch"}; !reflect.DeepEqual(checks, want) {
		t.Errorf("findings %q", rep.lines())
	}
}

func TestVerifyFilesErrors(t *testing.T) {
	db := testkit.NewFixtureDB(t)
	db.Exec(t, cleanFixture)
	malformed := writeTemp(t, "bad.dat", "TABLE priority\n    code label\n    { \"P9\", \"unterminated }\n")
	res := testkit.Run(t, db, "verify", "--schema", "fixtures/schema.xml", "-f", malformed)
	if res.Code != 2 || !strings.HasPrefix(res.Stderr, "tenantkit: "+malformed+":3:") {
		t.Errorf("malformed file: exit %d, stderr %q", res.Code, res.Stderr)
	}
	ok := writeTemp(t, "ok.dat", cleanFile)
	for _, args := range [][]string{
		{"-f", ok, "-t", "Nobody"},
		{"-f", ok, "-t", "Umbrella"}, // inactive
		{"-f", filepath.Join(t.TempDir(), "missing.dat")},
		{"-t", "Acme"}, // -t without -f
		{"-f", ok, "--encoding", "klingon"},
	} {
		res := testkit.Run(t, db, append([]string{"verify", "--schema", "fixtures/schema.xml"}, args...)...)
		if res.Code != 2 {
			t.Errorf("%q: exit %d, want 2: %s", args, res.Code, res.Stderr)
		}
	}
}

// TestVerifyFilesEmptySections: a section without records is checked like
// any other (userload refuses the files: exit 2), and the 1,000-NUL-byte file is malformed (issue 22).
func TestVerifyFilesEmptySections(t *testing.T) {
	db := testkit.NewFixtureDB(t)
	db.Exec(t, cleanFixture)
	f := writeTemp(t, "empty.dat", "TABLE nosuch\n    a\nTABLE priority\n    code colour\n")
	csv := writeTemp(t, "category.csv", "sym,shade\n")
	rep, err := verifyFiles(t, db, "fixtures/schema.xml", FileOptions{}, f, csv)
	if err == nil { // userload refuses such files
		t.Errorf("no error")
	}
	want := []string{
		`unknown-column pcat.shade: 1: ` + csv + `:1:1: table "category" has no column "shade"`,
		`unknown-column pri.colour: 1: ` + f + `:3:1: table "priority" has no column "colour"`,
		`unknown-table nosuch: 1: ` + f + `:1:1: unknown table "nosuch" (not in schema "public")`,
	}
	if got := rep.lines(); !reflect.DeepEqual(got, want) {
		t.Errorf("findings\n got %q\nwant %q", got, want)
	}
	nul := writeTemp(t, "priority.csv", strings.Repeat("\x00", 1000))
	res := testkit.Run(t, db, "verify", "--schema", "fixtures/schema.xml", "-f", nul)
	if res.Code != 2 || !strings.Contains(res.Stderr, nul+":1:1: header field 1 holds a NUL byte") {
		t.Errorf("NUL file: exit %d, stderr %q", res.Code, res.Stderr)
	}
}

// TestVerifyFilesNulValue: a NUL character in a value is a bad-value finding
// (exit 1), as userload rejects the record, not a database failure; the
// value is shown with the NUL as \0.
func TestVerifyFilesNulValue(t *testing.T) {
	db := testkit.NewFixtureDB(t)
	db.Exec(t, cleanFixture)
	f := writeTemp(t, "nul.dat", "TABLE priority\n    code label sort_order\n    { \"P5\", \"Five\", \"5\" }\n    { \"P6\", \"nul\\0000here\", \"6\" }\n")
	rep, err := verifyFiles(t, db, "fixtures/schema.xml", FileOptions{}, f)
	if err != nil || rep.Violations != 1 {
		t.Errorf("%v, %d violations", err, rep.Violations)
	}
	want := []string{`bad-value pri.label: 1: ` + f + `:4:13: label="nul\\0here": the value holds a NUL character, which PostgreSQL text cannot store`}
	if got := rep.lines(); !reflect.DeepEqual(got, want) {
		t.Errorf("findings\n got %q\nwant %q", got, want)
	}
}

// TestVerifyFilesCSVOptions: verify -f reads CSV files with the options
// userload has: --null-quoted makes "" NULL, --lenient-quotes accepts a
// bare quote and says how many fields needed it.
func TestVerifyFilesCSVOptions(t *testing.T) {
	db := testkit.NewFixtureDB(t)
	db.Exec(t, cleanFixture)
	f := writeTemp(t, "priority.csv", "\"code\",\"label\",\"sort_order\"\n\"P7\",\"Seven\",\"\"\n")
	rep, err := verifyFiles(t, db, "fixtures/schema.xml", FileOptions{}, f)
	if want := []string{`bad-value pri.sort_order: 1: ` + f + `:2:14: sort_order="": invalid input syntax for type integer: ""`}; err != nil || !reflect.DeepEqual(rep.lines(), want) {
		t.Errorf("%v, findings %q", err, rep.lines())
	}
	rep, err = verifyFiles(t, db, "fixtures/schema.xml", FileOptions{Read: datafile.Options{NullQuoted: true}}, f)
	if want := []string{`null-value pri.sort_order: 1: ` + f + `:2:14: sort_order: NULL in a NOT NULL column`}; err != nil || !reflect.DeepEqual(rep.lines(), want) {
		t.Errorf("NullQuoted: %v, findings %q", err, rep.lines())
	}
	bare := writeTemp(t, "priority.csv", "code,label,sort_order\nP8,8\" label,8\n")
	res := testkit.Run(t, db, "verify", "--schema", "fixtures/schema.xml", "-f", bare, "--lenient-quotes")
	if res.Code != 0 || !strings.Contains(res.Stderr, "1 field with a bare \" accepted (--lenient-quotes)\n") {
		t.Errorf("--lenient-quotes: exit %d, stderr %q", res.Code, res.Stderr)
	}
}
