package extract

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tenantkit/tenantkit/internal/fault"
	"github.com/tenantkit/tenantkit/internal/sqlq"
	"github.com/tenantkit/tenantkit/schema"
	"github.com/tenantkit/tenantkit/tenant"
)

// TenantOptions control an extract of one tenant's rows.
type TenantOptions struct {
	// Tenant is the tenant's name or key, or one item of a tenant list
	// (a tenant group, group:NAME, subtenants:T, …; see tenant.ResolveList):
	// the rows of every tenant of the list.
	Tenant string
	// Objects are object or table names or patterns; nil means every
	// tenanted object.
	Objects []string
	// Subtenants adds the rows of the tenant's descendants.
	Subtenants bool
	// WithPublic adds the public rows the extracted rows reference,
	// directly or through other public rows.
	WithPublic bool
	// StripTenant leaves the tenant column out, so that the file can seed
	// another tenant with userload -t.
	StripTenant bool
	// WithReferences adds every row of another owner that the extracted
	// rows reference where the reference rule allows it (public rows, the
	// tenant's supertenants', the service provider's through eligible
	// SRELs), directly or through rows so found, in SHARED sections after
	// a SHARED section of the tenant table naming their owners: the file
	// moves the tenant into another database with userload -t (see
	// referenceSections). It takes one tenant and the userload format.
	WithReferences bool
	Output         Output
	// Control is the path of the incremental control file; "" means a
	// full extract.
	Control string
}

// ExtractTenant writes every row a tenant owns, parents before children.
//
// Without WithPublic or WithReferences the run is one READ ONLY
// transaction. WithPublic (and WithReferences, for the shared rows) finds
// the referenced public rows set-based, collecting their row identities in
// temporary tables round by round until no new row is referenced; that
// needs a read-write transaction, which is always rolled back.
func ExtractTenant(ctx context.Context, pool *pgxpool.Pool, s *schema.Schema, opts TenantOptions) (*Summary, error) {
	if s.Tenants == nil {
		return nil, fault.Usagef("the database has no tenant table (name it with <Tenants> in the schema.Options.Overlay file)")
	}
	if opts.WithReferences {
		if err := checkReferencesOptions(opts); err != nil {
			return nil, err
		}
	}
	objs, err := tenantObjects(s, opts.Objects)
	if err != nil {
		return nil, err
	}
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return nil, fault.Failure(err)
	}
	defer conn.Release()
	res, err := tenant.ResolveRefs(ctx, conn, s.Tenants, []string{opts.Tenant})
	if errors.Is(err, tenant.ErrNotFound) {
		if strings.Contains(opts.Tenant, ":") {
			return nil, fault.NotFoundf("unknown tenant list %q: %v", opts.Tenant, err)
		}
		return nil, fault.NotFoundf("unknown tenant %q: no tenant or tenant group has this name or key", opts.Tenant)
	}
	if err != nil {
		return nil, fault.Failure(err)
	}
	var owners []string
	for _, t := range res[0].Tenants {
		owners = append(owners, t.ID)
	}
	if len(owners) == 0 {
		return nil, fault.Usagef("tenant list %q holds no tenant", opts.Tenant)
	}
	if opts.WithReferences && !res[0].Single() {
		return nil, fault.Usagef("TenantOptions.WithReferences moves one tenant: %q is a tenant list (%d tenants)", opts.Tenant, len(owners))
	}
	var ctl *control
	var clamp *time.Time
	if opts.Control != "" {
		scope := "tenant " + owners[0]
		if !res[0].Single() {
			scope = "tenants " + strings.Join(owners, ",")
		}
		if opts.Subtenants {
			scope += " with subtenants"
		}
		if ctl, err = loadControl(opts.Control, "tenant-extract", scope); err != nil {
			return nil, err
		}
		if clamp, err = inFlightSince(ctx, conn.Conn()); err != nil {
			return nil, err
		}
	}
	access := pgx.ReadOnly
	if opts.WithPublic || opts.WithReferences {
		access = pgx.ReadWrite
	}
	tx, err := conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: access})
	if err != nil {
		return nil, fault.Failure(err)
	}
	defer tx.Rollback(context.Background())
	if err := setSession(ctx, tx); err != nil {
		return nil, err
	}
	if opts.Subtenants {
		if owners, err = descendants(ctx, tx, s.Tenants, owners); err != nil {
			return nil, err
		}
	}
	sel := &rowSelection{owners: owners, tenantObjs: map[*schema.Object]func(string) string{}}
	for _, o := range objs {
		var inc *increment
		if ctl != nil {
			inc = ctl.increment(o, clamp)
		}
		sel.add(o, inc)
	}
	if opts.WithReferences {
		if err := sel.addReferences(ctx, tx, s.Tenants); err != nil {
			return nil, err
		}
		return run(ctx, tx, sel.referenceSections(s.Tenants, opts.StripTenant), opts.Output, ctl)
	}
	if opts.WithPublic {
		if err := sel.addPublic(ctx, tx); err != nil {
			return nil, err
		}
		if opts.StripTenant {
			if err := sel.checkStrippedPublic(); err != nil {
				return nil, err
			}
		}
	}
	return run(ctx, tx, sel.sections(opts.StripTenant), opts.Output, ctl)
}

