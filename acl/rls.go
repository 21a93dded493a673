package acl

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/samber/lo"

	"github.com/tenantkit/tenantkit/aliases"
	"github.com/tenantkit/tenantkit/internal/sqlq"
	"github.com/tenantkit/tenantkit/schema"
	"github.com/tenantkit/tenantkit/tenant"
)

// Row scoping: rights on tenant:NAME govern the rows of that tenant in every
// tenanted table. The effective (person, tenant, rights) triples are kept in
// tenantkit.acl_tenant_rights, which no person can read; policies ask
// functions for the current role's tenants, which read them through views
// that show each role only its own rows. Letters:
// V visible (Read on the tenant or on one of its subtenants: supertenant rows
// are visible read-only), R read, C create, U change, D delete; tenant '*'
// stands for public rows (only Super Administrators may write them).

const rowScopeVersion = "3"

// policyComment marks the policies tenantkit manages; the hash tells when a
// definition changed.
const policyComment = "managed by tenantkit acl"

const rightsTableDDL = `CREATE TABLE IF NOT EXISTS tenantkit.acl_tenant_rights (role name NOT NULL, tenant text NOT NULL, rights text[] NOT NULL, PRIMARY KEY (role, tenant))`

// scopeFunctions are created once; tenants_with returns the tenant key's
// type. A view's current_user is the querying role, so the security-barrier
// views show each role its own rows only; the tables behind them stay
// unreadable, and the functions run with the caller's rights.
func scopeFunctions(keyType string) []string {
	return []string{
		`CREATE VIEW tenantkit.my_tenant_rights WITH (security_barrier) AS SELECT tenant, rights FROM tenantkit.acl_tenant_rights WHERE role = current_user;`,
		`CREATE VIEW tenantkit.my_scope WITH (security_barrier) AS SELECT EXISTS (SELECT FROM tenantkit.acl_role WHERE kind = 'person' AND role = current_user) AS scoped;`,
		fmt.Sprintf(`CREATE FUNCTION tenantkit.tenants_with(r text) RETURNS %s[] LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$ SELECT coalesce(array_agg(tenant::%s), '{}') FROM tenantkit.my_tenant_rights WHERE tenant <> '*' AND r = ANY (rights) $$;`, keyType, keyType),
		`CREATE FUNCTION tenantkit.public_with(r text) RETURNS boolean LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$ SELECT EXISTS (SELECT FROM tenantkit.my_tenant_rights WHERE tenant = '*' AND r = ANY (rights)) $$;`,
		`CREATE FUNCTION tenantkit.row_scoped() RETURNS boolean LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$ SELECT scoped FROM tenantkit.my_scope $$;`,
		// Every role evaluates the policies, managed or not; these objects
		// only ever show the caller its own rows.
		`GRANT USAGE ON SCHEMA tenantkit TO PUBLIC;`,
		`GRANT SELECT ON tenantkit.my_tenant_rights, tenantkit.my_scope TO PUBLIC;`,
	}
}

// rowPolicy is one policy tenantkit wants on a table.
type rowPolicy struct {
	name, command, using, check string
	// restrictive policies apply to the roles in to (a rendered role
	// list) on top of the permissive ones.
	restrictive bool
	to          string
}

func (p rowPolicy) hash() string {
	sum := sha256.Sum256([]byte(rowScopeVersion + p.command + "|" + p.using + "|" + p.check + "|" + fmt.Sprint(p.restrictive) + "|" + p.to))
	return hex.EncodeToString(sum[:6])
}

// unscopedPolicy lets every role at every row, for tables without policies
// of their own.
const unscopedPolicy = "tenantkit_unscoped"

// foreignPoliciesSQL lists the tables with policies tenantkit did not make.
const foreignPoliciesSQL = `
SELECT DISTINCT c.oid::regclass::text FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid
WHERE NOT coalesce(obj_description(p.oid, 'pg_policy') LIKE '` + policyComment + `%', false)`

func foreignPolicyTables(ctx context.Context, q Querier) (map[string]bool, error) {
	rows, err := q.Query(ctx, foreignPoliciesSQL)
	if err != nil {
		return nil, fmt.Errorf("reading policies: %w", err)
	}
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("reading policies: %w", err)
	}
	return lo.SliceToMap(tables, func(t string) (string, bool) { return t, true }), nil
}

// noPersonRole stood in the policies' role list of earlier versions while
// the file named no person (the lists now always name the alias login role);
// it never logs in, is granted to no one, and is left out of new lists.
const noPersonRole = "tenantkit_no_person"

// RowPolicyNames are the policies acl apply keeps on every tenanted table
// once row scoping is in use (verify checks that they are all there).
func RowPolicyNames() []string {
	var names []string
	for _, p := range rowPolicies(&schema.Object{TenantColumn: "tenant"}, nil) {
		names = append(names, p.name)
	}
	return names
}

