package schema

import "github.com/tenantkit/tenantkit/internal/xmlnode"

// Declared is what an overlay file declares, read without a database:
// the tenant table and each object's tenancy and tenant column. prepare
// makes a database match it before the overlay can be merged with the
// catalog (Load refuses an object whose declared tenant column is missing).
type Declared struct {
	// DBSchema is the overlay's dbSchema, "" when it names none.
	DBSchema string
	// Tenants is nil when the overlay has no <Tenants>.
	Tenants *DeclaredTenants
	Objects []*DeclaredObject
}

// DeclaredTenants is the overlay's <Tenants>.
type DeclaredTenants struct {
	Node  *xmlnode.Node
	Table string
	// Columns maps a role (key, name, parent, subtenantsAllowed, active,
	// serviceProvider, depth) to the column the overlay names for it.
	Columns map[string]string
}

// Column is the column the overlay names for role, else the first
// conventional name Load looks for.
func (t *DeclaredTenants) Column(role string) string {
	if c := t.Columns[role]; c != "" {
		return c
	}
	if role == "key" {
		return "id"
	}
	return conventionalTenantColumns[role][0]
}

// TenantRoles are the tenant table's roles, in the order of its columns.
func TenantRoles() []string { return append([]string(nil), tenantRoles...) }

// DeclaredObject is one <Object> of the overlay.
type DeclaredObject struct {
	Node  *xmlnode.Node
	Name  string
	Table string
	// Tenancy is "" when the overlay leaves it to the catalog.
	Tenancy Tenancy
	// TenantColumn is the object's tenant column: its own attribute, else
	// the overlay's tenantColumn, else "tenant".
	TenantColumn string
}

// ReadOverlay reads and structurally validates an overlay file, without
// checking it against a database.
func ReadOverlay(file string) (*Declared, error) {
	ov, err := parseOverlay(file)
	if err != nil {
		return nil, err
	}
	d := &Declared{DBSchema: ov.dbSchema}
	if t := ov.tenants; t != nil {
		d.Tenants = &DeclaredTenants{Node: t.node, Table: t.table, Columns: t.columns}
	}
	for _, o := range ov.objects {
		d.Objects = append(d.Objects, &DeclaredObject{
			Node: o.node, Name: o.name, Table: o.table, Tenancy: o.tenancy,
			TenantColumn: firstNonEmpty(o.tenantColumn, ov.tenantColumn, "tenant"),
		})
	}
	return d, nil
}