// tenantObjects resolves --objects to tenanted objects; the default is
// every tenanted object. The tenant table's rows belong to no tenant.
func tenantObjects(s *schema.Schema, patterns []string) ([]*schema.Object, error) {
	if len(patterns) == 0 {
		var out []*schema.Object
		for _, o := range s.Tenanted() {
			if !o.IsTenantTable {
				out = append(out, o)
			}
		}
		if len(out) == 0 {
			return nil, fault.Usagef("no object has a tenant column")
		}
		return out, nil
	}
	objs, err := s.Select(patterns)
	if err != nil {
		return nil, fault.Usage(err)
	}
	if len(objs) == 0 {
		return nil, fault.Usagef("no object matches %s", strings.Join(patterns, " "))
	}
	for _, o := range objs {
		if !o.Tenanted() || o.IsTenantTable {
			return nil, fault.Usagef("object %s (table %s) has no tenant column: its rows belong to no tenant (TenantOptions.WithPublic adds the public rows referenced)", o.Name, o.Table)
		}
	}
	return objs, nil
}

// descendantsSQL lists a tenant and its descendants (the subtenants group).
const descendantsSQL = `WITH RECURSIVE %s SELECT DISTINCT descendant::text FROM des WHERE tenant::text = ANY ($1::text[]) ORDER BY 1`

// descendants returns the tenants ids and their descendants.
func descendants(ctx context.Context, tx pgx.Tx, tt *schema.TenantTable, ids []string) ([]string, error) {
	rows, err := tx.Query(ctx, fmt.Sprintf(descendantsSQL, tenant.DescendantsCTE(tt, "des")), ids)
	if err != nil {
		return nil, fault.Failure(fmt.Errorf("reading the subtenants of tenants %s: %w", strings.Join(ids, ", "), err))
	}
	ids, err = pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fault.Failure(fmt.Errorf("reading the subtenants of tenants %s: %w", strings.Join(ids, ", "), err))
	}
	return ids, nil
}

// rowSelection decides which rows of which objects a tenant extract writes.
type rowSelection struct {
	owners     []string                                     // tenant keys as text
	tenantObjs map[*schema.Object]func(alias string) string // object -> condition for its tenant rows
	incs       map[*schema.Object]*increment
	order      []*schema.Object
	public     map[*schema.Object]*publicSet
}

// add selects the rows of o owned by the owners (and changed since the
// last run, for an incremental run).
func (r *rowSelection) add(o *schema.Object, inc *increment) {
	if inc != nil {
		if r.incs == nil {
			r.incs = map[*schema.Object]*increment{}
		}
		r.incs[o] = inc
	}
	r.tenantObjs[o] = func(a string) string {
		cond := r.ownerCond(o, a)
		if inc != nil {
			if c := inc.condition(a); c != "" {
				cond += " AND " + c
			}
		}
		return cond
	}
	r.order = append(r.order, o)
}

