package acl_test

import (
	"context"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/tenantkit/tenantkit/internal/sqlq"
	"github.com/tenantkit/tenantkit/internal/testkit"
)

// The isolation tests attack row scoping as the low-privileged roles: a
// person scoped to one tenant, an alias login, a group role. Their schema is
// unlike the fixtures': the tenant table is "org_tenant" keyed by "tid", the
// tenant column is "owner_id", keys are text, composite and serial.

const isolationSchema = `
CREATE TABLE org_tenant (tid int PRIMARY KEY, name text NOT NULL UNIQUE, parent int REFERENCES org_tenant,
	subtenants_allowed boolean NOT NULL DEFAULT false, service_provider boolean NOT NULL DEFAULT false);
INSERT INTO org_tenant VALUES (1, 'Provider', NULL, true, true), (2, 'Acme', 1, false, false), (3, 'Globex', 1, false, false);
CREATE TABLE deal (deal_no text PRIMARY KEY, owner_id int NOT NULL REFERENCES org_tenant, amount numeric, note text);
INSERT INTO deal VALUES ('A-1', 2, 10, 'acme one'), ('A-2', 2, 20, 'acme two'),
	('G-1', 3, 30, 'globex one'), ('G-2', 3, 40, 'globex two'), ('G-3', 3, 50, 'globex three');
CREATE TABLE deal_line (deal_no text NOT NULL REFERENCES deal, line int NOT NULL, owner_id int NOT NULL REFERENCES org_tenant,
	item text, PRIMARY KEY (deal_no, line));
INSERT INTO deal_line VALUES ('A-1', 1, 2, 'x'), ('G-1', 1, 3, 'y'), ('G-1', 2, 3, 'z');
CREATE TABLE ticket (id serial PRIMARY KEY, owner_id int NOT NULL REFERENCES org_tenant, subject text);
INSERT INTO ticket (owner_id, subject) VALUES (2, 'a'), (3, 'g'), (3, 'h');`

// isolationDB is a database with isolationSchema and an acl file for the
// persons acme (Acme) and globex (Globex); extra is added inside the file.
type isolationDB struct {
	*testkit.DB
	acme, globex string
	dir          string
}

// newIsolationDB makes the database; roles are the test's own other roles,
// dropped after the database.
func newIsolationDB(t *testing.T, roles ...string) *isolationDB {
	t.Helper()
	sfx := suffix()
	d := &isolationDB{acme: "acme_" + sfx, globex: "globex_" + sfx, dir: t.TempDir()}
	dropLater := testkit.DropRolesLater(t)
	dropLater(append(roles, d.acme, d.globex)...)
	d.DB = testkit.NewDB(t)
	dropLater(groupRole(t, d.DB, "Sales"))
	d.Exec(t, isolationSchema)
	return d
}

// apply writes the file (ACME and GLOBEX stand for the persons) and runs
// acl apply with it; it returns the result.
func (d *isolationDB) apply(t *testing.T, body string, args ...string) testkit.Result {
	t.Helper()
	file := writeFile(t, d.dir, "acl.xml", strings.NewReplacer("ACME", d.acme, "GLOBEX", d.globex).Replace("<AccessControl>\n"+body+"\n</AccessControl>"))
	res := testkit.Run(t, d.DB, append([]string{"acl", "apply", "--tenant-column", "owner_id", "-f", file}, args...)...)
	if res.Code != 0 {
		t.Fatalf("acl apply: exit %d\n%s%s", res.Code, res.Stdout, res.Stderr)
	}
	return res
}

// plan runs acl plan with the file last applied.
func (d *isolationDB) plan(t *testing.T) testkit.Result {
	t.Helper()
	return testkit.Run(t, d.DB, "acl", "plan", "--tenant-column", "owner_id", "-f", d.dir+"/acl.xml")
}

const basePersons = `  <Person name="ACME"/>
  <Person name="GLOBEX"/>
  <Permission object="schema:public" to="EVERYONE" rights="Read,Create,Change,Delete"/>
  <Permission object="tenant:Acme" to="ACME" rights="Read,Create,Change,Delete"/>
  <Permission object="tenant:Globex" to="GLOBEX" rights="Read,Create,Change,Delete"/>`

