package buildtenant

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/tenantkit/tenantkit/internal/testkit"
)

const overlay = "fixtures/schema.xml"

// spSQL creates the fixture's service provider.
const spSQL = `INSERT INTO ca_tenant (name, subtenants_ok, service_provider) VALUES ('SP', true, true)`

// tenantsSQL shows every tenant with its parent's name, for exact assertions.
const tenantsSQL = `SELECT t.name, coalesce(t.description, 'NULL'), coalesce(p.name, '-'), t.subtenants_ok, t.tenant_depth
FROM ca_tenant t LEFT JOIN ca_tenant p ON p.id = t.parent ORDER BY t.tenant_depth, t.name`

// orgTenantsSQL shows each organization with its tenant's name.
const orgTenantsSQL = `SELECT o.id, coalesce(t.name, 'NULL') FROM ca_organization o LEFT JOIN ca_tenant t ON t.id = o.tenant ORDER BY o.id`

func joined(rows [][]string) string {
	lines := make([]string, len(rows))
	for i, r := range rows {
		lines[i] = strings.Join(r, "|")
	}
	return strings.Join(lines, "\n")
}

// writeConfig writes a configuration file and returns its path.
func writeConfig(t *testing.T, text string) string {
	return testkit.WriteFile(t, "buildtenant.xml", text)
}

// assertNothingBuilt checks that a run left only the wanted tenants and
// linked no organization.
func assertNothingBuilt(t *testing.T, db *testkit.DB, tenants string) {
	t.Helper()
	if n := db.Value(t, "SELECT count(*) FROM ca_tenant"); n != tenants {
		t.Errorf("%s tenants, want %s", n, tenants)
	}
	if n := db.Value(t, "SELECT count(*) FROM ca_organization WHERE tenant IS NOT NULL"); n != "0" {
		t.Errorf("%s organizations linked, want none", n)
	}
}

