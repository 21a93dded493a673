package acl

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/samber/lo"

	"github.com/tenantkit/tenantkit/internal/fault"
	"github.com/tenantkit/tenantkit/internal/sqlq"
	"github.com/tenantkit/tenantkit/schema"
	"github.com/tenantkit/tenantkit/tenant"
)

// Plan is the SQL that makes the database match a file.
type Plan struct {
	// Statements, one per line, in the order they must run.
	Statements []string
	// Warnings about managed roles that privileges cannot restrict.
	Warnings []string
	// Pins maps each tenant the file names (by name or key) to the key it
	// resolved to; Apply pins them (tenant.SavePins), so that a later run
	// refuses a name someone has since given to another tenant.
	Pins map[string]string
	// Repins names the pins that move because PlanOptions.Repin accepted
	// renamed tenants.
	Repins []string
}

// PlanOptions are the choices of a plan.
type PlanOptions struct {
	// Repin accepts tenant names that now name other keys than when a run
	// last pinned them; without it MakePlan refuses them.
	Repin bool
}

// Empty reports whether there is nothing to do.
func (p *Plan) Empty() bool { return len(p.Statements) == 0 }

// The declared state: the roles of the file's persons and groups (and a
// group's tenant attribute), the permission entries and Replace markers as
// declared, and the members of the built-in groups, which have no role.
// acl export writes it back as a file.
const stateDDL = `CREATE SCHEMA IF NOT EXISTS tenantkit;
CREATE TABLE IF NOT EXISTS tenantkit.acl_role (kind text NOT NULL, name text NOT NULL, role name NOT NULL, tenant text NOT NULL DEFAULT '', PRIMARY KEY (kind, name));
CREATE TABLE IF NOT EXISTS tenantkit.acl_state (object text NOT NULL, principal text NOT NULL, rights text NOT NULL, propagate boolean NOT NULL, line integer NOT NULL, PRIMARY KEY (object, principal));
COMMENT ON TABLE tenantkit.acl_state IS 'managed by tenantkit acl: the declared permission entries; readable with ReadPermissions on the database';
` + memberDDL

// stateUpgradeDDL brings the state of an earlier version up to date.
const stateUpgradeDDL = `ALTER TABLE tenantkit.acl_role ADD COLUMN IF NOT EXISTS tenant text NOT NULL DEFAULT '';
` + memberDDL

const memberDDL = `CREATE TABLE IF NOT EXISTS tenantkit.acl_member (group_name text NOT NULL, person text NOT NULL, PRIMARY KEY (group_name, person));
COMMENT ON TABLE tenantkit.acl_member IS 'managed by tenantkit acl: the members of the built-in groups, which have no role'`

// roleInfo is what the catalog says of a role.
type roleInfo struct {
	exists, super, bypassRLS bool
	comment                  string
}

// ownGroup reports whether a group role is managed for database db, and
// oldGroup whether it is a group role of an earlier version, which may be
// shared by several databases.
func (ri roleInfo) ownGroup(db database) bool {
	owner, ok := groupOwner(ri.comment)
	return ok && owner.oid == db.oid
}

func (ri roleInfo) oldGroup(name string) bool {
	return ri.comment == roleComment && oldGroupRole.MatchString(name)
}

func readRoles(ctx context.Context, q Querier, names []string) (map[string]roleInfo, error) {
	rows, err := q.Query(ctx, `SELECT r.rolname, coalesce(shobj_description(r.oid, 'pg_authid'), ''), r.rolsuper, r.rolbypassrls
		FROM pg_roles r WHERE r.rolname = ANY ($1)`, names)
	if err != nil {
		return nil, fmt.Errorf("reading roles: %w", err)
	}
	defer rows.Close()
	out := map[string]roleInfo{}
	for rows.Next() {
		var name string
		ri := roleInfo{exists: true}
		if err := rows.Scan(&name, &ri.comment, &ri.super, &ri.bypassRLS); err != nil {
			return nil, err
		}
		out[name] = ri
	}
	return out, rows.Err()
}

// stateRow is one row of tenantkit.acl_role or tenantkit.acl_state, as text.
type stateRow []string

// liveState is the declared state as stored: rows of tenantkit.acl_role
// (kind, name, role, tenant), acl_state (object, principal, rights,
// propagate) and acl_member (group, person, "", "").
type liveState struct {
	roles, entries, members []stateRow
	// exists: the tables exist; current: in this version's shape.
	exists, current bool
}

