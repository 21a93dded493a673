package acl_test

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tenantkit/tenantkit/internal/sqlq"
	"github.com/tenantkit/tenantkit/internal/testkit"
)

// northwindSchema is shaped like Northwind (snake_case), with a tenant
// table; PUBLIC may read the employees, as in many applications.
const northwindSchema = `CREATE TABLE tenants (id integer PRIMARY KEY, company_name text NOT NULL, parent_id integer REFERENCES tenants);
CREATE TABLE employees (employee_id serial PRIMARY KEY, last_name text NOT NULL, tenant_id integer REFERENCES tenants);
INSERT INTO tenants VALUES (1, 'SP', NULL), (2, 'Acme', 1), (3, 'Globex', 1);
INSERT INTO employees (last_name, tenant_id) VALUES ('Davolio', 2), ('Fuller', 3);
GRANT SELECT ON employees TO PUBLIC`

const northwindOverlay = `<Schema tenantColumn="tenant_id"><Tenants table="tenants" key="id" name="company_name" parent="parent_id"/></Schema>`

// TestGroupRolesPerDatabase: two databases declare an access group of the
// same name with different members; each apply leaves the other database's
// group alone, so neither plan undoes the other and each export lists its
// own members. A person who is a member of the other database's group
// cannot use it to escape row scoping here.
func TestGroupRolesPerDatabase(t *testing.T) {
	sfx := suffix()
	nw, ch, shared := "nw_"+sfx, "ch_"+sfx, "shared_"+sfx
	dropLater := testkit.DropRolesLater(t)
	dropLater(nw, ch, shared)
	north := testkit.NewDB(t)
	north.Exec(t, northwindSchema)
	chinook, chinookOverlay := chinookDB(t)
	northGroup, chinookGroup := groupRole(t, north, "sales"), groupRole(t, chinook, "sales")
	dropLater(northGroup, chinookGroup)
	if northGroup == chinookGroup {
		t.Fatalf("both databases map group sales to %s", northGroup)
	}
	dir := t.TempDir()
	overlay := filepath.Join(dir, "northwind.xml")
	if err := os.WriteFile(overlay, []byte(northwindOverlay), 0o600); err != nil {
		t.Fatal(err)
	}
	northFile := writeFile(t, dir, "north.xml", strings.NewReplacer("NW", nw, "SHARED", shared).Replace(`<AccessControl>
  <Person name="NW"/>
  <Person name="SHARED"/>
  <AccessGroup name="sales"><Member person="NW"/><Member person="SHARED"/></AccessGroup>
  <Permission object="schema:public" to="EVERYONE" rights="Read"/>
  <Permission object="tenant:Acme" to="SHARED" rights="Read"/>
</AccessControl>`))
	chinookFile := writeFile(t, dir, "chinook.xml", strings.NewReplacer("CH", ch, "SHARED", shared).Replace(`<AccessControl>
  <Person name="CH"/>
  <Person name="SHARED"/>
  <AccessGroup name="sales"><Member person="CH"/><Member person="SHARED"/></AccessGroup>
  <Permission object="schema:public" to="sales" rights="Read"/>
</AccessControl>`))
	run := func(db *testkit.DB, overlay, verb, file string) testkit.Result {
		t.Helper()
		res := testkit.Run(t, db, "acl", verb, "--schema", overlay, "-f", file)
		if res.Code != 0 {
			t.Fatalf("acl %s %s: %d %s", verb, filepath.Base(file), res.Code, res.Stderr)
		}
		return res
	}
	for range 2 {
		run(north, overlay, "apply", northFile)
		run(chinook, chinookOverlay, "apply", chinookFile)
	}
	if res := run(north, overlay, "plan", northFile); res.Stdout != "" {
		t.Errorf("northwind plan after chinook's apply:\n%s", res.Stdout)
	}
	if res := run(chinook, chinookOverlay, "plan", chinookFile); res.Stdout != "" {
		t.Errorf("chinook plan after northwind's apply:\n%s", res.Stdout)
	}
	members := func(role string) string {
		return north.Value(t, `SELECT string_agg(m.rolname, ',' ORDER BY m.rolname) FROM pg_auth_members am
			JOIN pg_roles g ON g.oid = am.roleid JOIN pg_roles m ON m.oid = am.member WHERE g.rolname = $1`, role)
	}
	if got, want := members(northGroup), strings.Join([]string{nw, shared}, ","); got != want {
		t.Errorf("northwind's sales role has members %s, want %s", got, want)
	}
	if got, want := members(chinookGroup), strings.Join([]string{ch, shared}, ","); got != want {
		t.Errorf("chinook's sales role has members %s, want %s", got, want)
	}
	for _, c := range []struct {
		db              *testkit.DB
		overlay         string
		want, dontWant  string
		comment, dbName string
	}{
		{north, overlay, `<Member person="` + nw + `"/>`, `<Member person="` + ch + `"/>`, northGroup, north.Name},
		{chinook, chinookOverlay, `<Member person="` + ch + `"/>`, `<Member person="` + nw + `"/>`, chinookGroup, chinook.Name},
	} {
		res := testkit.Run(t, c.db, "acl", "export", "--schema", c.overlay)
		if !strings.Contains(res.Stdout, c.want) || strings.Contains(res.Stdout, c.dontWant) {
			t.Errorf("export of %s lists the wrong members of sales:\n%s", c.dbName, res.Stdout)
		}
		if got := north.Value(t, "SELECT shobj_description(oid, 'pg_authid') FROM pg_roles WHERE rolname = $1", c.comment); !strings.Contains(got, "database "+c.dbName+" (oid ") {
			t.Errorf("comment of %s: %q", c.comment, got)
		}
	}
	// The attack: shared becomes chinook's group role in northwind, where
	// PUBLIC may read every employee.
	if got := count(t, north, shared, "SELECT count(*) FROM employees"); got != "1" {
		t.Errorf("shared sees %s employees, want 1 (Acme's)", got)
	}
	if got := mustAs(t, north, shared, "SET ROLE "+sqlq.Ident(chinookGroup), "SELECT count(*) FROM employees"); got != "0" {
		t.Errorf("shared as chinook's group role sees %s employees in northwind, want 0", got)
	}

	// Nor through a privilege someone gave that role here: it holds none.
	north.Exec(t, "CREATE TABLE payroll (amount int); INSERT INTO payroll VALUES (1); GRANT SELECT ON payroll TO "+sqlq.Ident(chinookGroup))
	if res := run(north, overlay, "plan", northFile); !strings.Contains(res.Stdout, "REVOKE SELECT ON TABLE public.payroll FROM "+sqlq.Ident(chinookGroup)+" CASCADE;") {
		t.Errorf("plan with a privilege of chinook's group in northwind:\n%s", res.Stdout)
	}
	run(north, overlay, "apply", northFile)
	if can(t, north, shared, "SET ROLE "+sqlq.Ident(chinookGroup)+"; SELECT * FROM payroll") {
		t.Error("shared reads payroll as chinook's group role")
	}

	// A role of this database's name that another database manages is
	// refused, not taken over.
	north.Exec(t, "COMMENT ON ROLE "+sqlq.Ident(northGroup)+" IS 'managed by tenantkit acl: access group of database elsewhere (oid 1)'")
	res := testkit.Run(t, north, "acl", "plan", "--schema", overlay, "-f", northFile)
	if want := northFile + `:4: access group "sales" maps to role "` + northGroup + `", which tenantkit manages for database elsewhere (oid 1)`; res.Code != 2 || !strings.Contains(res.Stderr, want) {
		t.Errorf("plan with a role of another database: %d %q, want 2 and %q", res.Code, res.Stderr, want)
	}
}