// ownerCond is the condition on alias a that a row of o belongs to one of
// the owners. The keys are cast to the tenant column's type so that an
// index on the column is used.
func (r *rowSelection) ownerCond(o *schema.Object, a string) string {
	lits := make([]string, len(r.owners))
	for i, id := range r.owners {
		lits[i] = sqlq.Lit(id)
	}
	col := o.Column(o.TenantColumn)
	return fmt.Sprintf("%s.%s = ANY (ARRAY[%s]::%s[])", a, sqlq.Ident(o.TenantColumn), strings.Join(lits, ", "), col.Type)
}

// sections builds the output sections, parents before children.
func (r *rowSelection) sections(stripTenant bool) []*section {
	objs := append([]*schema.Object(nil), r.order...)
	for o, p := range r.public {
		if _, ok := r.tenantObjs[o]; !ok && p.rows > 0 {
			objs = append(objs, o)
		}
	}
	var out []*section
	for _, o := range schema.Ordered(objs) {
		var cols []schema.Column
		for _, c := range o.Columns {
			if !c.Generated && !(stripTenant && c.Name == o.TenantColumn) {
				cols = append(cols, c)
			}
		}
		sec := &section{obj: o, what: "table " + o.Table, inc: r.incs[o]}
		sec.table.Name = o.Table
		for _, c := range cols {
			sec.table.Columns = append(sec.table.Columns, c.Name)
			sec.table.Types = append(sec.table.Types, c.Type)
		}
		var conds []string
		if cond, ok := r.tenantObjs[o]; ok {
			sec.from = fromClause(o, []string{cond("t")})
			conds = append(conds, "("+cond("t")+")")
		}
		if p := r.public[o]; p != nil && p.rows > 0 {
			conds = append(conds, p.cond("t"))
		}
		sec.query = selectList(cols) + fromClause(o, []string{"(" + strings.Join(conds, " OR ") + ")"})
		out = append(out, sec)
	}
	return out
}

// publicSet collects the identities of the public rows of one object that
// the extract references, in a temporary table.
type publicSet struct {
	obj   *schema.Object
	table string // quoted temporary table name
	rows  int64
}

// cond is the condition on alias a that the row is in the set.
func (p *publicSet) cond(a string) string {
	return fmt.Sprintf("(%s.tableoid, %s.ctid) IN (SELECT rel, tid FROM %s)", a, a, p.table)
}

// isPublicCapable reports whether o can hold public rows.
func isPublicCapable(o *schema.Object) bool {
	return o != nil && !o.IsTenantTable && (o.Tenancy == schema.Optional || o.Tenancy == schema.None)
}

// publicCond is the condition on alias a that a row of o is public.
func publicCond(o *schema.Object, a string) string {
	if o.Tenancy == schema.None {
		return "true"
	}
	return fmt.Sprintf("%s.%s IS NULL", a, sqlq.Ident(o.TenantColumn))
}

// addPublic finds the public rows referenced through SRELs by the selected
// rows, and by public rows so found, until no new row turns up. Each round
// runs one INSERT … SELECT per object.
func (r *rowSelection) addPublic(ctx context.Context, tx pgx.Tx) error {
	return r.closure(ctx, tx, isPublicCapable, "tk_public_", "public", r.collectSQL)
}

