package acl_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/tenantkit/tenantkit/internal/sqlq"
	"github.com/tenantkit/tenantkit/internal/testkit"
)

// count returns what role sees of a query's count, or fails.
func count(t *testing.T, db *testkit.DB, role, sql string) string {
	t.Helper()
	var n string
	conn := connectAs(t, db, role)
	if err := conn.QueryRow(context.Background(), sql, pgx.QueryExecModeSimpleProtocol).Scan(&n); err != nil {
		t.Fatalf("%s as %s: %v", sql, role, err)
	}
	return n
}

// explain returns the plan of a query as role, with sequential scans
// discouraged so that an index the predicate can use shows up.
func explain(t *testing.T, db *testkit.DB, role, sql string) string {
	t.Helper()
	return explainAs(t, db, role, "COSTS OFF", "SET enable_seqscan = off", sql)
}

// explainAs runs EXPLAIN (opts) of sql as role, after setup when not "".
func explainAs(t *testing.T, db *testkit.DB, role, opts, setup, sql string) string {
	t.Helper()
	ctx := context.Background()
	conn := connectAs(t, db, role)
	if setup != "" {
		if _, err := conn.Exec(ctx, setup); err != nil {
			t.Fatal(err)
		}
	}
	rows, err := conn.Query(ctx, "EXPLAIN ("+opts+") "+sql, pgx.QueryExecModeSimpleProtocol)
	if err != nil {
		t.Fatalf("explain as %s: %v", role, err)
	}
	lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return strings.Join(lines, "\n")
}

// affected runs stmt as role in a rolled-back transaction and returns the
// rows it touched, or -1 when row security refused it.
func affected(t *testing.T, db *testkit.DB, role, stmt string) int64 {
	t.Helper()
	ctx := context.Background()
	tx, err := connectAs(t, db, role).Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	tag, err := tx.Exec(ctx, stmt)
	if err != nil {
		if strings.Contains(err.Error(), "row-level security") {
			return -1
		}
		t.Fatalf("%s as %s: %v", stmt, role, err)
	}
	return tag.RowsAffected()
}

