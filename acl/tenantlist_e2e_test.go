package acl_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tenantkit/tenantkit/internal/testkit"
)

// chinookSchema is shaped like Chinook's quoted PascalCase edition, with a
// tenant hierarchy: SP (1) → Acme (2) → Acme EU (3), SP → Globex (4).
const chinookSchema = `CREATE TABLE "Tenant" ("Id" integer PRIMARY KEY, "Name" text NOT NULL UNIQUE, "ParentId" integer REFERENCES "Tenant");
CREATE TABLE "Customer" ("CustomerId" serial PRIMARY KEY, "FirstName" text NOT NULL, "TenantId" integer NOT NULL REFERENCES "Tenant");
CREATE INDEX ON "Customer" ("TenantId");
CREATE SEQUENCE "InvoiceNumber";
INSERT INTO "Tenant" VALUES (1, 'SP', NULL), (2, 'Acme', 1), (3, 'Acme EU', 2), (4, 'Globex', 1);
INSERT INTO "Customer" ("FirstName", "TenantId") VALUES ('sp', 1), ('acme', 2), ('acme eu', 3), ('globex', 4)`

const chinookOverlay = `<Schema tenantColumn="TenantId"><Tenants table="Tenant" key="Id" name="Name" parent="ParentId"/></Schema>`

// chinookDB makes a database with chinookSchema and returns it with the
// path of its overlay.
func chinookDB(t *testing.T) (*testkit.DB, string) {
	t.Helper()
	db := testkit.NewDB(t)
	db.Exec(t, chinookSchema)
	overlay := filepath.Join(t.TempDir(), "chinook.xml")
	if err := os.WriteFile(overlay, []byte(chinookOverlay), 0o600); err != nil {
		t.Fatal(err)
	}
	return db, overlay
}

// tenantsSeen lists the tenant keys of the customers role sees.
func tenantsSeen(t *testing.T, db *testkit.DB, role string) string {
	t.Helper()
	return count(t, db, role, `SELECT coalesce(string_agg(DISTINCT "TenantId"::text, ',' ORDER BY "TenantId"::text), '') FROM "Customer"`)
}

// staleTenants runs verify and returns its row-scoping samples on the
// tenant table.
func staleTenants(t *testing.T, db *testkit.DB, overlay string) []string {
	t.Helper()
	var out []string
	for _, f := range verifyFindings(t, db, overlay, "row-scoping") {
		if f.Object != "Tenant" {
			t.Errorf("row-scoping finding on %s: %v", f.Object, f.Samples)
		}
		out = append(out, f.Samples...)
	}
	return out
}

