package aliases

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/tenantkit/tenantkit/internal/sqlq"
	"github.com/tenantkit/tenantkit/internal/testkit"
)

func TestMain(m *testing.M) { testkit.Main(m) }

// uniqueLogins returns n login names nobody else uses on the server and
// drops those roles when the test ends. Roles are cluster-wide and outlive
// the test database, so call it before creating the database: cleanups run
// last-registered first, so the database (and the privileges its objects
// give the roles) is gone when the roles are dropped.
func uniqueLogins(t *testing.T, n int) []string {
	t.Helper()
	var b [5]byte
	_, _ = rand.Read(b[:])
	var logins []string
	for i := range n {
		logins = append(logins, fmt.Sprintf("tk_al_%s_%c", hex.EncodeToString(b[:]), 'a'+i))
	}
	dropRolesAtEnd(t, logins...)
	return logins
}

// dropRolesAtEnd drops the roles when the test ends (see uniqueLogins).
func dropRolesAtEnd(t *testing.T, logins ...string) {
	t.Cleanup(func() {
		ctx := context.Background()
		admin, err := pgx.Connect(ctx, testkit.AdminURL())
		if err != nil {
			t.Errorf("dropping test roles: %v", err)
			return
		}
		defer admin.Close(ctx)
		for _, l := range logins {
			if _, err := admin.Exec(ctx, "DROP ROLE IF EXISTS "+sqlq.Ident(l)); err != nil {
				t.Errorf("dropping role %s: %v", l, err)
			}
		}
	})
}

// writeFile writes an alias file into the test's directory.
func writeFile(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "aliases.txt")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// queryAs runs sql connected to db as login (with its password, which a
// trust-authenticated test server ignores) and returns the rows as text.
func queryAs(t *testing.T, db *testkit.DB, login, password, sql string) ([][]string, error) {
	t.Helper()
	ctx := context.Background()
	cfg, err := pgx.ParseConfig(db.URL)
	if err != nil {
		t.Fatal(err)
	}
	cfg.User, cfg.Password = login, password
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connecting as %s: %w", login, err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, sql, pgx.QueryExecModeSimpleProtocol)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out [][]string
	for rows.Next() {
		var row []string
		for _, v := range rows.RawValues() {
			if v == nil {
				row = append(row, "NULL")
			} else {
				row = append(row, string(v))
			}
		}
		out = append(out, row)
	}
	return out, rows.Err()
}

// column runs sql as login and returns its first column joined by commas.
func column(t *testing.T, db *testkit.DB, login, password, sql string) string {
	t.Helper()
	rows, err := queryAs(t, db, login, password, sql)
	if err != nil {
		t.Fatalf("as %s: %s: %v", login, sql, err)
	}
	var vals []string
	for _, r := range rows {
		vals = append(vals, r[0])
	}
	return strings.Join(vals, ",")
}

// wantDenied asserts that sql fails for login with insufficient_privilege.
func wantDenied(t *testing.T, db *testkit.DB, login, password, sql string) {
	t.Helper()
	_, err := queryAs(t, db, login, password, sql)
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || pe.Code != "42501" {
		t.Errorf("as %s: %s: error %v, want permission denied", login, sql, err)
	}
}

// tenantFixture is the fixture database with four tenants and rows owned by
// them: Acme (2) has the subtenant Acme EU (3); Globex (4); SP (1) is the
// service provider.
func tenantFixture(t *testing.T) *testkit.DB {
	db := testkit.NewFixtureDB(t)
	db.Exec(t, `INSERT INTO ca_tenant (id, name, parent, subtenants_ok, service_provider, tenant_depth) VALUES
		(1, 'SP', NULL, true, true, 0), (2, 'Acme', 1, true, false, 1), (3, 'Acme EU', 2, false, false, 2), (4, 'Globex', 1, false, false, 1);
		UPDATE call_req SET tenant = CASE id WHEN 1 THEN 2 WHEN 2 THEN 4 WHEN 5 THEN 3 ELSE 1 END;
		UPDATE category SET tenant = CASE id WHEN 1 THEN NULL WHEN 2 THEN 2 ELSE 4 END;
		UPDATE ca_organization SET tenant = CASE id WHEN 1 THEN 2 WHEN 4 THEN 3 WHEN 2 THEN 4 ELSE 1 END;
		UPDATE doc_repository SET tenant = 2 WHERE path = '/docs/acme'`)
	return db
}

var fixtureViews = "ca_contact,ca_location,ca_organization,call_req,category,doc_repository,notification_rule"

// viewsIn lists the views of a schema, as the superuser sees them.
func viewsIn(t *testing.T, db *testkit.DB, schemaName string) string {
	return db.Value(t, `SELECT coalesce(string_agg(relname, ',' ORDER BY relname), '') FROM pg_class
		WHERE relkind = 'v' AND relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = $1)`, schemaName)
}

