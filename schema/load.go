package schema

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/tenantkit/tenantkit/internal/dbconn"
	"github.com/tenantkit/tenantkit/internal/fault"
)

// Options say where the object schema comes from.
type Options struct {
	// Overlay is the path of the XML overlay; "" means none.
	Overlay string
	// DBSchema is the PostgreSQL schema holding the objects; "" means the
	// overlay's dbSchema attribute, else the connection's current schema.
	DBSchema string
	// TenantColumn is the conventional tenant column name; "" means the
	// overlay's tenantColumn attribute, else "tenant".
	TenantColumn string
}

// Load reads the catalog and merges the overlay. Errors in the overlay are
// *xmlnode.Error values naming the file, line and column.
func Load(ctx context.Context, q Querier, opts Options) (*Schema, error) {
	ov := &overlay{}
	if opts.Overlay != "" {
		var err error
		if ov, err = parseOverlay(opts.Overlay); err != nil {
			return nil, err
		}
	}
	dbSchema := firstNonEmpty(opts.DBSchema, ov.dbSchema)
	if dbSchema == "" {
		// tenantkit's sessions pin search_path and keep the schema the
		// role's own search_path gives in a setting (internal/dbconn).
		if err := q.QueryRow(ctx, "SELECT coalesce(nullif(pg_catalog.current_setting($1, true), ''), pg_catalog.current_schema(), 'public')",
			dbconn.DefaultSchemaSetting).Scan(&dbSchema); err != nil {
			return nil, fmt.Errorf("reading current schema: %w", err)
		}
	}
	var exists bool
	if err := q.QueryRow(ctx, "SELECT EXISTS (SELECT FROM pg_namespace WHERE nspname = $1)", dbSchema).Scan(&exists); err != nil {
		return nil, fmt.Errorf("reading schemas: %w", err)
	}
	if !exists {
		return nil, fault.NotFoundf("schema %q does not exist in the database", dbSchema)
	}
	cat, err := readCatalog(ctx, q, dbSchema)
	if err != nil {
		return nil, err
	}
	m := &merger{cat: cat, ov: ov, tenantColumn: firstNonEmpty(opts.TenantColumn, ov.tenantColumn, "tenant")}
	return m.merge()
}

type merger struct {
	cat          *catalog
	ov           *overlay
	tenantColumn string
	byTable      map[string]*Object
	byName       map[string]*Object
}

func (m *merger) merge() (*Schema, error) {
	s := &Schema{DBSchema: m.cat.schema, Objects: m.cat.objects()}
	m.byTable = map[string]*Object{}
	for _, o := range s.Objects {
		m.byTable[o.Table] = o
	}
	for _, o := range s.Objects {
		o.TenantColumn = m.tenantColumn
		if c := o.Column(m.tenantColumn); c == nil {
			o.Tenancy, o.TenantColumn = None, ""
		} else if c.NotNull {
			o.Tenancy = Required
		} else {
			o.Tenancy = Optional
		}
	}
	claimed := map[*Object]*overlayObject{}
	for _, oo := range m.ov.objects {
		o := m.byTable[strings.TrimPrefix(oo.table, m.cat.schema+".")]
		if o == nil {
			return nil, oo.node.Errorf("object %q: unknown table %q in schema %q", oo.name, oo.table, m.cat.schema)
		}
		if prev := claimed[o]; prev != nil {
			return nil, oo.node.Errorf("objects %q and %q are both on table %q", prev.name, oo.name, o.Table)
		}
		claimed[o] = oo
		if err := m.applyObject(o, oo); err != nil {
			return nil, err
		}
	}
	m.byName = map[string]*Object{}
	for _, o := range s.Objects {
		if other := m.byName[o.Name]; other != nil {
			return nil, fault.Usagef("object name %q names both table %q and table %q", o.Name, other.Table, o.Table)
		}
		m.byName[o.Name] = o
	}
	tt, err := m.tenantTable()
	if err != nil {
		return nil, err
	}
	if err := untenantTenantTable(tt, claimed[ttObject(tt)]); err != nil {
		return nil, err
	}
	s.Tenants = tt
	if err := m.foreignKeySrels(tt); err != nil {
		return nil, err
	}
	for _, oo := range m.ov.objects {
		if err := m.overlaySrels(m.byName[oo.name], oo); err != nil {
			return nil, err
		}
	}
	sort.Slice(s.Objects, func(i, j int) bool { return s.Objects[i].Name < s.Objects[j].Name })
	return s, nil
}