// rowPolicies are the policies of one tenanted object for the managed
// persons. tenantkit_unscoped lets every role at every row, so enabling row
// security never locks an application role out; the per-command policies
// are restrictive and name the persons, so they narrow only the persons'
// access, and their predicates need no "is this role scoped" disjunct: a
// plain tenant = ANY (…) that can use an index on the tenant column.
func rowPolicies(o *schema.Object, persons []string) []rowPolicy {
	col := sqlq.Ident(o.TenantColumn)
	in := func(letter string) string {
		// Scalar subqueries become InitPlans: evaluated once per query,
		// not once per row, and the = ANY can use an index on the column.
		cond := fmt.Sprintf("%s = ANY (ARRAY(SELECT unnest(tenantkit.tenants_with(%s))))", col, sqlq.Lit(letter))
		if o.Tenancy == schema.Optional {
			pub := "true"
			if letter != "V" {
				pub = fmt.Sprintf("(SELECT tenantkit.public_with(%s))", sqlq.Lit(letter))
			}
			cond = fmt.Sprintf("(%s OR (%s IS NULL AND %s))", cond, col, pub)
		}
		return cond
	}
	sorted := append([]string(nil), persons...)
	sort.Strings(sorted)
	if len(sorted) == 0 {
		sorted = []string{noPersonRole}
	}
	var to []string
	for _, p := range sorted {
		to = append(to, sqlq.Ident(p))
	}
	roles := strings.Join(to, ", ")
	return []rowPolicy{
		{name: unscopedPolicy, command: "ALL", using: "true", check: "true"},
		{name: "tenantkit_select", command: "SELECT", using: in("V"), restrictive: true, to: roles},
		{name: "tenantkit_insert", command: "INSERT", check: in("C"), restrictive: true, to: roles},
		{name: "tenantkit_update", command: "UPDATE", using: in("U"), check: in("U"), restrictive: true, to: roles},
		{name: "tenantkit_delete", command: "DELETE", using: in("D"), restrictive: true, to: roles},
	}
}

func (p rowPolicy) create(table string) string {
	s := fmt.Sprintf("CREATE POLICY %s ON %s", p.name, table)
	if p.restrictive {
		s += " AS RESTRICTIVE"
	}
	s += " FOR " + p.command
	if p.to != "" {
		s += " TO " + p.to
	}
	if p.using != "" {
		s += " USING (" + p.using + ")"
	}
	if p.check != "" {
		s += " WITH CHECK (" + p.check + ")"
	}
	return s + ";"
}

const livePoliciesSQL = `
SELECT c.oid::regclass::text, p.polname, coalesce(obj_description(p.oid, 'pg_policy'), '')
FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid
WHERE p.polname LIKE 'tenantkit\_%'`

const rowSecuritySQL = `
SELECT c.oid::regclass::text, c.relrowsecurity, c.relforcerowsecurity, pg_get_userbyid(c.relowner)
FROM pg_class c WHERE c.oid = ANY ($1::regclass[])`

// rowScope is the tenant side of a plan.
type rowScope struct {
	s       *schema.Schema
	tenants []*tenant.Tenant
	h       *tenant.Hierarchy
}

// scopeTableDDL records, for verify, which tenants the last apply computed
// rights for, and who would have rights on a tenant created since: for
// each tenant (its key), the persons with rights on a new child of it; for
// '**', the persons with rights on any new tenant (through the database).
// Row scoping reaches a tenant created later only after the next apply.
const scopeTableDDL = `CREATE TABLE IF NOT EXISTS tenantkit.acl_tenant_scope (tenant text PRIMARY KEY, reach text[] NOT NULL);
COMMENT ON TABLE tenantkit.acl_tenant_scope IS 'managed by tenantkit acl: the tenants the last acl apply computed rights for, and the persons whose rights would reach a tenant created since (''**'': anywhere, else under that tenant)'`

// desiredScope computes tenantkit.acl_tenant_scope.
func (rs *rowScope) desiredScope(p *Policy, persons []string) []stateRow {
	reach := func(o Object) string {
		var who []string
		for _, person := range persons {
			if d := p.Effective(person, o); d.Rights&(Read|Create|Change|Delete) != 0 {
				who = append(who, person)
			}
		}
		sort.Strings(who)
		return sqlq.ArrayText(who)
	}
	rows := []stateRow{{"**", reach(futureTenant(""))}}
	for _, t := range rs.tenants {
		rows = append(rows, stateRow{t.ID, reach(futureTenant(t.ID))})
	}
	sortRows(rows)
	return rows
}

