package aliases

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tenantkit/tenantkit/internal/runlock"
	"github.com/tenantkit/tenantkit/internal/sqlq"
	"github.com/tenantkit/tenantkit/internal/testkit"
	"github.com/tenantkit/tenantkit/schema"
)

// nothingCreated asserts that no role and no schema of the logins exist.
func nothingCreated(t *testing.T, db *testkit.DB, logins ...string) {
	t.Helper()
	if n := db.Value(t, "SELECT count(*) FROM pg_roles WHERE rolname = ANY ($1)", logins); n != "0" {
		t.Errorf("%s roles of %v exist", n, logins)
	}
	if n := db.Value(t, "SELECT count(*) FROM pg_namespace WHERE nspname = ANY ($1)", logins); n != "0" {
		t.Errorf("%s schemas of %v exist", n, logins)
	}
}

func TestAliasesBadInput(t *testing.T) {
	logins := uniqueLogins(t, 3)
	a, b, taken := logins[0], logins[1], logins[2]
	db := tenantFixture(t)
	// A role of the same name that tenantkit does not manage, and a schema.
	db.Exec(t, "CREATE ROLE "+sqlq.Ident(taken))
	db.Exec(t, "CREATE SCHEMA hand_made")
	good := fmt.Sprintf(`(aliases-for-account name: A login: %q password: "pw-a" (tenants: Acme))`, a)
	tests := []struct {
		name string
		file string
		args []string
		want string // stderr, after "tenantkit: "
	}{
		{"unbalanced parentheses", good + "\n(aliases-for-account login: " + b + ` password: "pw-b" (tenants: 4)`, nil, ":2:1: unbalanced parentheses: this ( is never closed"},
		{"unknown tenant", good + "\n(aliases-for-account login: " + b + ` password: "pw-b" (tenants: 4 "Nobody Inc"))`, nil, `:2:` + fmt.Sprint(len(b)+59) + `: unknown tenant (a value on the password's line, not shown): no tenant or tenant group has this name or key`},
		{"unknown tenant on its own line", good + "\n(aliases-for-account login: " + b + ` password: "pw-b"` + "\n (tenants: 4 \"Nobody Inc\"))", nil, `:3:14: unknown tenant "Nobody Inc": no tenant or tenant group has this name or key`},
		{"duplicate login", good + "\n(aliases-for-account login: " + a + ` password: "pw-b" (tenants: 4))`, nil, fmt.Sprintf(`:2:29: duplicate login %q (first given at line 1)`, a)},
		{"missing password", good + "\n\n  (aliases-for-account login: " + b + ` (tenants: 4))`, nil, ":3:3: aliases-for-account: missing password:"},
		{"unknown time zone", good + "\n(aliases-for-account login: " + b + ` password: x (tenants: 4) (time-zone: Mars/Olympus))`, nil, fmt.Sprintf(`:2:%d: unknown time zone (a value on the password's line, not shown)`, len(b)+67)},
		{"unknown time zone on its own line", good + "\n(aliases-for-account login: " + b + " password: x (tenants: 4)\n(time-zone: Mars/Olympus))", nil, `:3:13: unknown time zone "Mars/Olympus"`},
		{"role not managed by tenantkit", good + "\n(aliases-for-account login: " + taken + ` password: x (tenants: 4))`, nil, fmt.Sprintf(`:2:29: login %q: a role of this name already exists and was not created by tenantkit aliases`, taken)},
		{"schema not managed by tenantkit", good + "\n(aliases-for-account login: hand_made password: x (tenants: 4))", nil, `:2:29: login "hand_made": schema "hand_made" already exists and was not created by tenantkit aliases`},
		{"login named after the source schema", good + "\n(aliases-for-account login: public password: x (tenants: 4))", nil, `:2:29: login "public" is the name of the source schema`},
		{"missing source schema", "(gim-user-schema nowhere)\n" + good, nil, `:1:18: schema "nowhere" does not exist`},
		{"unknown object", good, []string{"--objects", "call_req,no_such_table"}, `aliases: --objects: no object, table or view "no_such_table"`},
		{"prefix too long", good, []string{"--prefix", strings.Repeat("p", 60)}, `is longer than PostgreSQL's 63 bytes`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := writeFile(t, tt.file)
			args := append(append([]string{"aliases", "--schema", "fixtures/schema.xml"}, tt.args...), "-f", file)
			res := testkit.Run(t, db, args...)
			if res.Code != 2 {
				t.Fatalf("exit %d, want 2\n%s%s", res.Code, res.Stdout, res.Stderr)
			}
			wantPrefix := "tenantkit: " + file
			if tt.args != nil {
				wantPrefix = "tenantkit: "
			}
			if !strings.HasPrefix(res.Stderr, wantPrefix) || !strings.Contains(res.Stderr, tt.want) {
				t.Errorf("stderr = %s\nwant %s…%s", res.Stderr, wantPrefix, tt.want)
			}
			if res.Stdout != "" {
				t.Errorf("stdout = %q", res.Stdout)
			}
			for _, pw := range []string{"pw-a", "pw-b"} {
				if strings.Contains(res.Stderr, pw) {
					t.Errorf("stderr shows a password: %s", res.Stderr)
				}
			}
			nothingCreated(t, db, a, b)
		})
	}
}

