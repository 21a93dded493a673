package e2e_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/tenantkit/tenantkit/internal/testkit"
)

// keysOnly rewrites the converted database's keys as distribute does for
// Citus (distribute apply --keys-only) and checks that nothing is left.
func keysOnly(t *testing.T, db *testkit.DB, args ...string) {
	t.Helper()
	res := run(t, db, 0, append([]string{"distribute", "apply", "--keys-only"}, args...)...)
	if !strings.HasPrefix(res.Stdout, "applied ") || !strings.HasSuffix(res.Stdout, " schema changes (keys only)\n") {
		t.Errorf("distribute apply --keys-only: %q", res.Stdout)
	}
	if res := run(t, db, 0, append([]string{"distribute", "plan", "--keys-only"}, args...)...); res.Stdout != "" {
		t.Errorf("distribute plan after apply is not empty:\n%s", res.Stdout)
	}
}

// wantFields fails unless out has a line whose fields are want's.
func wantFields(t *testing.T, what, out, want string) {
	t.Helper()
	for _, l := range strings.Split(out, "\n") {
		if strings.Join(strings.Fields(l), " ") == want {
			return
		}
	}
	t.Errorf("%s: no line %q in\n%s", what, want, out)
}

// countAs counts with query as the login role.
func countAs(t *testing.T, db *testkit.DB, role, query string) string {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, db.URLAs(role))
	if err != nil {
		t.Fatalf("connecting as %s: %v", role, err)
	}
	defer conn.Close(ctx)
	var n string
	if err := conn.QueryRow(ctx, query, pgx.QueryExecModeSimpleProtocol).Scan(&n); err != nil {
		t.Fatalf("%s as %s: %v", query, role, err)
	}
	return n
}

