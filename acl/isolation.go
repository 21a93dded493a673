package acl

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/samber/lo"

	"github.com/tenantkit/tenantkit/aliases"
	"github.com/tenantkit/tenantkit/internal/sqlq"
	"github.com/tenantkit/tenantkit/schema"
)

// Isolation: what keeps a person inside its tenant rights beyond the plain
// mapping of rights to privileges. Row security restricts the roles its
// restrictive policies name, so every role a tenant's user can act as is
// named there (scopedRoles: the alias logins through their common role), a managed role is a member of nothing the file
// does not declare (planMemberships), grants a person made with its grant
// option are taken back (planForeignGrants), and the privileges that would
// reach rows around the policies are not granted (guard).

// makeGuard builds the guard for the schema's tenant table and row-scoped
// tables, and returns those tables as regclass text for the catalog reads.
func makeGuard(targets []target, s *schema.Schema, rs *rowScope) (guard, []string) {
	g := guard{unsafeViews: map[string]string{}}
	if s == nil || s.Tenants == nil {
		return g, nil
	}
	bySQL := map[Object]string{}
	for _, t := range targets {
		bySQL[t.obj] = t.sql
	}
	tt := s.Tenants.Object
	g.tenantTable = bySQL[Object{Kind: KindTable, Schema: tt.Schema, Name: tt.Table}]
	if rs == nil {
		return g, nil
	}
	scoped := map[string]bool{}
	var regclasses []string
	for _, o := range s.Tenanted() {
		if o.IsTenantTable {
			continue
		}
		if sql := bySQL[Object{Kind: KindTable, Schema: o.Schema, Name: o.Table}]; sql != "" {
			scoped[sql] = true
			regclasses = append(regclasses, o.Ident())
		}
	}
	g.unsafeViews = unsafeViews(targets, scoped)
	return g, regclasses
}

// warnings names the views the file would let persons read that the guard
// keeps from them.
func (g guard) warnings(p *Policy, persons []string, targets []target) []string {
	var out []string
	for _, t := range targets {
		tbl := g.unsafeViews[t.sql]
		if tbl == "" {
			continue
		}
		var who []string
		for _, person := range persons {
			if d := p.Effective(person, t.obj); !d.Super && len(privilegesFor(t.kind, d.Rights)) > 0 {
				who = append(who, person)
			}
		}
		if len(who) > 0 {
			out = append(out, fmt.Sprintf("%s reads row-scoped %s with its owner's rights, so row security would not restrict %s: "+
				"not granted (make it security_invoker: ALTER VIEW … SET (security_invoker = true))",
				strings.TrimPrefix(t.sql, "TABLE "), strings.TrimPrefix(tbl, "TABLE "), strings.Join(who, ", ")))
		}
	}
	return out
}

// scopedRolesSQL lists the roles, besides the file's, that row security must
// keep restricting in this database: those its restrictive policies name
// now. Persons and groups removed from the file stay there (and see no
// rows) until DROP OWNED BY and DROP ROLE remove them.
const scopedRolesSQL = `
SELECT r.rolname FROM pg_policy p, unnest(p.polroles) pr JOIN pg_roles r ON r.oid = pr
WHERE p.polname LIKE 'tenantkit\_%' AND NOT p.polpermissive`

// scopedRoles returns the roles the restrictive policies name, sorted: the
// file's, the ones scopedRolesSQL finds, and the role every alias login is
// a member of (aliases.AliasLoginRole), so that logins aliases creates
// later are restricted without another acl apply.
func scopedRoles(ctx context.Context, q Querier, fileRoles []string) ([]string, error) {
	rows, err := q.Query(ctx, scopedRolesSQL)
	if err != nil {
		return nil, fmt.Errorf("reading scoped roles: %w", err)
	}
	more, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("reading scoped roles: %w", err)
	}
	out := lo.Uniq(append(append(append([]string(nil), fileRoles...), more...), aliases.AliasLoginRole))
	out = lo.Without(out, noPersonRole)
	sort.Strings(out)
	return out, nil
}

// planForeignGrants sorts the privileges read from the catalog. It returns
// the ones the managed roles hold by the owner's grant, which the plan
// compares with the file. A grant made by a managed role with its grant
// option is taken back by revoking that grant option with CASCADE (the
// owner cannot revoke another grantor's grant directly; the plan grants the
// option again where the file gives it). Grants by other roles, and
// privileges on row-scoped tables held by roles row security does not
// restrict, become warnings.
func planForeignGrants(plan *Plan, items []aclItem, managed, scoped []string, master string, emit func(string, ...any)) map[string]privilege {
	isManaged := lo.SliceToMap(managed, func(r string) (string, bool) { return r, true })
	isScoped := lo.SliceToMap(scoped, func(r string) (string, bool) { return r, true })
	live := map[string]privilege{}
	cascade := map[string]privilege{} // grantor's privilege whose grant option goes
	unscoped := map[string][]string{} // table → "role PRIV"
	for _, it := range items {
		switch {
		case isManaged[it.role] && it.byOwner:
			p := it.privilege
			p.grantable = p.grantable || live[p.key()].grantable
			live[p.key()] = p
		case isManaged[it.grantor]:
			p := privilege{role: it.grantor, target: it.target, priv: it.priv}
			cascade[p.key()] = p
		case isManaged[it.role]:
			plan.Warnings = append(plan.Warnings, fmt.Sprintf("%s holds %s on %s granted by %s, which acl cannot revoke: revoke it as %s",
				it.role, it.priv, strings.TrimPrefix(it.target, "TABLE "), it.grantor, it.grantor))
		}
		if it.tenanted && !isScoped[it.role] && it.role != master {
			tbl := strings.TrimPrefix(it.target, "TABLE ")
			unscoped[tbl] = append(unscoped[tbl], it.role+" "+it.priv)
		}
	}
	for _, k := range sortedKeys(cascade) {
		c := cascade[k]
		emit("REVOKE GRANT OPTION FOR %s ON %s FROM %s CASCADE;", c.priv, c.target, sqlq.Ident(c.role))
		if l, ok := live[k]; ok {
			l.grantable = false
			live[k] = l
		}
	}
	for _, tbl := range sortedKeys(unscoped) {
		held := lo.Uniq(unscoped[tbl])
		sort.Strings(held)
		plan.Warnings = append(plan.Warnings, fmt.Sprintf("row-scoped %s is also open to roles row security does not restrict (%s): they see every tenant's rows",
			tbl, strings.Join(held, ", ")))
	}
	return live
}