func (m *merger) applyObject(o *Object, oo *overlayObject) error {
	o.Name = oo.name
	if oo.tenantColumn != "" {
		if o.Column(oo.tenantColumn) == nil {
			a, _ := oo.node.Lookup("tenantColumn")
			return oo.node.AttrErrorf(a, "object %q: table %q has no column %q", oo.name, o.Table, oo.tenantColumn)
		}
		o.TenantColumn = oo.tenantColumn
		if oo.tenancy == "" && o.Tenancy == None {
			o.Tenancy = Optional
			if o.Column(oo.tenantColumn).NotNull {
				o.Tenancy = Required
			}
		}
	}
	switch oo.tenancy {
	case None:
		if oo.tenantColumn != "" {
			a, _ := oo.node.Lookup("tenantColumn")
			return oo.node.AttrErrorf(a, "object %q: tenancy none takes no tenantColumn", oo.name)
		}
		o.Tenancy, o.TenantColumn = None, ""
	case Required, Optional:
		if o.TenantColumn == "" || o.Column(o.TenantColumn) == nil {
			a, _ := oo.node.Lookup("tenancy")
			return oo.node.AttrErrorf(a, "object %q: tenancy %s but table %q has no tenant column %q (set tenantColumn)", oo.name, oo.tenancy, o.Table, m.tenantColumn)
		}
		o.Tenancy = oo.tenancy
	}
	for _, k := range oo.key {
		if o.Column(k) == nil {
			a, _ := oo.node.Lookup("key")
			return oo.node.AttrErrorf(a, "object %q: key column %q is not a column of table %q", oo.name, k, o.Table)
		}
	}
	o.Key = oo.key
	if oo.changeColumn != "" {
		if o.Column(oo.changeColumn) == nil {
			a, _ := oo.node.Lookup("changeColumn")
			return oo.node.AttrErrorf(a, "object %q: changeColumn %q is not a column of table %q", oo.name, oo.changeColumn, o.Table)
		}
		o.ChangeColumn = oo.changeColumn
	}
	return nil
}

func ttObject(tt *TenantTable) *Object {
	if tt == nil {
		return nil
	}
	return tt.Object
}

// untenantTenantTable makes the tenant table an object of tenancy none:
// its rows are the tenants, owned by nobody, even when its key column has
// the tenant columns' name (Chinook's "Tenant"("TenantId", …) with tenant
// columns "TenantId"). An overlay declaring it tenanted is an error.
func untenantTenantTable(tt *TenantTable, oo *overlayObject) error {
	if tt == nil {
		return nil
	}
	if oo != nil && (oo.tenancy == Required || oo.tenancy == Optional || oo.tenantColumn != "") {
		attr := "tenancy"
		if oo.tenancy == "" {
			attr = "tenantColumn"
		}
		a, _ := oo.node.Lookup(attr)
		return oo.node.AttrErrorf(a, "object %q: table %q is the tenant table, whose rows are the tenants: it cannot be tenanted", oo.name, tt.Table)
	}
	tt.Object.Tenancy, tt.Object.TenantColumn = None, ""
	return nil
}

// conventional column names of the tenant table, by role, first match wins.
var conventionalTenantColumns = map[string][]string{
	"name":              {"name", "tenant_name"},
	"parent":            {"parent", "parent_id", "parent_tenant", "parent_tenant_id"},
	"subtenantsAllowed": {"subtenants_allowed", "subtenants_ok", "allow_subtenants"},
	"active":            {"active", "is_active"},
	"serviceProvider":   {"service_provider", "is_service_provider"},
	"depth":             {"depth", "tenant_depth"},
}

func (m *merger) tenantTable() (*TenantTable, error) {
	ot := m.ov.tenants
	var o *Object
	if ot != nil {
		if o = m.byTable[strings.TrimPrefix(ot.table, m.cat.schema+".")]; o == nil {
			if o = m.byName[ot.table]; o == nil {
				a, _ := ot.node.Lookup("table")
				return nil, ot.node.AttrErrorf(a, "<Tenants>: unknown table %q in schema %q", ot.table, m.cat.schema)
			}
		}
	} else if o = m.discoverTenantTable(); o == nil {
		return nil, nil
	}
	tt := &TenantTable{Object: o, Schema: o.Schema, Table: o.Table, MaxDepth: 4}
	o.IsTenantTable = true
	if ot != nil {
		tt.MaxDepth, tt.MaxTenants = ot.maxDepth, ot.maxTenants
	}
	set := map[string]*string{
		"key": &tt.Key, "name": &tt.Name, "parent": &tt.Parent, "subtenantsAllowed": &tt.SubtenantsAllowed,
		"active": &tt.Active, "serviceProvider": &tt.ServiceProvider, "depth": &tt.Depth,
	}
	for _, role := range tenantRoles {
		if ot != nil && ot.columns[role] != "" {
			col := ot.columns[role]
			if o.Column(col) == nil {
				a, _ := ot.node.Lookup(role)
				return nil, ot.node.AttrErrorf(a, "<Tenants> %s: table %q has no column %q", role, o.Table, col)
			}
			*set[role] = col
			continue
		}
		for _, c := range conventionalTenantColumns[role] {
			if o.Column(c) != nil {
				*set[role] = c
				break
			}
		}
	}
	if tt.Key == "" {
		if len(o.PrimaryKey) != 1 {
			return nil, fault.Usagef("tenant table %q: no single-column primary key; name the key column in the overlay's <Tenants key=…>", o.Table)
		}
		tt.Key = o.PrimaryKey[0]
	}
	if tt.Name == "" {
		return nil, fault.Usagef("tenant table %q: no name column; name it in the overlay's <Tenants name=…>", o.Table)
	}
	return tt, nil
}

