package tenant

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/tenantkit/tenantkit/internal/sqlq"
	"github.com/tenantkit/tenantkit/schema"
)

// TxStarter begins transactions: a pool, a connection, or a transaction
// (where Begin makes a savepoint).
type TxStarter = sqlq.Beginner

// ErrUnsupported is returned for a request the tenant table cannot hold,
// such as a parent on a table without a parent column.
var ErrUnsupported = errors.New("not supported by the tenant table")

// CreateOptions are the settings of a new tenant; Parent is a tenant name or key.
type CreateOptions struct {
	Name              string
	Parent            string
	ID                string // the key; "" lets the table's default choose it
	SubtenantsAllowed bool
	ServiceProvider   bool
	Inactive          bool
}

// lockSQL serialises hierarchy changes: SHARE ROW EXCLUSIVE conflicts with
// itself and with every write, but lets readers through.
const lockSQL = "LOCK TABLE %s IN SHARE ROW EXCLUSIVE MODE"

// snapshot locks the tenant table in tx and reads every tenant.
func snapshot(ctx context.Context, tx pgx.Tx, tt *schema.TenantTable) (*Hierarchy, error) {
	if _, err := tx.Exec(ctx, fmt.Sprintf(lockSQL, tt.Ident())); err != nil {
		return nil, fmt.Errorf("locking the tenant table %s: %w", tt.Table, err)
	}
	all, err := List(ctx, tx, tt)
	if err != nil {
		return nil, err
	}
	return NewHierarchy(all), nil
}

