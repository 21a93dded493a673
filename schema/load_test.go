package schema

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/tenantkit/tenantkit/internal/testkit"
)

func TestMain(m *testing.M) { testkit.Main(m) }

func TestLoadFixtures(t *testing.T) {
	db := testkit.NewFixtureDB(t)
	s, err := Load(context.Background(), db.Pool, Options{Overlay: filepath.Join("..", "fixtures", "schema.xml")})
	if err != nil {
		t.Fatal(err)
	}
	if s.Tenants == nil || s.Tenants.Table != "ca_tenant" || s.Tenants.Depth != "tenant_depth" || s.Tenants.SubtenantsAllowed != "subtenants_ok" || s.Tenants.MaxDepth != 4 {
		t.Fatalf("tenant table = %+v", s.Tenants)
	}
	cr := s.Object("cr")
	if cr == nil || cr != s.Object("call_req") {
		t.Fatal("object cr not found by name and table")
	}
	as := cr.Srel("assignee")
	if as == nil || as.ForeignKey != "" || !as.ServiceProviderEligible || as.Target != s.Object("cnt") || !reflect.DeepEqual(as.TargetColumns, []string{"id"}) {
		t.Errorf("assignee srel = %+v", as)
	}
	cu := cr.Srel("customer")
	if cu == nil || cu.ForeignKey == "" || cu.ServiceProviderEligible {
		t.Errorf("customer srel = %+v", cu)
	}
	if cr.Srel("tenant") != nil {
		t.Error("the tenant column became an SREL")
	}
	order := Ordered([]*Object{s.Object("cr"), s.Object("cnt"), s.Object("org"), s.Object("pcat"), s.Object("loc"), s.Object("cnt")})
	var names []string
	for _, o := range order {
		names = append(names, o.Name)
	}
	if got := strings.Join(names, " "); got != "loc org pcat cnt cr" {
		t.Errorf("Ordered = %s, want loc org pcat cnt cr", got)
	}
}