func TestRowScoping(t *testing.T) {
	sfx := suffix()
	acme, eu, sp, globex, app := "acme_"+sfx, "eu_"+sfx, "sp_"+sfx, "globex_"+sfx, "app_"+sfx
	dropLater := testkit.DropRolesLater(t)
	dropLater(acme, eu, sp, globex, app)
	db := testkit.NewFixtureDB(t)
	dropLater(groupRole(t, db, `Acme\Users`), groupRole(t, db, `Acme\Administrators`))
	// The index comes first: created after the updates below, it could be
	// unusable (indcheckxmin) while any older transaction runs on the server.
	db.Exec(t, `CREATE INDEX ON ca_organization (tenant);
		INSERT INTO ca_tenant (id, name, parent, subtenants_ok, service_provider) VALUES
		(1, 'SP', NULL, true, true), (2, 'Acme', 1, true, false), (3, 'Acme EU', 2, false, false), (4, 'Globex', 1, false, false);
		UPDATE ca_organization SET tenant = CASE id WHEN 1 THEN 2 WHEN 3 THEN 1 WHEN 4 THEN 3 ELSE 4 END;
		UPDATE category SET tenant = CASE id WHEN 2 THEN 2 WHEN 3 THEN 3 END;
		UPDATE ca_location SET tenant = CASE id WHEN 2 THEN 4 ELSE 3 END;`)
	db.Exec(t, "CREATE ROLE "+sqlq.Ident(app)+" LOGIN; GRANT SELECT ON ca_organization TO "+sqlq.Ident(app))
	file := writeFile(t, t.TempDir(), "acl.xml", strings.NewReplacer("ACME", acme, "EU", eu, "SPU", sp, "GLOBEX", globex).Replace(`<AccessControl>
  <Person name="ACME"/>
  <Person name="EU"/>
  <Person name="SPU"/>
  <Person name="GLOBEX"/>
  <AccessGroup name="Acme\Users" tenant="Acme"><Member person="ACME"/></AccessGroup>
  <Permission object="schema:public" to="EVERYONE" rights="Read,Create,Change,Delete"/>
  <Permission object="tenant:Acme" to="Acme\Users" rights="RX"/>
  <Permission object="tenant:3" to="EU" rights="Read,Create,Change"/>
  <Permission object="tenant:SP" to="SPU" rights="Read"/>
  <Permission object="tenant:Globex" to="GLOBEX" rights="Read,Delete"/>
</AccessControl>`))
	res := testkit.Run(t, db, "acl", "apply", "--schema", "fixtures/schema.xml", "-f", file)
	if res.Code != 0 {
		t.Fatalf("apply: %d %s", res.Code, res.Stderr)
	}
	// Rows seen: own tenants, supertenants read-only, public rows of the
	// tenant-optional category table; a parent's users see nothing of a child.
	for _, c := range []struct {
		role            string
		orgs, categorys string
	}{
		{acme, "2", "2"},   // Acme + SP orgs; public + Acme categories
		{eu, "3", "3"},     // Acme EU, Acme, SP; public, Acme, Acme EU
		{sp, "1", "1"},     // SP only; public
		{globex, "4", "1"}, // Globex ×3 + SP; public
		{app, "6", "3"},    // not managed: not scoped
	} {
		if got := count(t, db, c.role, "SELECT count(*) FROM ca_organization"); got != c.orgs {
			t.Errorf("%s sees %s organizations, want %s", c.role, got, c.orgs)
		}
		if c.role == app {
			continue // app has no privilege on category
		}
		if got := count(t, db, c.role, "SELECT count(*) FROM category"); got != c.categorys {
			t.Errorf("%s sees %s categories, want %s", c.role, got, c.categorys)
		}
	}
	for _, w := range []struct {
		role, stmt string
		want       int64
	}{
		{eu, "INSERT INTO ca_organization (name, tenant) VALUES ('new', 3)", 1},
		{eu, "INSERT INTO ca_organization (name, tenant) VALUES ('new', 2)", -1}, // no Create on Acme
		{eu, "INSERT INTO category (sym) VALUES ('public one')", -1},             // public rows are read-only
		{eu, "UPDATE ca_organization SET description = 'x' WHERE id = 4", 1},
		{eu, "UPDATE ca_organization SET description = 'x' WHERE id = 1", 0}, // supertenant rows are read-only
		{eu, "UPDATE ca_organization SET tenant = 2 WHERE id = 4", -1},       // cannot move a row to Acme
		{eu, "DELETE FROM ca_location", 0},                                   // no Delete
		{globex, "DELETE FROM ca_location", 1},                               // only its own location
		{acme, "UPDATE ca_organization SET description = 'x'", 0},            // RX only
	} {
		if got := affected(t, db, w.role, w.stmt); got != w.want {
			t.Errorf("%s: %s → %d, want %d", w.role, w.stmt, got, w.want)
		}
	}
	// Nobody reads the rights of others.
	if can(t, db, acme, "SELECT * FROM tenantkit.acl_tenant_rights") || can(t, db, acme, "UPDATE tenantkit.acl_tenant_rights SET rights = '{V}'") {
		t.Error("a person can read or change the rights table")
	}
	if got := count(t, db, acme, "SELECT count(*) FROM tenantkit.my_tenant_rights"); got != "2" {
		t.Errorf("acme sees %s rows of its own rights, want 2 (Acme, SP)", got)
	}
	// The predicate is an index condition on an indexed tenant column (a
	// "scoped or not" disjunct would leave it a filter).
	if plan := explain(t, db, acme, "SELECT count(*) FROM ca_organization"); !strings.Contains(plan, "Index Cond: (tenant = ANY ($") {
		t.Errorf("a person's count does not use the tenant index:\n%s", plan)
	}
	if plan := explain(t, db, app, "SELECT count(*) FROM ca_organization"); strings.Contains(plan, "(tenant") || strings.Contains(plan, "row_scoped") {
		t.Errorf("an unmanaged role's count is filtered by tenant:\n%s", plan)
	}
	// A second apply changes nothing; plan is empty.
	res = testkit.Run(t, db, "acl", "plan", "--schema", "fixtures/schema.xml", "-f", file)
	if res.Code != 0 || res.Stdout != "" {
		t.Errorf("plan after apply: %d\n%s%s", res.Code, res.Stdout, res.Stderr)
	}
	// A table added later is covered by the next apply.
	db.Exec(t, "CREATE TABLE asset (id int PRIMARY KEY, tenant int REFERENCES ca_tenant (id)); INSERT INTO asset VALUES (1, 2), (2, 4)")
	res = testkit.Run(t, db, "acl", "plan", "--schema", "fixtures/schema.xml", "-f", file)
	if !strings.Contains(res.Stdout, `ALTER TABLE "public"."asset" ENABLE ROW LEVEL SECURITY;`) || !strings.Contains(res.Stdout, `CREATE POLICY tenantkit_select ON "public"."asset" AS RESTRICTIVE FOR SELECT TO`) {
		t.Errorf("plan for a new table:\n%s", res.Stdout)
	}
	// verify reports the uncovered table until the next apply.
	if got := rowScopingFindings(t, db); got != "asset: policy tenantkit_delete, policy tenantkit_insert, policy tenantkit_select, policy tenantkit_unscoped, policy tenantkit_update, row security disabled" {
		t.Errorf("verify before apply: row-scoping findings %q", got)
	}
	if res = testkit.Run(t, db, "acl", "apply", "--schema", "fixtures/schema.xml", "-f", file); res.Code != 0 {
		t.Fatalf("apply: %s", res.Stderr)
	}
	if got := rowScopingFindings(t, db); got != "" {
		t.Errorf("verify after apply: row-scoping findings %q", got)
	}
	if got := count(t, db, acme, "SELECT count(*) FROM asset"); got != "1" {
		t.Errorf("acme sees %s assets, want 1", got)
	}
}