// TestAliasesNeverTouchesForeignViews: a view tenantkit did not create, in a
// managed schema, under a name a run wants, stops the run (exit 2, nothing
// changed) instead of being replaced.
func TestAliasesNeverTouchesForeignViews(t *testing.T) {
	login := uniqueLogins(t, 1)[0]
	db := tenantFixture(t)
	file := writeFile(t, fmt.Sprintf(`(aliases-for-account login: %s password: x (tenants: Acme))`, login))
	if res := testkit.Run(t, db, "aliases", "--objects", "call_req", "-f", file); res.Code != 0 {
		t.Fatalf("exit %d\n%s%s", res.Code, res.Stdout, res.Stderr)
	}
	db.Exec(t, fmt.Sprintf("CREATE VIEW %s.category AS SELECT 'mine'::text AS owner", sqlq.Ident(login)))
	res := testkit.Run(t, db, "aliases", "-f", file)
	if res.Code != 2 || !strings.Contains(res.Stderr, fmt.Sprintf(`tenant schema %q already holds a view "category" that tenantkit did not create`, login)) {
		t.Fatalf("exit %d\n%s%s", res.Code, res.Stdout, res.Stderr)
	}
	if got := viewsIn(t, db, login); got != "call_req,category" {
		t.Errorf("views = %s", got)
	}
	if got := db.Value(t, fmt.Sprintf("SELECT owner FROM %s.category", sqlq.Ident(login))); got != "mine" {
		t.Errorf("the hand-made view changed: %s", got)
	}
	// Without the conflict, the same run publishes everything, and warns
	// that a grant to PUBLIC lets the login read a source table directly.
	db.Exec(t, "GRANT SELECT ON public.category TO PUBLIC")
	res = testkit.Run(t, db, "aliases", "--prefix", "v_", "-f", file)
	// (The other warning line is the lock-down's, see TestAliasesLockDown.)
	if want := fmt.Sprintf("\ntenantkit: warning: login %s can read public.category directly", login); res.Code != 0 || !strings.Contains(res.Stderr, want) || strings.Count(res.Stderr, "\n") != 2 {
		t.Fatalf("exit %d\n%s%s\nwant %s", res.Code, res.Stdout, res.Stderr, want)
	}
	if got := viewsIn(t, db, login); got != "category,v_ca_contact,v_ca_location,v_ca_organization,v_call_req,v_category,v_doc_repository,v_notification_rule" {
		t.Errorf("views with --prefix = %s", got)
	}
	// Privileges granted by hand on a managed view are taken back.
	view := sqlq.Ident(login, "v_call_req")
	db.Exec(t, fmt.Sprintf("GRANT SELECT, UPDATE ON %s TO PUBLIC; REVOKE SELECT ON %s FROM %s", view, view, sqlq.Ident(login)))
	res = testkit.Run(t, db, "aliases", "--prefix", "v_", "-f", file)
	if want := fmt.Sprintf("Resetting view v_call_req in tenant schema %[1]s (privileges: SELECT for %[1]s only)\n1 other change, 6 views unchanged\n", login); res.Code != 0 || res.Stdout != want {
		t.Fatalf("exit %d\n%s%s\nwant\n%s", res.Code, res.Stdout, res.Stderr, want)
	}
	if got := db.Value(t, "SELECT array_to_string(array(SELECT DISTINCT coalesce(r.rolname, 'PUBLIC') || ':' || a.privilege_type FROM pg_class c, aclexplode(c.relacl) a LEFT JOIN pg_roles r ON r.oid = a.grantee WHERE c.oid = $1::regclass AND a.grantee <> c.relowner), ',')", view); got != login+":SELECT" {
		t.Errorf("privileges after the reset: %s", got)
	}
}