func readScope(ctx context.Context, q Querier) ([]stateRow, error) {
	var exists bool
	if err := q.QueryRow(ctx, "SELECT to_regclass('tenantkit.acl_tenant_scope') IS NOT NULL").Scan(&exists); err != nil || !exists {
		return nil, err
	}
	rows, err := q.Query(ctx, "SELECT tenant, reach::text FROM tenantkit.acl_tenant_scope")
	if err != nil {
		return nil, err
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (stateRow, error) {
		var a, b string
		return stateRow{a, b}, r.Scan(&a, &b)
	})
	sortRows(out)
	return out, err
}

// desiredRights computes tenantkit.acl_tenant_rights.
func (rs *rowScope) desiredRights(p *Policy, persons []string) []stateRow {
	parent := map[string]string{}
	for _, t := range rs.tenants {
		if t.Parent != nil {
			parent[t.ID] = *t.Parent
		}
	}
	var rows []stateRow
	for _, person := range persons {
		letters := map[string]map[string]bool{}
		add := func(id, l string) {
			if letters[id] == nil {
				letters[id] = map[string]bool{}
			}
			letters[id][l] = true
		}
		for _, t := range rs.tenants {
			d := p.Effective(person, Object{Kind: KindTenant, Name: t.Name})
			for _, m := range []struct {
				r Rights
				l string
			}{{Read, "R"}, {Create, "C"}, {Change, "U"}, {Delete, "D"}} {
				if d.Rights&m.r != 0 {
					add(t.ID, m.l)
				}
			}
			if d.Rights&Read != 0 {
				// The tenant's own rows and its supertenants' rows are visible.
				seen := map[string]bool{}
				for id := t.ID; id != "" && !seen[id]; id = parent[id] {
					seen[id] = true
					add(id, "V")
				}
			}
		}
		if p.IsSuper(person) {
			for _, l := range []string{"C", "U", "D"} {
				add("*", l)
			}
		}
		for id, ls := range letters {
			var list []string
			for _, l := range []string{"V", "R", "C", "U", "D"} {
				if ls[l] {
					list = append(list, l)
				}
			}
			rows = append(rows, stateRow{person, id, "{" + strings.Join(list, ",") + "}"})
		}
	}
	sortRows(rows)
	return rows
}

func readRights(ctx context.Context, q Querier) ([]stateRow, bool, error) {
	var exists bool
	if err := q.QueryRow(ctx, "SELECT to_regclass('tenantkit.acl_tenant_rights') IS NOT NULL").Scan(&exists); err != nil || !exists {
		return nil, false, err
	}
	rows, err := q.Query(ctx, "SELECT role::text, tenant, rights::text FROM tenantkit.acl_tenant_rights")
	if err != nil {
		return nil, true, err
	}
	defer rows.Close()
	var out []stateRow
	for rows.Next() {
		var a, b, c string
		if err := rows.Scan(&a, &b, &c); err != nil {
			return nil, true, err
		}
		out = append(out, stateRow{a, b, c})
	}
	sortRows(out)
	return out, true, rows.Err()
}

// planDDL emits the state table and functions the policies use; they must
// exist before privileges on them are granted.
func (rs *rowScope) planDDL(ctx context.Context, q Querier, emit func(string, ...any)) error {
	var tableExists, fnExists, scopeExists bool
	if err := q.QueryRow(ctx, `SELECT to_regclass('tenantkit.acl_tenant_rights') IS NOT NULL,
		to_regprocedure('tenantkit.tenants_with(text)') IS NOT NULL, to_regclass('tenantkit.acl_tenant_scope') IS NOT NULL`).Scan(&tableExists, &fnExists, &scopeExists); err != nil {
		return err
	}
	if !tableExists {
		emit("%s;", rightsTableDDL)
	}
	if !scopeExists {
		for _, stmt := range strings.Split(scopeTableDDL, ";\n") {
			emit("%s;", strings.TrimSuffix(stmt, ";"))
		}
	}
	if !fnExists {
		tt := rs.s.Tenants
		for _, stmt := range scopeFunctions(tt.Object.Column(tt.Key).Type) {
			emit("%s", stmt)
		}
	}
	return nil
}

