package buildtenant

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/tenantkit/tenantkit/internal/fault"
	"github.com/tenantkit/tenantkit/internal/sqlcond"
	"github.com/tenantkit/tenantkit/internal/sqlq"
	"github.com/tenantkit/tenantkit/internal/xmlnode"
	"github.com/tenantkit/tenantkit/schema"
)

// boundObject is an <Object> rule checked against the object schema.
type boundObject struct {
	rule *ObjectRule
	obj  *schema.Object
	// rowKey identifies the object's rows: its primary key, or nil for the
	// physical row address (ctid), which is stable inside the run because
	// the table is locked against writes by others.
	rowKey []string
	maps   []boundMapping
	// name is the index in maps of the mapping to the tenant name column.
	name int
	// parent is the SREL from the object to itself that gives each row its
	// parent row; nil without a parent mapping.
	parent *schema.Srel
}

// boundMapping copies column from of the object to column to of the tenant table.
type boundMapping struct {
	from, to string
}

// bind checks every rule against the object schema; errors name the
// configuration file, line and column.
func bind(cfg *Config, s *schema.Schema) ([]*boundObject, error) {
	tt := s.Tenants
	if tt == nil {
		return nil, fault.Usagef("the database has no tenant table: create one, or name it in the overlay's <Tenants table=…>")
	}
	var out []*boundObject
	seen := map[*schema.Object]*ObjectRule{}
	for _, r := range cfg.Objects {
		b, err := bindObject(r, s)
		if err != nil {
			return nil, err
		}
		if prev := seen[b.obj]; prev != nil {
			return nil, r.Node.Errorf("object %q (table %q) is configured twice (first at line %d)", b.obj.Name, b.obj.Table, prev.Node.Line)
		}
		seen[b.obj] = r
		out = append(out, b)
	}
	return out, nil
}

func bindObject(r *ObjectRule, s *schema.Schema) (*boundObject, error) {
	tt := s.Tenants
	fromAttr, _ := r.Node.Lookup("from")
	o := s.Object(r.From)
	if o == nil {
		return nil, r.Node.AttrErrorf(fromAttr, "unknown object %q (not an object or table name of schema %q)", r.From, s.DBSchema)
	}
	if o.IsTenantTable {
		return nil, r.Node.AttrErrorf(fromAttr, "object %q is the tenant table itself, not a pre-tenant object", r.From)
	}
	if o.Tenancy != schema.Required {
		what := "has no tenant column"
		if o.Tenancy == schema.Optional {
			what = fmt.Sprintf("is tenant-optional (column %q)", o.TenantColumn)
		}
		return nil, r.Node.AttrErrorf(fromAttr, "object %q (table %q) %s; the pre-tenant object must be tenant-required: declare tenancy=\"required\" in the schema overlay", o.Name, o.Table, what)
	}
	b := &boundObject{rule: r, obj: o, rowKey: o.PrimaryKey, name: -1}
	derived := map[string]string{tt.Parent: "parent", tt.Depth: "depth", tt.ServiceProvider: "service provider", tt.SubtenantsAllowed: "subtenants allowed"}
	delete(derived, "")
	mapped := map[string]bool{}
	for _, m := range r.Attributes {
		from, err := sourceColumn(o, m)
		if err != nil {
			return nil, err
		}
		toAttr, _ := m.Node.Lookup("to")
		col := tt.Object.Column(m.To)
		switch {
		case col == nil:
			return nil, m.Node.AttrErrorf(toAttr, "tenant table %q has no column %q", tt.Table, m.To)
		case derived[m.To] != "":
			return nil, m.Node.AttrErrorf(toAttr, "tenant column %q (the %s) is set by buildtenant, not mapped", m.To, derived[m.To])
		case col.Generated:
			return nil, m.Node.AttrErrorf(toAttr, "tenant column %q is generated and cannot be written", m.To)
		}
		if m.To == tt.Name {
			b.name = len(b.maps)
		}
		mapped[m.To] = true
		b.maps = append(b.maps, boundMapping{from: from, to: m.To})
	}
	if b.name < 0 {
		return nil, r.Node.Errorf("object %q: no <Attribute> maps to the tenant name column %q", o.Name, tt.Name)
	}
	for _, c := range tt.Object.Columns {
		if c.NotNull && !c.HasDefault() && !c.Generated && !mapped[c.Name] && derived[c.Name] == "" {
			return nil, r.Node.Errorf("object %q: tenant column %q is NOT NULL and has no default: map an <Attribute> to it", o.Name, c.Name)
		}
	}
	if r.Parent != nil {
		p, err := parentSrel(o, tt, r.Parent)
		if err != nil {
			return nil, err
		}
		b.parent = p
	}
	if r.Where != "" {
		if err := sqlcond.Check(r.Where); err != nil {
			return nil, r.WhereNode.Errorf("<Where>: %v", err)
		}
	}
	return b, nil
}