// closure collects, in one temporary table per object that capable
// accepts and that an SREL of a selected object reaches (named prefix and
// a number), the rows collect's INSERT … SELECT adds, round by round until
// no round adds a row. what names the rows in errors.
func (r *rowSelection) closure(ctx context.Context, tx pgx.Tx, capable func(*schema.Object) bool, prefix, what string, collect func(*schema.Object) string) error {
	r.public = map[*schema.Object]*publicSet{}
	queue := append([]*schema.Object(nil), r.order...)
	seen := map[*schema.Object]bool{}
	for len(queue) > 0 {
		o := queue[0]
		queue = queue[1:]
		if seen[o] {
			continue
		}
		seen[o] = true
		for _, s := range o.Srels {
			if t := s.Target; capable(t) && r.public[t] == nil {
				r.public[t] = &publicSet{obj: t, table: sqlq.Ident(prefix + strconv.Itoa(len(r.public)+1))}
				queue = append(queue, t)
			}
		}
	}
	var targets []*schema.Object
	for _, o := range schema.Ordered(mapKeys(r.public)) {
		p := r.public[o]
		if _, err := tx.Exec(ctx, fmt.Sprintf(createPublicSQL, p.table)); err != nil {
			return fault.Failure(fmt.Errorf("creating a temporary table: %w", err))
		}
		targets = append(targets, o)
	}
	for {
		added := int64(0)
		for _, o := range targets {
			sql := collect(o)
			if sql == "" {
				continue
			}
			tag, err := tx.Exec(ctx, sql)
			if err != nil {
				return fault.Failure(fmt.Errorf("collecting the %s rows of %s: %w", what, o.Table, err))
			}
			r.public[o].rows += tag.RowsAffected()
			added += tag.RowsAffected()
		}
		if added == 0 {
			return nil
		}
	}
}

const createPublicSQL = `CREATE TEMP TABLE %s (rel oid, tid tid, PRIMARY KEY (rel, tid)) ON COMMIT DROP`

// collectSQL adds to o's public set the public rows of o referenced by a
// selected row of any object, or "" when nothing can reference o.
func (r *rowSelection) collectSQL(o *schema.Object) string {
	p := r.public[o]
	refs := r.referencesTo(o, nil)
	if len(refs) == 0 {
		return ""
	}
	return fmt.Sprintf(`INSERT INTO %s (rel, tid) SELECT t.tableoid, t.ctid FROM %s t
WHERE %s AND NOT %s AND (%s)`, p.table, o.Ident(), publicCond(o, "t"), p.cond("t"), strings.Join(refs, "\n OR "))
}

// referencesTo lists, for each SREL of a selected object that points at o,
// the condition on row t of o that a selected row s references t through
// it, and, when allowed is given, that allowed's condition for the SREL
// holds of s and t.
func (r *rowSelection) referencesTo(o *schema.Object, allowed func(src *schema.Object, s *schema.Srel) string) []string {
	var refs []string
	for _, src := range r.sources() {
		var sel []string
		if cond, ok := r.tenantObjs[src]; ok {
			sel = append(sel, "("+cond("s")+")")
		}
		if sp := r.public[src]; sp != nil {
			sel = append(sel, sp.cond("s"))
		}
		for _, s := range src.Srels {
			if s.Target != o || len(s.TargetColumns) != len(s.Columns) {
				continue
			}
			join := []string{"(" + strings.Join(sel, " OR ") + ")"}
			for i, c := range s.Columns {
				join = append(join, fmt.Sprintf("s.%s = t.%s", sqlq.Ident(c), sqlq.Ident(s.TargetColumns[i])))
			}
			if allowed != nil {
				join = append(join, allowed(src, s))
			}
			refs = append(refs, fmt.Sprintf("EXISTS (SELECT FROM %s s WHERE %s)", src.Ident(), strings.Join(join, " AND ")))
		}
	}
	return refs
}

// sources lists every object whose selected rows may reference public
// rows: the tenant's objects and the public objects, each once.
func (r *rowSelection) sources() []*schema.Object {
	objs := append([]*schema.Object(nil), r.order...)
	for o := range r.public {
		if _, ok := r.tenantObjs[o]; !ok {
			objs = append(objs, o)
		}
	}
	return schema.Ordered(objs)
}

func mapKeys(m map[*schema.Object]*publicSet) []*schema.Object {
	out := make([]*schema.Object, 0, len(m))
	for o := range m {
		out = append(out, o)
	}
	return out
}