// discoverTenantTable picks the table most tenant columns point at, else a
// table with a conventional name.
func (m *merger) discoverTenantTable() *Object {
	votes := map[uint32]int{}
	for _, fk := range m.cat.fks {
		from := m.cat.byOID[fk.from]
		if len(fk.cols) == 1 && from != nil && from.TenantColumn == fk.cols[0] && fk.to != fk.from {
			votes[fk.to]++
		}
	}
	var best uint32
	for oid, n := range votes {
		if n > votes[best] || (n == votes[best] && best != 0 && m.cat.byOID[oid].Table < m.cat.byOID[best].Table) {
			best = oid
		}
	}
	if best != 0 {
		return m.cat.byOID[best]
	}
	for _, name := range []string{"tenant", "tenants", "ca_tenant"} {
		if o := m.byTable[name]; o != nil {
			return o
		}
	}
	return nil
}

func (m *merger) foreignKeySrels(tt *TenantTable) error {
	for _, fk := range m.cat.fks {
		from, to := m.cat.byOID[fk.from], m.cat.byOID[fk.to]
		if from == nil || to == nil {
			continue // a reference out of the schema
		}
		if tt != nil && to == tt.Object && len(fk.cols) == 1 && fk.cols[0] == from.TenantColumn {
			continue // the tenant column itself is not an SREL
		}
		cols, targetCols, withTenant := logicalReference(from, to, fk.cols, fk.targetCols)
		attr := cols[0]
		if len(cols) > 1 {
			attr = fk.name
		}
		from.Srels = append(from.Srels, &Srel{
			Attr: attr, Columns: cols, Target: to, TargetName: to.Name,
			TargetColumns: targetCols, ForeignKey: fk.name, WithTenant: withTenant,
		})
	}
	return nil
}

func (m *merger) overlaySrels(o *Object, oo *overlayObject) error {
	for _, os := range oo.srels {
		n := os.node
		if o.Column(os.column) == nil {
			return n.Errorf("object %q: SREL %q: table %q has no column %q", o.Name, os.attr, o.Table, os.column)
		}
		target := m.byName[os.to]
		if target == nil {
			target = m.byTable[os.to]
		}
		if target == nil {
			a, _ := n.Lookup("to")
			return n.AttrErrorf(a, "object %q: SREL %q points at unknown object %q", o.Name, os.attr, os.to)
		}
		toCols := target.LogicalKey(target.PrimaryKey)
		if os.toColumn != "" {
			if target.Column(os.toColumn) == nil {
				a, _ := n.Lookup("toColumn")
				return n.AttrErrorf(a, "object %q: SREL %q: object %q has no column %q", o.Name, os.attr, target.Name, os.toColumn)
			}
			toCols = []string{os.toColumn}
		}
		if len(toCols) != 1 {
			return n.Errorf("object %q: SREL %q: object %q has no single-column primary key; set toColumn", o.Name, os.attr, target.Name)
		}
		if s := findSrelByColumn(o, os.column); s != nil {
			if s.Target != target {
				return n.Errorf("object %q: SREL %q: column %q has a foreign key to %q, not %q", o.Name, os.attr, os.column, s.TargetName, target.Name)
			}
			s.Attr = os.attr
			s.ServiceProviderEligible = os.eligible
		} else {
			o.Srels = append(o.Srels, &Srel{
				Attr: os.attr, Columns: []string{os.column}, Target: target, TargetName: target.Name,
				TargetColumns: toCols, ServiceProviderEligible: os.eligible,
			})
		}
		for _, s := range o.Srels {
			if s.Attr == os.attr && !(len(s.Columns) == 1 && s.Columns[0] == os.column) {
				return n.Errorf("object %q: two SRELs named %q", o.Name, os.attr)
			}
		}
	}
	return nil
}

// logicalReference strips the pair of tenant columns from a foreign key
// (tenant, org) → (tenant, id) between two tenanted objects: the SREL is
// org → id. Other keys come back as they are, withTenant false.
func logicalReference(from, to *Object, cols, targetCols []string) (lcols, ltarget []string, withTenant bool) {
	if len(cols) < 2 || len(cols) != len(targetCols) || !from.Tenanted() || !to.Tenanted() {
		return cols, targetCols, false
	}
	i := slices.Index(cols, from.TenantColumn)
	if i < 0 || targetCols[i] != to.TenantColumn {
		return cols, targetCols, false
	}
	return slices.Delete(slices.Clone(cols), i, i+1), slices.Delete(slices.Clone(targetCols), i, i+1), true
}

func findSrelByColumn(o *Object, column string) *Srel {
	for _, s := range o.Srels {
		if len(s.Columns) == 1 && s.Columns[0] == column {
			return s
		}
	}
	return nil
}

func firstNonEmpty(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}