// rowScopingFindings runs verify and renders its row-scoping findings as
// "object: sample, sample; object: …".
func rowScopingFindings(t *testing.T, db *testkit.DB) string {
	t.Helper()
	var out []string
	for _, f := range verifyFindings(t, db, "fixtures/schema.xml", "row-scoping") {
		out = append(out, f.Object+": "+strings.Join(f.Samples, ", "))
	}
	return strings.Join(out, "; ")
}

// finding is one finding of verify --json.
type finding struct {
	Check, Object string
	Samples       []string
}

// verifyFindings runs verify with the overlay and returns its findings of
// one check.
func verifyFindings(t *testing.T, db *testkit.DB, overlay, check string) []finding {
	t.Helper()
	res := testkit.Run(t, db, "verify", "--schema", overlay, "--json", "--sample", "10")
	var rep struct{ Findings []finding }
	if err := json.Unmarshal([]byte(res.Stdout), &rep); err != nil {
		t.Fatalf("verify --json: %v\n%s%s", err, res.Stdout, res.Stderr)
	}
	var out []finding
	for _, f := range rep.Findings {
		if f.Check == check {
			out = append(out, f)
		}
	}
	return out
}

// TestRowScopingWithoutPersons applies tenant rights with no person in the
// file: the restrictive policies name only the role of the alias logins,
// and other roles keep seeing every row.
func TestRowScopingWithoutPersons(t *testing.T) {
	app := "app_" + suffix()
	testkit.DropRolesAfter(t, app)
	db := testkit.NewFixtureDB(t)
	db.Exec(t, `INSERT INTO ca_tenant (id, name, parent, subtenants_ok, service_provider) VALUES (1, 'SP', NULL, true, true), (2, 'Acme', 1, false, false);
		UPDATE ca_organization SET tenant = 2`)
	db.Exec(t, "CREATE ROLE "+sqlq.Ident(app)+" LOGIN; GRANT SELECT ON ca_organization TO "+sqlq.Ident(app))
	file := writeFile(t, t.TempDir(), "acl.xml", `<AccessControl>
  <Permission object="tenant:Acme" to="EVERYONE" rights="Read"/>
</AccessControl>`)
	for range 2 { // the second apply finds the placeholder role in place
		if res := testkit.Run(t, db, "acl", "apply", "--schema", "fixtures/schema.xml", "-f", file); res.Code != 0 {
			t.Fatalf("apply: %d %s", res.Code, res.Stderr)
		}
	}
	if got := db.Value(t, `SELECT array_to_string(roles, ',') FROM pg_policies WHERE tablename = 'ca_organization' AND policyname = 'tenantkit_select'`); got != "tenantkit_alias_login" {
		t.Errorf("tenantkit_select applies to %q, want only the alias logins' role", got)
	}
	if got := count(t, db, app, "SELECT count(*) FROM ca_organization"); got != "6" {
		t.Errorf("an unmanaged role sees %s organizations, want all 6", got)
	}
	if got := rowScopingFindings(t, db); got != "" {
		t.Errorf("verify: row-scoping findings %q", got)
	}
}
