package aliases

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/tenantkit/tenantkit/internal/sqlq"
	"github.com/tenantkit/tenantkit/internal/testkit"
)

// TestAliasesRefusesSwappedTenantNames: the attack of issue 19 point 4. An
// alias login is published for tenant Acme by name; a role that may update
// the tenant table swaps the names of Acme and Globex. The next run must
// refuse (exit 2, nothing changed, both keys named) instead of scoping the
// login to Globex's rows; verify reports the pin; --repin accepts the new
// names.
func TestAliasesRefusesSwappedTenantNames(t *testing.T) {
	logins := uniqueLogins(t, 2)
	login, writer := logins[0], logins[1]
	db := tenantFixture(t)
	file := writeFile(t, fmt.Sprintf("(aliases-for-account login: %s password: pw\n (tenants: Acme))", login))
	run := func(args ...string) testkit.Result {
		return testkit.Run(t, db, append(append([]string{"aliases", "--schema", "fixtures/schema.xml", "--objects", "call_req"}, args...), "-f", file)...)
	}
	if res := run(); res.Code != 0 {
		t.Fatalf("first run: exit %d\n%s%s", res.Code, res.Stdout, res.Stderr)
	}
	if got := column(t, db, login, "pw", "SELECT id FROM call_req ORDER BY id"); got != "1" {
		t.Fatalf("as the alias login before the swap: call_req %s, want Acme's 1", got)
	}
	if got := db.Value(t, "SELECT string_agg(name || '=' || key || ' ' || pinned_by, ',') FROM tenantkit.tenant_pin"); got != "Acme=2 aliases" {
		t.Fatalf("pins = %s", got)
	}
	if res := run(); res.Code != 0 || !strings.HasPrefix(res.Stdout, "nothing to change") {
		t.Fatalf("rerun: exit %d\n%s%s", res.Code, res.Stdout, res.Stderr)
	}
	verifyPin := func() string {
		res := testkit.Run(t, db, "verify", "--schema", "fixtures/schema.xml")
		m := regexp.MustCompile(`(?m)^tenant-pin +(\d+)$`).FindStringSubmatch(res.Stdout)
		if m == nil {
			t.Fatalf("verify: exit %d, no tenant-pin line\n%s%s", res.Code, res.Stdout, res.Stderr)
		}
		return m[1]
	}
	if n := verifyPin(); n != "0" {
		t.Errorf("verify before the swap: tenant-pin %s", n)
	}

	// The swap, as a role allowed to update the tenant table and nothing else.
	db.Exec(t, fmt.Sprintf("CREATE ROLE %[1]s LOGIN; GRANT USAGE ON SCHEMA public TO %[1]s; GRANT SELECT, UPDATE ON public.ca_tenant TO %[1]s", sqlq.Ident(writer)))
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, db.URLAs(writer))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "UPDATE public.ca_tenant SET name = 'swap' WHERE id = 2; UPDATE public.ca_tenant SET name = 'Acme' WHERE id = 4; UPDATE public.ca_tenant SET name = 'Globex' WHERE id = 2"); err != nil {
		t.Fatalf("the swap: %v", err)
	}
	conn.Close(ctx)

	for _, args := range [][]string{nil, {"-c"}} {
		res := run(args...)
		want := fmt.Sprintf(`tenantkit: %s:2:12: tenant "Acme" is key 4 now, but was key 2 when aliases pinned it on `, file)
		if res.Code != 2 || !strings.HasPrefix(res.Stderr, want) ||
			!strings.Contains(res.Stderr, `(key 2 is now named "Globex"): restore the names, or rerun with --repin to accept the new ones`) || res.Stdout != "" {
			t.Fatalf("%v after the swap: exit %d\n%s%s\nwant exit 2 and %s…", args, res.Code, res.Stdout, res.Stderr, want)
		}
	}
	if got := column(t, db, login, "pw", "SELECT id FROM call_req ORDER BY id"); got != "1" {
		t.Errorf("as the alias login after the refused run: call_req %s, want still Acme's (key 2) 1", got)
	}
	if got := db.Value(t, "SELECT string_agg(name || '=' || key, ',') FROM tenantkit.tenant_pin"); got != "Acme=2" {
		t.Errorf("a refused run changed the pins: %s", got)
	}
	if n := verifyPin(); n != "1" {
		t.Errorf("verify after the swap: tenant-pin %s, want 1", n)
	}
	res := testkit.Run(t, db, "verify", "--schema", "fixtures/schema.xml")
	if want := `"Acme": pinned to key 2, now names key 4; key 2 is now named "Globex"`; !strings.Contains(res.Stdout, want) || res.Code != 1 {
		t.Errorf("verify: exit %d, want 1 and %s\n%s%s", res.Code, want, res.Stdout, res.Stderr)
	}

	// --repin accepts the new names: the login now shows the tenant named Acme.
	res = run("--repin", "-c")
	if res.Code != 0 || !strings.Contains(res.Stdout, "would repin tenant Acme (key 4, was key 2)\n") {
		t.Fatalf("--repin -c: exit %d\n%s%s", res.Code, res.Stdout, res.Stderr)
	}
	if got := db.Value(t, "SELECT string_agg(name || '=' || key, ',') FROM tenantkit.tenant_pin"); got != "Acme=2" {
		t.Errorf("--repin -c changed the pins: %s", got)
	}
	res = run("--repin")
	if res.Code != 0 || !strings.Contains(res.Stdout, "Re-pinning tenant Acme (key 4, was key 2)\n") {
		t.Fatalf("--repin: exit %d\n%s%s", res.Code, res.Stdout, res.Stderr)
	}
	if got := column(t, db, login, "pw", "SELECT id FROM call_req ORDER BY id"); got != "2" {
		t.Errorf("after --repin: call_req %s, want the new Acme's (key 4) 2", got)
	}
	if n := verifyPin(); n != "0" {
		t.Errorf("verify after --repin: tenant-pin %s", n)
	}
	if res := run(); res.Code != 0 || !strings.HasPrefix(res.Stdout, "nothing to change") {
		t.Errorf("after --repin, a run: exit %d\n%s%s", res.Code, res.Stdout, res.Stderr)
	}
}

