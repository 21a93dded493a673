package aliases

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/tenantkit/tenantkit/internal/testkit"
)

// TestAliasesLockDown: the attack of issue 19 point 9. An alias login uses
// PUBLIC's default privileges to create temporary tables and functions in
// its database and to connect to another database of the server; after
// aliases --lock-down --lock-down-db OTHER it can do neither, while an
// application's login role, which had the same through PUBLIC, still can.
// It runs in a cluster of its own: the lock-down grants to every login role
// of the server.
func TestAliasesLockDown(t *testing.T) {
	cluster := testkit.PrivateCluster(t)
	db := cluster.NewDB(t, "books")
	other := cluster.NewDB(t, "billing")
	db.Exec(t, `CREATE SCHEMA ledger;
		CREATE TABLE ledger.clients (id int PRIMARY KEY, name text NOT NULL UNIQUE);
		CREATE TABLE ledger.invoices (id int PRIMARY KEY, tenant int REFERENCES ledger.clients, amount int);
		INSERT INTO ledger.clients VALUES (7, 'Initech'), (8, 'Hooli');
		INSERT INTO ledger.invoices VALUES (1, 7, 100), (2, 8, 200);
		CREATE ROLE app_reader LOGIN; CREATE ROLE app_grouped LOGIN; CREATE ROLE app_group NOLOGIN;
		GRANT app_group TO app_grouped; GRANT CONNECT ON DATABASE billing TO app_group`)
	const login = "initech_ro"
	file := writeFile(t, fmt.Sprintf("(gim-user-schema ledger)\n(aliases-for-account login: %s password: pw (tenants: Initech))", login))
	run := func(args ...string) testkit.Result {
		return testkit.Run(t, db, append(append([]string{"aliases"}, args...), "-f", file)...)
	}

	res := run()
	if res.Code != 0 {
		t.Fatalf("aliases: exit %d\n%s%s", res.Code, res.Stdout, res.Stderr)
	}
	if want := "tenantkit: warning: alias logins can connect to 3 other databases (billing, postgres, template1) and create temporary tables and functions in books, through PUBLIC's privileges: rerun with --lock-down (and --lock-down-db NAME for each other database) to revoke them\n"; res.Stderr != want {
		t.Errorf("stderr:\n%s\nwant\n%s", res.Stderr, want)
	}
	if got := column(t, db, login, "pw", "SELECT id FROM invoices"); got != "1" {
		t.Fatalf("the login reads invoices %s, want 1", got)
	}
	attacks := []string{
		"CREATE TEMP TABLE loot (x int)",
		"CREATE FUNCTION pg_temp.f() RETURNS int LANGUAGE sql AS 'SELECT 1'",
	}
	// Before the lock-down, the attacks work.
	for _, sql := range attacks {
		if _, err := queryAs(t, db, login, "pw", sql); err != nil {
			t.Errorf("before --lock-down, as %s: %s: %v", login, sql, err)
		}
	}
	if _, err := queryAs(t, other, login, "pw", "SELECT 1"); err != nil {
		t.Errorf("before --lock-down, %s cannot connect to billing: %v", login, err)
	}

	res = run("-c", "--lock-down", "--lock-down-db", "billing")
	for _, line := range []string{
		"would revoke privileges on database books (TEMPORARY from PUBLIC)\n",
		"would grant privileges on database books (TEMPORARY to app_grouped, app_reader, which had it through PUBLIC)\n",
		"would grant privileges on database books (CONNECT to alias logins initech_ro)\n",
		"would revoke privileges on database billing (CONNECT from PUBLIC)\n",
		"would grant privileges on database billing (CONNECT to app_reader, which had it through PUBLIC)\n",
	} {
		if res.Code != 0 || !strings.Contains(res.Stdout, line) {
			t.Fatalf("-c --lock-down: exit %d, want %q in\n%s%s", res.Code, line, res.Stdout, res.Stderr)
		}
	}
	if _, err := queryAs(t, db, login, "pw", attacks[0]); err != nil {
		t.Errorf("-c changed the privileges: %v", err)
	}
	res = run("--lock-down", "--lock-down-db", "billing")
	if res.Code != 0 || !strings.HasSuffix(res.Stdout, "5 other changes, 1 view unchanged\n") {
		t.Fatalf("--lock-down: exit %d\n%s%s", res.Code, res.Stdout, res.Stderr)
	}

	// The alias login: no temporary objects, no other database; its views
	// still work.
	for _, sql := range attacks {
		wantDenied(t, db, login, "pw", sql)
	}
	_, err := queryAs(t, other, login, "pw", "SELECT 1")
	if pe := (*pgconn.PgError)(nil); !errors.As(err, &pe) || pe.Code != "42501" {
		t.Errorf("after --lock-down, %s connecting to billing: %v, want permission denied", login, err)
	}
	if got := column(t, db, login, "pw", "SELECT id FROM invoices"); got != "1" {
		t.Errorf("after --lock-down the login reads invoices %q, want 1", got)
	}
	// The applications: as before.
	for _, role := range []string{"app_reader", "app_grouped"} {
		if _, err := queryAs(t, db, role, "", attacks[0]); err != nil {
			t.Errorf("after --lock-down, as %s: %v", role, err)
		}
		if _, err := queryAs(t, other, role, "", "CREATE TEMP TABLE scratch (x int)"); err != nil {
			t.Errorf("after --lock-down, as %s in billing: %v", role, err)
		}
	}

	// A rerun changes nothing and says so; without --lock-down the warning
	// names only what is still open.
	res = run("--lock-down", "--lock-down-db", "billing")
	if want := "nothing to change: 1 account, 1 view up to date, database privileges locked down\n"; res.Code != 0 || res.Stdout != want {
		t.Errorf("rerun: exit %d\n%s%s\nwant %s", res.Code, res.Stdout, res.Stderr, want)
	}
	res = run()
	if want := "tenantkit: warning: alias logins can connect to 2 other databases (postgres, template1), through PUBLIC's privileges: rerun with --lock-down (and --lock-down-db NAME for each other database) to revoke them\n"; res.Code != 0 || res.Stderr != want {
		t.Errorf("run without --lock-down: exit %d\n%s%s\nwant %s", res.Code, res.Stdout, res.Stderr, want)
	}

	// Mistakes: an unknown database; --lock-down-db alone.
	if res := run("--lock-down", "--lock-down-db", "nowhere"); res.Code != 2 || !strings.Contains(res.Stderr, `--lock-down-db: no database "nowhere"`) {
		t.Errorf("unknown database: exit %d\n%s%s", res.Code, res.Stdout, res.Stderr)
	}
	if res := run("--lock-down-db", "billing"); res.Code != 2 || !strings.Contains(res.Stderr, "--lock-down-db needs --lock-down") {
		t.Errorf("--lock-down-db alone: exit %d\n%s%s", res.Code, res.Stdout, res.Stderr)
	}
}