func TestAliasesEndToEnd(t *testing.T) {
	logins := uniqueLogins(t, 3)
	acme, globex, ops := logins[0], logins[1], logins[2]
	db := tenantFixture(t)
	const pwA, pwG, pwO = "Acme-pw 'quoted' \\ é", "gl0bex", "ops"
	file := writeFile(t, fmt.Sprintf(`(gim-user-schema public)
(aliases-for-account name: Acme login: %q password: "Acme-pw 'quoted' \\ é" (tenants: Acme 3) (time-zone: europe/paris))
(aliases-for-account name: Globex login: %s password: %s (tenant: 4))
(aliases-for-account name: Ops login: %q password: %q (tenants: all))
`, acme, globex, pwG, ops, pwO))

	res := testkit.Run(t, db, "aliases", "--schema", "fixtures/schema.xml", "-f", file)
	if res.Code != 0 {
		t.Fatalf("aliases: exit %d\n%s%s", res.Code, res.Stdout, res.Stderr)
	}
	for _, l := range logins {
		for _, v := range strings.Split(fixtureViews, ",") {
			if line := fmt.Sprintf("Creating view %s in tenant schema %s\n", v, l); !strings.Contains(res.Stdout, line) {
				t.Errorf("stdout lacks %q:\n%s", line, res.Stdout)
			}
		}
		if got := viewsIn(t, db, l); got != fixtureViews {
			t.Errorf("views of %s = %s", l, got)
		}
	}
	if !strings.Contains(res.Stdout, "3 roles created, 3 schemas created, 21 views created, 0 views unchanged") {
		t.Errorf("summary:\n%s", res.Stdout)
	}
	for _, pw := range []string{pwA, pwG, pwO} {
		if strings.Contains(res.Stdout+res.Stderr, pw) {
			t.Errorf("the password %q appears in the output", pw)
		}
	}

	// Each login sees its tenants' rows (unqualified names: the search_path
	// is its schema), public rows of tenant-optional tables, nothing else.
	for _, c := range []struct{ login, pw, sql, want string }{
		{acme, pwA, "SELECT id FROM call_req ORDER BY id", "1,5"},
		{acme, pwA, "SELECT id FROM category ORDER BY id", "1,2"},
		{acme, pwA, "SELECT id FROM ca_organization ORDER BY id", "1,4"},
		{acme, pwA, "SELECT path FROM doc_repository ORDER BY path", "/docs/acme,/docs/public"},
		{acme, pwA, "SELECT count(*) FROM ca_contact", "0"}, // tenant-required rows without a tenant are nobody's
		{globex, pwG, "SELECT id FROM call_req ORDER BY id", "2"},
		{globex, pwG, "SELECT id FROM category ORDER BY id", "1,3"},
		{globex, pwG, "SELECT path FROM doc_repository ORDER BY path", "/docs/public"},
		{ops, pwO, "SELECT id FROM call_req ORDER BY id", "1,2,3,4,5"},
		{ops, pwO, "SELECT count(*) FROM ca_contact", "7"},
		{ops, pwO, "SELECT path FROM doc_repository ORDER BY path", "/docs/acme,/docs/public"},
		{acme, pwA, "SHOW timezone", "Europe/Paris"},
		{acme, pwA, "SHOW search_path", acme},
		{acme, pwA, "SELECT summary FROM call_req WHERE id = 1", "Printer on fire"},
	} {
		if got := column(t, db, c.login, c.pw, c.sql); got != c.want {
			t.Errorf("as %s: %s = %q, want %q", c.login, c.sql, got, c.want)
		}
	}
	if got := column(t, db, globex, pwG, "SHOW timezone"); got == "Europe/Paris" {
		t.Errorf("globex got acme's time zone")
	}
	wantDenied(t, db, acme, pwA, "SELECT * FROM public.call_req")
	wantDenied(t, db, acme, pwA, "SELECT * FROM public.ca_tenant")
	wantDenied(t, db, acme, pwA, fmt.Sprintf("SELECT * FROM %s.call_req", globex))
	wantDenied(t, db, globex, pwG, fmt.Sprintf("SELECT * FROM %s.call_req", ops))
	wantDenied(t, db, acme, pwA, "DELETE FROM call_req")

	me := db.Value(t, "SELECT current_user")
	// The catalog: a SCRAM verifier of the password, marked roles and
	// schemas, security-barrier views owned by tenantkit's role with SELECT
	// for the login only.
	if v := db.Value(t, "SELECT rolpassword FROM pg_authid WHERE rolname = $1", acme); !strings.HasPrefix(v, "SCRAM-SHA-256$4096:") || !scramMatches(v, pwA) {
		t.Errorf("stored password of %s = %s", acme, v)
	}
	if got := db.Value(t, `SELECT string_agg(DISTINCT array_to_string(c.reloptions, ',') || ' ' || pg_get_userbyid(c.relowner) || ' ' || c.relacl::text, '; ')
		FROM pg_class c WHERE c.relnamespace = $1::regnamespace`, acme); got != fmt.Sprintf("security_barrier=true %[1]s {%[1]s=arwdDxt/%[1]s,%[2]s=r/%[1]s}", me, acme) {
		t.Errorf("view options, owner and privileges = %s", got)
	}
	if got := db.Value(t, "SELECT shobj_description(oid, 'pg_authid') FROM pg_roles WHERE rolname = $1", acme); got != fmt.Sprintf(`managed by tenantkit aliases {"databases":[%q]}`, db.Name) {
		t.Errorf("role comment = %s", got)
	}

	// A rerun changes nothing and says so.
	res = testkit.Run(t, db, "aliases", "--schema", "fixtures/schema.xml", "-f", file)
	if res.Code != 0 || res.Stdout != "nothing to change: 3 accounts, 21 views up to date\n" {
		t.Fatalf("rerun: exit %d\n%s%s", res.Code, res.Stdout, res.Stderr)
	}

	// A hand-made view in a managed schema; then Acme loses Acme EU and
	// Globex leaves the file.
	db.Exec(t, fmt.Sprintf("CREATE VIEW %s.mine AS SELECT 42 AS answer", sqlq.Ident(acme)))
	db.Exec(t, fmt.Sprintf("CREATE VIEW %s.mine AS SELECT 43 AS answer", sqlq.Ident(globex)))
	file2 := writeFile(t, fmt.Sprintf(`(aliases-for-account name: Acme login: %q password: "Acme-pw 'quoted' \\ é" (tenants: Acme) (time-zone: Europe/Paris))
(aliases-for-account name: Ops login: %q password: %q (tenants: all))
`, acme, ops, pwO))
	check := testkit.Run(t, db, "aliases", "-c", "--schema", "fixtures/schema.xml", "-f", file2)
	if check.Code != 0 || !strings.Contains(check.Stdout, fmt.Sprintf("would replace view call_req in tenant schema %s\n", acme)) ||
		!strings.Contains(check.Stdout, fmt.Sprintf("would drop view call_req in tenant schema %s (stale)\n", globex)) ||
		!strings.Contains(check.Stdout, fmt.Sprintf("would disable role %s (login)\n", globex)) ||
		!strings.Contains(check.Stdout, "check only, nothing changed") {
		t.Fatalf("check: exit %d\n%s%s", check.Code, check.Stdout, check.Stderr)
	}
	if got := column(t, db, acme, pwA, "SELECT id FROM call_req ORDER BY id"); got != "1,5" {
		t.Errorf("-c changed the view: %s", got)
	}
	res = testkit.Run(t, db, "aliases", "--schema", "fixtures/schema.xml", "-f", file2)
	if res.Code != 0 {
		t.Fatalf("second run: exit %d\n%s%s", res.Code, res.Stdout, res.Stderr)
	}
	if want := "7 views replaced, 7 views dropped, 1 login disabled, 1 other change, 7 views unchanged\n"; !strings.HasSuffix(res.Stdout, want) {
		t.Errorf("second run summary:\n%s\nwant suffix %s", res.Stdout, want)
	}
	if got := column(t, db, acme, pwA, "SELECT id FROM call_req ORDER BY id"); got != "1" {
		t.Errorf("after the shrink, acme sees call_req %s, want 1", got)
	}
	if got := column(t, db, acme, pwA, "SELECT id FROM ca_organization ORDER BY id"); got != "1" {
		t.Errorf("after the shrink, acme sees ca_organization %s, want 1", got)
	}
	if got := viewsIn(t, db, globex); got != "mine" {
		t.Errorf("globex's schema holds %q, want only the hand-made view", got)
	}
	if got := viewsIn(t, db, acme); got != "ca_contact,ca_location,ca_organization,call_req,category,doc_repository,mine,notification_rule" {
		t.Errorf("acme's schema holds %q", got)
	}
	if got := db.Value(t, "SELECT rolcanlogin FROM pg_roles WHERE rolname = $1", globex); got != "f" {
		t.Errorf("globex can still log in")
	}
	wantDenied(t, db, acme, pwA, "SELECT answer FROM mine") // untouched: tenantkit granted nothing on it
	// The third run with the same file changes nothing either.
	res = testkit.Run(t, db, "aliases", "--schema", "fixtures/schema.xml", "-f", file2)
	if res.Code != 0 || res.Stdout != "nothing to change: 2 accounts, 14 views up to date\n" {
		t.Fatalf("third run: exit %d\n%s%s", res.Code, res.Stdout, res.Stderr)
	}
	// Globex comes back: its login is enabled again and its views return.
	res = testkit.Run(t, db, "aliases", "--schema", "fixtures/schema.xml", "-f", file)
	if res.Code != 0 || !strings.Contains(res.Stdout, fmt.Sprintf("Enabling role %s (login)\n", globex)) {
		t.Fatalf("fourth run: exit %d\n%s%s", res.Code, res.Stdout, res.Stderr)
	}
	if got := column(t, db, globex, pwG, "SELECT id FROM call_req ORDER BY id"); got != "2" {
		t.Errorf("globex back: call_req %s", got)
	}
}