// asRole runs stmts in one session as role (the last statement's first
// value is returned as text; "" when it returns nothing) and returns the
// error of the first statement that fails.
func asRole(t *testing.T, db *testkit.DB, role string, stmts ...string) (string, error) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, db.URLAs(role))
	if err != nil {
		t.Fatalf("connecting as %s: %v", role, err)
	}
	defer conn.Close(ctx)
	var out string
	for i, s := range stmts {
		if i < len(stmts)-1 {
			if _, err := conn.Exec(ctx, s); err != nil {
				return "", err
			}
			continue
		}
		rows, err := conn.Query(ctx, s, pgx.QueryExecModeSimpleProtocol)
		if err != nil {
			return "", err
		}
		for rows.Next() {
			if v := rows.RawValues(); len(v) > 0 && out == "" {
				out = string(v[0])
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return "", err
		}
	}
	return out, nil
}

func mustAs(t *testing.T, db *testkit.DB, role string, stmts ...string) string {
	t.Helper()
	out, err := asRole(t, db, role, stmts...)
	if err != nil {
		t.Fatalf("as %s: %v", role, err)
	}
	return out
}

// TestGrantOptionCannotEscapeScoping: a person holding Change Permissions
// grants SELECT to its own access group's role and to PUBLIC; neither the
// group role (SET ROLE) nor an unmanaged login nor another person reads
// other tenants' rows through it, and the next apply takes the grants back
// and converges.
func TestGrantOptionCannotEscapeScoping(t *testing.T) {
	outsider := "outsider_" + suffix()
	d := newIsolationDB(t, outsider)
	group := groupRole(t, d.DB, "Sales")
	file := basePersons + `
  <AccessGroup name="Sales"><Member person="ACME"/></AccessGroup>
  <Permission object="table:public.deal" to="ACME" rights="Read,ChangePermissions"/>`
	d.apply(t, file)
	if got := mustAs(t, d.DB, d.acme, "SELECT count(*) FROM deal"); got != "2" {
		t.Fatalf("acme sees %s deals, want 2", got)
	}
	// The attack: grant to the group role, become it.
	mustAs(t, d.DB, d.acme, "GRANT SELECT ON deal TO "+sqlq.Ident(group)+", PUBLIC")
	if got := mustAs(t, d.DB, d.acme, "SET ROLE "+sqlq.Ident(group), "SELECT count(*) FROM deal"); got != "0" {
		t.Errorf("acme as its group role sees %s deals, want 0", got)
	}
	if got := mustAs(t, d.DB, d.globex, "SELECT count(*) FROM deal"); got != "3" {
		t.Errorf("globex sees %s deals through PUBLIC, want its own 3", got)
	}
	// A person removed from the file keeps nothing, PUBLIC's grant included.
	withoutGlobex := strings.NewReplacer(`  <Person name="GLOBEX"/>`+"\n", "",
		`  <Permission object="tenant:Globex" to="GLOBEX" rights="Read,Create,Change,Delete"/>`, "").Replace(file)
	d.apply(t, withoutGlobex)
	d.Exec(t, "GRANT SELECT ON deal TO PUBLIC")
	if got := mustAs(t, d.DB, d.globex, "SELECT count(*) FROM deal"); got != "0" {
		t.Errorf("globex, removed from the file, sees %s deals through PUBLIC, want 0", got)
	}
	d.Exec(t, "REVOKE SELECT ON deal FROM PUBLIC")
	// The apply took back the grants acme made, and converged.
	for _, role := range []string{group, "public"} {
		if got := d.Value(t, "SELECT has_table_privilege($1, 'deal', 'SELECT')", role); got != "f" {
			t.Errorf("after apply %s still has SELECT on deal (granted by acme)", role)
		}
	}
	if got := mustAs(t, d.DB, d.acme, "SELECT count(*) FROM deal"); got != "2" {
		t.Errorf("acme sees %s deals after apply, want 2", got)
	}
	if res := d.plan(t); res.Code != 0 || res.Stdout != "" {
		t.Errorf("plan after apply is not empty: exit %d\n%s%s", res.Code, res.Stdout, res.Stderr)
	}
	// An unmanaged login reading through a grant a person made: the plan
	// takes the grant back.
	d.Exec(t, "CREATE ROLE "+sqlq.Ident(outsider)+" LOGIN")
	mustAs(t, d.DB, d.acme, "GRANT SELECT ON deal TO "+sqlq.Ident(outsider))
	res := d.plan(t)
	if !strings.Contains(res.Stdout, `REVOKE GRANT OPTION FOR SELECT ON TABLE public.deal FROM "`+d.acme+`" CASCADE;`) ||
		!strings.Contains(res.Stdout, `GRANT SELECT ON TABLE public.deal TO "`+d.acme+`" WITH GRANT OPTION;`) {
		t.Errorf("plan does not take back acme's grant:\n%s", res.Stdout)
	}
	d.apply(t, withoutGlobex)
	if got := d.Value(t, "SELECT has_table_privilege($1, 'deal', 'SELECT')", outsider); got != "f" {
		t.Errorf("the outsider keeps the SELECT acme granted it")
	}
}