// plan emits the rights rows and the policies.
// The restrictive policies name the scoped roles: the persons, the groups,
// former ones and alias logins (scopedRoles). A table with row-level
// policies of its own (the application's) gets no tenantkit_unscoped: a
// permissive USING (true) would OR them away.
func (rs *rowScope) plan(ctx context.Context, q Querier, plan *Plan, p *Policy, persons, scoped []string, emit func(string, ...any)) error {
	if err := refuseDistributed(ctx, q, rs.s); err != nil {
		return err
	}
	liveRights, _, err := readRights(ctx, q)
	if err != nil {
		return fmt.Errorf("reading tenantkit.acl_tenant_rights: %w", err)
	}
	want := rs.desiredRights(p, persons)
	if !equalRows(liveRights, want) {
		emit("DELETE FROM tenantkit.acl_tenant_rights;")
		if len(want) > 0 {
			var vals []string
			for _, r := range want {
				vals = append(vals, fmt.Sprintf("(%s, %s, %s)", sqlq.Lit(r[0]), sqlq.Lit(r[1]), sqlq.Lit(r[2])))
			}
			emit("INSERT INTO tenantkit.acl_tenant_rights (role, tenant, rights) VALUES %s;", strings.Join(vals, ", "))
		}
	}
	liveScope, err := readScope(ctx, q)
	if err != nil {
		return fmt.Errorf("reading tenantkit.acl_tenant_scope: %w", err)
	}
	if wantScope := rs.desiredScope(p, persons); !equalRows(liveScope, wantScope) {
		if liveScope != nil {
			emit("DELETE FROM tenantkit.acl_tenant_scope;")
		}
		emit("INSERT INTO tenantkit.acl_tenant_scope (tenant, reach) VALUES %s;", values(wantScope, 2))
	}

	// Policies on every tenanted table.
	live := map[string]string{} // table \x00 policy → comment
	rows, err := q.Query(ctx, livePoliciesSQL)
	if err != nil {
		return fmt.Errorf("reading policies: %w", err)
	}
	for rows.Next() {
		var table, name, comment string
		if err := rows.Scan(&table, &name, &comment); err != nil {
			rows.Close()
			return err
		}
		live[table+"\x00"+name] = comment
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	foreign, err := foreignPolicyTables(ctx, q)
	if err != nil {
		return err
	}
	var aliasRole bool
	if err := q.QueryRow(ctx, "SELECT EXISTS (SELECT FROM pg_roles WHERE rolname = $1)", aliases.AliasLoginRole).Scan(&aliasRole); err != nil {
		return err
	}
	if !aliasRole {
		emit("%s;", aliases.EnsureAliasLoginRoleSQL)
	}
	var objs []*schema.Object
	var idents []string
	for _, o := range rs.s.Tenanted() {
		if !o.IsTenantTable {
			objs = append(objs, o)
			idents = append(idents, o.Ident())
		}
	}
	type secState struct {
		enabled, forced bool
		owner           string
	}
	sec := map[string]secState{}
	rows, err = q.Query(ctx, rowSecuritySQL, idents)
	if err != nil {
		return fmt.Errorf("reading row security: %w", err)
	}
	for rows.Next() {
		var table string
		var st secState
		if err := rows.Scan(&table, &st.enabled, &st.forced, &st.owner); err != nil {
			rows.Close()
			return err
		}
		sec[table] = st
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	isPerson := map[string]bool{}
	for _, per := range persons {
		isPerson[per] = true
	}
	wanted := map[string]bool{}
	for _, o := range objs {
		// regclass text: schema-qualified only when not on the search path.
		var table string
		if err := q.QueryRow(ctx, "SELECT $1::regclass::text", o.Ident()).Scan(&table); err != nil {
			return err
		}
		st := sec[table]
		if !st.enabled {
			emit("ALTER TABLE %s ENABLE ROW LEVEL SECURITY;", o.Ident())
		}
		if isPerson[st.owner] && !st.forced {
			emit("ALTER TABLE %s FORCE ROW LEVEL SECURITY;", o.Ident())
		}
		for _, rp := range rowPolicies(o, scoped) {
			if rp.name == unscopedPolicy && foreign[table] {
				plan.Warnings = append(plan.Warnings, fmt.Sprintf("%s has row-level policies of its own: tenantkit adds only its restrictive tenant policies, "+
					"so persons see a row only where those policies let them too", table))
				continue
			}
			key := table + "\x00" + rp.name
			wanted[key] = true
			comment := policyComment + " " + rp.hash()
			if c, ok := live[key]; ok && c == comment {
				continue
			} else if ok {
				emit("DROP POLICY %s ON %s;", rp.name, o.Ident())
			}
			emit("%s", rp.create(o.Ident()))
			emit("COMMENT ON POLICY %s ON %s IS %s;", rp.name, o.Ident(), sqlq.Lit(comment))
		}
	}
	var stale []string
	for key, comment := range live {
		if !wanted[key] && strings.HasPrefix(comment, policyComment) {
			stale = append(stale, key)
		}
	}
	sort.Strings(stale)
	for _, key := range stale {
		table, name, _ := strings.Cut(key, "\x00")
		emit("DROP POLICY %s ON %s;", sqlq.Ident(name), table)
	}
	return nil
}