// oldGroupRole is the group role name of the version before group roles
// were per database.
func oldGroupRole(name string) string {
	sum := sha256.Sum256([]byte(name))
	return "tkg_" + strings.ToLower(name) + "_" + hex.EncodeToString(sum[:4])
}

// TestGroupRolesMigrate: a database whose state an earlier version wrote
// (one role per group name, shared by every database) moves to its own
// group role, and the old role in its state loses its members; an old role
// that is not in its state is left alone.
func TestGroupRolesMigrate(t *testing.T) {
	sfx := suffix()
	p, other, old := "p_"+sfx, oldGroupRole("other"+sfx), oldGroupRole("team"+sfx)
	dropLater := testkit.DropRolesLater(t)
	dropLater(p, other, old)
	db := testkit.NewDB(t)
	group := groupRole(t, db, "team"+sfx)
	dropLater(group)
	q := func(s string) string { return sqlq.Ident(s) }
	db.Exec(t, `CREATE TABLE items (id int PRIMARY KEY);
		CREATE SCHEMA tenantkit;
		CREATE TABLE tenantkit.acl_role (kind text NOT NULL, name text NOT NULL, role name NOT NULL, PRIMARY KEY (kind, name));
		CREATE TABLE tenantkit.acl_state (object text NOT NULL, principal text NOT NULL, rights text NOT NULL, propagate boolean NOT NULL, line integer NOT NULL, PRIMARY KEY (object, principal));
		CREATE ROLE `+q(p)+` LOGIN; COMMENT ON ROLE `+q(p)+` IS 'managed by tenantkit acl';
		CREATE ROLE `+q(old)+` NOLOGIN; COMMENT ON ROLE `+q(old)+` IS 'managed by tenantkit acl';
		GRANT `+q(old)+` TO `+q(p)+`;
		INSERT INTO tenantkit.acl_role VALUES ('person', '`+p+`', '`+p+`'), ('group', 'team`+sfx+`', '`+old+`');
		INSERT INTO tenantkit.acl_state VALUES ('table:public.items', '`+p+`', 'Read', true, 4)`)
	file := writeFile(t, t.TempDir(), "acl.xml", `<AccessControl>
  <Person name="`+p+`"/>
  <AccessGroup name="team`+sfx+`"><Member person="`+p+`"/></AccessGroup>
  <Permission object="table:public.items" to="`+p+`" rights="Read"/>
</AccessControl>`)
	res := testkit.Run(t, db, "acl", "plan", "-f", file)
	for _, want := range []string{
		"ALTER TABLE tenantkit.acl_role ADD COLUMN IF NOT EXISTS tenant text NOT NULL DEFAULT '';",
		"CREATE ROLE " + q(group) + " NOLOGIN;",
		"REVOKE " + q(old) + " FROM " + q(p) + ";",
		"GRANT " + q(group) + " TO " + q(p) + ";",
	} {
		if !strings.Contains(res.Stdout, want+"\n") {
			t.Errorf("migration plan lacks %s:\n%s%s", want, res.Stdout, res.Stderr)
		}
	}
	if res = testkit.Run(t, db, "acl", "apply", "-f", file); res.Code != 0 {
		t.Fatalf("apply: %d %s", res.Code, res.Stderr)
	}
	if res = testkit.Run(t, db, "acl", "plan", "-f", file); res.Code != 0 || res.Stdout != "" {
		t.Errorf("plan after the migration: %d\n%s%s", res.Code, res.Stdout, res.Stderr)
	}
	// A person here may be a member of another database's old-style group
	// (not in this database's state): that database migrates it, this one
	// leaves the membership alone.
	db.Exec(t, "CREATE ROLE "+q(other)+" NOLOGIN; COMMENT ON ROLE "+q(other)+" IS 'managed by tenantkit acl'; GRANT "+q(other)+" TO "+q(p))
	if res = testkit.Run(t, db, "acl", "plan", "-f", file); res.Stdout != "" {
		t.Errorf("plan with another database's old-style group:\n%s", res.Stdout)
	}
}
