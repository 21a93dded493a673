// Package tenant reads and changes tenants and their hierarchy in the
// tenant table described by the object schema: lookups, the hierarchy
// snapshot with its system-maintained groups (supertenants, subtenants,
// related), the hierarchy rules enforced by Create and SetParent,
// user-defined tenant groups, tenant lists (ResolveList), the pins that tie
// the tenant names acl and aliases resolved to their keys (SavePins,
// CheckPins), and the SQL other packages build on: the reference rule
// (RefRule) and the recursive CTEs (AncestorsCTE, DescendantsCTE).
//
// Tenant keys may be of any type (integer, uuid, text); this package
// handles them in their text form, and SQL compares them as key::text.
package tenant

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/tenantkit/tenantkit/internal/sqlq"
	"github.com/tenantkit/tenantkit/schema"
)

// Tenant is one row of the tenant table.
type Tenant struct {
	ID                string  `json:"id"` // the key, as text
	Name              string  `json:"name"`
	Parent            *string `json:"parent,omitempty"` // the parent's key as text; nil at a root
	Active            bool    `json:"active"`
	ServiceProvider   bool    `json:"service_provider"`
	SubtenantsAllowed bool    `json:"subtenants_allowed"`
	Depth             int     `json:"depth"`
}

// ErrNotFound is returned when no tenant has the given name or key.
var ErrNotFound = errors.New("no such tenant")

// Querier is a pool, connection or transaction.
type Querier = schema.Querier

// selectList is the column list every query here reads, in Tenant order.
// Optional columns the table lacks read as defaults: active, subtenants
// allowed (no column means no restriction), depth 0, and the service
// provider is the lowest-keyed root (see ServiceProvider).
func selectList(tt *schema.TenantTable) string {
	col := func(name, def string) string {
		if name == "" {
			return def
		}
		return "t." + sqlq.Ident(name)
	}
	return fmt.Sprintf("t.%s::text, t.%s::text, %s, coalesce(%s, true), coalesce(%s, false), coalesce(%s, false), coalesce(%s, 0)::int",
		sqlq.Ident(tt.Key), sqlq.Ident(tt.Name),
		col(tt.Parent, "NULL")+"::text", col(tt.Active, "true")+"::bool",
		spExpr(tt), col(tt.SubtenantsAllowed, "true")+"::bool", col(tt.Depth, "0"))
}

// spExpr is true for the service provider. Without a service-provider
// column, that is the root tenant with the lowest key, as ServiceProvider
// has it.
func spExpr(tt *schema.TenantTable) string {
	if tt.ServiceProvider != "" {
		return "t." + sqlq.Ident(tt.ServiceProvider) + "::bool"
	}
	key := sqlq.Ident(tt.Key)
	where := ""
	if tt.Parent != "" {
		where = " WHERE s." + sqlq.Ident(tt.Parent) + " IS NULL"
	}
	return fmt.Sprintf("t.%s = (SELECT s.%s FROM %s s%s ORDER BY s.%s LIMIT 1)", key, key, tt.Ident(), where, key)
}

func scan(row pgx.Row) (*Tenant, error) {
	var t Tenant
	err := row.Scan(&t.ID, &t.Name, &t.Parent, &t.Active, &t.ServiceProvider, &t.SubtenantsAllowed, &t.Depth)
	if err != nil {
		return nil, err
	}
	return &t, nil
}

// Lookup finds a tenant by name, else by key (compared as text).
func Lookup(ctx context.Context, q Querier, tt *schema.TenantTable, ref string) (*Tenant, error) {
	if tt == nil {
		return nil, errors.New("the database has no tenant table")
	}
	sql := fmt.Sprintf(`SELECT %s FROM %s t WHERE t.%s = $1 OR t.%s::text = $1
		ORDER BY t.%s = $1 DESC LIMIT 1`,
		selectList(tt), tt.Ident(), sqlq.Ident(tt.Name), sqlq.Ident(tt.Key),
		sqlq.Ident(tt.Name))
	t, err := scan(q.QueryRow(ctx, sql, ref))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("tenant %q: %w", ref, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("looking up tenant %q: %w", ref, err)
	}
	return t, nil
}

// ErrInactive is returned by LookupActive for a tenant that is not active.
var ErrInactive = errors.New("inactive tenant")