func TestLoadWithoutOverlay(t *testing.T) {
	db := testkit.NewFixtureDB(t)
	s, err := Load(context.Background(), db.Pool, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if s.Tenants == nil || s.Tenants.Table != "ca_tenant" || s.Tenants.Key != "id" || s.Tenants.Parent != "parent" || s.Tenants.Active != "active" {
		t.Fatalf("discovered tenant table = %+v", s.Tenants)
	}
	o := s.Object("ca_organization")
	if o == nil || o.Name != "ca_organization" || o.Tenancy != Optional || o.Srel("parent_org_id") != nil {
		t.Fatalf("ca_organization without overlay = %+v", o)
	}
	if p := s.Object("priority"); p.Tenancy != None || p.TenantColumn != "" {
		t.Errorf("priority = %+v", p)
	}
}

// TestLoadOverlayCatalogErrors covers overlays that are well formed but name
// things the database lacks.
func TestLoadOverlayCatalogErrors(t *testing.T) {
	db := testkit.NewFixtureDB(t)
	tests := []struct {
		name, xml, want string
	}{
		{"unknown table", `<Schema>
  <Object name="x" table="no_such_table"/>
</Schema>`, `:2:3: object "x": unknown table "no_such_table" in schema "public"`},
		{"unknown column", `<Schema>
  <Object name="org" table="ca_organization" key="nope"/>
</Schema>`, `:2:46: object "org": key column "nope" is not a column of table "ca_organization"`},
		{"srel unknown column", `<Schema>
  <Object name="org" table="ca_organization">
    <Srel attr="p" column="nope" to="org"/>
  </Object>
</Schema>`, `:3:5: object "org": SREL "p": table "ca_organization" has no column "nope"`},
		{"srel unknown object", `<Schema>
  <Object name="org" table="ca_organization">
    <Srel attr="p" column="parent_org_id" to="ghost"/>
  </Object>
</Schema>`, `:3:43: object "org": SREL "p" points at unknown object "ghost"`},
		{"two objects one table", `<Schema>
  <Object name="a" table="ca_organization"/>
  <Object name="b" table="ca_organization"/>
</Schema>`, `:3:3: objects "a" and "b" are both on table "ca_organization"`},
		{"required without tenant column", `<Schema>
  <Object name="pri" table="priority" tenancy="required"/>
</Schema>`, `:2:39: object "pri": tenancy required but table "priority" has no tenant column "tenant" (set tenantColumn)`},
		{"srel contradicts foreign key", `<Schema>
  <Object name="cr" table="call_req">
    <Srel attr="customer" to="call_req"/>
  </Object>
</Schema>`, `:3:5: object "cr": SREL "customer": column "customer" has a foreign key to "ca_contact", not "cr"`},
		{"unknown tenants table", `<Schema>
  <Tenants table="tenantz"/>
</Schema>`, `:2:12: <Tenants>: unknown table "tenantz" in schema "public"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "overlay.xml")
			if err := os.WriteFile(p, []byte(tt.xml), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := Load(context.Background(), db.Pool, Options{Overlay: p})
			if err == nil {
				t.Fatalf("Load succeeded, want %q", tt.want)
			}
			if got := err.Error(); got != p+tt.want {
				t.Errorf("error\n got %q\nwant %q", got, p+tt.want)
			}
		})
	}
}

// TestTenantTableNeverTenanted: Chinook's "Tenant"("TenantId", …) with
// tenant columns "TenantId" has the tenant columns' name as its key
// column; it is still the tenant table, not a tenant-required object
// (issue 21, point 4), and an overlay that says otherwise is an error.
func TestTenantTableNeverTenanted(t *testing.T) {
	db, overlay := testkit.NewChinookDB(t)
	ctx := context.Background()
	for _, opts := range []Options{{Overlay: overlay}, {Overlay: overlay, TenantColumn: "TenantId"}} {
		s, err := Load(ctx, db.Pool, opts)
		if err != nil {
			t.Fatal(err)
		}
		if s.Tenants == nil || s.Tenants.Table != "Tenant" || s.Tenants.Key != "TenantId" {
			t.Fatalf("%+v: tenant table = %+v", opts, s.Tenants)
		}
		o := s.Object("Tenant")
		if !o.IsTenantTable || o.Tenancy != None || o.TenantColumn != "" || o.Tenanted() {
			t.Errorf("%+v: the tenant table is %s (column %q), want none", opts, o.Tenancy, o.TenantColumn)
		}
		if e := s.Object("Employee"); e.Tenancy != Required || e.TenantColumn != "TenantId" || e.Srel("TenantId") != nil {
			t.Errorf("%+v: Employee = %s (column %q)", opts, e.Tenancy, e.TenantColumn)
		}
		for _, o := range s.Tenanted() {
			if o.Table == "Tenant" {
				t.Errorf("%+v: Tenanted() lists the tenant table", opts)
			}
		}
		var b strings.Builder
		if err := s.WriteText(&b); err != nil {
			t.Fatal(err)
		}
		if text := b.String(); !strings.Contains(text, "object Tenant (table Tenant)\n  the tenant table\n  tenancy   none\n") {
			t.Errorf("%+v: schema text:\n%s", opts, b.String())
		}
	}
	bad := testkit.WriteFile(t, "bad.xml", `<Schema tenantColumn="TenantId">
  <Tenants table="Tenant" key="TenantId" name="Name"/>
  <Object name="Tenant" tenancy="required"/>
</Schema>`)
	_, err := Load(ctx, db.Pool, Options{Overlay: bad})
	if want := bad + `:3:25: object "Tenant": table "Tenant" is the tenant table, whose rows are the tenants: it cannot be tenanted`; err == nil || err.Error() != want {
		t.Errorf("overlay declaring the tenant table tenanted: %v, want %s", err, want)
	}
}