// TestPasswordNeverShown: the password is in no output of the binary, and
// no statement tenantkit sends carries it (the server can log only what it
// receives): the CREATE ROLE carries the SCRAM verifier instead.
func TestPasswordNeverShown(t *testing.T) {
	logins := uniqueLogins(t, 2)
	dropRolesAtEnd(t, logins[0]+"_new")
	db := tenantFixture(t)
	const pw1, pw2 = "Sup3r-S3cret-One", "second secret"
	file := writeFile(t, fmt.Sprintf("(aliases-for-account login: %s password: %s (tenants: Acme) (time-zone: UTC))\n(aliases-for-account login: %s password: %q (tenants: all))", logins[0], pw1, logins[1], pw2))
	var out strings.Builder
	for i, args := range [][]string{{"-c"}, {"-c", "--json"}, {}, {"--json"}, {}} {
		res := testkit.Run(t, db, append(append([]string{"aliases"}, args...), "-f", file)...)
		if res.Code != 0 {
			t.Fatalf("%v: exit %d\n%s%s", args, res.Code, res.Stdout, res.Stderr)
		}
		if i < 2 {
			nothingCreated(t, db, logins...) // -c changes nothing
		}
		out.WriteString(res.Stdout + res.Stderr)
	}
	// A failing run (unknown tenant in the second account).
	bad := writeFile(t, fmt.Sprintf("(aliases-for-account login: %s password: %s (tenants: Acme))\n(aliases-for-account login: %s password: %q (tenants: Nobody))", logins[0], pw1, logins[1], pw2))
	res := testkit.Run(t, db, "aliases", "-f", bad)
	if res.Code != 2 {
		t.Fatalf("bad file: exit %d", res.Code)
	}
	out.WriteString(res.Stdout + res.Stderr)
	for _, pw := range []string{pw1, pw2, "S3cret", "secret"} {
		if strings.Contains(out.String(), pw) {
			t.Errorf("output shows %q:\n%s", pw, out.String())
		}
	}
	if !strings.Contains(out.String(), `"action": "create"`) {
		t.Errorf("the JSON output lacks the steps:\n%s", out.String())
	}

	// In-process, recording every statement and argument sent to the server,
	// with new passwords so that ALTER ROLE … PASSWORD runs too.
	rec := &recorder{}
	cfg, err := pgxpool.ParseConfig(db.URL)
	if err != nil {
		t.Fatal(err)
	}
	cfg.ConnConfig.Tracer = rec
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	const pw3 = "Th1rd-Secret"
	f, err := Parse("a.txt", []byte(fmt.Sprintf("(aliases-for-account login: %s password: %s (tenants: Acme))\n(aliases-for-account login: %s_new password: %s (tenants: 4))", logins[0], pw3, logins[0], pw3)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Run(context.Background(), pool, f, Options{Schema: schema.Options{Overlay: "../fixtures/schema.xml"}}); err != nil {
		t.Fatal(err)
	}
	sent := rec.String()
	if strings.Contains(sent, pw3) || strings.Contains(sent, pw1) {
		t.Errorf("a statement carried the password")
	}
	if !strings.Contains(sent, "ALTER ROLE "+sqlq.Ident(logins[0])+" PASSWORD 'SCRAM-SHA-256$4096:") ||
		!strings.Contains(sent, "CREATE ROLE "+sqlq.Ident(logins[0]+"_new")+" LOGIN PASSWORD 'SCRAM-SHA-256$4096:") {
		t.Errorf("no statement set the verifier:\n%s", sent)
	}
	if v := db.Value(t, "SELECT rolpassword FROM pg_authid WHERE rolname = $1", logins[0]); !scramMatches(v, pw3) {
		t.Errorf("the new password was not stored")
	}
}

// recorder is a pgx tracer keeping the text and arguments of every query.
type recorder struct {
	mu sync.Mutex
	b  strings.Builder
}

func (r *recorder) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	r.mu.Lock()
	defer r.mu.Unlock()
	args, _ := json.Marshal(d.Args)
	fmt.Fprintf(&r.b, "%s %s\n", d.SQL, args)
	return ctx
}

func (r *recorder) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

func (r *recorder) String() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.b.String()
}

