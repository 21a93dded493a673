package aliases

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tenantkit/tenantkit/internal/sqlq"
	"github.com/tenantkit/tenantkit/internal/testkit"
)

// TestAliasesOtherSchema: a schema that is not the fixture's — a schema
// name with a space, uuid tenant keys, a tenant column called owner_org,
// a table name with quotes, a table without tenancy, views in the source
// schema — with --objects patterns, --prefix, --include-subtenants and a
// login that needs quoting.
func TestAliasesOtherSchema(t *testing.T) {
	logins := uniqueLogins(t, 2)
	login := "Ro " + strings.ToUpper(logins[0]) // uppercase and a space
	dropRolesAtEnd(t, login)
	db := testkit.NewDB(t)
	db.Exec(t, `CREATE SCHEMA "crm data";
		CREATE TABLE "crm data".orgs (org_uuid uuid PRIMARY KEY, org_name text NOT NULL UNIQUE, parent_org uuid REFERENCES "crm data".orgs);
		CREATE TABLE "crm data".deals (deal_id serial PRIMARY KEY, title text NOT NULL, owner_org uuid NOT NULL REFERENCES "crm data".orgs);
		CREATE TABLE "crm data"."Weird ""Notes""" (id int PRIMARY KEY, body text, owner_org uuid REFERENCES "crm data".orgs);
		CREATE TABLE "crm data".currencies (code text PRIMARY KEY);
		CREATE VIEW "crm data".deal_titles AS SELECT deal_id, upper(title) AS title, owner_org FROM "crm data".deals;
		CREATE VIEW "crm data".no_tenant_view AS SELECT 1 AS x;
		INSERT INTO "crm data".orgs VALUES
			('00000000-0000-0000-0000-00000000000a', 'Org A', NULL),
			('00000000-0000-0000-0000-0000000000a1', 'Org A/1', '00000000-0000-0000-0000-00000000000a'),
			('00000000-0000-0000-0000-00000000000b', 'Org B', NULL),
			('00000000-0000-0000-0000-00000000000c', 'Org C', NULL);
		INSERT INTO "crm data".deals (title, owner_org) VALUES
			('a deal', '00000000-0000-0000-0000-00000000000a'), ('a1 deal', '00000000-0000-0000-0000-0000000000a1'),
			('b deal', '00000000-0000-0000-0000-00000000000b'), ('c deal', '00000000-0000-0000-0000-00000000000c');
		INSERT INTO "crm data"."Weird ""Notes""" VALUES
			(1, 'public note', NULL), (2, E'a''s note\nwith \\ backslash', '00000000-0000-0000-0000-00000000000a'),
			(3, 'c note', '00000000-0000-0000-0000-00000000000c');
		INSERT INTO "crm data".currencies VALUES ('EUR'), ('USD')`)
	overlay := filepath.Join(t.TempDir(), "crm.xml")
	if err := os.WriteFile(overlay, []byte(`<Schema tenantColumn="owner_org"><Tenants table="orgs" key="org_uuid" name="org_name" parent="parent_org"/></Schema>`), 0o600); err != nil {
		t.Fatal(err)
	}
	file := writeFile(t, fmt.Sprintf(`(gim-user-schema "crm data")
(aliases-for-account name: "Read only" login: %q password: "p w" (tenants: "Org A" 00000000-0000-0000-0000-00000000000b))
`, login))
	run := func(extra ...string) testkit.Result {
		args := append([]string{"aliases", "--schema", overlay, "--objects", "deals,Weird*,deal_*,no_tenant*,currencies", "--prefix", "v_"}, extra...)
		return testkit.Run(t, db, append(args, "-f", file)...)
	}
	res := run("--include-subtenants")
	if res.Code != 0 {
		t.Fatalf("exit %d\n%s%s", res.Code, res.Stdout, res.Stderr)
	}
	if got := viewsIn(t, db, login); got != `v_Weird "Notes",v_currencies,v_deal_titles,v_deals` {
		t.Errorf("views = %s", got)
	}
	if !strings.Contains(res.Stdout, fmt.Sprintf("Creating view v_Weird \"Notes\" in tenant schema %s\n", login)) {
		t.Errorf("stdout:\n%s", res.Stdout)
	}
	for _, c := range []struct{ sql, want string }{
		{"SELECT title FROM v_deals ORDER BY title", "a deal,a1 deal,b deal"},
		{"SELECT title FROM v_deal_titles ORDER BY title", "A DEAL,A1 DEAL,B DEAL"},
		{`SELECT body FROM "v_Weird ""Notes""" ORDER BY id`, "public note,a's note\nwith \\ backslash"},
		{"SELECT string_agg(code, ' ' ORDER BY code) FROM v_currencies", "EUR USD"},
	} {
		if got := column(t, db, login, "p w", c.sql); got != c.want {
			t.Errorf("%s = %q, want %q", c.sql, got, c.want)
		}
	}
	wantDenied(t, db, login, "p w", `SELECT * FROM "crm data".deals`)

	// Without --include-subtenants the subtenant's rows go.
	res = run()
	if res.Code != 0 || !strings.Contains(res.Stdout, "3 views replaced") {
		t.Fatalf("exit %d\n%s%s", res.Code, res.Stdout, res.Stderr)
	}
	if got := column(t, db, login, "p w", "SELECT title FROM v_deals ORDER BY title"); got != "a deal,b deal" {
		t.Errorf("without subtenants: %s", got)
	}
	// A view without the tenant column, named exactly, is refused.
	res = testkit.Run(t, db, "aliases", "--schema", overlay, "--objects", "no_tenant_view", "-f", file)
	if res.Code != 2 || !strings.Contains(res.Stderr, `view "no_tenant_view" has no tenant column "owner_org"`) {
		t.Errorf("exit %d\n%s%s", res.Code, res.Stdout, res.Stderr)
	}

	// Tenant lists: a tenant group by group:NAME and subtenants:T.
	if res := testkit.Run(t, db, "--schema", overlay, "--db-schema", "crm data", "tenant", "group", "create", "US regions", "Org C"); res.Code != 0 {
		t.Fatalf("tenant group create: %d %s", res.Code, res.Stderr)
	}
	lists := writeFile(t, fmt.Sprintf(`(gim-user-schema "crm data")
(aliases-for-account name: "Read only" login: %q password: "p w"
  (tenants: "group:US regions" "subtenants:Org A"))
`, login))
	res = testkit.Run(t, db, "aliases", "--schema", overlay, "--objects", "deals", "--prefix", "v_", "-f", lists)
	if res.Code != 0 {
		t.Fatalf("tenant lists: exit %d\n%s%s", res.Code, res.Stdout, res.Stderr)
	}
	if got := column(t, db, login, "p w", "SELECT title FROM v_deals ORDER BY title"); got != "a deal,a1 deal,c deal" {
		t.Errorf("with tenant lists: %s", got)
	}
	// The tenant a list is built on is pinned: another tenant named Org A
	// is refused at the list's position.
	db.Exec(t, `UPDATE "crm data".orgs SET org_name = 'Org A (old)' WHERE org_name = 'Org A'; UPDATE "crm data".orgs SET org_name = 'Org A' WHERE org_name = 'Org B'`)
	res = testkit.Run(t, db, "aliases", "--schema", overlay, "--objects", "deals", "--prefix", "v_", "-f", lists)
	if want := `:3:32: tenant "Org A" is key 00000000-0000-0000-0000-00000000000b now, but was key 00000000-0000-0000-0000-00000000000a`; res.Code != 2 || !strings.Contains(res.Stderr, want) {
		t.Errorf("after a rename: exit %d %q, want 2 and %q", res.Code, res.Stderr, want)
	}
	bad := writeFile(t, fmt.Sprintf(`(gim-user-schema "crm data")
(aliases-for-account login: %q password: "p w"
  (tenants: "group:Nowhere"))`, login))
	res = testkit.Run(t, db, "aliases", "--schema", overlay, "--objects", "deals", "-f", bad)
	if want := `:3:13: unknown tenant list "group:Nowhere": tenant group "Nowhere": no such tenant`; res.Code != 2 || !strings.Contains(res.Stderr, want) {
		t.Errorf("unknown group: exit %d %q, want 2 and %q", res.Code, res.Stderr, want)
	}
}

