package main

import (
	"strings"
	"testing"

	"github.com/tenantkit/tenantkit/internal/testkit"
)

// A pre-tenant database, unlike the fixtures (no tenant table, natural and
// integer keys, a tenant column named otherwise), converted end to end
// with the binary: prepare, tenant create, settenant, prepare --finish,
// verify.
func TestPrepareThenConvert(t *testing.T) {
	db := testkit.NewDB(t)
	db.Exec(t, `
		CREATE TABLE depot (code text PRIMARY KEY, city text);
		CREATE TABLE crate (crate_no integer PRIMARY KEY, depot text REFERENCES depot, label text);
		CREATE TABLE colour (name text PRIMARY KEY);
		INSERT INTO depot VALUES ('D"1', 'Zürich'), ('D2', 'Lyon');
		INSERT INTO crate VALUES (7, 'D"1', 'a\b'), (9, 'D2', NULL);`)
	overlay := testkit.WriteFile(t, "overlay.xml", `<Schema tenantColumn="org">
  <Tenants table="org_unit" name="title"/>
  <Object name="depot" tenancy="required"/>
  <Object name="crate" tenancy="required">
    <Srel attr="depot" column="depot" to="depot"/>
  </Object>
  <Object name="colour" tenancy="none"/>
</Schema>
`)
	run := func(code int, args ...string) testkit.Result {
		t.Helper()
		res := testkit.Run(t, db, args...)
		if res.Code != code {
			t.Fatalf("%v: exit %d, want %d\n%s%s", args, res.Code, code, res.Stdout, res.Stderr)
		}
		return res
	}
	plan := run(0, "prepare", "plan", "--schema", overlay, "--service-provider", "Hub", "--key-defaults")
	if !strings.Contains(plan.Stdout, `CREATE TABLE "public"."org_unit"`) || !strings.Contains(plan.Stdout, `-- crate: SHARE while the index is built (writes wait)`) {
		t.Fatalf("plan:\n%s", plan.Stdout)
	}
	if got := db.Value(t, "SELECT to_regclass('org_unit') IS NULL"); got != "true" && got != "t" {
		t.Fatalf("plan changed the database: %s", got)
	}
	run(0, "prepare", "apply", "--schema", overlay, "--service-provider", "Hub", "--key-defaults")
	if res := run(0, "prepare", "plan", "--schema", overlay, "--service-provider", "Hub", "--key-defaults"); res.Stdout != "" {
		t.Fatalf("plan after apply:\n%s", res.Stdout)
	}
	res := run(1, "prepare", "apply", "--schema", overlay, "--finish")
	if !strings.Contains(res.Stderr, "(crate: 2, depot: 2)") {
		t.Fatalf("--finish with untenanted rows:\n%s", res.Stderr)
	}
	run(0, "tenant", "create", "--schema", overlay, "--parent", "Hub", "West")
	rules := testkit.WriteFile(t, "settenant.xml", `<SetTenant>
  <Object name="depot"><TenantRule type="Name">West</TenantRule></Object>
  <Object name="crate"><TenantRule type="SREL">depot</TenantRule></Object>
</SetTenant>`)
	run(0, "settenant", "--schema", overlay, "-f", rules)
	run(0, "prepare", "apply", "--schema", overlay, "--finish")
	run(0, "verify", "--schema", overlay)
	if got := db.Value(t, "SELECT string_agg(c.crate_no || ':' || u.title, ',' ORDER BY c.crate_no) FROM crate c JOIN org_unit u ON u.id = c.org"); got != "7:West,9:West" {
		t.Errorf("crates: %s", got)
	}
	if got := db.Value(t, "INSERT INTO crate (depot, org) SELECT 'D2', id FROM org_unit WHERE title = 'West' RETURNING crate_no"); got != "10" {
		t.Errorf("key default: %s", got)
	}
	if res := run(0, "prepare", "plan", "--schema", overlay, "--finish"); res.Stdout != "" {
		t.Errorf("plan --finish after --finish:\n%s", res.Stdout)
	}
}
