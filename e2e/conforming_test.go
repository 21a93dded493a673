package e2e_test

import (
	"context"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/sha256"
	"encoding/base64"
	"strconv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/tenantkit/tenantkit/internal/sqlq"
	"github.com/tenantkit/tenantkit/internal/testkit"
)

// xmlText escapes s for an XML attribute or element.
var xmlText = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;", "'", "&apos;").Replace

// aliasString writes s as a double-quoted alias-file string.
func aliasString(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// userloadString writes s as a double-quoted userload value.
func userloadString(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// scramMatches checks a SCRAM-SHA-256 verifier against a password (ASCII,
// so SASLprep changes nothing).
func scramMatches(t *testing.T, verifier, password string) bool {
	t.Helper()
	rest, ok := strings.CutPrefix(verifier, "SCRAM-SHA-256$")
	parts := strings.Split(rest, "$")
	if !ok || len(parts) != 2 {
		return false
	}
	iterSalt, keys := strings.Split(parts[0], ":"), strings.Split(parts[1], ":")
	if len(iterSalt) != 2 || len(keys) != 2 {
		return false
	}
	iter, err := strconv.Atoi(iterSalt[0])
	salt, err2 := base64.StdEncoding.DecodeString(iterSalt[1])
	if err != nil || err2 != nil {
		return false
	}
	salted, err := pbkdf2.Key(sha256.New, password, salt, iter, 32)
	if err != nil {
		t.Fatal(err)
	}
	mac := hmac.New(sha256.New, salted)
	mac.Write([]byte("Client Key"))
	stored := sha256.Sum256(mac.Sum(nil))
	return base64.StdEncoding.EncodeToString(stored[:]) == keys[0]
}

// TestLiteralsWithStandardConformingStringsOff runs every command that
// writes values into SQL text with standard_conforming_strings off (for the
// database and the role, and again through PGOPTIONS), with tenant, group,
// login, password, organization and row values made to break out of a
// literal that ignores backslashes. Each run must exit as it would with the
// setting on, store exactly the hostile text, and make nobody a superuser.
func TestLiteralsWithStandardConformingStringsOff(t *testing.T) {
	for _, mode := range []string{"database and role setting", "PGOPTIONS"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			literalsOff(t, mode == "PGOPTIONS")
		})
	}
}