// TestCommandsOnDistributedKeys runs every command on the fixture database
// after the key rewrite distribute makes for Citus — primary keys, unique
// constraints and foreign keys with the tenant column, the tenant table's
// identity a sequence default — on plain PostgreSQL.
func TestCommandsOnDistributedKeys(t *testing.T) {
	t.Parallel()
	acme := uniqueLogin(t, "dacme")
	person := uniqueLogin(t, "dperson")
	db := testkit.NewFixtureDB(t)
	convert(t, db)

	var plan struct {
		Tables []struct {
			Object string `json:"object"`
			Type   string `json:"type"`
			Public int64  `json:"public_rows"`
		} `json:"tables"`
	}
	res := run(t, db, 0, "distribute", "plan", "--json")
	if err := json.Unmarshal([]byte(res.Stdout), &plan); err != nil {
		t.Fatalf("plan --json: %v\n%s", err, res.Stdout)
	}
	var classes []string
	for _, tb := range plan.Tables {
		classes = append(classes, fmt.Sprintf("%s=%s/%d", tb.Object, tb.Type, tb.Public))
	}
	if got, want := strings.Join(classes, " "), "ca_tenant=reference/0 cnt=distributed/0 cr=distributed/0 loc=distributed/0 nr=reference/2 org=distributed/0 pcat=reference/3 pri=reference/0 repo=reference/2"; got != want {
		t.Errorf("classification %s\nwant %s", got, want)
	}
	res = run(t, db, 2, "distribute", "apply")
	if !strings.Contains(res.Stderr, "no citus extension") || strings.Count(res.Stderr, "\n") != 1 {
		t.Errorf("apply without Citus: %q", res.Stderr)
	}
	keysOnly(t, db)

	res = run(t, db, 0, "schema")
	wantLine(t, "schema", res.Stdout, "srel      customer: customer -> cnt(id) [with tenant]")
	wantLine(t, "schema", res.Stdout, "srel      assignee: assignee -> cnt(id) [overlay] [service provider eligible]")
	res = run(t, db, 0, "verify")
	wantLine(t, "verify", res.Stdout, "total                            0")
	res = run(t, db, 0, "settenant", "-f", "fixtures/settenant.xml")
	wantLine(t, "settenant rerun", res.Stdout, "0 rows updated by 10 rules")
	wantOwned(t, db, convertedRows)

	// extract and load back unchanged.
	dir := t.TempDir()
	all := filepath.Join(dir, "all.dat")
	run(t, db, 0, "extract", "-o", all, "ALL")
	res = run(t, db, 0, "userload", "-f", all)
	wantLine(t, "userload of the extract", res.Stdout, "39 records read, 0 rejected, committed")
	wantFields(t, "userload of the extract", res.Stdout, "call_req 0 0 5 0 0")

	// Seed a new tenant from Acme's tenant-required rows with fresh keys.
	tmpl := filepath.Join(dir, "acme.dat")
	res = run(t, db, 0, "tenant-extract", "--tenant", "Acme", "--objects", "org,loc,cnt,cr", "--strip-tenant", "-o", tmpl)
	wantLine(t, "tenant-extract", res.Stderr, "extracted 5 rows from 4 tables to "+tmpl+" (userload)")
	res = run(t, db, 0, "tenant", "create", "--parent", serviceProvider, "NewCo")
	wantLine(t, "tenant create", res.Stdout, "created tenant NewCo (key 7, depth 1)")
	res = run(t, db, 0, "userload", "-t", "NewCo", "--new-keys", "-f", tmpl)
	wantLine(t, "userload -t --new-keys", res.Stdout, "5 records read, 0 rejected, committed")
	want := append([]string(nil), convertedRows...)
	want = append(want[:4], append([]string{"NewCo 1/2/1/1/0/0/0"}, want[4:]...)...)
	wantOwned(t, db, want)
	if got := db.Value(t, `SELECT string_agg(DISTINCT concat_ws(' ', cr.ref_num, c.userid, o.name, c.id <> a.id, o.id <> 1), ', ')
		FROM call_req cr JOIN ca_contact c ON c.id = cr.customer AND c.tenant = cr.tenant
		JOIN ca_organization o ON o.id = cr.organization AND o.tenant = cr.tenant
		JOIN ca_contact a ON a.userid = c.userid AND a.tenant = 2
		WHERE cr.tenant = 7`); got != "CR-1001 wcoyote Acme t t" {
		t.Errorf("NewCo's ticket: %s", got)
	}
	// Loaded again for Acme, the same file updates nothing: (tenant, userid)
	// and (tenant, ref_num) match Acme's own rows only.
	res = run(t, db, 0, "userload", "-t", "Acme", "-f", tmpl)
	wantFields(t, "userload -t Acme", res.Stdout, "ca_contact 0 0 2 0 0")
	// A record of Acme's pointing at Globex's contact breaks the reference rule.
	globexContact := db.Value(t, `SELECT id FROM ca_contact WHERE tenant = (SELECT id FROM ca_tenant WHERE name = 'Globex')`)
	bad := testkit.WriteFile(t, "bad.dat", fmt.Sprintf("TABLE call_req\n    ref_num summary open_date assignee\n    { \"CR-9\", \"x\", \"2026-01-01\", %q }\n", globexContact))
	res = run(t, db, 1, "userload", "-t", "Acme", "-f", bad)
	if !strings.Contains(res.Stderr, "reference rule") {
		t.Errorf("reference-rule reject: %s", res.Stderr)
	}
	res = run(t, db, 0, "verify")
	wantLine(t, "verify", res.Stdout, "total                            0")

	res = run(t, db, 0, "tenant", "tree")
	if !strings.Contains(res.Stdout, "NewCo") || !strings.Contains(res.Stdout, "Acme Europe") {
		t.Errorf("tenant tree:\n%s", res.Stdout)
	}

	// Per-tenant views over the rewritten tables.
	aliases := filepath.Join(dir, "aliases.txt")
	body := fmt.Sprintf("(gim-user-schema public)\n(aliases-for-account name: Acme login: %q password: \"pw\" (tenants: \"Acme\" \"Acme Europe\"))\n", acme)
	if err := os.WriteFile(aliases, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	res = run(t, db, 0, "aliases", "-f", aliases)
	wantLine(t, "aliases", res.Stdout, "1 role created, 1 schema created, 7 views created, 0 views unchanged")
	if got := strings.Join(db.Rows(t, fmt.Sprintf(`SELECT (SELECT count(*) FROM %[1]s.ca_contact) || '/' || (SELECT count(*) FROM %[1]s.call_req)`, acme))[0], ""); got != "3/2" {
		t.Errorf("contacts/tickets in Acme's views: %s, want 3/2", got)
	}

	// acl row scoping: Acme's users see Acme's and the service provider's contacts.
	acl := testkit.WriteFile(t, "acl.xml", fmt.Sprintf(`<AccessControl>
  <Person name=%q/>
  <AccessGroup name="Acme\Users" tenant="Acme"><Member person=%q/></AccessGroup>
  <Permission object="schema:public" to="EVERYONE" rights="Read"/>
  <Permission object="tenant:Acme" to="Acme\Users" rights="RX"/>
</AccessControl>`, person, person))
	res = run(t, db, 0, "acl", "apply", "-f", acl)
	t.Cleanup(func() { run(t, db, 0, "acl", "apply", "-f", testkit.WriteFile(t, "none.xml", "<AccessControl/>")) })
	if got := countAs(t, db, person, "SELECT count(*) FROM public.ca_contact"); got != "3" {
		t.Errorf("%s sees %s contacts, want 3 (Acme's 2 and the service provider's)", person, got)
	}
	if got := countAs(t, db, person, "SELECT count(*) FROM public.call_req"); got != "1" {
		t.Errorf("%s sees %s tickets, want 1", person, got)
	}
}

// TestCommandsOnDistributedKeysOtherSchema: the same on a database unlike
// the fixtures: the tenant column is "owner", keys are uuids, no overlay.
func TestCommandsOnDistributedKeysOtherSchema(t *testing.T) {
	t.Parallel()
	db := testkit.NewDB(t)
	db.Exec(t, `
CREATE TABLE public.account (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), name text NOT NULL UNIQUE,
  parent uuid REFERENCES public.account, service_provider boolean NOT NULL DEFAULT false,
  subtenants_allowed boolean NOT NULL DEFAULT true, active boolean NOT NULL DEFAULT true);
CREATE TABLE public.label (code text PRIMARY KEY, title text NOT NULL);
CREATE TABLE public.project (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), title text NOT NULL,
  owner uuid REFERENCES public.account);
CREATE TABLE public.task (id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, project uuid REFERENCES public.project,
  summary text NOT NULL, label text REFERENCES public.label, owner uuid REFERENCES public.account);
INSERT INTO public.label VALUES ('bug', 'Bug'), ('doc', 'Documentation');`)
	tk := func(want int, args ...string) testkit.Result {
		t.Helper()
		res := testkit.Run(t, db, append([]string{"--tenant-column", "owner"}, args...)...)
		if res.Code != want {
			t.Fatalf("tenantkit %s: exit %d, want %d\n%s%s", strings.Join(args, " "), res.Code, want, res.Stdout, res.Stderr)
		}
		return res
	}
	tk(0, "tenant", "create", "--service-provider", "--subtenants-allowed", "SP")
	tk(0, "tenant", "create", "--parent", "SP", "Alpha")
	tk(0, "tenant", "create", "--parent", "SP", "Beta")
	projects := testkit.WriteFile(t, "p.dat", `TABLE project
    id title
    { "00000000-0000-0000-0000-0000000000a1", "Alpha's website" }
`)
	tk(0, "userload", "-t", "Alpha", "-f", projects)
	// Tasks arrive without an owner; settenant gives them their project's.
	db.Exec(t, `INSERT INTO public.task (project, summary, label) VALUES
	  ('00000000-0000-0000-0000-0000000000a1', 'fix the menu', 'bug'), ('00000000-0000-0000-0000-0000000000a1', 'write the FAQ', 'doc')`)
	rules := testkit.WriteFile(t, "st.xml", `<SetTenant>
  <Object name="task"><TenantRule type="SREL">project</TenantRule><Where>owner is null</Where></Object>
</SetTenant>`)
	res := tk(0, "settenant", "-f", rules)
	wantLine(t, "settenant", res.Stdout, "rule 1 (line 2): task ← SREL project where owner is null: updated 2 rows")
	plan := tk(0, "distribute", "plan", "--keys-only").Stdout
	for _, want := range []string{
		`ALTER TABLE "public"."task" DROP CONSTRAINT "task_pkey", ADD CONSTRAINT "task_pkey" PRIMARY KEY ("owner", "id");`,
		`ALTER TABLE "public"."task" ADD CONSTRAINT "task_project_fkey" FOREIGN KEY ("owner", "project") REFERENCES "public"."project" ("owner", "id");`,
		`-- note: task.id: bigint identity column kept (Citus accepts it)`,
	} {
		if !strings.Contains(plan, want+"\n") {
			t.Errorf("plan lacks %s:\n%s", want, plan)
		}
	}
	res = tk(0, "distribute", "apply", "--keys-only")
	wantLine(t, "distribute apply", res.Stdout, "applied 6 schema changes (keys only)")
	if res := tk(0, "distribute", "plan", "--keys-only"); res.Stdout != "" {
		t.Errorf("plan after apply:\n%s", res.Stdout)
	}
	res = tk(0, "schema")
	wantLine(t, "schema", res.Stdout, "srel      project: project -> project(id) [with tenant]")
	res = tk(0, "verify")
	wantLine(t, "verify", res.Stdout, "total                            0")

	tmpl := filepath.Join(t.TempDir(), "alpha.dat")
	tk(0, "tenant-extract", "--tenant", "Alpha", "--strip-tenant", "-o", tmpl)
	res = tk(0, "userload", "-t", "Beta", "--new-keys", "-f", tmpl)
	wantLine(t, "userload -t Beta --new-keys", res.Stdout, "3 records read, 0 rejected, committed")
	if got := db.Value(t, `SELECT string_agg(a.name || ':' || t.summary || '@' || p.title || (p.id = '00000000-0000-0000-0000-0000000000a1')::text, ', ' ORDER BY a.name, t.summary)
		FROM public.task t JOIN public.project p ON p.id = t.project AND p.owner = t.owner JOIN public.account a ON a.id = t.owner`); got !=
		"Alpha:fix the menu@Alpha's websitetrue, Alpha:write the FAQ@Alpha's websitetrue, Beta:fix the menu@Alpha's websitefalse, Beta:write the FAQ@Alpha's websitefalse" {
		t.Errorf("tasks: %s", got)
	}
	res = tk(0, "verify")
	wantLine(t, "verify", res.Stdout, "total                            0")
	out := tk(0, "extract", "task").Stdout
	if strings.Count(out, "{") != 4 {
		t.Errorf("extract task:\n%s", out)
	}
	res = tk(0, "tenant", "list")
	if !strings.Contains(res.Stdout, "Beta") {
		t.Errorf("tenant list:\n%s", res.Stdout)
	}
}