func mustRun(t *testing.T, db *testkit.DB, want int, args ...string) testkit.Result {
	t.Helper()
	res := testkit.Run(t, db, args...)
	if res.Code != want {
		t.Fatalf("tenantkit %s: exit %d, want %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), res.Code, want, res.Stdout, res.Stderr)
	}
	return res
}

func TestBuildFixtures(t *testing.T) {
	db := testkit.NewFixtureDB(t)
	db.Exec(t, spSQL)
	// A third level, to see the hierarchy followed all the way down.
	db.Exec(t, `INSERT INTO ca_organization (id, name, description, parent_org_id) VALUES (7, 'Acme Paris', NULL, 4)`)

	res := mustRun(t, db, 0, "buildtenant", "--schema", overlay)
	if res.Stdout != "org: 6 created, 0 adopted (6 rows selected)\n" {
		t.Errorf("stdout = %q", res.Stdout)
	}
	want := strings.Join([]string{
		"SP|NULL|-|t|0",
		"Acme|Acme Corporation|SP|t|1",
		"Globex|Globex, \"the\" company|SP|f|1",
		"Initech|Initech\nsoftware|SP|f|1",
		"Société Générale|Non-ASCII name, backslash \\ |SP|f|1",
		"Acme Europe|European branch of Acme|Acme|t|2",
		"Acme Paris|NULL|Acme Europe|f|3",
	}, "\n")
	if got := joined(db.Rows(t, tenantsSQL)); got != want {
		t.Errorf("tenants:\n%s\nwant:\n%s", got, want)
	}
	wantOrgs := "1|Acme\n2|Globex\n3|Initech\n4|Acme Europe\n5|NULL\n6|Société Générale\n7|Acme Paris"
	if got := joined(db.Rows(t, orgTenantsSQL)); got != wantOrgs {
		t.Errorf("organizations:\n%s\nwant:\n%s", got, wantOrgs)
	}

	// A rerun creates nothing and says so.
	res = mustRun(t, db, 0, "buildtenant", "--schema", overlay)
	if res.Stdout != "org: 0 created, 0 adopted (0 rows selected)\n" {
		t.Errorf("rerun stdout = %q", res.Stdout)
	}
	res = mustRun(t, db, 0, "buildtenant", "--schema", overlay, "--json")
	var sum Result
	if err := json.Unmarshal([]byte(res.Stdout), &sum); err != nil {
		t.Fatalf("bad JSON %v: %s", err, res.Stdout)
	}
	if sum.Created != 0 || sum.Adopted != 0 || len(sum.Objects) != 1 || sum.Objects[0].Table != "ca_organization" {
		t.Errorf("rerun JSON = %s", res.Stdout)
	}
	if got := joined(db.Rows(t, tenantsSQL)); got != want {
		t.Errorf("tenants after reruns:\n%s", got)
	}

	// Umbrella becomes active: the next run builds just its tenant.
	db.Exec(t, "UPDATE ca_organization SET inactive = 0 WHERE id = 5")
	res = mustRun(t, db, 0, "buildtenant", "--schema", overlay)
	if !strings.HasPrefix(res.Stdout, "org: 1 created") {
		t.Errorf("stdout = %q", res.Stdout)
	}
	if got := db.Value(t, "SELECT t.name || '<' || p.name FROM ca_organization o JOIN ca_tenant t ON t.id = o.tenant JOIN ca_tenant p ON p.id = t.parent WHERE o.id = 5"); got != "Umbrella<SP" {
		t.Errorf("Umbrella's tenant = %s", got)
	}
}

func TestCheckChangesNothing(t *testing.T) {
	db := testkit.NewFixtureDB(t)
	db.Exec(t, spSQL)
	res := mustRun(t, db, 0, "buildtenant", "-c", "--schema", overlay)
	want := `would create tenant "Acme" under "SP" (depth 1) for org id=1
would create tenant "Globex" under "SP" (depth 1) for org id=2
would create tenant "Initech" under "SP" (depth 1) for org id=3
would create tenant "Société Générale" under "SP" (depth 1) for org id=6
would create tenant "Acme Europe" under "Acme" (depth 2) for org id=4
org: 5 to create, 0 to adopt (5 rows selected)
check only: nothing was changed
`
	if res.Stdout != want {
		t.Errorf("stdout:\n%s\nwant:\n%s", res.Stdout, want)
	}
	assertNothingBuilt(t, db, "1")
}

func TestWhereAndUnselectedParents(t *testing.T) {
	db := testkit.NewFixtureDB(t)
	db.Exec(t, spSQL)
	db.Exec(t, `INSERT INTO ca_organization (id, name, parent_org_id) VALUES (7, 'Acme Paris', 4), (8, 'Acme Lyon', 4)`)
	// Acme Europe (4) is left out: its children go under the nearest
	// ancestor that gets a tenant, Acme.
	cfg := writeConfig(t, `<BuildTenant>
  <Object from="org">
    <Attribute from="name" to="name"/>
    <Parent from="parent_org"/>
    <Where>id &lt;&gt; 4 AND inactive = 0 -- not Acme Europe</Where>
  </Object>
</BuildTenant>`)
	mustRun(t, db, 0, "buildtenant", "--schema", overlay, "-f", cfg)
	want := "1|Acme\n2|Globex\n3|Initech\n4|NULL\n5|NULL\n6|Société Générale\n7|Acme Paris\n8|Acme Lyon"
	if got := joined(db.Rows(t, orgTenantsSQL)); got != want {
		t.Errorf("organizations:\n%s\nwant:\n%s", got, want)
	}
	if got := joined(db.Rows(t, "SELECT t.name, p.name, t.tenant_depth FROM ca_tenant t JOIN ca_tenant p ON p.id = t.parent WHERE t.name LIKE 'Acme %' ORDER BY 1")); got != "Acme Lyon|Acme|2\nAcme Paris|Acme|2" {
		t.Errorf("children of the unselected row:\n%s", got)
	}
	// Now Acme Europe alone is selected: it goes under Acme; its former
	// children keep their tenants.
	mustRun(t, db, 0, "buildtenant", "--schema", overlay)
	if got := db.Value(t, "SELECT p.name || '/' || t.name || ':' || t.tenant_depth FROM ca_tenant t JOIN ca_tenant p ON p.id = t.parent WHERE t.name = 'Acme Europe'"); got != "Acme/Acme Europe:2" {
		t.Errorf("Acme Europe = %s", got)
	}
	if n := db.Value(t, "SELECT count(*) FROM ca_tenant"); n != "8" {
		t.Errorf("%s tenants, want 8", n)
	}
}

func TestCollisionsAndAdopt(t *testing.T) {
	db := testkit.NewFixtureDB(t)
	db.Exec(t, spSQL)
	db.Exec(t, `INSERT INTO ca_tenant (name, parent, subtenants_ok, tenant_depth) VALUES ('Globex', 1, true, 1)`)
	db.Exec(t, `INSERT INTO ca_organization (id, name, parent_org_id) VALUES (7, 'Initech', NULL), (8, 'Initech', 2)`)

	res := mustRun(t, db, 1, "buildtenant", "--schema", overlay)
	for _, want := range []string{
		`org: tenant "Globex" already exists (--on-conflict adopt links the rows to it): id=2` + "\n",
		`org: tenant name "Initech" would be given by 3 rows: id=3, id=7, id=8` + "\n",
		"tenantkit: 2 problems found; nothing was created\n",
	} {
		if !strings.Contains(res.Stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, res.Stderr)
		}
	}
	assertNothingBuilt(t, db, "2")
	// The JSON summary lists the problems too.
	res = mustRun(t, db, 1, "buildtenant", "--schema", overlay, "--json", "-c")
	var sum Result
	if err := json.Unmarshal([]byte(res.Stdout), &sum); err != nil {
		t.Fatalf("bad JSON %v: %s", err, res.Stdout)
	}
	if len(sum.Problems) != 2 || sum.Problems[0].Kind != NameExists || sum.Problems[1].Kind != NameDuplicate || sum.Problems[1].RowCount != 3 {
		t.Errorf("problems = %s", res.Stdout)
	}

	// Adopt links Globex to the existing tenant, but two rows wanting one
	// new name are still a collision.
	res = mustRun(t, db, 1, "buildtenant", "--schema", overlay, "--on-conflict", "adopt")
	if strings.Contains(res.Stderr, "Globex") || !strings.Contains(res.Stderr, `"Initech" would be given by 3 rows`) {
		t.Errorf("stderr with adopt:\n%s", res.Stderr)
	}
	db.Exec(t, "DELETE FROM ca_organization WHERE id IN (7, 8)")
	res = mustRun(t, db, 0, "buildtenant", "--schema", overlay, "--on-conflict", "adopt")
	if res.Stdout != "org: 4 created, 1 adopted (5 rows selected)\n" {
		t.Errorf("stdout = %q", res.Stdout)
	}
	if got := db.Value(t, "SELECT o.tenant = t.id FROM ca_organization o, ca_tenant t WHERE o.id = 2 AND t.name = 'Globex'"); got != "t" {
		t.Error("Globex's row is not linked to the existing Globex tenant")
	}
	if n := db.Value(t, "SELECT count(*) FROM ca_tenant WHERE name = 'Globex'"); n != "1" {
		t.Errorf("%s tenants named Globex", n)
	}
}