func literalsOff(t *testing.T, viaPGOPTIONS bool) {
	victim, person, login := uniqueLogin(t, "victim"), uniqueLogin(t, "p")+`\'"x`, uniqueLogin(t, "al")+`\'x`
	testkit.DropRolesAfter(t, person, login)
	tenant := `Globex\', 1, 2, true, 1); ALTER ROLE ` + victim + ` SUPERUSER; --`
	sub := `Sub\\'; ALTER ROLE ` + victim + ` SUPERUSER; --\`
	org := `Org\' || (SELECT 'x') || '\`
	group := tenant + `\Grp\', 'x'); ALTER ROLE ` + victim + ` SUPERUSER; --`
	dropLater := testkit.DropRolesLater(t)
	password := `pw\'; ALTER ROLE ` + victim + ` SUPERUSER; --"\\`
	value := `O'Brien \' \\ "; --`

	db := testkit.NewFixtureDB(t)
	dropLater(groupRole(t, db, group))
	db.Exec(t, "CREATE ROLE "+sqlq.Ident(victim)+" NOLOGIN")
	db.Exec(t, "UPDATE public.ca_organization SET name = $1, description = $2 WHERE id = 2", org, value)
	var env []string
	if viaPGOPTIONS {
		env = []string{"PGOPTIONS=-c standard_conforming_strings=off -c escape_string_warning=off"}
	} else {
		db.Exec(t, "ALTER DATABASE "+sqlq.Ident(db.Name)+" SET standard_conforming_strings = off")
		db.Exec(t, "ALTER ROLE CURRENT_USER IN DATABASE "+sqlq.Ident(db.Name)+" SET standard_conforming_strings = off")
		// A plain session of the role in the database has the setting off.
		conn := ownPathConn(t, db.URL)
		var scs string
		if err := conn.QueryRow(context.Background(), "SHOW standard_conforming_strings").Scan(&scs); err != nil || scs != "off" {
			t.Fatalf("standard_conforming_strings = %q (%v), want off", scs, err)
		}
	}
	step := func(want int, args ...string) testkit.Result {
		t.Helper()
		res := testkit.RunEnv(t, db, env, nil, append([]string{"--schema", overlay}, args...)...)
		if res.Code != want {
			t.Errorf("tenantkit %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), res.Code, want, res.Stdout, res.Stderr)
		}
		return res
	}
	dir := t.TempDir()
	step(0, "tenant", "create", "--service-provider", "--subtenants-allowed", serviceProvider)
	step(0, "buildtenant", "-c")
	step(0, "buildtenant")
	step(0, "tenant", "create", "--parent", serviceProvider, "--subtenants-allowed", tenant)
	step(0, "tenant", "create", "--parent", tenant, sub)
	step(0, "tenant", "groups", sub)
	rules := testkit.WriteFile(t, "rules.xml", `<SetTenant>
  <Object name="loc"><TenantRule type="Name">`+xmlText(tenant)+`</TenantRule><Where>tenant is null</Where></Object>
  <Object name="cnt"><TenantRule type="Name">`+xmlText(sub)+`</TenantRule><Where>tenant is null and organization is null</Where></Object>
</SetTenant>`)
	step(0, "settenant", "-c", "-f", rules)
	step(0, "settenant", "-r", "-f", rules)

	rows := testkit.WriteFile(t, "rows.dat", "TABLE priority\n code label sort_order\n { "+userloadString(value)+", "+userloadString(tenant)+", \"9\" }\n"+
		"TABLE category\n sym description\n { "+userloadString(value)+", "+userloadString(password)+" }\n")
	step(0, "userload", "-c", "-t", tenant, "-f", rows)
	step(0, "userload", "-t", tenant, "-f", rows)
	step(0, "extract", "--control", dir+"/x.ctl", "-o", dir+"/x1.dat", "ALL")
	step(0, "extract", "--control", dir+"/x.ctl", "-o", dir+"/x2.dat", "ALL")
	step(0, "tenant-extract", "--tenant", tenant, "--control", dir+"/t.ctl", "-o", dir+"/t1.dat")
	step(0, "tenant-extract", "--tenant", tenant, "--control", dir+"/t.ctl", "-o", dir+"/t2.dat")

	aclFile := testkit.WriteFile(t, "acl.xml", `<AccessControl>
  <Person name="`+xmlText(person)+`"/>
  <AccessGroup name="`+xmlText(group)+`" tenant="`+xmlText(tenant)+`"><Member person="`+xmlText(person)+`"/></AccessGroup>
  <Permission object="schema:public" to="EVERYONE" rights="Read"/>
  <Permission object="tenant:`+xmlText(tenant)+`" to="`+xmlText(group)+`" rights="Read,Change"/>
  <Permission object="tenant:`+xmlText(sub)+`" to="`+xmlText(person)+`" rights="Read"/>
</AccessControl>`)
	step(0, "acl", "plan", "-f", aclFile)
	step(0, "acl", "apply", "-f", aclFile)
	if res := step(0, "acl", "plan", "-f", aclFile); res.Stdout != "" {
		t.Errorf("acl plan after apply:\n%s", res.Stdout)
	}
	step(0, "acl", "export", "-o", dir+"/export.xml")

	aliases := testkit.WriteFile(t, "aliases.txt", "(gim-user-schema public)\n"+
		"(aliases-for-account name: "+aliasString(tenant)+" login: "+aliasString(login)+" password: "+aliasString(password)+
		" (tenants: "+aliasString(tenant)+" "+aliasString(sub)+") (time-zone: Europe/Paris))\n")
	step(0, "aliases", "-c", "-f", aliases)
	step(0, "aliases", "-f", aliases)
	step(0, "aliases", "-f", aliases)
	badZone := testkit.WriteFile(t, "badzone.txt", "(gim-user-schema public)\n"+
		"(aliases-for-account name: x login: "+aliasString(login)+" password: "+aliasString(password)+
		" (tenants: all) (time-zone: "+aliasString(`Europe/Paris\', 1); ALTER ROLE `+victim+` SUPERUSER; --`)+"))\n")
	if res := testkit.RunEnv(t, db, env, nil, "--schema", overlay, "aliases", "-f", badZone); res.Code == 0 {
		t.Errorf("aliases accepted a time zone that is none:\n%s", res.Stdout)
	}
	step(1, "verify")

	// Everything reads back exactly.
	conn := pinnedConn(t, db.URL)
	ctx := context.Background()
	want := func(what, query string, expect any, args ...any) {
		t.Helper()
		var got any
		if err := conn.QueryRow(ctx, query, args...).Scan(&got); err != nil {
			t.Errorf("%s: %v", what, err)
			return
		}
		if got != expect {
			t.Errorf("%s: %#v, want %#v", what, got, expect)
		}
	}
	want("the tenant created by name", "SELECT count(*) FROM public.ca_tenant WHERE name = $1", int64(1), tenant)
	want("its subtenant", "SELECT count(*) FROM public.ca_tenant s JOIN public.ca_tenant p ON p.id = s.parent WHERE s.name = $1 AND p.name = $2", int64(1), sub, tenant)
	want("the tenant buildtenant made of the organization", "SELECT count(*) FROM public.ca_tenant t JOIN public.ca_organization o ON o.tenant = t.id WHERE t.name = $1 AND t.description = $2", int64(1), org, value)
	want("locations given the tenant by name", "SELECT count(*) FROM public.ca_location l JOIN public.ca_tenant t ON t.id = l.tenant WHERE t.name = $1", int64(4), tenant)
	want("the loaded priority", "SELECT label FROM public.priority WHERE code = $1", tenant, value)
	want("the loaded category", "SELECT count(*) FROM public.category c JOIN public.ca_tenant t ON t.id = c.tenant WHERE c.sym = $1 AND c.description = $2 AND t.name = $3", int64(1), value, password, tenant)
	want("the group acl recorded", "SELECT count(*) FROM tenantkit.acl_role WHERE kind = 'group' AND name = $1", int64(1), group)
	want("the person's role", "SELECT count(*) FROM pg_catalog.pg_roles WHERE rolname = $1 AND rolcanlogin", int64(1), person)
	want("the alias login's schema", "SELECT pg_catalog.strpos(pg_catalog.obj_description(oid, 'pg_namespace'), 'login ' || $1) > 0 FROM pg_catalog.pg_namespace WHERE nspname = $1", true, login)
	want("the alias login's time zone", "SELECT pg_catalog.array_to_string(s.setconfig, ',') ILIKE '%timezone=Europe/Paris%' FROM pg_catalog.pg_db_role_setting s JOIN pg_catalog.pg_roles r ON r.oid = s.setrole WHERE r.rolname = $1", true, login)
	var verifier string
	if err := conn.QueryRow(ctx, "SELECT rolpassword FROM pg_catalog.pg_authid WHERE rolname = $1", login).Scan(&verifier); err != nil {
		t.Fatal(err)
	}
	if !scramMatches(t, verifier, password) {
		t.Errorf("the alias login's verifier %q is not the password's", verifier)
	}
	rows2, err := conn.Query(ctx, "SELECT rolname FROM pg_catalog.pg_roles WHERE rolsuper AND rolname = ANY ($1)", []string{victim, person, login})
	if err != nil {
		t.Fatal(err)
	}
	supers, err := pgx.CollectRows(rows2, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	if len(supers) > 0 {
		t.Errorf("superusers now: %v", supers)
	}
}