// TestMembershipsOutsideTheFileAreRevoked: a person made a member of an
// unmanaged role (or of a predefined one) could SET ROLE past row security;
// apply revokes every membership the file does not declare.
func TestMembershipsOutsideTheFileAreRevoked(t *testing.T) {
	app := "app_rw_" + suffix()
	d := newIsolationDB(t, app)
	d.apply(t, basePersons)
	d.Exec(t, "CREATE ROLE "+sqlq.Ident(app)+" NOLOGIN; GRANT SELECT ON deal TO "+sqlq.Ident(app)+
		"; GRANT "+sqlq.Ident(app)+", pg_read_all_data TO "+sqlq.Ident(d.acme))
	if got := mustAs(t, d.DB, d.acme, "SET ROLE "+sqlq.Ident(app), "SELECT count(*) FROM deal"); got != "5" {
		t.Fatalf("setup: acme as %s sees %s deals, want all 5 (the hole)", app, got)
	}
	res := d.plan(t)
	for _, want := range []string{`REVOKE "` + app + `" FROM "` + d.acme + `";`, `REVOKE "pg_read_all_data" FROM "` + d.acme + `";`} {
		if !strings.Contains(res.Stdout, want) {
			t.Errorf("plan lacks %s:\n%s", want, res.Stdout)
		}
	}
	d.apply(t, basePersons)
	if _, err := asRole(t, d.DB, d.acme, "SET ROLE "+sqlq.Ident(app), "SELECT 1"); err == nil || !strings.Contains(err.Error(), "permission denied") {
		t.Errorf("acme can still SET ROLE %s: %v", app, err)
	}
}

// TestTenantTableNotWritable: Change on the schema does not let a person
// rename or re-parent tenants; an explicit entry on the tenant table does.
func TestTenantTableNotWritable(t *testing.T) {
	d := newIsolationDB(t)
	d.apply(t, basePersons)
	for _, stmt := range []string{
		"UPDATE org_tenant SET name = 'Acme' || tid WHERE tid IN (2, 3)",
		"UPDATE org_tenant SET parent = 2 WHERE tid = 3",
		"INSERT INTO org_tenant (tid, name, parent) VALUES (9, 'Mine', 1)",
		"DELETE FROM org_tenant WHERE tid = 9",
	} {
		if can(t, d.DB, d.acme, stmt) {
			t.Errorf("acme may %s", stmt)
		}
	}
	if got := mustAs(t, d.DB, d.acme, "SELECT string_agg(name, ',' ORDER BY tid) FROM org_tenant"); got != "Provider,Acme,Globex" {
		t.Errorf("acme reads tenant names %q", got)
	}
	d.apply(t, basePersons+`
  <Permission object="table:public.org_tenant" to="ACME" rights="Read,Change"/>`)
	if !can(t, d.DB, d.acme, "UPDATE org_tenant SET name = 'Acme Inc' WHERE tid = 2") {
		t.Error("an explicit Change on the tenant table does not let acme rename a tenant")
	}
	if can(t, d.DB, d.globex, "UPDATE org_tenant SET name = 'Globex Inc' WHERE tid = 3") {
		t.Error("globex may rename a tenant without an explicit entry")
	}
}

