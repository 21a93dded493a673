package e2e_test

import (
	"strings"
	"testing"

	"github.com/tenantkit/tenantkit/internal/testkit"
)

// freshSchema is a database that has never seen a tenant: no tenant table,
// no tenant columns. Natural, uuid, serial and composite keys; a company
// hierarchy (the pre-tenant object); a many-to-many link table between
// workers and sites, through which alone a worker reaches its company.
const freshSchema = `
CREATE TABLE company (code text PRIMARY KEY, title text NOT NULL UNIQUE, parent_code text REFERENCES company);
CREATE TABLE site (site_id uuid PRIMARY KEY, company text NOT NULL REFERENCES company, city text);
CREATE TABLE worker (worker_no serial PRIMARY KEY, name text NOT NULL);
CREATE TABLE assignment (worker integer REFERENCES worker, site uuid REFERENCES site, since date, PRIMARY KEY (worker, site));
CREATE TABLE shift_kind (kind text PRIMARY KEY);
INSERT INTO company VALUES ('acme', 'Acme', NULL), ('acme-eu', 'O''Neil & Söhne "EU"', 'acme'), ('globex', 'Globex\Corp', NULL);
INSERT INTO site VALUES ('00000000-0000-4000-8000-000000000001', 'acme', 'Zürich'),
	('00000000-0000-4000-8000-000000000002', 'acme-eu', E'Line\nbreak'), ('00000000-0000-4000-8000-000000000003', 'globex', '');
INSERT INTO worker (name) VALUES ('ann'), ('bob'), ('cyd');
INSERT INTO assignment VALUES (1, '00000000-0000-4000-8000-000000000001', '2024-01-01'),
	(2, '00000000-0000-4000-8000-000000000002', NULL), (3, '00000000-0000-4000-8000-000000000003', '2024-02-02'),
	(3, '00000000-0000-4000-8000-000000000003'::uuid, NULL) ON CONFLICT DO NOTHING;
INSERT INTO shift_kind VALUES ('day'), ('night');
`

const freshOverlay = `<Schema tenantColumn="owner">
  <Tenants table="org_unit" name="label"/>
  <Object name="company" tenancy="required">
    <Srel attr="parent_code" column="parent_code" to="company"/>
  </Object>
  <Object name="site" tenancy="required"/>
  <Object name="worker" tenancy="required"/>
  <Object name="assignment" tenancy="required"/>
  <Object name="shift_kind" tenancy="none"/>
</Schema>
`

// TestFromNoTenancyToVerify converts a database with no tenant table and no
// tenant columns with the binary alone, no hand-written DDL: prepare,
// buildtenant, settenant (SREL and BREL rules), prepare --finish, verify.
func TestFromNoTenancyToVerify(t *testing.T) {
	db := testkit.NewDB(t)
	db.Exec(t, freshSchema)
	ov := testkit.WriteFile(t, "overlay.xml", freshOverlay)
	tk := func(want int, args ...string) testkit.Result {
		t.Helper()
		res := testkit.Run(t, db, append([]string{"--schema", ov}, args...)...)
		if res.Code != want {
			t.Fatalf("tenantkit %s: exit %d, want %d\n%s%s", strings.Join(args, " "), res.Code, want, res.Stdout, res.Stderr)
		}
		return res
	}
	tk(0, "prepare", "apply", "--service-provider", "Hub", "--key-defaults")
	buildCfg := testkit.WriteFile(t, "buildtenant.xml", `<BuildTenant>
  <Object from="company">
    <Attribute from="title" to="label"/>
    <Parent from="parent_code"/>
  </Object>
</BuildTenant>`)
	tk(0, "buildtenant", "-f", buildCfg)
	rules := testkit.WriteFile(t, "settenant.xml", `<SetTenant>
  <Object name="site"><TenantRule type="SREL">company</TenantRule></Object>
  <Object name="assignment"><TenantRule type="SREL">site</TenantRule></Object>
  <Object name="worker"><TenantRule type="BREL">assignment.worker</TenantRule></Object>
</SetTenant>`)
	tk(0, "settenant", "-f", rules)
	tk(0, "prepare", "apply", "--finish")
	if res := tk(0, "prepare", "plan", "--finish", "--key-defaults"); res.Stdout != "" {
		t.Errorf("plan after the conversion:\n%s", res.Stdout)
	}
	tk(0, "verify")

	tenants := db.Value(t, `SELECT string_agg(t.label || '<' || coalesce(p.label, '-'), ', ' ORDER BY t.label) FROM org_unit t LEFT JOIN org_unit p ON p.id = t.parent`)
	if want := `Acme<Hub, Globex\Corp<Hub, Hub<-, O'Neil & Söhne "EU"<Acme`; tenants != want {
		t.Errorf("tenants: %s\nwant:    %s", tenants, want)
	}
	owners := db.Value(t, `SELECT string_agg(x, ', ' ORDER BY x) FROM (
		SELECT 'company ' || c.code || '=' || u.label AS x FROM company c JOIN org_unit u ON u.id = c.owner
		UNION ALL SELECT 'site ' || s.site_id || '=' || u.label FROM site s JOIN org_unit u ON u.id = s.owner
		UNION ALL SELECT 'worker ' || w.name || '=' || u.label FROM worker w JOIN org_unit u ON u.id = w.owner
		UNION ALL SELECT 'assignment ' || a.worker || '=' || u.label FROM assignment a JOIN org_unit u ON u.id = a.owner) o`)
	for _, want := range []string{"company acme=Acme", `company acme-eu=O'Neil & Söhne "EU"`, `site 00000000-0000-4000-8000-000000000003=Globex\Corp`,
		"worker ann=Acme", `worker bob=O'Neil & Söhne "EU"`, `worker cyd=Globex\Corp`, "assignment 3=Globex\\Corp"} {
		if !strings.Contains(owners, want) {
			t.Errorf("owners lack %q:\n%s", want, owners)
		}
	}
	if got := db.Value(t, `SELECT string_agg(c.relname || '.' || a.attname, ',' ORDER BY c.relname) FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
		WHERE a.attname = 'owner' AND a.attnotnull AND c.relkind = 'r'`); got != "assignment.owner,company.owner,site.owner,worker.owner" {
		t.Errorf("NOT NULL tenant columns: %s", got)
	}
	// --key-defaults: the serial key keeps its default; the workers' next key follows the largest.
	if got := db.Value(t, `INSERT INTO worker (name, owner) SELECT 'dan', id FROM org_unit WHERE label = 'Acme' RETURNING worker_no`); got != "4" {
		t.Errorf("next worker key: %s", got)
	}
}