// TestAliasesAsNonSuperuser runs tenantkit as a role with CREATEROLE but
// without superuser, the usual set-up: it cannot read pg_authid, so each run
// sets the passwords again, and says so.
func TestAliasesAsNonSuperuser(t *testing.T) {
	logins := uniqueLogins(t, 2)
	tool, login := logins[0], logins[1]
	db := tenantFixture(t)
	q := sqlq.Ident(tool)
	db.Exec(t, fmt.Sprintf(`CREATE ROLE %[1]s LOGIN CREATEROLE; GRANT CREATE ON DATABASE %[2]s TO %[1]s`, q, sqlq.Ident(db.Name)))
	u, err := url.Parse(db.URL)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.User(tool)
	file := writeFile(t, fmt.Sprintf(`(aliases-for-account login: %s password: pw (tenants: Globex) (time-zone: Asia/Tokyo))`, login))
	args := []string{"--db", u.String(), "aliases", "--schema", "fixtures/schema.xml", "-f", file}
	res := testkit.Run(t, nil, args...)
	if res.Code != 2 || !strings.Contains(res.Stderr, fmt.Sprintf(`role %q, which will own the views, cannot read ca_contact, ca_location, ca_organization, call_req, category, doc_repository, notification_rule in schema "public"`, tool)) {
		t.Fatalf("without SELECT on the tables: exit %d\n%s%s", res.Code, res.Stdout, res.Stderr)
	}
	nothingCreated(t, db, login)
	db.Exec(t, "GRANT SELECT ON ALL TABLES IN SCHEMA public TO "+q)
	res = testkit.Run(t, nil, args...)
	if res.Code != 0 {
		t.Fatalf("exit %d\n%s%s", res.Code, res.Stdout, res.Stderr)
	}
	if got := column(t, db, login, "pw", "SELECT id FROM call_req ORDER BY id"); got != "2" {
		t.Errorf("call_req = %s", got)
	}
	if got := column(t, db, login, "pw", "SHOW timezone"); got != "Asia/Tokyo" {
		t.Errorf("timezone = %s", got)
	}
	if got := db.Value(t, "SELECT pg_get_userbyid(relowner) FROM pg_class WHERE oid = $1::regclass", sqlq.Ident(login, "call_req")); got != tool {
		t.Errorf("view owner = %s, want %s", got, tool)
	}
	res = testkit.Run(t, nil, args...)
	if want := fmt.Sprintf("Setting role %s (password; pg_authid is not readable, so the stored one cannot be compared)\n1 other change, 7 views unchanged\n", login); res.Code != 0 || res.Stdout != want {
		t.Errorf("rerun: exit %d\n%s%s\nwant\n%s", res.Code, res.Stdout, res.Stderr, want)
	}
}