// TestSharedSequences: Change on the schema gives what inserting needs
// (USAGE: nextval), not setval or reading the sequence.
func TestSharedSequences(t *testing.T) {
	d := newIsolationDB(t)
	d.apply(t, basePersons)
	if !can(t, d.DB, d.acme, "INSERT INTO ticket (owner_id, subject) VALUES (2, 'new')") {
		t.Error("acme cannot insert a ticket")
	}
	for _, stmt := range []string{"SELECT setval('ticket_id_seq', 1)", "SELECT last_value FROM ticket_id_seq"} {
		if can(t, d.DB, d.acme, stmt) {
			t.Errorf("acme may %s", stmt)
		}
	}
	d.apply(t, basePersons+`
  <Permission object="sequence:public.ticket_id_seq" to="ACME" rights="Read,Change"/>`)
	if !can(t, d.DB, d.acme, "SELECT setval('ticket_id_seq', 100)") {
		t.Error("an explicit Change on the sequence does not give setval")
	}
}

// TestViewsDoNotBypassScoping: a view owned by the table owner reads with
// the owner's rights; persons are not granted it (the plan says why) unless
// it is security_invoker, and then they see only their rows.
func TestViewsDoNotBypassScoping(t *testing.T) {
	d := newIsolationDB(t)
	d.Exec(t, `CREATE VIEW deal_report AS SELECT deal_no, amount FROM deal;
		CREATE VIEW big_deals AS SELECT * FROM deal_report WHERE amount > 15;
		CREATE MATERIALIZED VIEW deal_totals AS SELECT owner_id, sum(amount) AS total FROM deal GROUP BY 1;
		CREATE VIEW safe_lines WITH (security_invoker = true) AS SELECT * FROM deal_line`)
	res := d.apply(t, basePersons)
	for _, v := range []string{"public.deal_report reads row-scoped public.deal", "public.big_deals reads row-scoped public.deal", "public.deal_totals reads row-scoped public.deal"} {
		if !strings.Contains(res.Stderr, v) {
			t.Errorf("apply warns nothing about %q:\n%s", v, res.Stderr)
		}
	}
	for _, v := range []string{"deal_report", "big_deals", "deal_totals"} {
		if can(t, d.DB, d.acme, "SELECT * FROM "+v) {
			t.Errorf("acme may read %s, which reads deal with its owner's rights", v)
		}
	}
	if got := mustAs(t, d.DB, d.acme, "SELECT count(*) FROM safe_lines"); got != "1" {
		t.Errorf("acme sees %s lines through the security_invoker view, want 1", got)
	}
	d.Exec(t, "ALTER VIEW deal_report SET (security_invoker = true)")
	d.apply(t, basePersons)
	if can(t, d.DB, d.acme, "SELECT * FROM big_deals") {
		t.Error("acme may read big_deals, which is not security_invoker over deal_report")
	}
	if got := mustAs(t, d.DB, d.acme, "SELECT count(*) FROM deal_report"); got != "2" {
		t.Errorf("acme sees %s rows of the invoker view, want 2", got)
	}
}