// TestAliasesFailureRollsBack: a statement the server refuses halfway
// (dropping a view a hand-made view depends on) is exit 3, and nothing of
// the run stays — not even the account it had created before.
func TestAliasesFailureRollsBack(t *testing.T) {
	logins := uniqueLogins(t, 2)
	db := tenantFixture(t)
	file := writeFile(t, fmt.Sprintf(`(aliases-for-account login: %s password: x (tenants: Acme))`, logins[0]))
	if res := testkit.Run(t, db, "aliases", "-f", file); res.Code != 0 {
		t.Fatalf("exit %d\n%s%s", res.Code, res.Stdout, res.Stderr)
	}
	q := sqlq.Ident(logins[0])
	// A renamed column changes the view's column list, so the view must be
	// dropped and made again — which the hand-made view on top prevents.
	db.Exec(t, fmt.Sprintf("CREATE VIEW %s.dep AS SELECT ref_num FROM %s.call_req; ALTER TABLE call_req RENAME COLUMN summary TO title", q, q))
	file2 := writeFile(t, fmt.Sprintf("(aliases-for-account login: %s password: x (tenants: Acme))\n(aliases-for-account login: %s password: y (tenants: Globex))", logins[1], logins[0]))
	res := testkit.Run(t, db, "aliases", "-f", file2)
	if res.Code != 3 || !strings.Contains(res.Stderr, fmt.Sprintf("aliases: replace view call_req in tenant schema %s: ERROR: cannot drop view", logins[0])) ||
		!strings.Contains(res.Stderr, "depends on view") || !strings.HasSuffix(res.Stderr, "(rolled back, nothing changed)\n") {
		t.Fatalf("exit %d\n%s%s", res.Code, res.Stdout, res.Stderr)
	}
	nothingCreated(t, db, logins[1])
	if got := column(t, db, logins[0], "x", "SELECT id FROM call_req ORDER BY id"); got != "1" {
		t.Errorf("call_req after the failed run = %s, want Acme's 1", got)
	}
}

// TestAliasesTakesRunLock: while another writing run holds tenantkit's run
// lock, a run fails at once and changes nothing; a plan (-c) still works.
func TestAliasesTakesRunLock(t *testing.T) {
	login := uniqueLogins(t, 1)[0]
	db := tenantFixture(t)
	ctx := context.Background()
	conn, err := db.Pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1::bigint)", runlock.Key); err != nil {
		t.Fatal(err)
	}
	defer conn.Exec(ctx, "SELECT pg_advisory_unlock($1::bigint)", runlock.Key)
	file := writeFile(t, fmt.Sprintf(`(aliases-for-account login: %s password: x (tenants: Acme))`, login))
	if res := testkit.Run(t, db, "aliases", "-c", "-f", file); res.Code != 0 || !strings.Contains(res.Stdout, "would create role "+login) {
		t.Fatalf("-c under the lock: exit %d\n%s%s", res.Code, res.Stdout, res.Stderr)
	}
	res := testkit.Run(t, db, "aliases", "-f", file)
	if res.Code != 3 || !strings.Contains(res.Stderr, "another tenantkit run is writing to this database") {
		t.Fatalf("exit %d\n%s%s", res.Code, res.Stdout, res.Stderr)
	}
	nothingCreated(t, db, login)
}

// TestAliasesErrorsHidePasswordLine: through the binary, a mistake after a
// password on its line — found by the parser or against the database — is
// exit 2, positioned, and shows neither the password nor what follows it.
func TestAliasesErrorsHidePasswordLine(t *testing.T) {
	login := uniqueLogins(t, 1)[0]
	db := tenantFixture(t)
	head := "(aliases-for-account login: " + login + " "
	col := len(head) + 1 // the column of password:
	tests := []struct{ name, src, want string }{
		{"a blank in an unquoted password", head + "password: hunter2 SecretTail99 (tenants: Acme))", fmt.Sprintf(":1:%d: expected a keyword", col+18)},
		{"an unterminated password", "\n" + head + `password: "hunter2 SecretTail99` + "\n (tenants: Acme))", fmt.Sprintf(":2:%d: unterminated string", col+10)},
		{"an unknown tenant after the password", head + "password: hunter2 (tenants: Acme SecretTail99))", fmt.Sprintf(":1:%d: unknown tenant (a value on the password's line, not shown)", col+33)},
		{"an unknown time zone after the password", head + "password: hunter2 (tenants: Acme) (time-zone: SecretTail99))", fmt.Sprintf(":1:%d: unknown time zone (a value on the password's line, not shown)", col+46)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := writeFile(t, tt.src)
			res := testkit.Run(t, db, "aliases", "--schema", "fixtures/schema.xml", "-f", file)
			if res.Code != 2 || !strings.HasPrefix(res.Stderr, "tenantkit: "+file+tt.want) {
				t.Fatalf("exit %d, stderr:\n%s\nwant exit 2 and tenantkit: %s%s", res.Code, res.Stderr, file, tt.want)
			}
			for _, secret := range []string{"hunter2", "SecretTail99"} {
				if strings.Contains(res.Stdout+res.Stderr, secret) {
					t.Errorf("the output shows %q:\n%s%s", secret, res.Stdout, res.Stderr)
				}
			}
			nothingCreated(t, db, login)
		})
	}
}