func TestHierarchyProblems(t *testing.T) {
	db := testkit.NewFixtureDB(t)
	db.Exec(t, `INSERT INTO ca_tenant (name, subtenants_ok, service_provider) VALUES ('SP', false, true)`)
	db.Exec(t, "UPDATE ca_organization SET parent_org_id = 3 WHERE id = 2")
	db.Exec(t, "UPDATE ca_organization SET parent_org_id = 2 WHERE id = 3")
	db.Exec(t, "UPDATE ca_organization SET parent_org_id = 6 WHERE id = 6") // its own parent: a root
	res := mustRun(t, db, 1, "buildtenant", "--schema", overlay)
	for _, want := range []string{
		"org: 2 rows are on (or below) a cycle of parent rows: id=2, id=3\n",
		`org: parent tenant "SP" does not allow subtenants (subtenants_ok is false); 2 new tenants would go under it: id=1, id=6` + "\n",
	} {
		if !strings.Contains(res.Stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, res.Stderr)
		}
	}
	assertNothingBuilt(t, db, "1")
	// A cap on the number of tenants.
	text, err := os.ReadFile(testkit.Path(overlay))
	if err != nil {
		t.Fatal(err)
	}
	capped := testkit.WriteFile(t, "capped.xml", strings.Replace(string(text), `maxTenants="0"`, `maxTenants="3"`, 1))
	res = mustRun(t, db, 1, "buildtenant", "--schema", capped)
	if want := "org: 1 tenant exists and 5 would be added, beyond maxTenants 3\n"; !strings.Contains(res.Stderr, want) {
		t.Errorf("stderr lacks %q:\n%s", want, res.Stderr)
	}
}