const stateExistsSQL = `SELECT to_regclass('tenantkit.acl_state') IS NOT NULL AND to_regclass('tenantkit.acl_role') IS NOT NULL,
	to_regclass('tenantkit.acl_member') IS NOT NULL AND EXISTS (SELECT FROM pg_catalog.pg_attribute a
		WHERE a.attrelid = to_regclass('tenantkit.acl_role') AND a.attname = 'tenant' AND NOT a.attisdropped)`

func readState(ctx context.Context, q Querier) (*liveState, error) {
	st := &liveState{}
	if err := q.QueryRow(ctx, stateExistsSQL).Scan(&st.exists, &st.current); err != nil || !st.exists {
		return st, err
	}
	read := func(sql string) ([]stateRow, error) {
		rows, err := q.Query(ctx, sql)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		var out []stateRow
		for rows.Next() {
			var a, b, c, d string
			if err := rows.Scan(&a, &b, &c, &d); err != nil {
				return nil, err
			}
			out = append(out, stateRow{a, b, c, d})
		}
		return out, rows.Err()
	}
	rolesSQL, membersSQL := "SELECT kind, name, role::text, '' FROM tenantkit.acl_role", ""
	if st.current {
		rolesSQL = "SELECT kind, name, role::text, tenant FROM tenantkit.acl_role"
		membersSQL = "SELECT group_name, person, '', '' FROM tenantkit.acl_member"
	}
	var err error
	if st.roles, err = read(rolesSQL); err != nil {
		return nil, err
	}
	if st.entries, err = read("SELECT object, principal, rights, propagate::text FROM tenantkit.acl_state"); err != nil {
		return nil, err
	}
	if membersSQL != "" {
		if st.members, err = read(membersSQL); err != nil {
			return nil, err
		}
	}
	sortRows(st.roles)
	sortRows(st.entries)
	sortRows(st.members)
	return st, nil
}

