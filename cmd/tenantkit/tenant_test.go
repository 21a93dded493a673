package main

import (
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/tenantkit/tenantkit/internal/testkit"
)

// tenantRun runs "tenant ARGS…" with the fixture overlay and checks the exit code.
func tenantRun(t *testing.T, db *testkit.DB, code int, args ...string) testkit.Result {
	t.Helper()
	res := testkit.Run(t, db, append([]string{"--schema", "fixtures/schema.xml", "tenant"}, args...)...)
	if res.Code != code {
		t.Fatalf("tenant %q: exit %d, want %d\nstdout: %s\nstderr: %s", args, res.Code, code, res.Stdout, res.Stderr)
	}
	return res
}

func tenantRows(t *testing.T, db *testkit.DB) string {
	t.Helper()
	var lines []string
	for _, r := range db.Rows(t, `SELECT t.name, coalesce(p.name, '-'), t.tenant_depth, t.subtenants_ok, t.service_provider, t.active
		FROM ca_tenant t LEFT JOIN ca_tenant p ON p.id = t.parent ORDER BY t.id`) {
		lines = append(lines, strings.Join(r, "|"))
	}
	return strings.Join(lines, "\n")
}

func TestTenantHierarchyRules(t *testing.T) {
	db := testkit.NewFixtureDB(t)
	res := tenantRun(t, db, 1, "create", "Acme")
	if !strings.Contains(res.Stderr, "refused: the service provider must be created first") {
		t.Errorf("stderr %q", res.Stderr)
	}
	tenantRun(t, db, 2, "create", "--service-provider", "--parent", "Nobody", "SP")
	tenantRun(t, db, 0, "create", "--service-provider", "--subtenants-allowed", "SP")
	res = tenantRun(t, db, 1, "create", "--service-provider", "SP2")
	if res.Stderr != "tenantkit: refused: tenant \"SP2\" cannot be the service provider: \"SP\" already is\n" {
		t.Errorf("stderr %q", res.Stderr)
	}
	tenantRun(t, db, 1, "create", "SP") // duplicate name
	tenantRun(t, db, 0, "create", "--parent", "SP", "--subtenants-allowed", "--with-access-groups", "Acme")
	if got := db.Value(t, "SELECT string_agg(tenant, ',') FROM tenantkit.acl_tenant_default"); got != "Acme" {
		t.Errorf("default access groups recorded for %s", got)
	}
	res = tenantRun(t, db, 0, "create", "--parent", "Acme", "--subtenants-allowed", "Acme EU")
	if res.Stdout != "created tenant Acme EU (key 3, depth 2, subtenants allowed)\n" {
		t.Errorf("stdout %q", res.Stdout)
	}
	tenantRun(t, db, 0, "create", "Globex")
	res = tenantRun(t, db, 1, "create", "--parent", "Globex", "Globex Labs")
	if !strings.Contains(res.Stderr, `tenant "Globex" cannot be the parent of "Globex Labs": it does not allow subtenants`) {
		t.Errorf("stderr %q", res.Stderr)
	}

	// tenant groups on the 3-level tree SP > Acme > Acme EU.
	res = tenantRun(t, db, 0, "groups", "Acme")
	want := `tenant Acme
  supertenants:      Acme, SP
  subtenants:        Acme, Acme EU
  related:           SP, Acme, Acme EU
  foreign-key group: Acme, SP
`
	if res.Stdout != want {
		t.Errorf("groups Acme\n%s\nwant\n%s", res.Stdout, want)
	}
	res = tenantRun(t, db, 0, "groups", "--json", "Acme EU")
	var g tenantGroupsJSON
	if err := json.Unmarshal([]byte(res.Stdout), &g); err != nil {
		t.Fatal(err)
	}
	wantG := tenantGroupsJSON{Tenant: "Acme EU", Supertenants: []string{"Acme EU", "Acme", "SP"}, Subtenants: []string{"Acme EU"},
		Related: []string{"SP", "Acme", "Acme EU"}, ForeignKeyGroup: []string{"Acme EU", "Acme", "SP"}}
	if !reflect.DeepEqual(g, wantG) {
		t.Errorf("groups --json Acme EU = %+v", g)
	}
	res = tenantRun(t, db, 0, "groups", "Globex")
	if !strings.Contains(res.Stdout, "  related:           Globex\n  foreign-key group: Globex (and SP through service-provider-eligible SRELs)\n") {
		t.Errorf("groups Globex:\n%s", res.Stdout)
	}
	tenantRun(t, db, 2, "groups", "Nobody")

	// Depth: with the default cap of 4 levels, level 4 is allowed, level 5 is not.
	tenantRun(t, db, 0, "create", "--parent", "Acme EU", "--subtenants-allowed", "Acme Paris")
	res = tenantRun(t, db, 1, "create", "--parent", "Acme Paris", "Acme Paris 1")
	if !strings.Contains(res.Stderr, `would reach depth 4; maxDepth 4 allows depths 0 to 3`) {
		t.Errorf("stderr %q", res.Stderr)
	}
	before := tenantRows(t, db)
	want = "SP|-|0|t|t|t\nAcme|SP|1|t|f|t\nAcme EU|Acme|2|t|f|t\nGlobex|-|0|f|f|t\nAcme Paris|Acme EU|3|t|f|t"
	if before != want {
		t.Fatalf("tenants\n%s\nwant\n%s", before, want)
	}

	// Refused moves change nothing.
	for _, args := range [][]string{
		{"SP", "Acme"},           // the service provider never has a parent
		{"Acme", "Acme Paris"},   // cycle
		{"Acme", "Acme"},         // cycle
		{"Acme Paris", "Globex"}, // Globex allows no subtenants
	} {
		tenantRun(t, db, 1, append([]string{"set-parent"}, args...)...)
	}
	tenantRun(t, db, 2, "set-parent", "Acme")
	tenantRun(t, db, 2, "set-parent", "Nobody", "Acme")
	if got := tenantRows(t, db); got != before {
		t.Errorf("a refused move changed the tenants:\n%s", got)
	}

	// Moving a subtree rewrites the depth of every tenant in it.
	res = tenantRun(t, db, 0, "set-parent", "--none", "Acme EU")
	if res.Stdout != "tenant Acme EU has no parent now (depth 0; 2 depth values updated)\n" {
		t.Errorf("stdout %q", res.Stdout)
	}
	want = "SP|-|0|t|t|t\nAcme|SP|1|t|f|t\nAcme EU|-|0|t|f|t\nGlobex|-|0|f|f|t\nAcme Paris|Acme EU|1|t|f|t"
	if got := tenantRows(t, db); got != want {
		t.Errorf("after set-parent --none\n%s\nwant\n%s", got, want)
	}
	// Acme EU's subtree (2 levels) under Acme Paris's old place … Acme is
	// level 2: 2 + 2 = 4 levels, allowed; under a level-3 tenant it is not.
	tenantRun(t, db, 0, "create", "--parent", "Acme", "--subtenants-allowed", "Acme US")
	tenantRun(t, db, 1, "set-parent", "Acme EU", "Acme US")
	tenantRun(t, db, 0, "set-parent", "Acme EU", "Acme")
	res = tenantRun(t, db, 0, "tree")
	want = `SP (service provider, subtenants allowed)
  Acme (subtenants allowed)
    Acme EU (subtenants allowed)
      Acme Paris (subtenants allowed)
    Acme US (subtenants allowed)
Globex
`
	if res.Stdout != want {
		t.Errorf("tree\n%s\nwant\n%s", res.Stdout, want)
	}
	if got := db.Value(t, "SELECT string_agg(name || '=' || tenant_depth, ',' ORDER BY id) FROM ca_tenant"); got != "SP=0,Acme=1,Acme EU=2,Globex=0,Acme Paris=3,Acme US=2" {
		t.Errorf("depths %s", got)
	}
	res = tenantRun(t, db, 0, "list")
	if !strings.Contains(res.Stdout, "Acme Paris  5    Acme EU  3      subtenants allowed\n") {
		t.Errorf("list:\n%s", res.Stdout)
	}
	// verify agrees that the hierarchy is sound.
	res = testkit.Run(t, db, "verify", "--schema", "fixtures/schema.xml", "--objects", "ca_tenant")
	if res.Code != 0 {
		t.Errorf("verify after the moves: exit %d\n%s", res.Code, res.Stdout)
	}
}