// LookupActive finds the one active tenant ref names, by name, else by key
// (see Lookup): the tenant a command works for (userload -t, settenant's
// Name rules). Every command says the same when it cannot: an unknown ref
// is an error wrapping ErrNotFound (`unknown tenant "X": no tenant has this
// name or key`), a tenant that is not active one wrapping ErrInactive
// (`tenant "Acme" is inactive`); other errors are the database's.
func LookupActive(ctx context.Context, q Querier, tt *schema.TenantTable, ref string) (*Tenant, error) {
	t, err := Lookup(ctx, q, tt, ref)
	switch {
	case errors.Is(err, ErrNotFound):
		return nil, &lookupError{msg: fmt.Sprintf("unknown tenant %q: no tenant has this name or key", ref), err: ErrNotFound}
	case err != nil:
		return nil, err
	case !t.Active:
		return nil, &lookupError{msg: fmt.Sprintf("tenant %q is inactive", t.Name), err: ErrInactive}
	}
	return t, nil
}

// lookupError is a refused lookup: its own message, and the sentinel it
// stands for.
type lookupError struct {
	msg string
	err error
}

func (e *lookupError) Error() string { return e.msg }
func (e *lookupError) Unwrap() error { return e.err }

// List returns every tenant in name order.
func List(ctx context.Context, q Querier, tt *schema.TenantTable) ([]*Tenant, error) {
	sql := fmt.Sprintf("SELECT %s FROM %s t ORDER BY t.%s", selectList(tt), tt.Ident(), sqlq.Ident(tt.Name))
	rows, err := q.Query(ctx, sql)
	if err != nil {
		return nil, fmt.Errorf("listing tenants: %w", err)
	}
	defer rows.Close()
	var out []*Tenant
	for rows.Next() {
		t, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// ServiceProvider returns the service provider tenant, or ErrNotFound. Without
// a service-provider column, the service provider is the root tenant created
// first (lowest key among tenants with no parent).
func ServiceProvider(ctx context.Context, q Querier, tt *schema.TenantTable) (*Tenant, error) {
	var where string
	switch {
	case tt.ServiceProvider != "":
		where = "t." + sqlq.Ident(tt.ServiceProvider)
	case tt.Parent != "":
		where = "t." + sqlq.Ident(tt.Parent) + " IS NULL"
	default:
		where = "true"
	}
	sql := fmt.Sprintf("SELECT %s FROM %s t WHERE %s ORDER BY t.%s LIMIT 1", selectList(tt), tt.Ident(), where, sqlq.Ident(tt.Key))
	t, err := scan(q.QueryRow(ctx, sql))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("service provider: %w", ErrNotFound)
	}
	return t, err
}

// AncestorsCTE returns the body of a recursive CTE named name with columns
// (tenant, ancestor): every tenant paired with itself and each of its
// ancestors — its supertenants group, which is also its foreign-key group.
// Use it as "WITH RECURSIVE " + AncestorsCTE(tt, "anc") + " SELECT …".
// The recursion stops on cycles.
func AncestorsCTE(tt *schema.TenantTable, name string) string {
	return closureCTE(tt, name, "ancestor", true)
}

// closureCTE is the recursive CTE pairing every tenant with itself and each
// tenant reached by following parent links up (or down), in column col.
// The path of visited keys stops the recursion on cycles.
func closureCTE(tt *schema.TenantTable, name, col string, up bool) string {
	key := sqlq.Ident(tt.Key)
	n := sqlq.Ident(name)
	if tt.Parent == "" {
		return fmt.Sprintf("%s(tenant, %s) AS (SELECT t.%s, t.%s FROM %s t)", n, col, key, key, tt.Ident())
	}
	parent := sqlq.Ident(tt.Parent)
	next, match := parent, key // up: from a tenant to its parent
	if !up {
		next, match = key, parent // down: from a tenant to its children
	}
	return sqlq.Expand(closureSQL, sqlq.Names{"name": n, "col": col, "key": key, "table": tt.Ident(), "next": next, "match": match})
}

const closureSQL = `{name}(tenant, {col}, path) AS (
	SELECT t.{key}, t.{key}, ARRAY[t.{key}::text] FROM {table} t
	UNION ALL
	SELECT c.tenant, t.{next}, c.path || t.{next}::text
	FROM {name} c JOIN {table} t ON t.{match} = c.{col}
	WHERE t.{next} IS NOT NULL AND NOT t.{next}::text = ANY (c.path))`