func TestMissingServiceProvider(t *testing.T) {
	db := testkit.NewFixtureDB(t)
	res := mustRun(t, db, 2, "buildtenant", "--schema", overlay)
	if res.Stderr != "tenantkit: tenant table \"ca_tenant\" has no service provider tenant: create it before building tenants\n" {
		t.Errorf("stderr = %q", res.Stderr)
	}
	assertNothingBuilt(t, db, "0")
}

func TestConfigRefused(t *testing.T) {
	db := testkit.NewFixtureDB(t)
	db.Exec(t, spSQL)
	obj := func(body string) string {
		return "<BuildTenant>\n  <Object from=\"org\">\n" + body + "\n  </Object>\n</BuildTenant>\n"
	}
	name := `    <Attribute from="name" to="name"/>`
	tests := []struct {
		name, config string
		noOverlay    bool
		want         string
	}{
		{"malformed", "<BuildTenant>\n  <Object from=\"org\">\n</BuildTenant>\n", false,
			":3: malformed XML: element <Object> closed by </BuildTenant>"},
		{"unknown element", obj(name + "\n    <Filter>x</Filter>"), false,
			":4:5: unknown element <Filter> inside <Object>"},
		{"unknown object", strings.Replace(obj(name), `"org"`, `"organisation"`, 1), false,
			`:2:11: unknown object "organisation" (not an object or table name of schema "public")`},
		{"unknown source attribute", obj(`    <Attribute from="nom" to="name"/>`), false,
			`:3:16: object "org" has no attribute "nom" (not a column of table "ca_organization")`},
		{"unknown tenant column", obj(name + "\n    <Attribute from=\"name\" to=\"label\"/>"), false,
			`:4:28: tenant table "ca_tenant" has no column "label"`},
		{"derived column", obj(name + "\n    <Attribute from=\"id\" to=\"tenant_depth\"/>"), false,
			`:4:26: tenant column "tenant_depth" (the depth) is set by buildtenant, not mapped`},
		{"no name mapping", obj(`    <Attribute from="description" to="description"/>`), false,
			`:2:3: object "org": no <Attribute> maps to the tenant name column "name"`},
		{"type mismatch", obj(name + "\n    <Attribute from=\"inactive\" to=\"active\"/>"), false,
			`:4:5: <Attribute from="inactive" to="active">: column "active" is of type boolean but expression is of type smallint`},
		{"bad parent", obj(name + "\n    <Parent from=\"name\"/>"), false,
			`:4:13: <Parent>: object "org" has no SREL "name" (declare it in the overlay: <Srel attr="name" column=… to="org"/>)`},
		{"where unknown column", obj(name + "\n    <Where>inactiv = 0</Where>"), false,
			`:4:5: <Where>: column "inactiv" does not exist`},
		{"where not boolean", obj(name + "\n    <Where>inactive</Where>"), false,
			`:4:5: <Where>: argument of WHERE must be type boolean, not type smallint`},
		{"where escapes its parentheses", obj(name + "\n    <Where>true) OR (true</Where>"), false,
			`:4:5: <Where>: a ')' closes a parenthesis the condition did not open`},
		{"where two statements", obj(name + "\n    <Where>true; DELETE FROM ca_tenant</Where>"), false,
			`:4:5: <Where>: the condition contains ';': <Where> takes one SQL condition, not statements`},
		{"not tenant-required", strings.Replace(obj(name), `"org"`, `"ca_organization"`, 1), true,
			`:2:11: object "ca_organization" (table "ca_organization") is tenant-optional (column "tenant"); the pre-tenant object must be tenant-required: declare tenancy="required" in the schema overlay`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := writeConfig(t, tt.config)
			args := []string{"buildtenant", "-f", cfg}
			if !tt.noOverlay {
				args = append(args, "--schema", overlay)
			}
			res := mustRun(t, db, 2, args...)
			if want := "tenantkit: " + cfg + tt.want + "\n"; res.Stderr != want {
				t.Errorf("stderr\n got %q\nwant %q", res.Stderr, want)
			}
		})
	}
	res := mustRun(t, db, 2, "buildtenant", "--on-conflict", "merge", "--schema", overlay)
	if res.Stderr != "tenantkit: --on-conflict \"merge\": want error or adopt\n" {
		t.Errorf("stderr = %q", res.Stderr)
	}
	res = mustRun(t, db, 2, "buildtenant", "-f", "no/such/buildtenant.xml", "--schema", overlay)
	if !strings.Contains(res.Stderr, "no/such/buildtenant.xml") {
		t.Errorf("stderr = %q", res.Stderr)
	}
	assertNothingBuilt(t, db, "1")
}