// TestApplicationPoliciesKept: a table with row-level policies of its own
// gets no permissive USING (true); the application's role keeps seeing only
// what its policy allows, persons only their tenant within it.
func TestApplicationPoliciesKept(t *testing.T) {
	app := "app_" + suffix()
	d := newIsolationDB(t, app)
	id := sqlq.Ident(app)
	d.Exec(t, "CREATE ROLE "+id+" LOGIN; GRANT SELECT ON deal TO "+id+`;
		ALTER TABLE deal ENABLE ROW LEVEL SECURITY;
		CREATE POLICY app_globex ON deal TO `+id+` USING (owner_id = 3);
		CREATE POLICY everyone_big ON deal USING (amount >= 20)`)
	res := d.apply(t, basePersons)
	if !strings.Contains(res.Stderr, `public.deal has row-level policies of its own`) {
		t.Errorf("apply does not say it keeps the table's own policies:\n%s", res.Stderr)
	}
	if got := mustAs(t, d.DB, app, "SELECT string_agg(deal_no, ',' ORDER BY deal_no) FROM deal"); got != "A-2,G-1,G-2,G-3" {
		t.Errorf("the application role sees %q after apply, want its policies' A-2,G-1,G-2,G-3", got)
	}
	if got := mustAs(t, d.DB, d.acme, "SELECT string_agg(deal_no, ',' ORDER BY deal_no) FROM deal"); got != "A-2" {
		t.Errorf("acme sees %q, want A-2 (its tenant, within everyone_big)", got)
	}
	if got := d.Value(t, "SELECT count(*) FROM pg_policy WHERE polname = 'tenantkit_unscoped' AND polrelid = 'deal'::regclass"); got != "0" {
		t.Errorf("deal has %s tenantkit_unscoped policies", got)
	}
}

// TestVerifyReportsBypasses: verify names a view a person can read that
// reads a scoped table with its owner's rights (granted outside acl), and
// an alias login the policies do not restrict.
func TestVerifyReportsBypasses(t *testing.T) {
	d := newIsolationDB(t)
	d.apply(t, basePersons)
	d.Exec(t, "CREATE VIEW deal_report AS SELECT * FROM deal; GRANT SELECT ON deal_report TO "+sqlq.Ident(d.acme))
	if got := mustAs(t, d.DB, d.acme, "SELECT count(*) FROM deal_report"); got != "5" {
		t.Fatalf("setup: acme sees %s rows of the view, want 5 (the hole verify must name)", got)
	}
	res := testkit.Run(t, d.DB, "verify", "--tenant-column", "owner_id")
	want := "view public.deal_report reads it with its owner's rights and " + d.acme + " may read the view"
	if res.Code != 1 || !strings.Contains(res.Stdout, want) {
		t.Errorf("verify: exit %d, want 1 naming %q:\n%s%s", res.Code, want, res.Stdout, res.Stderr)
	}
	d.Exec(t, "ALTER VIEW deal_report SET (security_invoker = true)")
	if res := testkit.Run(t, d.DB, "verify", "--tenant-column", "owner_id"); res.Code != 0 {
		t.Errorf("verify with the view security_invoker: exit %d\n%s%s", res.Code, res.Stdout, res.Stderr)
	}
	if got := mustAs(t, d.DB, d.acme, "SELECT count(*) FROM deal_report"); got != "2" {
		t.Errorf("acme sees %s rows of the invoker view, want 2", got)
	}
}

// TestExplainOracle measures what the README's security model says of
// EXPLAIN ANALYZE: with an index on a column whose operator is leakproof
// (text here), a person learns whether another tenant has a row with a
// value ("Rows Removed by Filter" counts the hidden rows the index found);
// with the column unindexed it does not (the count is the same for a value
// only another tenant has and for a value nobody has).
func TestExplainOracle(t *testing.T) {
	d := newIsolationDB(t)
	d.Exec(t, `INSERT INTO deal SELECT 'X' || g, 2 + g % 2, g, 'note ' || g FROM generate_series(1, 20000) g;
		CREATE INDEX ON deal (owner_id); ANALYZE deal`)
	d.apply(t, basePersons)
	removed := func(where string) string {
		plan := explainAs(t, d.DB, d.acme, "ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF", "", "SELECT * FROM deal WHERE "+where)
		for _, line := range strings.Split(plan, "\n") {
			if _, n, ok := strings.Cut(line, "Rows Removed by Filter: "); ok {
				return n
			}
		}
		return "0"
	}
	// 'globex one' is Globex's, 'nobody' nobody's; acme has neither.
	if hidden, absent := removed("note = 'globex one'"), removed("note = 'nobody'"); hidden != absent {
		t.Errorf("with note unindexed, EXPLAIN tells a hidden value (%s rows removed) from an absent one (%s)", hidden, absent)
	}
	d.Exec(t, "CREATE INDEX ON deal (note); ANALYZE deal")
	if hidden, absent := removed("note = 'globex one'"), removed("note = 'nobody'"); hidden != "1" || absent != "0" {
		t.Errorf("with note indexed, rows removed for a hidden value %s, for an absent one %s; the README says 1 and 0", hidden, absent)
	}
	// The primary key is always indexed: a key's existence shows.
	if hidden, absent := removed("deal_no = 'G-1'"), removed("deal_no = 'G-9'"); hidden != "1" || absent != "0" {
		t.Errorf("primary key probe: rows removed %s for another tenant's key, %s for no key; the README says 1 and 0", hidden, absent)
	}
}