// MakePlan compares the file with the live database and returns the
// statements that make them match. With a tenant table in s, rights on
// tenant:NAME objects scope the rows of every tenanted table (row-level
// security); s may be nil.
func MakePlan(ctx context.Context, q Querier, f *File, s *schema.Schema, opts PlanOptions) (*Plan, error) {
	var master string
	if err := q.QueryRow(ctx, "SELECT current_user").Scan(&master); err != nil {
		return nil, fmt.Errorf("reading the current role: %w", err)
	}
	targets, err := readTargets(ctx, q)
	if err != nil {
		return nil, err
	}
	defaults, err := readTenantDefaults(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("reading tenantkit.acl_tenant_default: %w", err)
	}
	if len(defaults) > 0 {
		withDefaults := *f
		withDefaults.Groups = append([]Group(nil), f.Groups...)
		withDefaults.Entries = append([]Entry(nil), f.Entries...)
		withDefaults.withTenantDefaults(defaults)
		f = &withDefaults
	}
	var rs *rowScope
	if s != nil && s.Tenants != nil {
		list, err := tenant.List(ctx, q, s.Tenants)
		if err != nil {
			return nil, err
		}
		rs = &rowScope{s: s, tenants: list, h: tenant.NewHierarchy(list)}
	}
	db, err := readDatabase(ctx, q)
	if err != nil {
		return nil, err
	}
	pins, pinLines := map[string]string{}, map[string]int{}
	resolved, err := resolveTenants(ctx, q, f, rs, pins, pinLines)
	if err != nil {
		return nil, err
	}
	if f, err = checkNames(f, targets, resolved, master); err != nil {
		return nil, err
	}
	repins, err := checkPins(ctx, q, f, s, pins, pinLines, opts.Repin)
	if err != nil {
		return nil, err
	}
	policyFile := f
	if rs != nil {
		policyFile = expandTenants(f, resolved, rs.h)
	}
	policy := policyFile.Policy(master)
	g, scopedTables := makeGuard(targets, s, rs)
	state, err := readState(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("reading tenantkit.acl_state: %w", err)
	}
	liveRoles, liveEntries := state.roles, state.entries

	var persons, groupRoles, all []string
	var wantRoles []stateRow
	var wantMembers []stateRow
	for _, p := range f.Persons {
		persons = append(persons, p.Name)
		wantRoles = append(wantRoles, stateRow{"person", p.Name, p.Name, ""})
	}
	groupOf := map[string]string{}
	for _, g := range f.Groups {
		if builtinGroups[g.Name] {
			for _, m := range g.Members {
				wantMembers = append(wantMembers, stateRow{g.Name, m, "", ""})
			}
			continue
		}
		r := GroupRole(db.oid, g.Name)
		groupOf[g.Name] = r
		groupRoles = append(groupRoles, r)
		wantRoles = append(wantRoles, stateRow{"group", g.Name, r, g.Tenant})
	}
	sortRows(wantRoles)
	sortRows(wantMembers)
	// Roles managed before but absent from the file lose what they hold here.
	var formerRoles []string
	inFile := map[string]bool{}
	for _, r := range wantRoles {
		inFile[r[2]] = true
	}
	formerKind := map[string]string{}
	for _, r := range liveRoles {
		if !inFile[r[2]] {
			formerRoles = append(formerRoles, r[2])
			formerKind[r[2]] = r[0]
		}
	}
	all = append(append(append(all, persons...), groupRoles...), formerRoles...)
	info, err := readRoles(ctx, q, all)
	if err != nil {
		return nil, err
	}
	// Memberships are cluster-wide: the plan changes those of former
	// groups of this database (and of groups of earlier versions, named
	// for no database), never those of another database's groups (this
	// database may be a copy of that one).
	var former []string
	for _, r := range formerRoles {
		if ri := info[r]; formerKind[r] != "group" || ri.ownGroup(db) || ri.comment == roleComment {
			former = append(former, r)
		}
	}

	plan := &Plan{Pins: pins, Repins: repins}
	emit := func(format string, args ...any) {
		plan.Statements = append(plan.Statements, fmt.Sprintf(format, args...))
	}
	ddl := stateDDL
	if state.exists {
		ddl = stateUpgradeDDL
	}
	if !state.current {
		for _, stmt := range strings.Split(ddl, ";\n") {
			emit("%s;", strings.TrimSuffix(stmt, ";"))
		}
	}
	for _, p := range f.Persons {
		ri := info[p.Name]
		switch {
		case !ri.exists:
			emit("CREATE ROLE %s LOGIN;", sqlq.Ident(p.Name))
			emit("COMMENT ON ROLE %s IS %s;", sqlq.Ident(p.Name), sqlq.Lit(roleComment))
		case ri.super:
			plan.Warnings = append(plan.Warnings, fmt.Sprintf("person %q is a superuser: privileges do not restrict it", p.Name))
		case ri.bypassRLS:
			plan.Warnings = append(plan.Warnings, fmt.Sprintf("person %q has BYPASSRLS: row-level security does not restrict it", p.Name))
		}
	}
	for _, g := range f.Groups {
		r, ok := groupOf[g.Name]
		if !ok {
			continue
		}
		ri := info[r]
		if owner, ok := groupOwner(ri.comment); ri.exists && ok && owner.oid != db.oid {
			return nil, fault.At(f.Path, g.Line, 0, "access group %q maps to role %q, which tenantkit manages for database %s (oid %d)", g.Name, r, owner.name, owner.oid)
		}
		if ri.exists && !ri.ownGroup(db) {
			return nil, fault.At(f.Path, g.Line, 0, "access group %q maps to role %q, which exists and is not managed by tenantkit for this database", g.Name, r)
		}
		if !ri.exists {
			emit("CREATE ROLE %s NOLOGIN;", sqlq.Ident(r))
			emit("COMMENT ON ROLE %s IS %s;", sqlq.Ident(r), sqlq.Lit(groupComment(db)))
		}
	}
	foreignGroups, err := planMemberships(ctx, q, f, db, persons, groupOf, former, emit)
	if err != nil {
		return nil, err
	}
	// A person may SET ROLE to another database's group it is a member
	// of: here that role holds no privileges and row security restricts
	// it (to no rows), like this database's groups.
	all = lo.Uniq(append(all, foreignGroups...))
	if rs != nil {
		if err := rs.planDDL(ctx, q, emit); err != nil {
			return nil, err
		}
	}
	items, err := readACLItems(ctx, q, all, scopedTables)
	if err != nil {
		return nil, err
	}
	scoped, err := scopedRoles(ctx, q, all)
	if err != nil {
		return nil, err
	}
	live := planForeignGrants(plan, items, all, scoped, master, emit)
	want := desired(policy, persons, targets, g)
	plan.Warnings = append(plan.Warnings, g.warnings(policy, persons, targets)...)
	for _, k := range sortedKeys(live) {
		l := live[k]
		w, ok := want[k]
		switch {
		case !ok:
			emit("REVOKE %s ON %s FROM %s CASCADE;", l.priv, l.target, sqlq.Ident(l.role))
		case l.grantable && !w.grantable:
			emit("REVOKE GRANT OPTION FOR %s ON %s FROM %s CASCADE;", l.priv, l.target, sqlq.Ident(l.role))
		}
	}
	for _, k := range sortedKeys(want) {
		w := want[k]
		l, ok := live[k]
		switch {
		case !ok && w.grantable, ok && w.grantable && !l.grantable:
			emit("GRANT %s ON %s TO %s WITH GRANT OPTION;", w.priv, w.target, sqlq.Ident(w.role))
		case !ok:
			emit("GRANT %s ON %s TO %s;", w.priv, w.target, sqlq.Ident(w.role))
		}
	}
	if !equalRows(liveRoles, wantRoles) {
		emit("DELETE FROM tenantkit.acl_role;")
		if len(wantRoles) > 0 {
			emit("INSERT INTO tenantkit.acl_role (kind, name, role, tenant) VALUES %s;", values(wantRoles, 4))
		}
	}
	if !equalRows(state.members, wantMembers) {
		if state.current || len(state.members) > 0 {
			emit("DELETE FROM tenantkit.acl_member;")
		}
		if len(wantMembers) > 0 {
			emit("INSERT INTO tenantkit.acl_member (group_name, person) VALUES %s;", values(wantMembers, 2))
		}
	}
	wantEntries := entryRows(f)
	if !equalRows(liveEntries, stripLine(wantEntries)) {
		emit("DELETE FROM tenantkit.acl_state;")
		if len(wantEntries) > 0 {
			emit("INSERT INTO tenantkit.acl_state (object, principal, rights, propagate, line) VALUES %s;", values(wantEntries, 5))
		}
	}
	if rs != nil {
		if err := rs.plan(ctx, q, plan, policy, persons, scoped, emit); err != nil {
			return nil, err
		}
	}
	return plan, nil
}