// Create adds a tenant under the hierarchy rules, in one transaction that
// holds the tenant table locked against other writers while it checks and
// writes. The stored depth, when the table has a depth column, is the
// parent's plus one (0 at a root). A refused request is a *RuleError; an
// unknown parent wraps ErrNotFound.
func Create(ctx context.Context, db TxStarter, tt *schema.TenantTable, opts CreateOptions) (*Tenant, error) {
	if err := checkColumns(tt, opts); err != nil {
		return nil, err
	}
	if key := tt.Object.Column(tt.Key); opts.ID == "" && !key.HasDefault() && !integerTypes[key.Type] {
		return nil, fmt.Errorf("tenant table %s: key %s (%s) has no default: give the key (CreateOptions.ID): %w", tt.Table, tt.Key, key.Type, ErrUnsupported)
	}
	tx, err := db.Begin(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback(ctx)
	h, err := snapshot(ctx, tx, tt)
	if err != nil {
		return nil, err
	}
	n := NewTenant{Name: opts.Name, SubtenantsAllowed: opts.SubtenantsAllowed, ServiceProvider: opts.ServiceProvider, Inactive: opts.Inactive}
	if tt.ServiceProvider == "" && len(h.Tenants()) == 0 {
		n.ServiceProvider = true // without the column, the first root is the service provider
	}
	if opts.Parent != "" {
		if n.Parent = h.Find(opts.Parent); n.Parent == nil {
			return nil, fmt.Errorf("parent tenant %q: %w", opts.Parent, ErrNotFound)
		}
	}
	if err := CheckCreate(h, Limits{MaxDepth: tt.MaxDepth, MaxTenants: tt.MaxTenants}, n); err != nil {
		return nil, err
	}
	sql, args := insertSQL(tt, opts, n, h)
	var id string
	if err := tx.QueryRow(ctx, sql, args...).Scan(&id); err != nil {
		return nil, fmt.Errorf("creating tenant %q: %w", opts.Name, err)
	}
	t, err := lookupID(ctx, tx, tt, id)
	if err != nil {
		return nil, err
	}
	return t, tx.Commit(ctx)
}

// integerTypes are the key types for which Create numbers new tenants
// itself when the key has no default.
var integerTypes = map[string]bool{"smallint": true, "integer": true, "bigint": true, "numeric": true}

// checkColumns refuses settings the tenant table has no column for.
func checkColumns(tt *schema.TenantTable, opts CreateOptions) error {
	for _, c := range []struct {
		set    bool
		column string
		what   string
	}{
		{opts.Parent != "", tt.Parent, "a parent"},
		{opts.SubtenantsAllowed, tt.SubtenantsAllowed, "a subtenants-allowed flag"},
		{opts.Inactive, tt.Active, "an active flag"},
	} {
		if c.set && c.column == "" {
			return fmt.Errorf("tenant table %s has no column for %s: %w", tt.Table, c.what, ErrUnsupported)
		}
	}
	return nil
}

// insertSQL builds the INSERT … RETURNING key for a checked new tenant.
func insertSQL(tt *schema.TenantTable, opts CreateOptions, n NewTenant, h *Hierarchy) (string, []any) {
	var cols, vals []string
	var a sqlq.Args
	add := func(col, val string) {
		cols = append(cols, sqlq.Ident(col))
		vals = append(vals, val)
	}
	add(tt.Name, a.Add(opts.Name))
	key := tt.Object.Column(tt.Key)
	switch {
	case opts.ID != "":
		add(tt.Key, "CAST("+a.Add(opts.ID)+"::text AS "+key.Type+")")
	case !key.HasDefault():
		// No default: the next integer under the table lock (an error for
		// keys that are not numbers, which need --id).
		add(tt.Key, fmt.Sprintf("(SELECT coalesce(max(%s), 0) + 1 FROM %s)", sqlq.Ident(tt.Key), tt.Ident()))
	}
	if n.Parent != nil {
		add(tt.Parent, "CAST("+a.Add(n.Parent.ID)+"::text AS "+tt.Object.Column(tt.Parent).Type+")")
	}
	if tt.SubtenantsAllowed != "" {
		add(tt.SubtenantsAllowed, a.Add(opts.SubtenantsAllowed))
	}
	if tt.ServiceProvider != "" {
		add(tt.ServiceProvider, a.Add(n.ServiceProvider))
	}
	if tt.Active != "" {
		add(tt.Active, a.Add(!opts.Inactive))
	}
	if tt.Depth != "" {
		depth := 0
		if n.Parent != nil {
			depth = h.Level(n.Parent)
		}
		add(tt.Depth, a.Add(depth))
	}
	return fmt.Sprintf("INSERT INTO %s (%s) VALUES (%s) RETURNING %s::text", tt.Ident(),
		strings.Join(cols, ", "), strings.Join(vals, ", "), sqlq.Ident(tt.Key)), a
}

func lookupID(ctx context.Context, q Querier, tt *schema.TenantTable, id string) (*Tenant, error) {
	sql := fmt.Sprintf("SELECT %s FROM %s t WHERE t.%s::text = $1", selectList(tt), tt.Ident(), sqlq.Ident(tt.Key))
	t, err := scan(q.QueryRow(ctx, sql, id))
	if err != nil {
		return nil, fmt.Errorf("reading tenant %s: %w", id, err)
	}
	return t, nil
}

// SetParent gives the tenant ref (a name or key) the parent parentRef, or
// makes it a root when parentRef is "", under the hierarchy rules, in one
// transaction holding the tenant table locked. The stored depth column, if
// any, is rewritten for the tenant's whole subtree in one statement. It
// returns the tenant as changed and how many depth values changed.
func SetParent(ctx context.Context, db TxStarter, tt *schema.TenantTable, ref, parentRef string) (*Tenant, int64, error) {
	if tt.Parent == "" {
		return nil, 0, fmt.Errorf("tenant table %s has no parent column: %w", tt.Table, ErrUnsupported)
	}
	tx, err := db.Begin(ctx)
	if err != nil {
		return nil, 0, err
	}
	defer tx.Rollback(ctx)
	h, err := snapshot(ctx, tx, tt)
	if err != nil {
		return nil, 0, err
	}
	t := h.Find(ref)
	if t == nil {
		return nil, 0, fmt.Errorf("tenant %q: %w", ref, ErrNotFound)
	}
	var p *Tenant
	var parentID any // nil: SQL NULL
	if parentRef != "" {
		if p = h.Find(parentRef); p == nil {
			return nil, 0, fmt.Errorf("parent tenant %q: %w", parentRef, ErrNotFound)
		}
		parentID = p.ID
	}
	if err := CheckSetParent(h, Limits{MaxDepth: tt.MaxDepth, MaxTenants: tt.MaxTenants}, t, p); err != nil {
		return nil, 0, err
	}
	key, parent := sqlq.Ident(tt.Key), sqlq.Ident(tt.Parent)
	update := fmt.Sprintf("UPDATE %s SET %s = CAST($2::text AS %s) WHERE %s::text = $1", tt.Ident(), parent, tt.Object.Column(tt.Parent).Type, key)
	if _, err := tx.Exec(ctx, update, t.ID, parentID); err != nil {
		return nil, 0, fmt.Errorf("setting the parent of tenant %q: %w", t.Name, err)
	}
	var changed int64
	if tt.Depth != "" {
		depth := 0
		if p != nil {
			depth = h.Level(p)
		}
		tag, err := tx.Exec(ctx, subtreeDepthSQL(tt), t.ID, depth)
		if err != nil {
			return nil, 0, fmt.Errorf("updating the depth under tenant %q: %w", t.Name, err)
		}
		changed = tag.RowsAffected()
	}
	t, err = lookupID(ctx, tx, tt, t.ID)
	if err != nil {
		return nil, 0, err
	}
	return t, changed, tx.Commit(ctx)
}

// subtreeDepthSQL sets the depth column of the subtree under $1 (whose own
// depth becomes $2), writing only the rows whose value changes. The walk
// keeps a path so that a broken table with a cycle cannot make it loop.
func subtreeDepthSQL(tt *schema.TenantTable) string {
	key, parent, depth := sqlq.Ident(tt.Key), sqlq.Ident(tt.Parent), sqlq.Ident(tt.Depth)
	return sqlq.Expand(subtreeDepthTemplate, sqlq.Names{"key": key, "parent": parent, "depth": depth, "table": tt.Ident()})
}

const subtreeDepthTemplate = `WITH RECURSIVE sub(id, depth, path) AS (
	SELECT t.{key}, $2::int, ARRAY[t.{key}::text] FROM {table} t WHERE t.{key}::text = $1
	UNION ALL
	SELECT c.{key}, s.depth + 1, s.path || c.{key}::text
	FROM sub s JOIN {table} c ON c.{parent} = s.id
	WHERE NOT c.{key}::text = ANY (s.path))
UPDATE {table} t SET {depth} = sub.depth FROM sub
WHERE t.{key} = sub.id AND t.{depth} IS DISTINCT FROM sub.depth`
