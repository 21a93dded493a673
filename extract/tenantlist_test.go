package extract_test

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tenantkit/tenantkit/internal/testkit"
)

// TestTenantExtractTenantList: --tenant takes an item of a tenant list (a
// group by group:NAME or by its name, subtenants:T), on a Northwind-shaped
// schema.
func TestTenantExtractTenantList(t *testing.T) {
	db := testkit.NewDB(t)
	db.Exec(t, `CREATE TABLE tenants (id integer PRIMARY KEY, company_name text NOT NULL UNIQUE, parent_id integer REFERENCES tenants);
		CREATE TABLE employees (employee_id integer PRIMARY KEY, last_name text NOT NULL, tenant_id integer NOT NULL REFERENCES tenants);
		INSERT INTO tenants VALUES (1, 'SP', NULL), (2, 'Acme', 1), (3, 'Acme EU', 2), (4, 'Globex', 1);
		INSERT INTO employees VALUES (1, 'Davolio', 1), (2, 'Fuller', 2), (3, 'Leverling', 3), (4, 'Peacock', 4)`)
	dir := t.TempDir()
	overlay := testkit.WriteFile(t, "northwind.xml", `<Schema tenantColumn="tenant_id"><Tenants table="tenants" key="id" name="company_name" parent="parent_id"/></Schema>`)
	run(t, db, 0, "--schema", overlay, "tenant", "group", "create", "US regions", "Globex", "Acme EU")
	for _, c := range []struct {
		tenant string
		extra  []string
		want   []string
	}{
		{"group:US regions", nil, []string{"Leverling", "Peacock"}},
		{"US regions", nil, []string{"Leverling", "Peacock"}},
		{"subtenants:Acme", nil, []string{"Fuller", "Leverling"}},
		{"supertenants:Acme", []string{"--subtenants"}, []string{"Davolio", "Fuller", "Leverling", "Peacock"}},
		{"2", nil, []string{"Fuller"}},
	} {
		out := filepath.Join(dir, "out.dat")
		run(t, db, 0, append([]string{"--schema", overlay, "tenant-extract", "--tenant", c.tenant, "-o", out}, c.extra...)...)
		got := readData(t, out)["employees"].column(t, "last_name")
		slices.Sort(got)
		if !slices.Equal(got, c.want) {
			t.Errorf("--tenant %q %v: employees %v, want %v", c.tenant, c.extra, got, c.want)
		}
	}
	res := run(t, db, 2, "--schema", overlay, "tenant-extract", "--tenant", "group:Nowhere", "-o", filepath.Join(dir, "x.dat"))
	if want := `unknown tenant list "group:Nowhere"`; !strings.Contains(res.Stderr, want) {
		t.Errorf("stderr %q lacks %q", res.Stderr, want)
	}
}
