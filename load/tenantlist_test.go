package load_test

import (
	"testing"

	"github.com/tenantkit/tenantkit/internal/testkit"
)

// TestTenantFlagRefusesTenantLists: userload's and verify's -t take one
// tenant; a tenant group or another list is refused in one line, exit 2,
// and nothing is loaded (Northwind-shaped schema).
func TestTenantFlagRefusesTenantLists(t *testing.T) {
	db := testkit.NewDB(t)
	db.Exec(t, `CREATE TABLE tenants (id integer PRIMARY KEY, company_name text NOT NULL UNIQUE, parent_id integer REFERENCES tenants);
		CREATE TABLE shippers (shipper_id integer PRIMARY KEY, company_name text NOT NULL, tenant_id integer NOT NULL REFERENCES tenants);
		INSERT INTO tenants VALUES (1, 'SP', NULL), (2, 'Acme', 1), (3, 'Globex', 1)`)
	overlay := testkit.WriteFile(t, "northwind.xml", `<Schema tenantColumn="tenant_id"><Tenants table="tenants" key="id" name="company_name" parent="parent_id"/></Schema>`)
	if res := testkit.Run(t, db, "--schema", overlay, "tenant", "group", "create", "US regions", "Acme", "Globex"); res.Code != 0 {
		t.Fatalf("tenant group create: %d %s", res.Code, res.Stderr)
	}
	f := write(t, "shippers.dat", "TABLE shippers\n shipper_id company_name\n { \"1\", \"Speedy Express\" }\n")
	for ref, want := range map[string]string{
		"US regions":       `tenantkit: userload: -t "US regions" is a tenant list (2 tenants): -t takes one tenant, by name or key` + "\n",
		"group:US regions": `tenantkit: userload: -t "group:US regions" is a tenant list (2 tenants): -t takes one tenant, by name or key` + "\n",
		"subtenants:SP":    `tenantkit: userload: -t "subtenants:SP" is a tenant list (3 tenants): -t takes one tenant, by name or key` + "\n",
		// Neither a tenant nor a list: tenant.LookupActive's message.
		"Nobody": `tenantkit: userload: -t: unknown tenant "Nobody": no tenant has this name or key` + "\n",
	} {
		res := userload(t, db, 2, "--schema", overlay, "-t", ref, "-f", f)
		if res.Stderr != want {
			t.Errorf("-t %q: stderr %q, want %q", ref, res.Stderr, want)
		}
	}
	wantRows(t, db, "SELECT count(*) FROM shippers", "0")
	// verify -f FILE -t takes one tenant too.
	res := testkit.Run(t, db, "verify", "--schema", overlay, "-f", f, "-t", "group:US regions")
	if want := `tenantkit: userload: -t "group:US regions" is a tenant list (2 tenants): -t takes one tenant, by name or key` + "\n"; res.Code != 2 || res.Stderr != want {
		t.Errorf("verify -t a list: exit %d, stderr %q, want 2 and %q", res.Code, res.Stderr, want)
	}
	userload(t, db, 0, "--schema", overlay, "-t", "Acme", "-f", f)
	wantRows(t, db, "SELECT company_name, tenant_id FROM shippers", "Speedy Express|2")
}