// planMemberships makes role memberships match the file: the groups' members
// are the file's, and a managed role (a person, a group, a former one) is a
// member of nothing else: through any other role it could SET ROLE to a role
// row scoping does not restrict.
//
// Memberships in another database's access groups (their comment names
// that database, or they are groups of an earlier version, which several
// databases may share, and not this database's) are that database's to
// manage: they stay, and the roles are returned, for row security here to
// restrict them.
func planMemberships(ctx context.Context, q Querier, f *File, db database, persons []string, groupOf map[string]string, former []string, emit func(string, ...any)) ([]string, error) {
	groups := append([]string(nil), former...)
	for _, r := range groupOf {
		groups = append(groups, r)
	}
	ours := lo.SliceToMap(groups, func(r string) (string, bool) { return r, true })
	isPerson := lo.SliceToMap(persons, func(r string) (string, bool) { return r, true })
	members := append(append([]string(nil), persons...), groups...)
	rows, err := q.Query(ctx, `SELECT g.rolname, m.rolname, coalesce(shobj_description(g.oid, 'pg_authid'), '') FROM pg_auth_members am
		JOIN pg_roles g ON g.oid = am.roleid JOIN pg_roles m ON m.oid = am.member
		WHERE g.rolname = ANY ($1) OR m.rolname = ANY ($2) ORDER BY 1, 2`, groups, members)
	if err != nil {
		return nil, fmt.Errorf("reading group members: %w", err)
	}
	live := map[[2]string]bool{}
	foreign := map[string]bool{}
	for rows.Next() {
		var g, m, comment string
		if err := rows.Scan(&g, &m, &comment); err != nil {
			rows.Close()
			return nil, err
		}
		ri := roleInfo{comment: comment}
		if owner, ok := groupOwner(comment); !ours[g] && (ok && owner.oid != db.oid || ri.oldGroup(g) && !isPerson[g]) {
			foreign[g] = true
			continue
		}
		live[[2]string{g, m}] = true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	want := map[[2]string]bool{}
	for _, g := range f.Groups {
		if r, ok := groupOf[g.Name]; ok {
			for _, m := range g.Members {
				want[[2]string{r, m}] = true
			}
		}
	}
	var revoke, grant [][2]string
	for k := range live {
		if !want[k] {
			revoke = append(revoke, k)
		}
	}
	for k := range want {
		if !live[k] {
			grant = append(grant, k)
		}
	}
	sortPairs(revoke)
	sortPairs(grant)
	for _, k := range revoke {
		emit("REVOKE %s FROM %s;", sqlq.Ident(k[0]), sqlq.Ident(k[1]))
	}
	for _, k := range grant {
		emit("GRANT %s TO %s;", sqlq.Ident(k[0]), sqlq.Ident(k[1]))
	}
	return sortedKeys(foreign), nil
}

// checkNames proves that every object and person the file names can be
// used here, and returns the file with tenants named by key rewritten to
// their names (resolved: see resolveTenants).
func checkNames(f *File, targets []target, resolved map[string]tenant.Resolved, master string) (*File, error) {
	known := map[Object]bool{}
	for _, t := range targets {
		known[t.obj] = true
	}
	posErr := func(line int, format string, args ...any) error {
		return fault.At(f.Path, line, 0, format, args...)
	}
	for _, e := range f.Entries {
		if e.Object.Kind != KindTenant && !known[e.Object] {
			return nil, posErr(e.Line, "unknown object %s", e.Object)
		}
	}
	for _, r := range f.Replaces {
		if r.Object.Kind != KindTenant && !known[r.Object] {
			return nil, posErr(r.Line, "unknown object %s", r.Object)
		}
	}
	for _, p := range f.Persons {
		if p.Name == master {
			return nil, posErr(p.Line, "person %q is the role running tenantkit (the master role), which always has full rights", p.Name)
		}
		if len(p.Name) > 63 {
			return nil, posErr(p.Line, "person %q: role names are at most 63 bytes", p.Name)
		}
	}
	return canonicalTenants(f, resolved)
}

// replacePrincipal marks a Replace in tenantkit.acl_state.
const replacePrincipal = "*replace*"

func entryRows(f *File) []stateRow {
	var out []stateRow
	for _, e := range f.Entries {
		out = append(out, stateRow{e.Object.String(), e.Principal, e.Grant.String(), fmt.Sprint(e.Propagate), fmt.Sprint(e.Line)})
	}
	for _, r := range f.Replaces {
		out = append(out, stateRow{r.Object.String(), replacePrincipal, "Replace", "true", fmt.Sprint(r.Line)})
	}
	sortRows(out)
	return out
}

func stripLine(rows []stateRow) []stateRow {
	out := make([]stateRow, len(rows))
	for i, r := range rows {
		out[i] = r[:4]
	}
	return out
}

func sortRows(rows []stateRow) {
	sort.Slice(rows, func(i, j int) bool {
		return strings.Join(rows[i], "\x00") < strings.Join(rows[j], "\x00")
	})
}

func sortPairs(p [][2]string) {
	sort.Slice(p, func(i, j int) bool { return p[i][0]+"\x00"+p[i][1] < p[j][0]+"\x00"+p[j][1] })
}

func equalRows(a, b []stateRow) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if strings.Join(a[i], "\x00") != strings.Join(b[i], "\x00") {
			return false
		}
	}
	return true
}

