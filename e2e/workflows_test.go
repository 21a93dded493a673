// Package e2e_test runs the three workflows of the user guide end to end,
// with the real binary against a scratch copy of the fixture database, and
// asserts the rows each tenant owns at the end:
//
//  1. converting the pre-tenant database (tenant create, buildtenant,
//     settenant, verify, aliases);
//  2. seeding a new tenant from a template tenant's standard data
//     (tenant-extract --strip-tenant, tenant create, userload --new-keys);
//  3. rerunning the conversion after new rows arrived, which touches only
//     the new rows (examples/rerun-conversion.sh, run as it ships).
//
// The SQL the workflows add rows with is shared with scripts/demo and the
// examples: examples/template-rows.sql and examples/new-rows.sql.
package e2e_test

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tenantkit/tenantkit/internal/testkit"
)

func TestMain(m *testing.M) { testkit.Main(m) }

// overlay is the fixture's object schema overlay, given to every command.
const overlay = "fixtures/schema.xml"

// serviceProvider is the service provider's name fixtures/settenant.xml
// expects.
const serviceProvider = "Service Provider"

// run runs tenantkit with the fixture overlay and wants exit code want.
func run(t *testing.T, db *testkit.DB, want int, args ...string) testkit.Result {
	t.Helper()
	res := testkit.Run(t, db, append([]string{"--schema", overlay}, args...)...)
	if res.Code != want {
		t.Fatalf("tenantkit %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s",
			strings.Join(args, " "), res.Code, want, res.Stdout, res.Stderr)
	}
	return res
}

// wantLine fails unless out has a line equal to want.
func wantLine(t *testing.T, what, out, want string) {
	t.Helper()
	for _, l := range strings.Split(out, "\n") {
		if strings.TrimSpace(l) == want {
			return
		}
	}
	t.Errorf("%s: no line %q in\n%s", what, want, out)
}

// execFile runs an SQL file of the repository against db.
func execFile(t *testing.T, db *testkit.DB, rel string) {
	t.Helper()
	sql, err := os.ReadFile(testkit.Path(rel))
	if err != nil {
		t.Fatal(err)
	}
	db.Exec(t, string(sql))
}

// convert runs workflow 1 up to verify: the service provider, one tenant per
// active organization, every row stamped by the sample rules, no violation.
func convert(t *testing.T, db *testkit.DB) {
	t.Helper()
	run(t, db, 0, "tenant", "create", "--service-provider", "--subtenants-allowed", serviceProvider)
	res := run(t, db, 0, "buildtenant")
	wantLine(t, "buildtenant", res.Stdout, "org: 5 created, 0 adopted (5 rows selected)")
	res = run(t, db, 0, "settenant", "-f", "fixtures/settenant.xml")
	wantLine(t, "settenant", res.Stdout, "17 rows updated by 10 rules")
	res = run(t, db, 0, "verify")
	wantLine(t, "verify", res.Stdout, "total                            0")
}

// ownedRows is, per tenant (and "public" for rows without one), the rows it
// owns in each table, as "name org/cnt/loc/cr/cat/nr/repo".
const ownedRows = `
WITH owners AS (
    SELECT id, name FROM ca_tenant
    UNION ALL SELECT NULL, 'public'
)
SELECT o.name || ' ' || concat_ws('/',
    (SELECT count(*) FROM ca_organization x WHERE x.tenant IS NOT DISTINCT FROM o.id),
    (SELECT count(*) FROM ca_contact x WHERE x.tenant IS NOT DISTINCT FROM o.id),
    (SELECT count(*) FROM ca_location x WHERE x.tenant IS NOT DISTINCT FROM o.id),
    (SELECT count(*) FROM call_req x WHERE x.tenant IS NOT DISTINCT FROM o.id),
    (SELECT count(*) FROM category x WHERE x.tenant IS NOT DISTINCT FROM o.id),
    (SELECT count(*) FROM notification_rule x WHERE x.tenant IS NOT DISTINCT FROM o.id),
    (SELECT count(*) FROM doc_repository x WHERE x.tenant IS NOT DISTINCT FROM o.id))
FROM owners o ORDER BY o.name`