// TestTenantListsAndNewTenants: rights on tenant lists (subtenants="true",
// subtenants:T, a tenant group by group:NAME) reach the tenants of the list;
// a tenant created after the apply is reported by verify as long as rights
// on the database or on a subtenants list would reach it, and the next apply
// gives them their rows.
func TestTenantListsAndNewTenants(t *testing.T) {
	sfx := suffix()
	reader, subber, grouper, deleter := "reader_"+sfx, "subber_"+sfx, "grouper_"+sfx, "deleter_"+sfx
	dropLater := testkit.DropRolesLater(t)
	dropLater(reader, subber, grouper, deleter)
	db, overlay := chinookDB(t)
	if res := testkit.Run(t, db, "--schema", overlay, "tenant", "group", "create", "Europe", "Acme EU"); res.Code != 0 {
		t.Fatalf("tenant group create: %d %s", res.Code, res.Stderr)
	}
	body := strings.NewReplacer("READER", reader, "SUBBER", subber, "GROUPER", grouper, "DELETER", deleter).Replace(`<AccessControl>
  <Person name="READER"/>
  <Person name="SUBBER"/>
  <Person name="GROUPER"/>
  <Person name="DELETER"/>
  <Permission object="database" to="READER" rights="Read"/>
  <Permission object="schema:public" to="EVERYONE" rights="Read,Change,Delete"/>
  <Permission object="tenant:Acme" to="SUBBER" rights="Read" subtenants="true"/>
  <Permission object="tenant:group:Europe" to="GROUPER" rights="Read,Change"/>
  <Permission object="subtenants:2" to="DELETER" rights="Read,Delete"/>
  <Permission object="tenant:Acme EU" to="DELETER" rights="Read"/>
</AccessControl>`)
	dir := t.TempDir()
	file := writeFile(t, dir, "acl.xml", body)
	apply := func() {
		t.Helper()
		if res := testkit.Run(t, db, "acl", "apply", "--schema", overlay, "-f", file); res.Code != 0 {
			t.Fatalf("acl apply: %d %s", res.Code, res.Stderr)
		}
	}
	apply()
	for role, want := range map[string]string{reader: "1,2,3,4", subber: "1,2,3", grouper: "1,2,3", deleter: "1,2,3"} {
		if got := tenantsSeen(t, db, role); got != want {
			t.Errorf("%s sees the customers of tenants %q, want %q", role, got, want)
		}
	}
	for _, w := range []struct {
		role, stmt string
		want       int64
	}{
		{grouper, `UPDATE "Customer" SET "FirstName" = 'x'`, 1}, // Acme EU only
		{subber, `UPDATE "Customer" SET "FirstName" = 'x'`, 0},
		// The entry on Acme EU itself overrides the list for deleter.
		{deleter, `DELETE FROM "Customer"`, 1},
	} {
		if got := affected(t, db, w.role, w.stmt); got != w.want {
			t.Errorf("%s: %s → %d, want %d", w.role, w.stmt, got, w.want)
		}
	}
	if got := staleTenants(t, db, overlay); len(got) != 0 {
		t.Errorf("verify after apply: %q", got)
	}

	// Tenants created after the apply: under Acme, and a new root child.
	db.Exec(t, `INSERT INTO "Tenant" VALUES (5, 'Acme US', 2), (6, 'Initech', 1);
		INSERT INTO "Customer" ("FirstName", "TenantId") VALUES ('acme us', 5), ('initech', 6)`)
	got := strings.Join(staleTenants(t, db, overlay), "\n")
	for _, want := range []string{
		`tenant "Acme US" (key 5) is newer than the last acl apply: rights of ` + deleter + ", " + reader + ", " + subber + " would reach its rows (run acl apply)",
		`tenant "Initech" (key 6) is newer than the last acl apply: rights of ` + reader + " would reach its rows (run acl apply)",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("verify before the rerun lacks %q:\n%s", want, got)
		}
	}
	apply()
	if got := staleTenants(t, db, overlay); len(got) != 0 {
		t.Errorf("verify after the rerun: %q", got)
	}
	for role, want := range map[string]string{reader: "1,2,3,4,5,6", subber: "1,2,3,5", grouper: "1,2,3"} {
		if got := tenantsSeen(t, db, role); got != want {
			t.Errorf("after the rerun %s sees the customers of tenants %q, want %q", role, got, want)
		}
	}

	// export → plan: nothing to do; tenant lists are exported as written.
	res := testkit.Run(t, db, "acl", "export", "--schema", overlay)
	for _, want := range []string{
		`<Permission object="tenant:subtenants:Acme" to="` + subber + `" rights="Read"/>`,
		`<Permission object="tenant:group:Europe" to="` + grouper + `" rights="Read,Change"/>`,
		`<Permission object="tenant:subtenants:2" to="` + deleter + `" rights="Read,Delete"/>`,
	} {
		if !strings.Contains(res.Stdout, want) {
			t.Errorf("export lacks %s:\n%s", want, res.Stdout)
		}
	}
	exported := writeFile(t, dir, "exported.xml", res.Stdout)
	if res := testkit.Run(t, db, "acl", "plan", "--schema", overlay, "-f", exported); res.Code != 0 || res.Stdout != "" {
		t.Errorf("plan of the export: %d\n%s%s", res.Code, res.Stdout, res.Stderr)
	}

	// The tenant a list is built on is pinned: giving its name to another
	// tenant is refused at the entry's line.
	db.Exec(t, `UPDATE "Tenant" SET "Name" = 'Acme Old' WHERE "Id" = 2; UPDATE "Tenant" SET "Name" = 'Acme' WHERE "Id" = 4`)
	res = testkit.Run(t, db, "acl", "plan", "--schema", overlay, "-f", file)
	if want := file + `:8: tenant "Acme" is key 4 now, but was key 2`; res.Code != 2 || !strings.Contains(res.Stderr, want) {
		t.Errorf("plan after a rename: %d %q, want exit 2 and %q", res.Code, res.Stderr, want)
	}
}

// TestTenantListErrors: unknown lists and misplaced subtenants are the
// file's errors, at their line.
func TestTenantListErrors(t *testing.T) {
	db, overlay := chinookDB(t)
	dir := t.TempDir()
	for _, c := range []struct{ name, entry, want string }{
		{"unknown group", `<Permission object="tenant:group:Nope" to="EVERYONE" rights="Read"/>`, `:2: unknown tenant list "group:Nope": tenant group "Nope": no such tenant`},
		{"unknown bare", `<Permission object="tenant:Nope" to="EVERYONE" rights="Read"/>`, `:2: unknown tenant "Nope": no tenant or tenant group has this name or key`},
		{"unknown subtenants", `<Permission object="subtenants:Nope" to="EVERYONE" rights="Read"/>`, `:2: unknown tenant list "subtenants:Nope"`},
		{"subtenants on a list", `<Permission object="tenant:group:Nope" to="EVERYONE" rights="Read" subtenants="true"/>`, `:2:70: subtenants="true" needs one tenant, and tenant:group:Nope is a tenant list`},
		{"subtenants on a table", `<Permission object="table:public.Customer" to="EVERYONE" rights="Read" subtenants="true"/>`, `:2:74: subtenants="true" applies to tenant:NAME objects`},
		{"same tenant twice", `<Permission object="tenant:2" to="EVERYONE" rights="Read"/>
  <Permission object="tenant:Acme" to="EVERYONE" rights="Read"/>`, `:3: a second entry for "EVERYONE" on tenant:Acme (tenant:2 at line 2 names the same tenant)`},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := writeFile(t, dir, strings.ReplaceAll(c.name, " ", "_")+".xml", "<AccessControl>\n  "+c.entry+"\n</AccessControl>")
			res := testkit.Run(t, db, "acl", "plan", "--schema", overlay, "-f", p)
			if res.Code != 2 || !strings.HasPrefix(res.Stderr, "tenantkit: "+p+c.want) {
				t.Errorf("exit %d, stderr %q; want 2 and %q", res.Code, res.Stderr, p+c.want)
			}
		})
	}
}