// TestAliasesOwnsItsGrants: the privileges on a tenant schema and its views
// are aliases' alone. A role another tool (or a person) gave SELECT on an
// alias view, a column of one, or USAGE and CREATE on the schema reads the
// login's tenant's rows; the next run takes all of it back, and the login's
// grant option too.
func TestAliasesOwnsItsGrants(t *testing.T) {
	logins := uniqueLogins(t, 2)
	login, other := logins[0], logins[1]
	db := tenantFixture(t)
	db.Exec(t, "CREATE ROLE "+sqlq.Ident(other)+" LOGIN")
	file := writeFile(t, fmt.Sprintf(`(aliases-for-account login: %s password: x (tenants: Acme))`, login))
	run := func() testkit.Result {
		return testkit.Run(t, db, "aliases", "--schema", "fixtures/schema.xml", "--objects", "call_req,category", "-f", file)
	}
	if res := run(); res.Code != 0 {
		t.Fatalf("exit %d\n%s%s", res.Code, res.Stdout, res.Stderr)
	}
	s, o, l := sqlq.Ident(login), sqlq.Ident(other), sqlq.Ident(login)
	db.Exec(t, fmt.Sprintf(`GRANT USAGE, CREATE ON SCHEMA %[1]s TO %[2]s; GRANT SELECT ON %[1]s.call_req TO %[2]s;
		GRANT SELECT (id) ON %[1]s.category TO %[2]s; GRANT SELECT ON %[1]s.category TO %[3]s WITH GRANT OPTION`, s, o, l))
	if got := column(t, db, other, "", fmt.Sprintf("SELECT id FROM %s.call_req ORDER BY id", s)); got != "1" {
		t.Fatalf("before the rerun the other role reads %q, want Acme's row 1 (the grant works)", got)
	}
	res := run()
	want := fmt.Sprintf("Resetting tenant schema %[1]s (privileges: USAGE for %[1]s only)\n", login)
	if res.Code != 0 || !strings.Contains(res.Stdout, want) || !strings.Contains(res.Stdout, fmt.Sprintf("Resetting view call_req in tenant schema %s", login)) ||
		!strings.Contains(res.Stdout, fmt.Sprintf("Resetting view category in tenant schema %s", login)) {
		t.Fatalf("rerun: exit %d\n%s%s\nwant %s", res.Code, res.Stdout, res.Stderr, want)
	}
	wantDenied(t, db, other, "", fmt.Sprintf("SELECT id FROM %s.call_req", s))
	wantDenied(t, db, other, "", fmt.Sprintf("SELECT id FROM %s.category", s))
	if got := column(t, db, login, "x", "SELECT id FROM call_req ORDER BY id"); got != "1" {
		t.Errorf("the login reads %q", got)
	}
	privs := db.Value(t, `SELECT (SELECT nspacl::text FROM pg_namespace WHERE nspname = $1) || ' ' ||
		(SELECT string_agg(relname || '=' || relacl::text, ' ' ORDER BY relname) FROM pg_class WHERE relnamespace = $1::regnamespace) || ' ' ||
		coalesce((SELECT string_agg(attacl::text, ' ') FROM pg_attribute
			WHERE attacl IS NOT NULL AND attrelid IN (SELECT oid FROM pg_class WHERE relnamespace = $1::regnamespace)), 'no column privileges')`, login)
	me := db.Value(t, "SELECT current_user")
	if want := fmt.Sprintf("{%[1]s=UC/%[1]s,%[2]s=U/%[1]s} call_req={%[1]s=arwdDxt/%[1]s,%[2]s=r/%[1]s} category={%[1]s=arwdDxt/%[1]s,%[2]s=r/%[1]s} no column privileges", me, login); privs != want {
		t.Errorf("privileges after the rerun:\n%s\nwant\n%s", privs, want)
	}
	if res := run(); res.Code != 0 || !strings.HasPrefix(res.Stdout, "nothing to change") {
		t.Errorf("third run: exit %d\n%s%s", res.Code, res.Stdout, res.Stderr)
	}
}