// TestAliasSchemasOutOfACLReach: a person with Read on the whole database
// and No Access on every tenant gets nothing on the schemas aliases publishes, and acl
// and aliases never undo each other: after both ran, each plans nothing.
func TestAliasSchemasOutOfACLReach(t *testing.T) {
	login, later := "acme_ro_"+suffix(), "globex_ro_"+suffix()
	d := newIsolationDB(t, login, later)
	aliasFile := writeFile(t, d.dir, "aliases.txt", `(aliases-for-account name: Acme login: "`+login+`" password: "pw" (tenants: Acme))`)
	res := testkit.Run(t, d.DB, "aliases", "--tenant-column", "owner_id", "-f", aliasFile)
	if res.Code != 0 {
		t.Fatalf("aliases: exit %d\n%s%s", res.Code, res.Stdout, res.Stderr)
	}
	d.apply(t, `  <Person name="ACME"/>
  <Permission object="database" to="ACME" rights="Read,Execute" propagate="true"/>
  <Permission object="tenant:Provider" to="ACME" rights="NoAccess"/>
  <Permission object="tenant:Acme" to="ACME" rights="NoAccess"/>
  <Permission object="tenant:Globex" to="ACME" rights="NoAccess"/>`)
	for _, stmt := range []string{"SELECT * FROM " + sqlq.Ident(login, "deal"), "SELECT * FROM deal"} {
		if out, err := asRole(t, d.DB, d.acme, stmt); err == nil && out != "" {
			t.Errorf("acme, with Read on the database and no tenant, reads rows: %s gave %q", stmt, out)
		}
	}
	if got := mustAs(t, d.DB, login, "SELECT string_agg(deal_no, ',' ORDER BY deal_no) FROM deal"); got != "A-1,A-2" {
		t.Errorf("the alias login sees %q, want A-1,A-2", got)
	}
	// A grant to PUBLIC on the table shows the alias login no row of it.
	d.Exec(t, "GRANT SELECT ON deal TO PUBLIC")
	if got := mustAs(t, d.DB, login, "SELECT count(*) FROM public.deal"); got != "0" {
		t.Errorf("the alias login reads %s rows of public.deal through PUBLIC, want 0", got)
	}
	if res := d.plan(t); !strings.Contains(res.Stderr, "row-scoped public.deal is also open to roles row security does not restrict (PUBLIC SELECT)") {
		t.Errorf("plan does not warn about PUBLIC's SELECT:\n%s", res.Stderr)
	}
	// A login aliases creates after the last acl apply is restricted too,
	// and acl still plans nothing.
	twoAccounts := writeFile(t, d.dir, "aliases2.txt", `(aliases-for-account name: Acme login: "`+login+`" password: "pw" (tenants: Acme))
(aliases-for-account name: Globex login: "`+later+`" password: "pw" (tenants: Globex))`)
	if res := testkit.Run(t, d.DB, "aliases", "--tenant-column", "owner_id", "-f", twoAccounts); res.Code != 0 {
		t.Fatalf("aliases: exit %d\n%s%s", res.Code, res.Stdout, res.Stderr)
	}
	if got := mustAs(t, d.DB, later, "SELECT count(*) FROM public.deal"); got != "0" {
		t.Errorf("a login created after acl apply reads %s rows of public.deal through PUBLIC, want 0", got)
	}
	if got := mustAs(t, d.DB, later, "SELECT string_agg(deal_no, ',' ORDER BY deal_no) FROM deal"); got != "G-1,G-2,G-3" {
		t.Errorf("the later login sees %q through its views, want G-1,G-2,G-3", got)
	}
	d.Exec(t, "REVOKE SELECT ON deal FROM PUBLIC")
	aliasFile = twoAccounts
	if res := testkit.Run(t, d.DB, "aliases", "--tenant-column", "owner_id", "-c", "-f", aliasFile); res.Code != 0 || !strings.Contains(res.Stdout, "nothing to change") {
		t.Errorf("aliases after acl apply: exit %d\n%s%s", res.Code, res.Stdout, res.Stderr)
	}
	if res := d.plan(t); res.Code != 0 || res.Stdout != "" {
		t.Errorf("acl plan after aliases: exit %d\n%s%s", res.Code, res.Stdout, res.Stderr)
	}
}