// A schema that shares nothing with the fixtures: its own PostgreSQL
// schema, a uuid tenant key, a tenant column named owner_unit, a pre-tenant
// object with a composite text key and a composite self-reference, and one
// with no primary key at all.
const otherSchemaSQL = `
CREATE SCHEMA crm;
CREATE TABLE crm.tenancy_unit (
    uid uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    label varchar(40) NOT NULL UNIQUE,
    code text,
    boss uuid REFERENCES crm.tenancy_unit,
    may_have_children boolean NOT NULL DEFAULT false,
    is_sp boolean NOT NULL DEFAULT false,
    lvl integer
);
CREATE TABLE crm.division (
    region text, dcode text, title text NOT NULL, up_region text, up_dcode text,
    owner_unit uuid REFERENCES crm.tenancy_unit, kind text,
    PRIMARY KEY (region, dcode),
    CONSTRAINT parent_division FOREIGN KEY (up_region, up_dcode) REFERENCES crm.division
);
CREATE TABLE crm.legacy_client (client_name text, owner_unit uuid REFERENCES crm.tenancy_unit);
INSERT INTO crm.tenancy_unit (label, may_have_children, is_sp, lvl) VALUES ('Provider', true, true, 0);
INSERT INTO crm.division VALUES
    ('eu', 'north 1', 'Nordic "Ops"', NULL, NULL, NULL, NULL),
    ('eu', 'north 2', E'Back\\slash\nnewline', 'eu', 'north 1', NULL, NULL),
    ('us', 'x', 'Ünïcode', NULL, NULL, NULL, NULL),
    ('us', 'y', 'Grandchild', 'eu', 'north 2', NULL, NULL),
    ('us', 'z', 'Closed', NULL, NULL, NULL, 'closed');
INSERT INTO crm.legacy_client VALUES ('Client A', NULL), ('Client B', NULL);`

const otherOverlay = `<Schema dbSchema="crm">
  <Tenants table="tenancy_unit" key="uid" name="label" parent="boss" subtenantsAllowed="may_have_children"
           serviceProvider="is_sp" depth="lvl" maxDepth="3"/>
  <Object name="division" table="division" tenancy="required" tenantColumn="owner_unit"/>
  <Object name="client" table="legacy_client" tenancy="required" tenantColumn="owner_unit"/>
</Schema>`

const otherConfig = `<BuildTenant>
  <Object from="division">
    <Attribute from="title" to="label"/>
    <Attribute from="dcode" to="code"/>
    <Parent from="parent_division"/>
    <Where>kind IS DISTINCT FROM 'closed'</Where>
  </Object>
  <Object from="legacy_client">
    <Attribute from="client_name" to="label"/>
  </Object>
</BuildTenant>`

