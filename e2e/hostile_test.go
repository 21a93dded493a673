package e2e_test

// Isolation against a hostile tenant user (issue 19, points 1 and 2):
// functions and operators planted where a search_path could find them must
// never run in a tenantkit session, and literals must mean the same whatever
// standard_conforming_strings says.

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/tenantkit/tenantkit/acl"
	"github.com/tenantkit/tenantkit/internal/sqlq"
	"github.com/tenantkit/tenantkit/internal/testkit"
)

// otherShape adds tables unlike the fixtures' to the fixture database: text,
// uuid and composite keys, a tenant column called owned_by, a
// self-reference, name and array columns. otherOverlay describes them.
const otherShape = `
CREATE TABLE public.tk_asset (tag text PRIMARY KEY, label varchar(40) NOT NULL,
	parent_tag text REFERENCES public.tk_asset (tag), owned_by int REFERENCES public.ca_tenant (id),
	changed_at timestamptz NOT NULL DEFAULT now(), tags text[]);
CREATE TABLE public.tk_part (asset_tag text REFERENCES public.tk_asset, line int, note name,
	owned_by int REFERENCES public.ca_tenant (id), PRIMARY KEY (asset_tag, line));
CREATE TABLE public.tk_box (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), label text,
	owned_by int REFERENCES public.ca_tenant (id));
INSERT INTO public.tk_asset (tag, label, parent_tag, tags) VALUES ('A-1', 'root', NULL, '{x,y}'), ('A-2', 'child', 'A-1', '{z}');
INSERT INTO public.tk_part VALUES ('A-1', 1, 'n1', NULL), ('A-2', 1, 'n2', NULL);`

const otherObjects = `  <Object name="asset" table="tk_asset" tenancy="required" tenantColumn="owned_by" key="tag" changeColumn="changed_at"/>
  <Object name="part" table="tk_part" tenancy="required" tenantColumn="owned_by"/>
  <Object name="box" table="tk_box" tenancy="optional" tenantColumn="owned_by"/>
</Schema>`

// otherOverlay writes the fixture overlay plus the other tables' objects.
func otherOverlay(t *testing.T, dir string) string {
	t.Helper()
	base, err := os.ReadFile(testkit.Path(overlay))
	if err != nil {
		t.Fatal(err)
	}
	s := strings.Replace(string(base), "</Schema>", otherObjects, 1)
	return testkit.WriteFile(t, "overlay.xml", s)
}

// otherRules gives the other tables their tenants: assets by name (a
// tenant of the file), parts from their asset.
const otherRules = `<SetTenant>
  <Object name="asset"><TenantRule type="Name">Acme</TenantRule><Where>owned_by is null</Where></Object>
  <Object name="part"><TenantRule type="SREL">asset_tag</TenantRule><Where>owned_by is null</Where></Object>
</SetTenant>`

// hijackLog is the table planted code records itself in; hitViaDblink
// records through a connection of its own, so that a hit survives the
// rollback of the statement that made it.
const hijackLog = `CREATE TABLE public.tk_hijack_log (fn text NOT NULL, by_role text NOT NULL);
GRANT INSERT ON public.tk_hijack_log TO PUBLIC;
CREATE SCHEMA tk_dblink;
CREATE EXTENSION dblink SCHEMA tk_dblink;`

func hitViaDblink(url string) string {
	return `CREATE FUNCTION public.tk_hijack_hit(fn text) RETURNS void LANGUAGE plpgsql SET search_path = pg_catalog AS $$
DECLARE k text := 'tk_hijack.h' || pg_catalog.md5(fn);
BEGIN
	IF pg_catalog.current_setting(k, true) IS DISTINCT FROM '1' THEN
		PERFORM pg_catalog.set_config(k, '1', false);
		BEGIN
			PERFORM tk_dblink.dblink_exec(` + sqlq.Lit(url) + `, 'INSERT INTO public.tk_hijack_log VALUES (' || pg_catalog.quote_literal(fn) || ', ' || pg_catalog.quote_literal(session_user) || ')');
		EXCEPTION WHEN others THEN
			INSERT INTO public.tk_hijack_log VALUES (fn, session_user);
		END;
	END IF;
END $$`
}

// loggedHits lists the planted code that ran, as "signature (as role)".
func loggedHits(t *testing.T, conn *pgx.Conn) []string {
	t.Helper()
	rows, err := conn.Query(context.Background(), "SELECT DISTINCT fn || ' (as ' || by_role || ')' FROM public.tk_hijack_log")
	if err != nil {
		t.Fatal(err)
	}
	got, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(got)
	return got
}