// TestRenamedTenantsAreRefused: the file names tenants; someone allowed to
// write the tenant table swaps Acme's and Globex's names. The next plan
// refuses (exit 2, naming both keys) instead of giving acme Globex's rows;
// --repin accepts the new names.
func TestRenamedTenantsAreRefused(t *testing.T) {
	d := newIsolationDB(t)
	file := basePersons + `
  <Permission object="table:public.org_tenant" to="ACME" rights="Read,Change"/>`
	d.apply(t, file)
	// The unique name constraint is checked per row: swap through a third name.
	mustAs(t, d.DB, d.acme, "UPDATE org_tenant SET name = 'swap' WHERE tid = 2", "UPDATE org_tenant SET name = 'Acme' WHERE tid = 3",
		"UPDATE org_tenant SET name = 'Globex' WHERE tid = 2", "SELECT 1")
	res := d.plan(t)
	want := `acl.xml:5: tenant "Acme" is key 3 now, but was key 2 when acl apply pinned it on`
	if res.Code != 2 || !strings.Contains(res.Stderr, want) || !strings.Contains(res.Stderr, `(key 2 is now named "Globex")`) || !strings.Contains(res.Stderr, "--repin") {
		t.Errorf("plan after the swap: exit %d, want 2 naming both keys:\n%s%s", res.Code, res.Stdout, res.Stderr)
	}
	res = testkit.Run(t, d.DB, "acl", "apply", "--tenant-column", "owner_id", "-f", d.dir+"/acl.xml")
	if res.Code != 2 {
		t.Errorf("apply after the swap: exit %d\n%s", res.Code, res.Stderr)
	}
	if got := mustAs(t, d.DB, d.acme, "SELECT string_agg(deal_no, ',' ORDER BY deal_no) FROM deal"); got != "A-1,A-2" {
		t.Errorf("acme sees %q after the refused apply, want its own A-1,A-2", got)
	}
	if res := testkit.Run(t, d.DB, "verify", "--tenant-column", "owner_id"); res.Code != 1 || !strings.Contains(res.Stdout, "tenant-pin") {
		t.Errorf("verify after the swap: exit %d\n%s", res.Code, res.Stdout)
	}
	res = d.apply(t, file, "--repin")
	if !strings.Contains(res.Stderr, "repinning: tenant \"Acme\" is key 3 now") {
		t.Errorf("apply --repin does not say what it repins:\n%s", res.Stderr)
	}
	if got := mustAs(t, d.DB, d.acme, "SELECT string_agg(deal_no, ',' ORDER BY deal_no) FROM deal"); got != "G-1,G-2,G-3" {
		t.Errorf("after --repin acme sees %q, want the deals of the tenant now named Acme", got)
	}
	if res := d.plan(t); res.Code != 0 || res.Stdout != "" {
		t.Errorf("plan after --repin: exit %d\n%s%s", res.Code, res.Stdout, res.Stderr)
	}
}