func TestOtherSchema(t *testing.T) {
	db := testkit.NewDB(t)
	db.Exec(t, otherSchemaSQL)
	ov, cfg := testkit.WriteFile(t, "overlay.xml", otherOverlay), writeConfig(t, otherConfig)
	// The grandchild would sit on level 4 of a 3-level hierarchy.
	res := mustRun(t, db, 1, "buildtenant", "--schema", ov, "-f", cfg)
	if want := "division: 1 new tenant would be at depth 3, beyond maxDepth 3 (depths 0 to 2): region=us dcode=y\n"; !strings.HasPrefix(testkit.WithoutProgress(res.Stderr), want) {
		t.Errorf("stderr = %q, want it to start with %q", res.Stderr, want)
	}
	db.Exec(t, "UPDATE crm.division SET kind = 'closed' WHERE dcode = 'y'")

	res = mustRun(t, db, 0, "buildtenant", "-c", "--schema", ov, "-f", cfg)
	for _, want := range []string{
		`would create tenant "Nordic \"Ops\"" under "Provider" (depth 1) for division region=eu dcode="north 1"`,
		`would create tenant "Back\\slash\nnewline" under "Nordic \"Ops\"" (depth 2) for division region=eu dcode="north 2"`,
		`would create tenant "Client A" under "Provider" (depth 1) for client ctid=`,
		"division: 3 to create, 0 to adopt (3 rows selected)\nclient: 2 to create, 0 to adopt (2 rows selected)\ntotal: 5 to create, 0 to adopt\n",
	} {
		if !strings.Contains(res.Stdout, want) {
			t.Errorf("-c output lacks %q:\n%s", want, res.Stdout)
		}
	}
	mustRun(t, db, 0, "buildtenant", "--schema", ov, "-f", cfg)
	want := strings.Join([]string{
		"Provider|NULL|-|t|0",
		"Client A|NULL|Provider|f|1",
		"Client B|NULL|Provider|f|1",
		"Nordic \"Ops\"|north 1|Provider|t|1",
		"Ünïcode|x|Provider|f|1",
		"Back\\slash\nnewline|north 2|Nordic \"Ops\"|f|2",
	}, "\n")
	got := joined(db.Rows(t, `SELECT t.label, coalesce(t.code, 'NULL'), coalesce(p.label, '-'), t.may_have_children, t.lvl
		FROM crm.tenancy_unit t LEFT JOIN crm.tenancy_unit p ON p.uid = t.boss ORDER BY t.lvl, t.label`))
	if got != want {
		t.Errorf("tenants:\n%s\nwant:\n%s", got, want)
	}
	got = joined(db.Rows(t, `SELECT d.dcode, coalesce(t.label, 'NULL') FROM crm.division d LEFT JOIN crm.tenancy_unit t ON t.uid = d.owner_unit ORDER BY d.dcode`))
	if want := "north 1|Nordic \"Ops\"\nnorth 2|Back\\slash\nnewline\nx|Ünïcode\ny|NULL\nz|NULL"; got != want {
		t.Errorf("divisions:\n%s\nwant:\n%s", got, want)
	}
	if n := db.Value(t, "SELECT count(*) FROM crm.legacy_client c JOIN crm.tenancy_unit t ON t.uid = c.owner_unit AND t.label = c.client_name"); n != "2" {
		t.Errorf("%s clients linked to their tenants, want 2", n)
	}
	res = mustRun(t, db, 0, "buildtenant", "--schema", ov, "-f", cfg)
	if !strings.Contains(res.Stdout, "total: 0 created, 0 adopted\n") {
		t.Errorf("rerun stdout = %q", res.Stdout)
	}
}

// A tenant table with nothing but a text key without a default and a name:
// no hierarchy, no flags; the first tenant is the service provider.
func TestMinimalTenantTable(t *testing.T) {
	db := testkit.NewDB(t)
	db.Exec(t, `CREATE TABLE tenants (code text PRIMARY KEY, name text NOT NULL UNIQUE);
CREATE TABLE customer (cid integer PRIMARY KEY, cname text, boss integer REFERENCES customer, tenant text REFERENCES tenants);
INSERT INTO tenants VALUES ('sp', 'Provider');
INSERT INTO customer VALUES (1, 'One', NULL, NULL), (2, 'Two', 1, NULL), (3, NULL, NULL, NULL);`)
	ov := testkit.WriteFile(t, "overlay.xml", `<Schema><Object name="customer" tenancy="required"/></Schema>`)
	noKey := writeConfig(t, `<BuildTenant><Object from="customer"><Attribute from="cname" to="name"/></Object></BuildTenant>`)
	res := mustRun(t, db, 2, "buildtenant", "--schema", ov, "-f", noKey)
	if want := noKey + `:1:14: object "customer": tenant column "code" is NOT NULL and has no default: map an <Attribute> to it`; !strings.Contains(res.Stderr, want) {
		t.Errorf("stderr = %q, want %q", res.Stderr, want)
	}
	withParent := writeConfig(t, `<BuildTenant><Object from="customer"><Attribute from="cname" to="name"/><Attribute from="cid" to="code"/><Parent from="boss"/></Object></BuildTenant>`)
	res = mustRun(t, db, 2, "buildtenant", "--schema", ov, "-f", withParent)
	if want := `<Parent>: tenant table "tenants" has no parent column, so tenants cannot form a hierarchy`; !strings.Contains(res.Stderr, want) {
		t.Errorf("stderr = %q, want %q", res.Stderr, want)
	}
	cfg := writeConfig(t, `<BuildTenant><Object from="customer"><Attribute from="cname" to="name"/><Attribute from="cid" to="code"/></Object></BuildTenant>`)
	res = mustRun(t, db, 1, "buildtenant", "--schema", ov, "-f", cfg)
	if want := "customer: 1 row has no tenant name (cname is NULL): cid=3\n"; !strings.HasPrefix(testkit.WithoutProgress(res.Stderr), want) {
		t.Errorf("stderr = %q, want %q", res.Stderr, want)
	}
	db.Exec(t, "UPDATE customer SET cname = 'Three' WHERE cid = 3")
	mustRun(t, db, 0, "buildtenant", "--schema", ov, "-f", cfg)
	if got := joined(db.Rows(t, "SELECT c.cid, t.code, t.name FROM customer c JOIN tenants t ON t.code = c.tenant ORDER BY 1")); got != "1|1|One\n2|2|Two\n3|3|Three" {
		t.Errorf("customers:\n%s", got)
	}
}