// noHijacks fails the test if any planted code ran.
func noHijacks(t *testing.T, conn *pgx.Conn, when string) {
	t.Helper()
	if got := loggedHits(t, conn); len(got) > 0 {
		t.Errorf("%s: %d planted functions or operators ran:\n%s", when, len(got), strings.Join(got, "\n"))
	}
}

// TestShadowedCatalogNeverRuns plants, in public and in a second schema the
// database's search_path names, a shadow of every catalog function and
// operator tenantkit's SQL uses, with argument types that match calls better
// than pg_catalog's, then runs every command as the superuser: none may run.
func TestShadowedCatalogNeverRuns(t *testing.T) {
	t.Parallel()
	acme, ops, person := uniqueLogin(t, "acme"), uniqueLogin(t, "ops"), uniqueLogin(t, "person")
	// The policies name the group's role: drop it after the database.
	dropLater := testkit.DropRolesLater(t)
	db := testkit.NewFixtureDB(t)
	dropLater(groupRole(t, db, `Acme\`+person))
	dir := t.TempDir()
	ov := otherOverlay(t, dir)
	db.Exec(t, otherShape)
	conn := plantEverywhere(t, db)

	runHostile(t, db, dir, ov, acme, ops, person)
	noHijacks(t, conn, "after every command")
}

// plantEverywhere plants the shadows of every catalog function and operator
// the code's SQL names in public and in tk_evil, which the database's
// search_path names after public, with the dblink-backed log, and proves
// that a session with that search_path runs them. It returns a pinned
// connection to read the log with.
// groupRole is the role of acl's access group name in db.
func groupRole(t *testing.T, db *testkit.DB, name string) string {
	t.Helper()
	oid, err := strconv.ParseUint(db.Value(t, "SELECT oid FROM pg_database WHERE datname = current_database()"), 10, 32)
	if err != nil {
		t.Fatal(err)
	}
	return acl.GroupRole(uint32(oid), name)
}

func plantEverywhere(t *testing.T, db *testkit.DB) *pgx.Conn {
	t.Helper()
	db.Exec(t, hijackLog)
	db.Exec(t, hitViaDblink(db.URL))
	db.Exec(t, "CREATE SCHEMA tk_evil; GRANT USAGE ON SCHEMA tk_evil TO PUBLIC; ALTER DATABASE "+sqlq.Ident(db.Name)+" SET search_path = public, tk_evil")

	conn := pinnedConn(t, db.URL)
	funcs, opTokens := usedNames(t)
	for _, want := range []string{"quote_ident", "unnest", "array_agg", "set_config"} {
		if !slices.Contains(funcs, want) {
			t.Fatalf("the scan of the code's SQL found no %s( among %d names", want, len(funcs))
		}
	}
	var objs []planted
	for _, s := range []string{"public", "tk_evil"} {
		objs = append(objs, shadows(t, conn, s, "public.tk_hijack_hit", funcs, opTokens)...)
	}
	n := plant(t, conn, objs)
	t.Logf("planted %d of %d shadows (%d candidate names, %d operator tokens)", n, len(objs), len(funcs), len(opTokens))
	if n < 1000 {
		t.Fatalf("only %d shadows planted", n)
	}
	// The planted code works: a session with the database's own search_path
	// calls it.
	probe := ownPathConn(t, db.URL)
	if _, err := probe.Exec(context.Background(), "SELECT quote_ident('x'::name), 'a'::varchar || 'b'::varchar"); err != nil {
		t.Fatal(err)
	}
	if got := loggedHits(t, conn); len(got) != 2 {
		t.Fatalf("the probe ran %v, want the quote_ident(name) and ||(varchar, varchar) shadows", got)
	}
	db.Exec(t, "TRUNCATE public.tk_hijack_log")
	probe.Close(context.Background())
	return conn
}

// runHostile runs every command of the binary against db (the fixture
// database plus otherShape) with overlay ov, each with the exit code it must
// have.
func runHostile(t *testing.T, db *testkit.DB, dir, ov, acme, ops, person string) {
	t.Helper()
	step := func(want int, args ...string) testkit.Result {
		t.Helper()
		res := testkit.Run(t, db, append([]string{"--schema", ov}, args...)...)
		if res.Code != want {
			t.Errorf("tenantkit %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), res.Code, want, res.Stdout, res.Stderr)
		}
		return res
	}
	f := func(name string) string { return filepath.Join(dir, name) }
	rules := testkit.WriteFile(t, "other-rules.xml", otherRules)
	step(0, "schema")
	step(0, "tenant", "create", "--service-provider", "--subtenants-allowed", serviceProvider)
	step(0, "buildtenant", "-c")
	step(0, "buildtenant")
	step(0, "settenant", "-c", "-f", "fixtures/settenant.xml")
	step(0, "settenant", "-r", "-f", "fixtures/settenant.xml")
	step(0, "settenant", "-f", rules)
	step(0, "settenant", "-r", "-f", rules)
	step(0, "tenant", "create", "--parent", serviceProvider, "--subtenants-allowed", "Holding")
	step(0, "tenant", "create", "--parent", serviceProvider, "NewCo")
	step(0, "tenant", "list")
	step(0, "tenant", "tree")
	step(0, "tenant", "set-parent", "NewCo", "Holding")
	step(0, "tenant", "groups", "NewCo")
	step(0, "tenant", "group", "create", "Europe", "subtenants:Holding", "Acme")
	step(0, "tenant", "group", "list")
	step(0, "verify")

	step(0, "extract", "-o", f("all.dat"), "ALL")
	step(0, "extract", "--where", "tag <> 'none'", "-o", f("assets.csv"), "asset")
	step(0, "extract", "--sql", "SELECT tag, label, tags FROM tk_asset WHERE tag <> 'none' ORDER BY tag", "-o", f("q.dat"))
	step(0, "extract", "--control", f("x.ctl"), "-o", f("c1.dat"), "ALL")
	step(0, "extract", "--control", f("x.ctl"), "-o", f("c2.dat"), "ALL")
	step(0, "tenant-extract", "--tenant", "Acme", "--with-public", "-o", f("acme.dat"))
	step(0, "tenant-extract", "--tenant", "Acme", "--control", f("t.ctl"), "-o", f("t1.dat"))
	step(0, "tenant-extract", "--tenant", "Acme", "--control", f("t.ctl"), "-o", f("t2.dat"))
	step(0, "tenant-extract", "--tenant", "Acme", "--objects", "pcat,nr,repo", "--strip-tenant", "-o", f("template.dat"))
	step(0, "verify", "-f", f("all.dat"))
	// acme.dat holds public rows too (--with-public), which userload -t Acme
	// would reject (stamped with Acme, they match public rows): verify -f
	// says so; t1.dat holds only Acme's.
	step(0, "verify", "-f", f("acme.dat"))
	step(0, "verify", "-f", f("t1.dat"), "-t", "Acme")

	// userload: the fast path into an empty table, an upsert, -t,
	// --new-keys, -c.
	boxes := testkit.WriteFile(t, "boxes.dat", "TABLE tk_box\n label owned_by\n { \"b1\", NULL }\n { \"b2\", NULL }\n")
	step(0, "userload", "-i", "-f", boxes)
	assets := testkit.WriteFile(t, "assets.dat", "TABLE tk_asset\n tag label parent_tag tags\n { \"A-2\", \"child renamed\", \"A-1\", \"{z,w}\" }\n { \"A-3\", \"new\", \"A-1\", NULL }\n")
	step(0, "userload", "-c", "-t", "Acme", "-f", assets)
	step(0, "userload", "-t", "Acme", "-f", assets)
	newBoxes := testkit.WriteFile(t, "newboxes.dat", "TABLE tk_box\n id label\n { \"00000000-0000-0000-0000-000000000001\", \"seeded\" }\n")
	step(0, "userload", "-t", "NewCo", "--new-keys", "-f", newBoxes)
	step(0, "userload", "-t", "NewCo", "--new-keys", "-f", f("template.dat"))
	step(0, "userload", "-f", f("all.dat"))
	step(0, "verify")

	aliases := testkit.WriteFile(t, "aliases.txt", "(gim-user-schema public)\n"+
		"(aliases-for-account name: Acme login: \""+acme+"\" password: \"pw-acme\" (tenants: \"Acme\" \"Acme Europe\") (time-zone: Europe/Paris))\n"+
		"(aliases-for-account name: Ops login: \""+ops+"\" password: \"pw-ops\" (tenants: all))\n")
	step(0, "aliases", "-c", "-f", aliases)
	step(0, "aliases", "-f", aliases)
	step(0, "aliases", "--include-subtenants", "-f", aliases)

	group := `Acme\` + person
	aclFile := testkit.WriteFile(t, "acl.xml", `<AccessControl>
  <Person name="`+person+`"/>
  <AccessGroup name="`+group+`" tenant="Acme"><Member person="`+person+`"/></AccessGroup>
  <Permission object="schema:public" to="EVERYONE" rights="Read"/>
  <Permission object="schema:public" to="`+person+`" rights="Read,Create"/>
  <Permission object="tenant:Acme" to="`+group+`" rights="Read,Create,Change"/>
</AccessControl>`)
	step(0, "acl", "plan", "-f", aclFile)
	step(0, "acl", "apply", "-f", aclFile)
	if res := step(0, "acl", "plan", "-f", aclFile); res.Stdout != "" {
		t.Errorf("acl plan after apply is not empty:\n%s", res.Stdout)
	}
	step(0, "acl", "effective", "-f", aclFile, person, "table:public.tk_asset")
	step(0, "acl", "export", "-o", f("export.xml"))
	step(0, "verify")
	step(0, "convert", f("all.dat"), f("all.xlsx"))
	step(0, "convert", f("all.xlsx"), f("csv")+"/")
}

// evilHit is what a hostile person's planted code does when it runs: note
// itself, then try to make the person a superuser (which only works when a
// superuser's statement called it).
func evilHit(person string) string {
	return `CREATE FUNCTION public.tk_evil_hit(fn text) RETURNS void LANGUAGE plpgsql SET search_path = pg_catalog AS $$
BEGIN
	BEGIN
		INSERT INTO public.tk_hijack_log VALUES (fn, session_user || '/' || current_user);
	EXCEPTION WHEN others THEN NULL;
	END;
	BEGIN
		EXECUTE 'ALTER ROLE ` + strings.ReplaceAll(sqlq.Ident(person), "'", "''") + ` SUPERUSER';
	EXCEPTION WHEN others THEN NULL;
	END;
END $$`
}

// TestShadowedCatalogFixtures is TestShadowedCatalogNeverRuns for the
// commands that run tenantkit's own scripts with the role's current schema on
// the search_path: fixtures load and fixtures generate.
func TestShadowedCatalogFixtures(t *testing.T) {
	t.Parallel()
	db := testkit.NewDB(t)
	conn := plantEverywhere(t, db)
	for _, args := range [][]string{{"fixtures", "load", "--empty"}, {"fixtures", "generate", "--orgs", "5", "--contacts", "20", "--tickets", "20", "--categories", "3"}} {
		if res := testkit.Run(t, db, args...); res.Code != 0 {
			t.Errorf("tenantkit %s: exit %d\n%s%s", strings.Join(args, " "), res.Code, res.Stdout, res.Stderr)
		}
	}
	if got := db.Value(t, "SELECT count(*) FROM public.call_req"); got != "20" {
		t.Errorf("generate made %s tickets, want 20", got)
	}
	// And the sample rows, in a database of their own.
	db2 := testkit.NewDB(t)
	conn2 := plantEverywhere(t, db2)
	if res := testkit.Run(t, db2, "fixtures", "load"); res.Code != 0 {
		t.Errorf("tenantkit fixtures load: exit %d\n%s%s", res.Code, res.Stdout, res.Stderr)
	}
	if got := db2.Value(t, "SELECT count(*) FROM public.ca_contact"); got != "7" {
		t.Errorf("fixtures load made %s contacts, want 7", got)
	}
	noHijacks(t, conn, "after fixtures load --empty and generate")
	noHijacks(t, conn2, "after fixtures load")
}

// TestHostilePersonCannotEscalate is the attack of issue 19 point 1 in its
// real form: a person acl apply gave Create on schema:public plants, as
// itself, shadows of the catalog functions tenantkit's SQL calls (among them
// quote_ident(name) and unnest(text[])) whose bodies make it a superuser, in
// public and in a schema of its own that its search_path names first. The
// superuser's next acl plan, acl apply, aliases and verify must not run
// them, and the person's own queries through the row-scoping policies must
// not either (the policies and tenantkit's functions resolve nothing through
// the querying role's search_path).
func TestHostilePersonCannotEscalate(t *testing.T) {
	t.Parallel()
	mal, alias := uniqueLogin(t, "mal"), uniqueLogin(t, "alias")
	db := testkit.NewFixtureDB(t)
	convert(t, db)
	aclFile := testkit.WriteFile(t, "acl.xml", `<AccessControl>
  <Person name="`+mal+`"/>
  <Permission object="schema:public" to="`+mal+`" rights="Read,Create"/>
  <Permission object="tenant:Acme" to="`+mal+`" rights="Read"/>
</AccessControl>`)
	aliases := testkit.WriteFile(t, "aliases.txt", "(gim-user-schema public)\n"+
		"(aliases-for-account name: Acme login: \""+alias+"\" password: \"pw\" (tenants: \"Acme\"))\n")
	db.Exec(t, `CREATE TABLE public.tk_hijack_log (fn text NOT NULL, by_role text NOT NULL);
		GRANT INSERT ON public.tk_hijack_log TO PUBLIC`)
	run(t, db, 0, "acl", "apply", "-f", aclFile)
	run(t, db, 0, "aliases", "-f", aliases)
	db.Exec(t, `CREATE SCHEMA `+sqlq.Ident(mal)+` AUTHORIZATION `+sqlq.Ident(mal)+`;
		ALTER ROLE `+sqlq.Ident(mal)+` SET search_path = `+sqlq.Ident(mal)+`, public`)

	// The person plants, connected as itself.
	admin := pinnedConn(t, db.URL)
	as := pinnedConn(t, db.URLAs(mal))
	if _, err := as.Exec(context.Background(), evilHit(mal)); err != nil {
		t.Fatalf("the person cannot create in public: %v", err)
	}
	funcs, ops := usedNames(t)
	var objs []planted
	for _, s := range []string{"public", mal} {
		objs = append(objs, shadows(t, admin, s, "public.tk_evil_hit", funcs, ops)...)
	}
	for _, want := range []string{"public.quote_ident(name)", "public.unnest(text[])", mal + ".array_agg(integer)"} {
		found := false
		for _, o := range objs {
			found = found || o.label == want
		}
		if !found {
			t.Fatalf("no shadow %s among the %d derived", want, len(objs))
		}
	}
	n := plant(t, as, objs)
	if n < 1000 {
		t.Fatalf("the person planted only %d shadows", n)
	}
	t.Logf("the person planted %d shadows", n)

	// The superuser's runs (each checked, none stopping the test: the
	// question is whether the person ends up a superuser).
	for _, args := range [][]string{{"acl", "plan", "-f", aclFile}, {"acl", "apply", "-f", aclFile}, {"aliases", "-f", aliases}, {"verify"}} {
		res := testkit.Run(t, db, append([]string{"--schema", overlay}, args...)...)
		if res.Code != 0 || len(args) > 1 && args[1] == "plan" && res.Stdout != "" {
			t.Errorf("tenantkit %s: exit %d, want 0 (and no plan)\n%s%s", strings.Join(args, " "), res.Code, res.Stdout, res.Stderr)
		}
	}
	noHijacks(t, admin, "after acl plan, acl apply, aliases and verify")
	var super bool
	if err := admin.QueryRow(context.Background(), "SELECT rolsuper FROM pg_roles WHERE rolname = $1", mal).Scan(&super); err != nil {
		t.Fatal(err)
	}
	if super {
		t.Fatalf("%s became a superuser", mal)
	}

	// The person's own queries, with its own search_path, through the
	// policies: its rows and nothing planted runs.
	own := ownPathConn(t, db.URLAs(mal))
	var path string
	if err := own.QueryRow(context.Background(), "SHOW search_path").Scan(&path); err != nil || !strings.HasPrefix(path, mal) {
		t.Fatalf("the person's search_path is %q (%v)", path, err)
	}
	for _, table := range []string{"ca_organization", "ca_contact", "call_req", "category"} {
		want := db.Value(t, `SELECT count(*) FROM public.`+table+` x JOIN public.ca_tenant c ON c.id = x.tenant
			WHERE c.name IN ('Acme', 'Service Provider')`)
		if table == "category" {
			want = db.Value(t, `SELECT count(*) FROM public.category x LEFT JOIN public.ca_tenant c ON c.id = x.tenant
				WHERE c.name IS NULL OR c.name IN ('Acme', 'Service Provider')`)
		}
		rows, err := own.Query(context.Background(), "SELECT 1 FROM public."+table, pgx.QueryExecModeSimpleProtocol)
		if err != nil {
			t.Fatalf("%s as the person: %v", table, err)
		}
		got, err := pgx.CollectRows(rows, pgx.RowTo[int32])
		if err != nil {
			t.Fatalf("%s as the person: %v", table, err)
		}
		if strconv.Itoa(len(got)) != want {
			t.Errorf("the person sees %d rows of %s, want %s", len(got), table, want)
		}
	}
	noHijacks(t, admin, "after the person's queries through the policies")
}

// ownPathConn connects with the role's own settings (its search_path).
func ownPathConn(t *testing.T, url string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}