// TestAliasesRoleSharedByDatabases: a login published by two databases
// keeps its login until the last one drops it. The second database publishes
// the tenant table (filtered on its key) and a table without tenancy.
func TestAliasesRoleSharedByDatabases(t *testing.T) {
	login := uniqueLogins(t, 1)[0]
	db1, db2 := tenantFixture(t), tenantFixture(t)
	file := writeFile(t, fmt.Sprintf(`(aliases-for-account login: %s password: pw (tenants: Acme 3))`, login))
	empty := writeFile(t, "; no accounts\n")
	for _, r := range []testkit.Result{
		testkit.Run(t, db1, "aliases", "-f", file),
		testkit.Run(t, db2, "aliases", "--objects", "ca_tenant,pri*", "-f", file),
	} {
		if r.Code != 0 {
			t.Fatalf("exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
		}
	}
	if got := column(t, db2, login, "pw", "SELECT id FROM ca_tenant ORDER BY id"); got != "2,3" {
		t.Errorf("ca_tenant = %s", got)
	}
	if got := column(t, db2, login, "pw", "SELECT code FROM priority ORDER BY code"); got != "P1,P2,P3,P4" {
		t.Errorf("priority = %s", got)
	}
	dbs := []string{db1.Name, db2.Name}
	slices.Sort(dbs)
	if got := db1.Value(t, "SELECT shobj_description(oid, 'pg_authid') FROM pg_roles WHERE rolname = $1", login); got != fmt.Sprintf(`managed by tenantkit aliases {"databases":[%q,%q]}`, dbs[0], dbs[1]) {
		t.Errorf("role comment = %s", got)
	}
	res := testkit.Run(t, db1, "aliases", "-f", empty)
	if want := fmt.Sprintf("Releasing role %s (from database %s)\n", login, db1.Name); res.Code != 0 || !strings.Contains(res.Stdout, want) || strings.Contains(res.Stdout, "Disabling") {
		t.Fatalf("exit %d\n%s%s\nwant %s", res.Code, res.Stdout, res.Stderr, want)
	}
	if got := viewsIn(t, db1, login); got != "" {
		t.Errorf("views left in db1: %s", got)
	}
	if got := column(t, db2, login, "pw", "SELECT count(*) FROM priority"); got != "4" {
		t.Errorf("db2 after db1 let go: %s", got)
	}
	res = testkit.Run(t, db2, "aliases", "-f", empty)
	if want := fmt.Sprintf("Disabling role %s (login)\n", login); res.Code != 0 || !strings.Contains(res.Stdout, want) {
		t.Fatalf("exit %d\n%s%s\nwant %s", res.Code, res.Stdout, res.Stderr, want)
	}
	if _, err := queryAs(t, db2, login, "pw", "SELECT 1"); err == nil || !strings.Contains(err.Error(), "not permitted to log in") {
		t.Errorf("login after the last database let go: %v", err)
	}
}
