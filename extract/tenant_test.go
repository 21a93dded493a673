package extract_test

import (
	"encoding/json"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/tenantkit/tenantkit/internal/testkit"
)

// tenantFixture gives the fixture rows owners: SP (1) over Acme (2) over
// Acme EU (3), and Globex (4) under SP. Category 2 belongs to Acme; the
// other categories and notification rule 2 stay public.
func tenantFixture(t *testing.T) *testkit.DB {
	db := testkit.NewFixtureDB(t)
	db.Exec(t, `INSERT INTO ca_tenant (id, name, parent, subtenants_ok, service_provider, tenant_depth) VALUES
		(1, 'SP', NULL, true, true, 0), (2, 'Acme', 1, true, false, 1), (3, 'Acme EU', 2, false, false, 2), (4, 'Globex', 1, false, false, 1)`)
	db.Exec(t, `UPDATE ca_organization SET tenant = CASE id WHEN 1 THEN 2 WHEN 4 THEN 3 WHEN 2 THEN 4 ELSE 1 END;
		UPDATE ca_location SET tenant = CASE id WHEN 1 THEN 2 WHEN 4 THEN 3 WHEN 2 THEN 4 ELSE 1 END;
		UPDATE ca_contact SET tenant = CASE userid WHEN 'wcoyote' THEN 2 WHEN 'rrunner' THEN 2 WHEN 'jdupont' THEN 3 WHEN 'hscorpio' THEN 4 ELSE 1 END;
		UPDATE call_req SET tenant = CASE id WHEN 1 THEN 2 WHEN 5 THEN 3 WHEN 2 THEN 4 ELSE 1 END;
		UPDATE category SET tenant = 2 WHERE id = 2;
		UPDATE notification_rule SET tenant = 2 WHERE id = 1;
		UPDATE doc_repository SET tenant = 2 WHERE path = '/docs/acme'`)
	return db
}

// keys maps each table of a data file to the values of one column.
func keys(t *testing.T, path string, keyCols map[string]string) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for name, s := range readData(t, path) {
		col := keyCols[name]
		if col == "" {
			col = "id"
		}
		out[name] = s.column(t, col)
	}
	return out
}

var fixtureKeys = map[string]string{"ca_contact": "userid", "call_req": "ref_num", "priority": "code", "doc_repository": "path"}

func TestTenantExtractRowSets(t *testing.T) {
	db := tenantFixture(t)
	dir := t.TempDir()
	for _, tc := range []struct {
		name string
		args []string
		want map[string][]string
	}{
		{"own rows", nil, map[string][]string{
			"ca_organization": {"1"}, "ca_location": {"1"}, "ca_contact": {"wcoyote", "rrunner"},
			"category": {"2"}, "call_req": {"CR-1001"}, "notification_rule": {"1"}, "doc_repository": {"/docs/acme"},
		}},
		{"subtenants", []string{"--subtenants"}, map[string][]string{
			"ca_organization": {"1", "4"}, "ca_location": {"1", "4"}, "ca_contact": {"wcoyote", "rrunner", "jdupont"},
			"category": {"2"}, "call_req": {"CR-1001", "CR-1005"}, "notification_rule": {"1"}, "doc_repository": {"/docs/acme"},
		}},
		{"with public", []string{"--with-public"}, map[string][]string{
			"ca_organization": {"1"}, "ca_location": {"1"}, "ca_contact": {"wcoyote", "rrunner"},
			"category": {"1", "2"}, "call_req": {"CR-1001"}, "notification_rule": {"1"}, "doc_repository": {"/docs/acme"},
			"priority": {"P1"},
		}},
		{"subtenants with public", []string{"--subtenants", "--with-public"}, map[string][]string{
			"ca_organization": {"1", "4"}, "ca_location": {"1", "4"}, "ca_contact": {"wcoyote", "rrunner", "jdupont"},
			"category": {"1", "2"}, "call_req": {"CR-1001", "CR-1005"}, "notification_rule": {"1"}, "doc_repository": {"/docs/acme"},
			"priority": {"P1", "P2"},
		}},
		{"objects", []string{"--objects", "cr,ca_cont*", "--with-public"}, map[string][]string{
			"ca_contact": {"wcoyote", "rrunner"}, "call_req": {"CR-1001"}, "category": {"1"}, "priority": {"P1"},
		}},
		{"by key, Globex", []string{"--tenant", "4"}, map[string][]string{
			"ca_organization": {"2"}, "ca_location": {"2"}, "ca_contact": {"hscorpio"}, "call_req": {"CR-1002"},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := join(dir, tc.name+".dat")
			args := []string{"tenant-extract", "--schema", "fixtures/schema.xml", "-o", out}
			if len(tc.args) == 0 || tc.args[0] != "--tenant" {
				args = append(args, "--tenant", "Acme")
			}
			run(t, db, 0, append(args, tc.args...)...)
			got := keys(t, out, fixtureKeys)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("rows\n got %v\nwant %v", got, tc.want)
			}
		})
	}
}