func TestBuildWithAccessGroups(t *testing.T) {
	db := testkit.NewFixtureDB(t)
	db.Exec(t, spSQL)
	db.Exec(t, `INSERT INTO ca_tenant (name, parent, subtenants_ok, tenant_depth) SELECT 'Acme', id, true, 1 FROM ca_tenant WHERE name = 'SP'`)
	mustRun(t, db, 0, "buildtenant", "--schema", overlay, "--on-conflict", "adopt", "--with-access-groups")
	// Created tenants are recorded, the adopted one (Acme) is not.
	got := joined(db.Rows(t, "SELECT tenant FROM tenantkit.acl_tenant_default ORDER BY tenant"))
	if want := "Acme Europe\nGlobex\nInitech\nSociété Générale"; got != want {
		t.Errorf("tenants with default groups:\n%s\nwant\n%s", got, want)
	}
	// The next acl plan creates their groups.
	acl := testkit.WriteFile(t, "acl.xml", "<AccessControl/>")
	res := mustRun(t, db, 0, "acl", "plan", "--schema", overlay, "-f", acl)
	if !strings.Contains(res.Stdout, `COMMENT ON ROLE "tkg_globex_administrators_`) || !strings.Contains(res.Stdout, `COMMENT ON ROLE "tkg_initech_users_`) {
		t.Errorf("acl plan lacks the default groups:\n%s", res.Stdout)
	}
}

// TestTenantTableConstraintRefuses: a constraint the checks do not know
// (here a unique index on lower(name)) refuses a new tenant; the run
// reports it as a violation, naming the key, and creates nothing.
func TestTenantTableConstraintRefuses(t *testing.T) {
	db := testkit.NewFixtureDB(t)
	db.Exec(t, spSQL)
	db.Exec(t, `CREATE UNIQUE INDEX ca_tenant_lower_name ON ca_tenant (lower(name));
		INSERT INTO ca_tenant (name, parent, subtenants_ok, tenant_depth) VALUES ('GLOBEX', 1, true, 1)`)
	res := mustRun(t, db, 1, "buildtenant", "--schema", overlay)
	if want := `org: the tenant table refused a new tenant: duplicate key value violates unique constraint "ca_tenant_lower_name": Key (lower(name))=(globex) already exists.; nothing was created`; !strings.Contains(res.Stderr, want) {
		t.Errorf("stderr lacks %q:\n%s", want, res.Stderr)
	}
	assertNothingBuilt(t, db, "2")
}

// TestChangeColumnStamped: rows linked to a tenant get their change column
// moved to now (incremental extracts see them); rows not selected keep it.
func TestChangeColumnStamped(t *testing.T) {
	db := testkit.NewFixtureDB(t)
	db.Exec(t, spSQL)
	db.Exec(t, `UPDATE ca_organization SET last_mod = '2020-01-01 00:00:00+00'`)
	mustRun(t, db, 0, "buildtenant", "--schema", overlay)
	got := db.Value(t, `SELECT string_agg((tenant IS NOT NULL) || ':' || (last_mod > now() - interval '1 hour'), ' ' ORDER BY id) FROM ca_organization`)
	if !strings.Contains(got, "true:true") || !strings.Contains(got, "false:false") || strings.Contains(got, "true:false") || strings.Contains(got, "false:true") {
		t.Errorf("organizations (tenanted:stamped) = %s", got)
	}
}