func values(rows []stateRow, n int) string {
	var parts []string
	for _, r := range rows {
		var vals []string
		for i := 0; i < n; i++ {
			if n == 5 && i >= 3 {
				vals = append(vals, r[i]) // propagate and line: boolean and integer
			} else {
				vals = append(vals, sqlq.Lit(r[i]))
			}
		}
		parts = append(parts, "("+strings.Join(vals, ", ")+")")
	}
	return strings.Join(parts, ", ")
}

// literal quotes a string for SQL (standard_conforming_strings is on in
// every supported server).

// Apply runs the plan in tx and pins the tenant names it resolved.
func Apply(ctx context.Context, tx pgx.Tx, p *Plan) error {
	for _, stmt := range p.Statements {
		if _, err := tx.Exec(ctx, stmt); err != nil {
			return fmt.Errorf("%s: %w", stmt, err)
		}
	}
	return tenant.SavePins(ctx, tx, p.Pins, "acl apply")
}

// checkPins refuses tenant names that resolve to other keys than when a run
// last pinned them (someone renamed tenants: the file's rights would reach
// another tenant's rows), at the line of the file's first use of the name;
// with repin it returns the moving pins instead.
func checkPins(ctx context.Context, q Querier, f *File, s *schema.Schema, pins map[string]string, pinLines map[string]int, repin bool) ([]string, error) {
	err := tenant.CheckPins(ctx, q, pins)
	var pe *tenant.PinError
	if !errors.As(err, &pe) {
		return nil, err
	}
	if err := pe.NameKeys(ctx, q, s.Tenants); err != nil {
		return nil, err
	}
	var parts []string
	for _, c := range pe.Conflicts {
		parts = append(parts, c.String())
	}
	if repin {
		return parts, nil
	}
	return nil, fault.At(f.Path, pinLines[pe.Conflicts[0].Name], 0, "%s", strings.Join(parts, "; ")+": restore the names, or rerun with Options.Repin to accept the new ones")
}
