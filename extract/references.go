package extract

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/tenantkit/tenantkit/datafile"

	"github.com/tenantkit/tenantkit/internal/fault"
	"github.com/tenantkit/tenantkit/internal/sqlq"
	"github.com/tenantkit/tenantkit/schema"
	"github.com/tenantkit/tenantkit/tenant"
)

// The closure of --with-references: every row of another owner that the
// tenant's rows reference through SRELs, directly or through other rows so
// found, where the reference rule (tenant.RefRule) allows the reference —
// public rows, the tenant's supertenants' rows and, through eligible SRELs,
// the service provider's. Those rows are written in SHARED sections, with
// their tenant column, after a SHARED section of the tenant table naming
// each owner's key and name: userload maps the owners to the target
// database's tenants by name and inserts shared rows only where the target
// lacks them, so that it keeps its own copies.

// checkReferencesOptions refuses what --with-references cannot do.
func checkReferencesOptions(opts TenantOptions) error {
	switch {
	case opts.WithPublic:
		return fault.Usagef("TenantOptions.WithReferences already includes the public rows: drop TenantOptions.WithPublic")
	case opts.Subtenants:
		return fault.Usagef("TenantOptions.WithReferences moves one tenant: TenantOptions.Subtenants would merge the subtenants' rows into it on load (move each subtenant with its own run, parents first)")
	case opts.Control != "":
		return fault.Usagef("TenantOptions.WithReferences writes a full copy: it cannot be combined with Options.Control")
	case opts.Output.Format != "" && opts.Output.Format != datafile.Userload:
		return fault.Usagef("TenantOptions.WithReferences writes SHARED sections, which only the userload format can mark: Output.Format %s cannot hold them", opts.Output.Format)
	}
	if p := opts.Output.Path; p != "" && p != "-" && opts.Output.Format == "" {
		if f, err := datafile.DetectFormat(p, ""); err == nil && f != datafile.Userload {
			return fault.Usagef("TenantOptions.WithReferences writes SHARED sections, which only the userload format can mark: Output.Path %s would be %s (name a .dat file)", p, f)
		}
	}
	return nil
}

// isReferenceCapable reports whether o's rows can be shared rows: any
// object but the tenant table.
func isReferenceCapable(o *schema.Object) bool { return o != nil && !o.IsTenantTable }

// ownerExpr is the SQL expression, as text, of the owner of rows a of o:
// NULL for an object without tenancy.
func ownerExpr(o *schema.Object, a string) string {
	if !o.Tenanted() {
		return "NULL::text"
	}
	return fmt.Sprintf("%s.%s::text", a, sqlq.Ident(o.TenantColumn))
}

// notOwnCond is the condition on alias a that a row of o belongs to none
// of the extracted tenants.
func (r *rowSelection) notOwnCond(o *schema.Object, a string) string {
	if !o.Tenanted() {
		return "true"
	}
	return fmt.Sprintf("(%s.%s IS NULL OR NOT %s)", a, sqlq.Ident(o.TenantColumn), r.ownerCond(o, a))
}

// addReferences collects the shared rows, round by round as addPublic does,
// until no new row turns up.
func (r *rowSelection) addReferences(ctx context.Context, tx pgx.Tx, tt *schema.TenantTable) error {
	sp, err := tenant.ServiceProvider(ctx, tx, tt)
	switch {
	case errors.Is(err, tenant.ErrNotFound):
		sp = nil
	case err != nil:
		return fault.Failure(fmt.Errorf("reading the service provider: %w", err))
	}
	return r.closure(ctx, tx, isReferenceCapable, "tk_shared_", "shared", func(o *schema.Object) string { return r.collectSharedSQL(o, tt, sp) })
}

// collectSharedSQL adds to o's shared set the rows of o, owned by none of
// the extracted tenants, that a selected row references where the
// reference rule allows it; "" when nothing can reference o.
func (r *rowSelection) collectSharedSQL(o *schema.Object, tt *schema.TenantTable, sp *tenant.Tenant) string {
	p := r.public[o]
	refs := r.referencesTo(o, func(src *schema.Object, s *schema.Srel) string {
		rule := tenant.RefRule{Owner: ownerExpr(src, "s"), Referenced: ownerExpr(o, "t"), Ancestors: "anc", OwnerRequired: src.Tenancy == schema.Required}
		if s.ServiceProviderEligible && sp != nil {
			rule.ServiceProvider = sqlq.Lit(sp.ID)
		}
		return "NOT (" + rule.Violation() + ")"
	})
	if len(refs) == 0 {
		return ""
	}
	return fmt.Sprintf(`WITH RECURSIVE %s INSERT INTO %s (rel, tid) SELECT t.tableoid, t.ctid FROM %s t
WHERE %s AND NOT %s AND (%s)`, tenant.AncestorsCTE(tt, "anc"), p.table, o.Ident(), r.notOwnCond(o, "t"), p.cond("t"), strings.Join(refs, "\n OR "))
}