func TestTenantCap(t *testing.T) {
	db := testkit.NewFixtureDB(t)
	overlay := t.TempDir() + "/capped.xml"
	writeCapped(t, overlay)
	run := func(code int, args ...string) {
		t.Helper()
		res := testkit.Run(t, db, append([]string{"--schema", overlay, "tenant", "create"}, args...)...)
		if res.Code != code {
			t.Fatalf("create %q: exit %d, want %d: %s", args, res.Code, code, res.Stderr)
		}
	}
	run(0, "--service-provider", "SP")
	run(0, "A")
	run(1, "B")
	if n := db.Value(t, "SELECT count(*) FROM ca_tenant"); n != "2" {
		t.Errorf("%s tenants, want 2", n)
	}
}

func TestTenantGroups(t *testing.T) {
	db := testkit.NewFixtureDB(t)
	db.Exec(t, `INSERT INTO ca_tenant (id, name, parent, subtenants_ok, service_provider, tenant_depth) VALUES
		(1, 'SP', NULL, true, true, 0), (2, 'Acme', 1, true, false, 1), (3, 'Acme EU', 2, true, false, 2),
		(4, 'Acme Paris', 3, false, false, 3), (5, 'Globex', NULL, false, false, 0)`)
	res := tenantRun(t, db, 0, "group", "create", "Europe", "subtenants:Acme EU", "Globex")
	if res.Stdout != "tenant group Europe created: Acme EU, Acme Paris, Globex\n" {
		t.Errorf("stdout %q", res.Stdout)
	}
	res = tenantRun(t, db, 0, "group", "create", "Europe", "Globex", "Acme Paris", "3")
	if res.Stdout != "tenant group Europe unchanged: Acme EU, Acme Paris, Globex\n" {
		t.Errorf("rerun: stdout %q", res.Stdout)
	}
	tenantRun(t, db, 1, "group", "create", "Europe", "Globex")
	tenantRun(t, db, 2, "group", "create", "Acme", "Globex")      // named like a tenant
	tenantRun(t, db, 2, "group", "create", "related:x", "Globex") // a reference prefix
	tenantRun(t, db, 2, "group", "create", "Nowhere", "Atlantis") // unknown tenant
	tenantRun(t, db, 0, "group", "create", "Top", "group:Europe", "supertenants:Acme")
	res = tenantRun(t, db, 0, "group", "list")
	if res.Stdout != "Europe: Acme EU, Acme Paris, Globex\nTop: Acme, Acme EU, Acme Paris, Globex, SP\n" {
		t.Errorf("list %q", res.Stdout)
	}
	res = tenantRun(t, db, 0, "group", "create", "--replace", "Europe", "related:Acme EU")
	if res.Stdout != "tenant group Europe replaced: Acme, Acme EU, Acme Paris, SP\n" {
		t.Errorf("replace: stdout %q", res.Stdout)
	}
	tenantRun(t, db, 0, "group", "delete", "Europe")
	tenantRun(t, db, 2, "group", "delete", "Europe")
	tenantRun(t, db, 0, "group", "delete", "--if-exists", "Europe")
	if got := db.Value(t, "SELECT string_agg(group_name || ':' || tenant, ',' ORDER BY group_name, tenant) FROM tenantkit.tenant_group_member"); got != "Top:1,Top:2,Top:3,Top:4,Top:5" {
		t.Errorf("members %s", got)
	}
}