// TestAliasLoginsNeedTheirPassword runs in a cluster that asks every role
// but postgres for a SCRAM password: an alias login logs in with the alias
// file's password only, the server keeps only its verifier, and a changed
// password in the file replaces the old one.
func TestAliasLoginsNeedTheirPassword(t *testing.T) {
	// A directory of its own under /tmp: the server's user must reach it.
	dir, err := os.MkdirTemp("", "tk-hba-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	hba := filepath.Join(dir, "pg_hba.conf")
	if err := os.WriteFile(hba, []byte("local all postgres trust\nlocal all all scram-sha-256\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{filepath.Dir(hba), hba} {
		if err := testkit.ChownToServer(p); err != nil {
			t.Fatal(err)
		}
	}
	cluster := testkit.PrivateCluster(t, "hba_file="+hba)
	db := cluster.NewDB(t, "shop")
	db.Exec(t, `CREATE TABLE firm (fid int PRIMARY KEY, name text NOT NULL UNIQUE);
		CREATE TABLE sale (no text PRIMARY KEY, firm_id int NOT NULL REFERENCES firm, total int);
		INSERT INTO firm VALUES (1, 'Initech'), (2, 'Hooli');
		INSERT INTO sale VALUES ('s1', 1, 10), ('s2', 2, 20)`)
	const login = "initech_pw"
	for i, pw := range []string{`first "p\w"`, "second"} {
		file := writeFile(t, fmt.Sprintf(`(aliases-for-account login: %s password: "%s" (tenants: Initech))`, login, strings.ReplaceAll(strings.ReplaceAll(pw, `\`, `\\`), `"`, `\"`)))
		if res := testkit.Run(t, db, "aliases", "--tenant-column", "firm_id", "-f", file); res.Code != 0 {
			t.Fatalf("aliases: exit %d\n%s%s", res.Code, res.Stdout, res.Stderr)
		}
		if got := column(t, db, login, pw, "SELECT no FROM sale"); got != "s1" {
			t.Errorf("run %d: the login with its password sees %q, want s1", i, got)
		}
		for _, wrong := range []string{"", "wrong", `first "p\\w"`} {
			if wrong == pw {
				continue
			}
			_, err := queryAs(t, db, login, wrong, "SELECT 1")
			var pe *pgconn.PgError
			if !errors.As(err, &pe) || pe.Code != "28P01" {
				t.Errorf("run %d: password %q: %v, want password authentication failed", i, wrong, err)
			}
		}
	}
	if got := db.Value(t, "SELECT left(rolpassword, 14) FROM pg_authid WHERE rolname = $1", login); got != "SCRAM-SHA-256$" {
		t.Errorf("stored password starts %q, want a SCRAM verifier", got)
	}
}
