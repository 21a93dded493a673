package verify

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/tenantkit/tenantkit/internal/sqlq"
)

// hierarchyWalkSQL walks up from every tenant, keeping the path so that a
// cycle stops the walk: cyc marks a step that met a tenant already on the
// path, back one that came back to the starting tenant (so it lies on the
// cycle). levels counts the tenants from the start up to the root.
const hierarchyWalkSQL = `up(tenant, cur, levels, path, cyc, back) AS (
	SELECT t.{key}, t.{parent}, 1, ARRAY[t.{key}::text], false, false FROM {table} t
	UNION ALL
	SELECT u.tenant, p.{parent}, u.levels + 1, u.path || p.{key}::text, p.{key}::text = ANY (u.path), p.{key}::text = u.path[1]
	FROM up u JOIN {table} p ON {join}
	WHERE NOT u.cyc),
walk AS (
	SELECT tenant, max(levels) FILTER (WHERE NOT cyc) AS levels, bool_or(cyc) AS cyc, bool_or(back) AS on_cycle
	FROM up GROUP BY tenant)`

// hierarchyQuery checks every hierarchy rule in one statement returning
// (check, tenant name, detail) rows, one per violation.
func (b *builder) hierarchyQuery() *query {
	tt := b.tt
	key, name := sqlq.Ident(tt.Key), sqlq.Ident(tt.Name)
	col := func(alias, c string) string { return ident(alias, c) }
	var parts []string
	part := func(check, tenantName, detail, rest string) {
		parts = append(parts, fmt.Sprintf("SELECT %s::text, %s::text, %s::text %s", sqlq.Lit(check), tenantName, detail, rest))
	}
	with := ""
	if tt.Parent != "" {
		parentType := tt.Object.Column(tt.Parent).TypeOID
		join := "p." + key + " = u.cur"
		if parentType != tt.Object.Column(tt.Key).TypeOID {
			join = "p." + key + "::text = u.cur::text"
		}
		with = "WITH RECURSIVE " + sqlq.Expand(hierarchyWalkSQL, sqlq.Names{"key": key, "parent": sqlq.Ident(tt.Parent), "table": tt.Ident(), "join": join})
		walkJoin := fmt.Sprintf("FROM walk w JOIN %s t ON t.%s = w.tenant", tt.Ident(), key)
		part(CheckCycle, "t."+name, "NULL", walkJoin+" WHERE w.on_cycle")
		part(CheckDepth, "t."+name, fmt.Sprintf("'depth ' || (w.levels - 1) || ', maxDepth %d allows 0 to %d'", tt.MaxDepth, tt.MaxDepth-1), fmt.Sprintf("%s WHERE NOT w.cyc AND w.levels > %d", walkJoin, tt.MaxDepth))
		parentEq := fmt.Sprintf("p.%s = c.%s", key, sqlq.Ident(tt.Parent))
		if parentType != tt.Object.Column(tt.Key).TypeOID {
			parentEq = fmt.Sprintf("p.%s::text = c.%s::text", key, sqlq.Ident(tt.Parent))
		}
		if tt.SubtenantsAllowed != "" {
			part(CheckSubtenantsAllowed, "c."+name, "'parent ' || p."+name,
				fmt.Sprintf("FROM %s c JOIN %s p ON %s WHERE NOT coalesce(%s, false)", tt.Ident(), tt.Ident(), parentEq, col("p", tt.SubtenantsAllowed)))
		}
		part(CheckUnknownParent, "c."+name, "'parent key ' || "+col("c", tt.Parent)+"::text",
			fmt.Sprintf("FROM %s c WHERE %s IS NOT NULL AND NOT EXISTS (SELECT FROM %s p WHERE %s)", tt.Ident(), col("c", tt.Parent), tt.Ident(), parentEq))
		if tt.Depth != "" {
			part(CheckStoredDepth, "t."+name, fmt.Sprintf("'depth ' || coalesce(%s::text, 'NULL') || ', want ' || (w.levels - 1)", col("t", tt.Depth)),
				fmt.Sprintf("%s WHERE NOT w.cyc AND %s IS DISTINCT FROM w.levels - 1", walkJoin, col("t", tt.Depth)))
		}
	} else if tt.Depth != "" {
		part(CheckStoredDepth, "t."+name, fmt.Sprintf("'depth ' || coalesce(%s::text, 'NULL') || ', want 0'", col("t", tt.Depth)),
			fmt.Sprintf("FROM %s t WHERE %s IS DISTINCT FROM 0", tt.Ident(), col("t", tt.Depth)))
	}
	if tt.ServiceProvider != "" {
		sp := col("t", tt.ServiceProvider)
		if tt.Parent != "" {
			part(CheckServiceProvider, "t."+name, "'the service provider has a parent'",
				fmt.Sprintf("FROM %s t WHERE %s AND %s IS NOT NULL", tt.Ident(), sp, col("t", tt.Parent)))
		}
		part(CheckServiceProvider, "t."+name, "'one of ' || (SELECT count(*) FROM "+tt.Ident()+" t WHERE "+sp+") || ' service providers'",
			fmt.Sprintf("FROM %s t WHERE %s AND (SELECT count(*) FROM %s t WHERE %s) > 1", tt.Ident(), sp, tt.Ident(), sp))
		part(CheckServiceProvider, "NULL", "'there are tenants but no service provider'",
			fmt.Sprintf("WHERE EXISTS (SELECT FROM %s) AND NOT EXISTS (SELECT FROM %s t WHERE %s)", tt.Ident(), tt.Ident(), sp))
	}
	if tt.MaxTenants > 0 {
		part(CheckMaxTenants, "NULL", fmt.Sprintf("count(*) || ' tenants; the cap is %d'", tt.MaxTenants),
			fmt.Sprintf("FROM %s HAVING count(*) > %d", tt.Ident(), tt.MaxTenants))
	}
	if len(parts) == 0 {
		parts = append(parts, "SELECT NULL::text, NULL::text, NULL::text WHERE false")
	}
	return &query{hierarchy: tt, sql: with + "\nSELECT * FROM (\n" + strings.Join(parts, "\nUNION ALL\n") + "\n) v ORDER BY 1, 2"}
}

// runHierarchy runs the hierarchy query and gives it one finding per broken rule.
func runHierarchy(ctx context.Context, tx pgx.Tx, q *query, sample int) error {
	tt := q.hierarchy
	rows, err := tx.Query(ctx, q.sql)
	if err != nil {
		return fmt.Errorf("verify hierarchy: %w", err)
	}
	defer rows.Close()
	byCheck := map[string]*Finding{}
	for rows.Next() {
		var check string
		var name, detail *string
		if err := rows.Scan(&check, &name, &detail); err != nil {
			return err
		}
		f := byCheck[check]
		if f == nil {
			f = &Finding{Check: check, Object: tt.Object.Name}
			byCheck[check] = f
		}
		f.Count++
		if len(f.Samples) < sample {
			s := deref(name)
			switch {
			case name == nil && detail != nil:
				s = *detail
			case detail != nil:
				s += " (" + *detail + ")"
			}
			f.Samples = append(f.Samples, s)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("verify hierarchy: %w", err)
	}
	for _, c := range Checks {
		if f := byCheck[c]; f != nil {
			q.results = append(q.results, f)
		}
	}
	return nil
}