// TestAliasesRefusesTenantRenamedLikeAKey: names win over keys when a file's
// tenant is resolved, so a tenant renamed "2" would take over a login
// published for key 2. A reference by key is pinned to itself, and the run
// after such a rename refuses.
func TestAliasesRefusesTenantRenamedLikeAKey(t *testing.T) {
	login := uniqueLogins(t, 1)[0]
	db := tenantFixture(t)
	file := writeFile(t, fmt.Sprintf("(aliases-for-account login: %s password: pw\n (tenants: 2))", login))
	run := func() testkit.Result {
		return testkit.Run(t, db, "aliases", "--schema", "fixtures/schema.xml", "--objects", "call_req", "-f", file)
	}
	if res := run(); res.Code != 0 {
		t.Fatalf("first run: exit %d\n%s%s", res.Code, res.Stdout, res.Stderr)
	}
	db.Exec(t, "UPDATE ca_tenant SET name = '2' WHERE id = 4")
	res := run()
	if want := fmt.Sprintf(`tenantkit: %s:2:12: tenant "2" is key 4 now, but was key 2 when aliases pinned it on `, file); res.Code != 2 || !strings.HasPrefix(res.Stderr, want) ||
		!strings.Contains(res.Stderr, `(key 2 is now named "Acme")`) {
		t.Fatalf("after the rename: exit %d\n%s%s\nwant exit 2 and %s…", res.Code, res.Stdout, res.Stderr, want)
	}
	if got := column(t, db, login, "pw", "SELECT id FROM call_req ORDER BY id"); got != "1" {
		t.Errorf("as the alias login: call_req %s, want still key 2's 1", got)
	}
	res = testkit.Run(t, db, "verify", "--schema", "fixtures/schema.xml")
	if want := `"2": pinned to key 2, now names key 4; key 2 is now named "Acme"`; !strings.Contains(res.Stdout, want) {
		t.Errorf("verify: exit %d, want %s\n%s%s", res.Code, want, res.Stdout, res.Stderr)
	}
}