// convertedRows is ownedRows right after workflow 1.
var convertedRows = []string{
	"Acme 1/2/1/1/0/0/0",
	"Acme Europe 1/1/1/1/0/0/0",
	"Globex 1/1/1/1/0/0/0",
	"Initech 1/2/1/2/0/0/0",
	"Service Provider 1/1/0/0/0/0/0",
	"Société Générale 1/0/0/0/0/0/0",
	"public 0/0/0/0/3/2/2",
}

func wantOwned(t *testing.T, db *testkit.DB, want []string) {
	t.Helper()
	var got []string
	for _, r := range db.Rows(t, ownedRows) {
		got = append(got, r[0])
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("rows per tenant (org/cnt/loc/cr/cat/nr/repo):\n%s\nwant\n%s",
			strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// uniqueLogin returns a login name nobody else uses on the server (roles
// are cluster-wide), dropped when the test ends.
func uniqueLogin(t *testing.T, prefix string) string {
	t.Helper()
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	login := fmt.Sprintf("tk_e2e_%s_%s", prefix, hex.EncodeToString(b[:]))
	testkit.DropRolesAfter(t, login)
	return login
}

// TestConvertPreTenantDatabase is workflow 1: from organizations and no
// tenants to a converted database with per-tenant views.
func TestConvertPreTenantDatabase(t *testing.T) {
	t.Parallel()
	acme, all := uniqueLogin(t, "acme"), uniqueLogin(t, "all")
	db := testkit.NewFixtureDB(t)
	convert(t, db)
	wantOwned(t, db, convertedRows)
	if got, want := db.Value(t, `SELECT string_agg(t.name || '<' || coalesce(p.name, '-'), ', ' ORDER BY t.name)
		FROM ca_tenant t LEFT JOIN ca_tenant p ON p.id = t.parent`),
		"Acme<Service Provider, Acme Europe<Acme, Globex<Service Provider, Initech<Service Provider, Service Provider<-, Société Générale<Service Provider"; got != want {
		t.Errorf("hierarchy: %s\nwant       %s", got, want)
	}

	aliases := filepath.Join(t.TempDir(), "aliases.txt")
	body := fmt.Sprintf("(gim-user-schema public)\n"+
		"(aliases-for-account name: Acme login: %q password: \"pw-acme\" (tenants: \"Acme\" \"Acme Europe\"))\n"+
		"(aliases-for-account name: Ops login: %q password: \"pw-ops\" (tenants: all))\n", acme, all)
	if err := os.WriteFile(aliases, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	res := run(t, db, 0, "aliases", "-f", aliases)
	wantLine(t, "aliases", res.Stdout, "2 roles created, 2 schemas created, 14 views created, 0 views unchanged")
	// Acme's views show Acme's and Acme Europe's rows and the public ones.
	rows := db.Rows(t, fmt.Sprintf(`SELECT (SELECT count(*) FROM %[1]s.ca_contact), (SELECT count(*) FROM %[1]s.call_req),
		(SELECT count(*) FROM %[1]s.category), (SELECT count(*) FROM %[2]s.ca_contact)`, acme, all))
	if got, want := strings.Join(rows[0], "/"), "3/2/3/7"; got != want {
		t.Errorf("contacts/tickets/categories in Acme's views, contacts in Ops': %s, want %s", got, want)
	}
}

// TestSeedTenantFromTemplate is workflow 2: a template tenant's standard
// data, extracted without its tenant, seeds a new tenant with fresh keys.
func TestSeedTenantFromTemplate(t *testing.T) {
	t.Parallel()
	db := testkit.NewFixtureDB(t)
	convert(t, db)
	execFile(t, db, "examples/template-rows.sql")

	dir := t.TempDir()
	template := filepath.Join(dir, "template.dat")
	res := run(t, db, 0, "tenant-extract", "--tenant", "Acme", "--objects", "pcat,nr,repo", "--strip-tenant", "-o", template)
	wantLine(t, "tenant-extract", res.Stderr, "extracted 5 rows from 3 tables to "+template+" (userload)")
	data, err := os.ReadFile(template)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(data), "tenant") {
		t.Errorf("--strip-tenant left a tenant column:\n%s", data)
	}
	// Repositories have a natural key (server, path): the new tenant's get
	// their own paths, as the demo does with sed.
	seed := filepath.Join(dir, "newco.dat")
	if err := os.WriteFile(seed, []byte(strings.ReplaceAll(string(data), `"/docs/acme/`, `"/docs/newco/`)), 0o600); err != nil {
		t.Fatal(err)
	}

	run(t, db, 0, "tenant", "create", "--parent", serviceProvider, "NewCo")
	res = run(t, db, 0, "userload", "-t", "NewCo", "--new-keys", "-f", seed)
	wantLine(t, "userload", res.Stdout, "5 records read, 0 rejected, committed")
	res = run(t, db, 0, "verify")
	wantLine(t, "verify", res.Stdout, "total                            0")

	want := append([]string(nil), convertedRows...)
	want[0] = "Acme 1/2/1/1/2/2/1"
	want = append(want[:4], append([]string{"NewCo 0/0/0/0/2/2/1"}, want[4:]...)...)
	wantOwned(t, db, want)
	// NewCo's rules point at NewCo's categories, not at the template's.
	if got, want := db.Value(t, `SELECT string_agg(r.name || '→' || c.sym || '@' || t.name, ', ' ORDER BY r.name)
		FROM notification_rule r JOIN category c ON c.id = r.category JOIN ca_tenant t ON t.id = c.tenant
		WHERE r.tenant = (SELECT id FROM ca_tenant WHERE name = 'NewCo')`),
		"Mail the Badge team→Badge@NewCo, Mail the Laptop team→Laptop@NewCo"; got != want {
		t.Errorf("NewCo's notification rules: %s\nwant %s", got, want)
	}
}

// TestRerunScript is workflow 3: it runs the shipped
// examples/rerun-conversion.sh (conversion, new rows, conversion again, and
// a third time) against a fresh database and checks the counts it prints —
// the second run writes only the new rows, the third nothing — and the rows
// each tenant owns at the end.
func TestRerunScript(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("psql"); err != nil {
		t.Fatalf("examples/rerun-conversion.sh needs psql: %v", err)
	}
	db := testkit.NewDB(t)
	cmd := exec.Command(testkit.Path("examples/rerun-conversion.sh"))
	cmd.Env = append(os.Environ(), "DATABASE_URL="+db.URL, "TENANTKIT_BIN="+testkit.Binary(t), "TENANTKIT_SCHEMA=")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("examples/rerun-conversion.sh: %v\n%s", err, out)
	}
	second := string(out)
	if i := strings.Index(second, "== conversion run 2"); i >= 0 {
		second = second[i:]
	} else {
		t.Fatalf("no second run in\n%s", out)
	}
	for _, want := range []string{
		"buildtenant:  org: 1 created, 0 adopted (1 row selected)",
		"settenant:    rule 2 (line 19): cnt ← SREL organization where tenant is null: updated 2 rows",
		"settenant:    rule 3 (line 24): cr ← SREL customer where tenant is null: updated 1 row",
		"settenant:    3 rows updated by 10 rules",
		"ca_contact: 2 (gbelson, hscorpio2)",
		"ca_organization: 1 (Hooli)",
		"ca_tenant: 1 (Hooli)",
		"call_req: 1 (CR-2001)",
		"buildtenant:  org: 0 created, 0 adopted (0 rows selected)",
		"settenant:    0 rows updated by 10 rules",
	} {
		wantLine(t, "examples/rerun-conversion.sh after the first run", second, want)
	}
	if strings.Contains(second, "ca_location:") {
		t.Errorf("the second run wrote locations:\n%s", second)
	}
	want := append([]string(nil), convertedRows...)
	want[2] = "Globex 1/2/1/1/0/0/0"
	want = append(want[:3], append([]string{"Hooli 1/1/0/1/0/0/0"}, want[3:]...)...)
	wantOwned(t, db, want)
}
