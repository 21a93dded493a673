package e2e_test

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tenantkit/tenantkit/internal/testkit"
)

// wantOwnedEach is wantOwned with one grouped query per table, which Citus
// runs on distributed tables (wantOwned correlates them with the tenants).
func wantOwnedEach(t *testing.T, db *testkit.DB, want []string) {
	t.Helper()
	tables := []string{"ca_organization", "ca_contact", "ca_location", "call_req", "category", "notification_rule", "doc_repository"}
	counts := map[string][]string{}
	names := []string{"public"}
	for _, r := range db.Rows(t, "SELECT name FROM ca_tenant ORDER BY name") {
		names = append(names, r[0])
	}
	for _, n := range names {
		counts[n] = make([]string, len(tables))
		for i := range tables {
			counts[n][i] = "0"
		}
	}
	for i, tb := range tables {
		for _, r := range db.Rows(t, fmt.Sprintf(`SELECT coalesce(o.name, 'public'), count(*) FROM public.%s x LEFT JOIN public.ca_tenant o ON o.id = x.tenant GROUP BY 1`, tb)) {
			counts[r[0]][i] = r[1]
		}
	}
	var got []string
	for _, n := range append(names[1:], "public") {
		got = append(got, n+" "+strings.Join(counts[n], "/"))
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("rows per tenant (org/cnt/loc/cr/cat/nr/repo):\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestCitusDistribute distributes the converted fixture database over a
// real Citus cluster and runs the commands on it. It needs
// TENANTKIT_TEST_CITUS_URL: the admin URL of a Citus coordinator with
// workers, all with wal_level = logical (distribute isolate splits shards
// with logical replication; a server that restricts output plugins needs
// output_plugin_libraries = 'citus'). It is skipped otherwise.
func TestCitusDistribute(t *testing.T) {
	db := testkit.NewCitusFixtureDB(t)
	convert(t, db)

	res := run(t, db, 0, "distribute", "plan")
	for _, want := range []string{
		`SELECT pg_catalog.create_reference_table('"public"."ca_tenant"');`,
		`SELECT pg_catalog.create_distributed_table('"public"."call_req"', 'tenant', colocate_with => '"public"."ca_location"');`,
		`ALTER TABLE "public"."call_req" ADD CONSTRAINT "call_req_customer_fkey" FOREIGN KEY ("tenant", "customer") REFERENCES "public"."ca_contact" ("tenant", "id");`,
	} {
		if !strings.Contains(res.Stdout, want+"\n") {
			t.Errorf("plan lacks %s:\n%s", want, res.Stdout)
		}
	}
	res = run(t, db, 0, "distribute", "apply")
	wantLine(t, "distribute apply", res.Stdout, "applied 57 steps: 4 distributed, 5 reference, 0 local tables")
	if !strings.Contains(res.Stderr, " distribute: cr: distributed table call_req by tenant (5 rows)\n") {
		t.Errorf("no progress line for call_req:\n%s", res.Stderr)
	}
	var got []string
	for _, r := range db.Rows(t, `SELECT table_name::text || ' ' || citus_table_type || ' ' || distribution_column FROM citus_tables ORDER BY 1`) {
		got = append(got, r[0])
	}
	if g, want := strings.Join(got, ", "), "ca_contact distributed tenant, ca_location distributed tenant, ca_organization distributed tenant, "+
		"ca_tenant reference <none>, call_req distributed tenant, category reference <none>, doc_repository reference <none>, "+
		"notification_rule reference <none>, priority reference <none>"; g != want {
		t.Errorf("Citus tables: %s\nwant %s", g, want)
	}
	if n := db.Value(t, `SELECT count(DISTINCT colocation_id) FROM citus_tables WHERE citus_table_type = 'distributed'`); n != "1" {
		t.Errorf("distributed tables in %s colocation groups", n)
	}
	// The coordinator keeps no copy of the rows it moved to the shards.
	if got := db.Value(t, `SELECT count(*) FROM citus_tables c WHERE pg_relation_size(c.table_name) > 0`); got != "0" {
		t.Errorf("%s Citus tables keep local data on the coordinator", got)
	}
	if res := run(t, db, 0, "distribute", "plan"); res.Stdout != "" {
		t.Errorf("plan after apply:\n%s", res.Stdout)
	}
	res = run(t, db, 0, "distribute", "apply")
	wantLine(t, "distribute apply again", res.Stdout, "nothing to do: the database is distributed")

	res = run(t, db, 0, "verify")
	wantLine(t, "verify", res.Stdout, "total                            0")
	wantOwnedEach(t, db, convertedRows)

	dir := t.TempDir()
	all := filepath.Join(dir, "all.dat")
	run(t, db, 0, "extract", "-o", all, "ALL")
	res = run(t, db, 0, "userload", "-f", all)
	wantLine(t, "userload of the extract", res.Stdout, "39 records read, 0 rejected, committed")
	wantFields(t, "userload of the extract", res.Stdout, "ca_contact 0 0 7 0 0")
	// Into emptied distributed tables: COPY straight in, then the reference
	// rule checked over the table (contacts' overlay SREL to locations).
	db.Exec(t, "TRUNCATE public.ca_contact CASCADE")
	res = run(t, db, 0, "userload", "-f", all)
	wantFields(t, "userload into emptied tables", res.Stdout, "ca_contact 7 0 0 0 0")
	wantFields(t, "userload into emptied tables", res.Stdout, "call_req 5 0 0 0 0")

	// A tenant seeded on Citus from the template of a single server, and one
	// moved from Citus to the single server.
	single := testkit.NewFixtureDB(t)
	convert(t, single)
	tmpl := filepath.Join(dir, "acme.dat")
	run(t, single, 0, "tenant-extract", "--tenant", "Acme", "--objects", "org,loc,cnt,cr", "--strip-tenant", "-o", tmpl)
	run(t, db, 0, "tenant", "create", "--parent", serviceProvider, "NewCo")
	res = run(t, db, 0, "userload", "-t", "NewCo", "--new-keys", "-f", tmpl)
	wantLine(t, "userload -t NewCo --new-keys on Citus", res.Stdout, "5 records read, 0 rejected, committed")
	want := append([]string(nil), convertedRows...)
	want = append(want[:4], append([]string{"NewCo 1/2/1/1/0/0/0"}, want[4:]...)...)
	wantOwnedEach(t, db, want)
	if got := db.Value(t, `SELECT count(*) FROM call_req cr JOIN ca_contact c ON c.id = cr.customer AND c.tenant = cr.tenant
		WHERE cr.tenant = (SELECT id FROM ca_tenant WHERE name = 'NewCo') AND c.userid = 'wcoyote'`); got != "1" {
		t.Errorf("NewCo's ticket references NewCo's wcoyote %s times", got)
	}
	moved := filepath.Join(dir, "newco.dat")
	run(t, db, 0, "tenant-extract", "--tenant", "NewCo", "--objects", "org,loc,cnt,cr", "--strip-tenant", "-o", moved)
	// On the single server userids are unique across tenants: Acme's
	// collide with the moved tenant's until its keys include the tenant too.
	keysOnly(t, single)
	run(t, single, 0, "tenant", "create", "--parent", serviceProvider, "Moved")
	res = run(t, single, 0, "userload", "-t", "Moved", "--new-keys", "-f", moved)
	wantLine(t, "userload -t Moved from Citus", res.Stdout, "5 records read, 0 rejected, committed")
	res = run(t, single, 0, "verify")
	wantLine(t, "verify of the single server", res.Stdout, "total                            0")

	globex := db.Value(t, `SELECT id FROM ca_contact WHERE tenant = (SELECT id FROM ca_tenant WHERE name = 'Globex')`)
	bad := testkit.WriteFile(t, "bad.dat", fmt.Sprintf("TABLE call_req\n    ref_num summary open_date assignee\n    { \"CR-9\", \"x\", \"2026-01-01\", %q }\n", globex))
	res = run(t, db, 1, "userload", "-t", "Acme", "-f", bad)
	if !strings.Contains(res.Stderr, "reference rule") {
		t.Errorf("reference-rule reject on Citus: %s", res.Stderr)
	}

	// What Citus cannot do is refused in one line.
	res = run(t, db, 2, "settenant", "-f", "fixtures/settenant.xml")
	if !strings.Contains(res.Stderr, `is distributed by its tenant column on Citus, which cannot change a distribution column`) || strings.Count(res.Stderr, "\n") != 1 {
		t.Errorf("settenant on Citus: %q", res.Stderr)
	}
	acl := testkit.WriteFile(t, "acl.xml", `<AccessControl>
  <Permission object="schema:public" to="EVERYONE" rights="Read"/>
</AccessControl>`)
	res = run(t, db, 2, "acl", "apply", "-f", acl)
	if !strings.Contains(res.Stderr, "row scoping is not supported on Citus distributed tables") || strings.Count(res.Stderr, "\n") != 1 {
		t.Errorf("acl on Citus: %q", res.Stderr)
	}

	acme := uniqueLogin(t, "cacme")
	aliases := testkit.WriteFile(t, "aliases.txt", fmt.Sprintf("(gim-user-schema public)\n(aliases-for-account name: Acme login: %q password: \"pw\" (tenants: \"Acme\" \"Acme Europe\"))\n", acme))
	res = run(t, db, 0, "aliases", "-f", aliases)
	wantLine(t, "aliases on Citus", res.Stdout, "1 role created, 1 schema created, 7 views created, 0 views unchanged")
	if got := db.Value(t, fmt.Sprintf(`SELECT (SELECT count(*) FROM %[1]s.ca_contact) || '/' || (SELECT count(*) FROM %[1]s.call_req)`, acme)); got != "3/2" {
		t.Errorf("contacts/tickets in Acme's views on Citus: %s, want 3/2", got)
	}

	res = run(t, db, 0, "distribute", "isolate", "Acme")
	if !strings.HasPrefix(res.Stdout, "tenant Acme (key 2) isolated: shard ") {
		t.Errorf("isolate: %q", res.Stdout)
	}
	if got := db.Value(t, `SELECT count(*) FROM pg_dist_shard s WHERE s.logicalrelid = 'ca_contact'::regclass
		AND s.shardminvalue = s.shardmaxvalue`); got != "1" {
		t.Errorf("ca_contact has %s single-value shards after isolate", got)
	}
	res = run(t, db, 0, "verify")
	wantLine(t, "verify after isolate", res.Stdout, "total                            0")
	wantOwnedEach(t, db, want)
}