func writeCapped(t *testing.T, path string) {
	t.Helper()
	b, err := os.ReadFile(testkit.Path("fixtures/schema.xml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(strings.Replace(string(b), `maxTenants="0"`, `maxTenants="2"`, 1)), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestTenantMinimalTable: a tenant table with a text key without default, a
// parent, and none of the optional flag columns. The first tenant is the
// service provider; every tenant may have subtenants.
func TestTenantMinimalTable(t *testing.T) {
	db := testkit.NewDB(t)
	db.Exec(t, `CREATE TABLE org_unit (code text PRIMARY KEY, title text NOT NULL UNIQUE, parent_code text REFERENCES org_unit);
		CREATE TABLE ticket (id int PRIMARY KEY, owner text REFERENCES org_unit, note text, ref int REFERENCES ticket)`)
	overlay := t.TempDir() + "/minimal.xml"
	if err := os.WriteFile(overlay, []byte(`<Schema tenantColumn="owner"><Tenants table="org_unit" key="code" name="title" parent="parent_code" maxDepth="2"/></Schema>`), 0o600); err != nil {
		t.Fatal(err)
	}
	run := func(code int, args ...string) testkit.Result {
		t.Helper()
		res := testkit.Run(t, db, append([]string{"--schema", overlay, "tenant"}, args...)...)
		if res.Code != code {
			t.Fatalf("%q: exit %d, want %d: %s", args, res.Code, code, res.Stderr)
		}
		return res
	}
	run(2, "create", "HQ")                             // no default on the key: --id needed
	run(2, "create", "--id", "hq", "--inactive", "HQ") // no active column
	run(0, "create", "--id", "hq", "HQ")
	run(0, "create", "--id", "it's", "--parent", "HQ", "IT \"Dept\"")
	run(1, "create", "--id", "x", "--parent", "it's", "Too deep") // maxDepth 2
	run(0, "create", "--id", "x-ext", "External")
	run(1, "set-parent", "HQ", "External") // without a flag column, the root with the lowest key (HQ) is the service provider
	run(0, "set-parent", "External", "HQ")
	res := run(0, "tree")
	if res.Stdout != "HQ (service provider, subtenants allowed)\n  External (subtenants allowed)\n  IT \"Dept\" (subtenants allowed)\n" {
		t.Errorf("tree %q", res.Stdout)
	}
	db.Exec(t, `INSERT INTO ticket VALUES (1, 'x-ext', 'a', NULL), (2, 'it''s', 'b', 1), (3, 'hq', 'c', 2), (4, NULL, 'public', 3)`)
	res = testkit.Run(t, db, "verify", "--schema", overlay, "--json")
	var rep struct {
		Violations int
		Findings   []struct {
			Check, Srel string
			Samples     []string
		}
	}
	if err := json.Unmarshal([]byte(res.Stdout), &rep); err != nil {
		t.Fatalf("%v: %s %s", err, res.Stdout, res.Stderr)
	}
	// Ticket 2 (IT) -> 1 (External, a sibling) and the public ticket 4 -> 3
	// (HQ) leak; ticket 3 (HQ) -> 2 (IT) too: IT is below HQ, not above.
	want := `[{reference-rule ref [id=2 (IT "Dept") -> id=1 (External) id=3 (HQ) -> id=2 (IT "Dept") id=4 (public) -> id=3 (HQ)]}]`
	if got := fmt.Sprint(rep.Findings); res.Code != 1 || got != want {
		t.Errorf("exit %d, findings %s\nwant %s", res.Code, got, want)
	}
}