// sourceColumn resolves an <Attribute from=…>: a column of the object, else
// the attribute name of a one-column SREL.
func sourceColumn(o *schema.Object, m *Mapping) (string, error) {
	if o.Column(m.From) != nil {
		return m.From, nil
	}
	if sr := o.Srel(m.From); sr != nil && len(sr.Columns) == 1 {
		return sr.Columns[0], nil
	}
	a, _ := m.Node.Lookup("from")
	return "", m.Node.AttrErrorf(a, "object %q has no attribute %q (not a column of table %q)", o.Name, m.From, o.Table)
}

// parentSrel resolves <Parent from=…>: an SREL (by attribute, else by its
// column) from the object to itself whose target columns identify one row.
func parentSrel(o *schema.Object, tt *schema.TenantTable, p *ParentRule) (*schema.Srel, error) {
	a, _ := p.Node.Lookup("from")
	if tt.Parent == "" {
		return nil, p.Node.AttrErrorf(a, "<Parent>: tenant table %q has no parent column, so tenants cannot form a hierarchy", tt.Table)
	}
	sr := o.Srel(p.From)
	if sr == nil {
		for _, cand := range o.Srels {
			if len(cand.Columns) == 1 && cand.Columns[0] == p.From {
				sr = cand
			}
		}
	}
	if sr == nil {
		return nil, p.Node.AttrErrorf(a, "<Parent>: object %q has no SREL %q (declare it in the overlay: <Srel attr=%q column=… to=%q/>)", o.Name, p.From, p.From, o.Name)
	}
	if sr.Target != o {
		return nil, p.Node.AttrErrorf(a, "<Parent>: SREL %q of object %q points at object %q; the parent SREL must point at %q itself", sr.Attr, o.Name, sr.TargetName, o.Name)
	}
	if !o.IsUnique(sr.TargetColumns) {
		return nil, p.Node.AttrErrorf(a, "<Parent>: SREL %q points at columns (%s) of %q, which are not its primary key or a unique constraint", sr.Attr, strings.Join(sr.TargetColumns, ", "), o.Table)
	}
	return sr, nil
}

// The server checks what only it can: that the Where condition is a valid
// boolean condition on the object's table, and that every mapped attribute
// can be assigned to its tenant column. EXPLAIN plans without running.
const (
	explainWhereSQL   = "EXPLAIN SELECT FROM %s WHERE %s"
	explainMappingSQL = "EXPLAIN INSERT INTO %s (%s) SELECT %s.%s FROM %s"
)

// checkWithServer reports a configuration the server rejects, positioned at
// the offending element. Each check runs in a savepoint of tx.
func checkWithServer(ctx context.Context, tx pgx.Tx, tt *schema.TenantTable, objs []*boundObject) error {
	explain := func(sql string) error {
		return sqlq.Savepoint(ctx, tx, func(sp pgx.Tx) error {
			_, err := sp.Exec(ctx, sql)
			return err
		})
	}
	for _, b := range objs {
		oi := b.obj.Ident()
		for i, m := range b.maps {
			sql := fmt.Sprintf(explainMappingSQL, tt.Ident(), sqlq.Ident(m.to), oi, sqlq.Ident(m.from), oi)
			if err := explain(sql); err != nil {
				n := b.rule.Attributes[i].Node
				return configError(n, fmt.Sprintf("<Attribute from=%q to=%q>", b.rule.Attributes[i].From, m.to), err)
			}
		}
		if b.rule.Where != "" {
			if err := explain(fmt.Sprintf(explainWhereSQL, oi, sqlcond.Wrap(b.rule.Where))); err != nil {
				return configError(b.rule.WhereNode, "<Where>", err)
			}
		}
	}
	return nil
}

// configError turns a server error about configured SQL into a positioned
// configuration error (exit 2); other errors stay database failures.
func configError(n *xmlnode.Node, what string, err error) error {
	if pgErr := sqlcond.Refusal(err); pgErr != nil {
		return n.Errorf("%s: %s", what, pgErr.Message)
	}
	return fault.Failure(fmt.Errorf("checking %s at %s:%d: %w", what, n.File, n.Line, err))
}

// ident quotes one identifier.