// TestTenantExtractOrderAndStrip checks parents before children, key order
// inside a table, and --strip-tenant.
func TestTenantExtractOrderAndStrip(t *testing.T) {
	db := tenantFixture(t)
	res := run(t, db, 0, "tenant-extract", "--schema", "fixtures/schema.xml", "--tenant", "Acme", "--subtenants", "--strip-tenant", "--objects", "org,cnt")
	want := `TABLE ca_organization
    id name description parent_org_id inactive last_mod
    { "1", "Acme", "Acme Corporation", NULL, "0", "` + db.Value(t, "SELECT (last_mod AT TIME ZONE 'UTC')::text || '+00' FROM ca_organization WHERE id = 1") + `" }
    { "4", "Acme Europe", "European branch of Acme", "1", "0", "`
	if len(res.Stdout) < len(want) || res.Stdout[:len(want)] != want {
		t.Fatalf("output:\n%s\nwant it to start with:\n%s", res.Stdout, want)
	}
	out := join(t.TempDir(), "seed.csv")
	run(t, db, 0, "tenant-extract", "--schema", "fixtures/schema.xml", "--tenant", "Acme", "--strip-tenant", "--objects", "cnt", "-o", out)
	s := readData(t, out)["seed"]
	if want := []string{"id", "userid", "last_name", "first_name", "email", "organization", "location", "attrs", "last_mod"}; !reflect.DeepEqual(s.columns, want) {
		t.Errorf("columns = %v", s.columns)
	}
	if got := s.column(t, "userid"); !reflect.DeepEqual(got, []string{"wcoyote", "rrunner"}) {
		t.Errorf("userid = %v (key order is by id)", got)
	}
}

func TestTenantExtractIncremental(t *testing.T) {
	db := tenantFixture(t)
	dir := t.TempDir()
	ctl := join(dir, "acme.ctl")
	extractRun := func(name string) (map[string][]string, map[string]int64) {
		out := join(dir, name+".dat")
		res := run(t, db, 0, "--json", "tenant-extract", "--schema", "fixtures/schema.xml", "--tenant", "Acme", "--subtenants", "--control", ctl, "-o", out)
		var sum struct {
			Tables []struct {
				Table string
				Rows  int64
			}
		}
		if err := json.Unmarshal([]byte(res.Stdout), &sum); err != nil {
			t.Fatalf("summary %q: %v", res.Stdout, err)
		}
		counts := map[string]int64{}
		for _, tab := range sum.Tables {
			counts[tab.Table] = tab.Rows
		}
		return keys(t, out, fixtureKeys), counts
	}
	first, counts := extractRun("first")
	if got := first["ca_contact"]; !reflect.DeepEqual(got, []string{"wcoyote", "rrunner", "jdupont"}) {
		t.Fatalf("first run contacts = %v", got)
	}
	if counts["call_req"] != 2 || counts["ca_organization"] != 2 {
		t.Errorf("first run counts = %v", counts)
	}
	// Touch three rows of the tenant's and one of another tenant.
	db.Exec(t, `UPDATE ca_contact SET email = 'new@acme.example', last_mod = now() WHERE userid IN ('rrunner', 'jdupont', 'hscorpio');
		UPDATE call_req SET summary = 'Printer still on fire', last_mod = now() WHERE ref_num = 'CR-1001'`)
	second, counts := extractRun("second")
	want := map[string][]string{"ca_contact": {"rrunner", "jdupont"}, "call_req": {"CR-1001"}}
	if !reflect.DeepEqual(second, want) {
		t.Errorf("second run\n got %v\nwant %v", second, want)
	}
	if counts["ca_contact"] != 2 || counts["call_req"] != 1 {
		t.Errorf("second run counts = %v", counts)
	}
	third, _ := extractRun("third")
	for table, rows := range third {
		if len(rows) != 0 {
			t.Errorf("third run extracted %v from %s", rows, table)
		}
	}
	// The control file is refused for another tenant.
	res := run(t, db, 2, "tenant-extract", "--schema", "fixtures/schema.xml", "--tenant", "Globex", "--control", ctl, "-o", join(dir, "x.dat"))
	if want := "tracks tenant-extract (tenant 2 with subtenants), not tenant-extract (tenant 4)"; !strings.Contains(res.Stderr, want) {
		t.Errorf("stderr %q", res.Stderr)
	}
	var file struct {
		Tables map[string]struct {
			ChangeColumn string `json:"change_column"`
			Mark         string
			Rows         int64
		}
	}
	b, err := os.ReadFile(ctl)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &file); err != nil {
		t.Fatal(err)
	}
	if c := file.Tables["ca_contact"]; c.ChangeColumn != "last_mod" || c.Mark != db.Value(t, "SELECT (max(last_mod) AT TIME ZONE 'UTC')::text || '+00' FROM ca_contact WHERE tenant IN (2, 3)") {
		t.Errorf("control entry = %+v", c)
	}
}

// TestIncrementalInFlight checks that a transaction in flight while a run
// takes its snapshot is not lost: its rows carry a change time older than
// rows the run sees.
func TestIncrementalInFlight(t *testing.T) {
	db := tenantFixture(t)
	dir := t.TempDir()
	ctl := join(dir, "c.ctl")
	run(t, db, 0, "extract", "--sorted", "--schema", "fixtures/schema.xml", "--control", ctl, "-o", join(dir, "1.dat"), "cnt")
	ctx := t.Context()
	tx, err := db.Pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `UPDATE ca_contact SET last_mod = now() WHERE userid = 'orphan'`); err != nil {
		t.Fatal(err)
	}
	// Committed after the open transaction began: a newer change time.
	db.Exec(t, `UPDATE ca_contact SET last_mod = now() WHERE userid = 'mbolton'`)
	second := join(dir, "2.dat")
	run(t, db, 0, "extract", "--sorted", "--schema", "fixtures/schema.xml", "--control", ctl, "-o", second, "cnt")
	if got := readData(t, second)["ca_contact"].column(t, "userid"); !reflect.DeepEqual(got, []string{"mbolton"}) {
		t.Errorf("second run = %v", got)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	third := join(dir, "3.dat")
	run(t, db, 0, "extract", "--sorted", "--schema", "fixtures/schema.xml", "--control", ctl, "-o", third, "cnt")
	got := readData(t, third)["ca_contact"].column(t, "userid")
	if !reflect.DeepEqual(got, []string{"mbolton", "orphan"}) {
		t.Errorf("third run = %v; want the late commit (orphan), and mbolton again at most", got)
	}
}