// referenceSections builds the output of --with-references: the SHARED
// section of the tenant table (the owners of the shared rows: key and
// name), then per object, parents before children, its SHARED section and
// the tenant's own rows.
func (r *rowSelection) referenceSections(tt *schema.TenantTable, stripTenant bool) []*section {
	objs := append([]*schema.Object(nil), r.order...)
	for o, p := range r.public {
		if _, ok := r.tenantObjs[o]; !ok && p.rows > 0 {
			objs = append(objs, o)
		}
	}
	var owners []string
	for _, o := range schema.Ordered(objs) {
		if p := r.public[o]; p != nil && p.rows > 0 && o.Tenanted() {
			owners = append(owners, fmt.Sprintf("SELECT %s FROM %s t WHERE %s", ownerExpr(o, "t"), o.Ident(), p.cond("t")))
		}
	}
	var out []*section
	if len(owners) > 0 {
		sec := &section{obj: tt.Object, what: "table " + tt.Table + " (the owners of the shared rows)"}
		sec.table.Name, sec.table.Shared = tt.Table, true
		for _, c := range []string{tt.Key, tt.Name} {
			sec.table.Columns = append(sec.table.Columns, c)
			sec.table.Types = append(sec.table.Types, columnType(tt.Object, c))
		}
		sec.from = fmt.Sprintf(" FROM %s t WHERE t.%s::text IN (%s)", tt.Ident(), sqlq.Ident(tt.Key), strings.Join(owners, " UNION "))
		sec.query = fmt.Sprintf("SELECT t.%s, t.%s", sqlq.Ident(tt.Key), sqlq.Ident(tt.Name)) + sec.from
		out = append(out, sec)
	}
	for _, o := range schema.Ordered(objs) {
		if p := r.public[o]; p != nil && p.rows > 0 {
			cols := loadableColumns(o, false)
			sec := &section{obj: o, what: "table " + o.Table + " (shared rows)"}
			sec.table.Name, sec.table.Shared = o.Table, true
			setColumns(sec, cols)
			sec.from = fromClause(o, []string{p.cond("t")})
			sec.query = selectList(cols) + sec.from
			out = append(out, sec)
		}
		if cond, ok := r.tenantObjs[o]; ok {
			cols := loadableColumns(o, stripTenant)
			sec := &section{obj: o, what: "table " + o.Table, inc: r.incs[o]}
			sec.table.Name = o.Table
			setColumns(sec, cols)
			sec.from = fromClause(o, []string{cond("t")})
			sec.query = selectList(cols) + sec.from
			out = append(out, sec)
		}
	}
	return out
}

// loadableColumns are o's columns but generated ones (and, with
// stripTenant, the tenant column).
func loadableColumns(o *schema.Object, stripTenant bool) []schema.Column {
	var cols []schema.Column
	for _, c := range o.Columns {
		if !c.Generated && !(stripTenant && c.Name == o.TenantColumn) {
			cols = append(cols, c)
		}
	}
	return cols
}

func setColumns(sec *section, cols []schema.Column) {
	for _, c := range cols {
		sec.table.Columns = append(sec.table.Columns, c.Name)
		sec.table.Types = append(sec.table.Types, c.Type)
	}
}

// columnType is the type of o's column name, "" when o or the column is unknown.
func columnType(o *schema.Object, name string) string {
	if o == nil {
		return ""
	}
	if c := o.Column(name); c != nil {
		return c.Type
	}
	return ""
}

// checkStrippedPublic refuses --with-public --strip-tenant when a public
// row comes from a tenanted table: without its tenant column, userload -t
// would give that row to the new tenant. Rows of objects without tenancy
// have no tenant column and load as they are.
func (r *rowSelection) checkStrippedPublic() error {
	var bad []string
	for _, o := range schema.Ordered(mapKeys(r.public)) {
		if p := r.public[o]; p.rows > 0 && o.Tenanted() {
			bad = append(bad, fmt.Sprintf("%s (%d)", o.Table, p.rows))
		}
	}
	if len(bad) == 0 {
		return nil
	}
	return fault.Usagef("TenantOptions.WithPublic with TenantOptions.StripTenant: public rows of tenanted tables are referenced (%s): without the tenant column load.Options.Tenant would give them to the new tenant; use TenantOptions.WithReferences, which keeps their owners", strings.Join(bad, ", "))
}
