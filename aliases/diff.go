package aliases

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/tenantkit/tenantkit/internal/fault"
	"github.com/tenantkit/tenantkit/internal/sqlq"
)

// roleState is a role as the catalog has it.
type roleState struct {
	canLogin  bool
	superuser bool
	// scoped: a member of AliasLoginRole, which acl's row policies restrict.
	scoped   bool
	comment  string
	settings []string // this database's role settings, "name=value"
	verifier string   // pg_authid.rolpassword when readable
}

// schemaState is a schema named after a login, or any managed schema.
type schemaState struct {
	owner   string
	comment string
	// grants are the privileges of every grantee but the owner, as
	// "role:PRIVILEGE" ("*" after it with grant option, PUBLIC as "").
	grants []string
}

// viewState is a relation inside a tenant schema.
type viewState struct {
	kind    string // pg_class.relkind
	comment string
	ownedBy bool // by the role tenantkit connects as
	barrier bool
	// grants are the privileges of every grantee but the owner: on the view
	// "role:PRIVILEGE", on a column "role:PRIVILEGE(column)", "*" after it
	// with grant option, PUBLIC as "".
	grants  []string
	columns []string // "name type"
}

const rolesSQL = `
SELECT r.rolname, r.rolcanlogin, r.rolsuper,
       EXISTS (SELECT FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid WHERE m.member = r.oid AND g.rolname = $2),
       coalesce(shobj_description(r.oid, 'pg_authid'), ''),
       coalesce((SELECT s.setconfig FROM pg_db_role_setting s
                 WHERE s.setrole = r.oid AND s.setdatabase = (SELECT oid FROM pg_database WHERE datname = current_database())), '{}')
FROM pg_roles r WHERE r.rolname = ANY ($1)`

const verifiersSQL = `SELECT rolname, coalesce(rolpassword, '') FROM pg_authid WHERE rolname = ANY ($1)`

const schemasSQL = `
SELECT n.nspname, pg_get_userbyid(n.nspowner), coalesce(obj_description(n.oid, 'pg_namespace'), ''),
       coalesce((SELECT array_agg(DISTINCT coalesce(r.rolname, '') || ':' || a.privilege_type || CASE WHEN a.is_grantable THEN '*' ELSE '' END)
                 FROM aclexplode(n.nspacl) a LEFT JOIN pg_roles r ON r.oid = a.grantee
                 WHERE a.grantee <> n.nspowner), '{}')
FROM pg_namespace n
WHERE n.nspname = ANY ($1) OR starts_with(obj_description(n.oid, 'pg_namespace'), $2)`

const viewsSQL = `
SELECT n.nspname, c.relname, c.relkind::text, coalesce(obj_description(c.oid, 'pg_class'), ''),
       c.relowner = (SELECT oid FROM pg_roles WHERE rolname = current_user),
       coalesce(c.reloptions @> ARRAY['security_barrier=true'], false),
       coalesce((SELECT array_agg(DISTINCT g.g) FROM (
                   SELECT coalesce(r.rolname, '') || ':' || a.privilege_type || CASE WHEN a.is_grantable THEN '*' ELSE '' END
                   FROM aclexplode(c.relacl) a LEFT JOIN pg_roles r ON r.oid = a.grantee
                   WHERE a.grantee <> c.relowner
                   UNION ALL
                   SELECT coalesce(r.rolname, '') || ':' || a.privilege_type || '(' || att.attname || ')' || CASE WHEN a.is_grantable THEN '*' ELSE '' END
                   FROM pg_attribute att, aclexplode(att.attacl) a LEFT JOIN pg_roles r ON r.oid = a.grantee
                   WHERE att.attrelid = c.oid AND att.attacl IS NOT NULL AND a.grantee <> c.relowner) g(g)), '{}'),
       coalesce((SELECT array_agg(att.attname || ' ' || format_type(att.atttypid, att.atttypmod) ORDER BY att.attnum)
                 FROM pg_attribute att WHERE att.attrelid = c.oid AND att.attnum > 0 AND NOT att.attisdropped), '{}')
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = ANY ($1) AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')`

// state is what the database holds of the accounts.
type state struct {
	roles   map[string]*roleState
	schemas map[string]*schemaState
	views   map[string]map[string]*viewState // schema → relation → state
	// quoted is quote_ident of each login, as role settings store it.
	quoted map[string]string
	// databases of the cluster: a role's list of publishing databases
	// forgets those that were dropped.
	databases map[string]bool
}

func (p *planner) readState(ctx context.Context) (*state, error) {
	st := &state{roles: map[string]*roleState{}, schemas: map[string]*schemaState{}, views: map[string]map[string]*viewState{}, quoted: map[string]string{}}
	var logins []string
	for _, a := range p.accounts {
		logins = append(logins, a.login)
	}
	fail := func(what string, err error) error {
		return fault.Failure(fmt.Errorf("aliases: reading %s: %w", what, err))
	}
	rows, err := p.tx.Query(ctx, "SELECT datname FROM pg_database")
	if err != nil {
		return nil, fail("databases", err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fail("databases", err)
	}
	st.databases = map[string]bool{}
	for _, n := range names {
		st.databases[n] = true
	}
	rows, err = p.tx.Query(ctx, "SELECT l, quote_ident(l) FROM unnest($1::text[]) l", logins)
	if err != nil {
		return nil, fail("logins", err)
	}
	var l, q string
	if _, err := pgx.ForEachRow(rows, []any{&l, &q}, func() error { st.quoted[l] = q; return nil }); err != nil {
		return nil, fail("logins", err)
	}
	var schemaNames []string
	rows, err = p.tx.Query(ctx, schemasSQL, logins, managedMark)
	if err != nil {
		return nil, fail("schemas", err)
	}
	var name string
	var s schemaState
	if _, err := pgx.ForEachRow(rows, []any{&name, &s.owner, &s.comment, &s.grants}, func() error {
		c := s
		st.schemas[name] = &c
		schemaNames = append(schemaNames, name)
		return nil
	}); err != nil {
		return nil, fail("schemas", err)
	}
	// Roles of the file's logins and of managed schemas gone from the file.
	roleNames := append(slices.Clone(logins), schemaNames...)
	rows, err = p.tx.Query(ctx, rolesSQL, roleNames, AliasLoginRole)
	if err != nil {
		return nil, fail("roles", err)
	}
	var r roleState
	if _, err := pgx.ForEachRow(rows, []any{&name, &r.canLogin, &r.superuser, &r.scoped, &r.comment, &r.settings}, func() error {
		c := r
		st.roles[name] = &c
		return nil
	}); err != nil {
		return nil, fail("roles", err)
	}
	if p.authidReadable {
		rows, err = p.tx.Query(ctx, verifiersSQL, logins)
		if err != nil {
			return nil, fail("passwords", err)
		}
		var v string
		if _, err := pgx.ForEachRow(rows, []any{&name, &v}, func() error {
			if r := st.roles[name]; r != nil {
				r.verifier = v
			}
			return nil
		}); err != nil {
			return nil, fail("passwords", err)
		}
	}
	rows, err = p.tx.Query(ctx, viewsSQL, schemaNames)
	if err != nil {
		return nil, fail("tenant schemas' views", err)
	}
	var nsp, rel string
	var v viewState
	if _, err := pgx.ForEachRow(rows, []any{&nsp, &rel, &v.kind, &v.comment, &v.ownedBy, &v.barrier, &v.grants, &v.columns}, func() error {
		if st.views[nsp] == nil {
			st.views[nsp] = map[string]*viewState{}
		}
		c := v
		st.views[nsp][rel] = &c
		return nil
	}); err != nil {
		return nil, fail("tenant schemas' views", err)
	}
	return st, nil
}

func managedView(v *viewState) bool {
	return v.kind == "v" && strings.HasPrefix(v.comment, managedMark)
}

// plan compares the database with the file and lists the steps that make
// them agree: roles, then schemas, then views, then accounts gone from the
// file.
func (p *planner) plan(ctx context.Context) (*Result, error) {
	st, err := p.readState(ctx)
	if err != nil {
		return nil, err
	}
	res := &Result{SourceSchema: p.s.DBSchema, Accounts: len(p.accounts), Checked: p.opts.Check, Steps: []Step{}}
	inFile := map[string]bool{}
	for _, acc := range p.accounts {
		inFile[acc.login] = true
		steps, err := p.roleSteps(acc, st)
		if err != nil {
			return nil, err
		}
		res.Steps = append(res.Steps, steps...)
	}
	for _, acc := range p.accounts {
		steps, err := p.schemaSteps(acc, st)
		if err != nil {
			return nil, err
		}
		res.Steps = append(res.Steps, steps...)
	}
	for _, acc := range p.accounts {
		steps, unchanged, err := p.viewSteps(acc, st)
		if err != nil {
			return nil, err
		}
		res.Steps = append(res.Steps, steps...)
		res.Unchanged += unchanged
		res.Views += len(p.sources)
	}
	var gone []string
	for name, s := range st.schemas {
		if !inFile[name] && strings.HasPrefix(s.comment, managedMark) {
			gone = append(gone, name)
		}
	}
	slices.Sort(gone)
	for _, name := range gone {
		res.Steps = append(res.Steps, p.goneSteps(name, st)...)
	}
	lock, warning, err := p.lockDownSteps(ctx)
	if err != nil {
		return nil, err
	}
	res.Steps = append(res.Steps, lock...)
	res.LockedDown = p.opts.LockDown
	if warning != "" {
		res.Warnings = append(res.Warnings, warning)
	}
	return res, nil
}

// roleSteps creates the account's login role, or brings an existing managed
// one in line: login allowed, password, search_path and time zone.
func (p *planner) roleSteps(acc *account, st *state) ([]Step, error) {
	role := sqlq.Ident(acc.login)
	inDB := fmt.Sprintf("ALTER ROLE %s IN DATABASE %s SET ", role, sqlq.Ident(p.db))
	searchPath := inDB + "search_path = " + role
	timeZone := inDB + "timezone = " + sqlq.Lit(acc.timeZone)
	r := st.roles[acc.login]
	if r == nil {
		verifier, err := scramVerifier(acc.Password.Text)
		if err != nil {
			return nil, fault.Failure(fmt.Errorf("aliases: %w", err))
		}
		s := Step{Verb: "create", Kind: "role", Name: acc.login, Detail: "search_path " + acc.login, sql: []string{
			fmt.Sprintf("CREATE ROLE %s LOGIN PASSWORD %s", role, sqlq.Lit(verifier)),
			fmt.Sprintf("COMMENT ON ROLE %s IS %s", role, sqlq.Lit(roleComment(roleMark{Databases: []string{p.db}}))),
			searchPath,
			EnsureAliasLoginRoleSQL,
			fmt.Sprintf("GRANT %s TO %s", sqlq.Ident(AliasLoginRole), role),
		}}
		if acc.timeZone != "" {
			s.Detail += ", time zone " + acc.timeZone
			s.sql = append(s.sql, timeZone)
		}
		return []Step{s}, nil
	}
	mark, managed := parseRoleComment(r.comment)
	if !managed || r.superuser {
		return nil, fault.Usage(p.f.errorf(acc.Login.Pos, "login %s: a role of this name already exists and was not created by tenantkit aliases (roles are shared by every database of the server); choose another login", acc.Login.Quote()))
	}
	var steps []Step
	alter := func(verb, detail string, sql ...string) {
		steps = append(steps, Step{Verb: verb, Kind: "role", Name: acc.login, Detail: detail, sql: sql})
	}
	if !slices.Contains(mark.Databases, p.db) {
		mark.Databases = append(slices.DeleteFunc(mark.Databases, func(db string) bool { return !st.databases[db] }), p.db)
		alter("register", "for database "+p.db, fmt.Sprintf("COMMENT ON ROLE %s IS %s", role, sqlq.Lit(roleComment(mark))))
	}
	if !r.canLogin {
		alter("enable", "login", fmt.Sprintf("ALTER ROLE %s LOGIN", role))
	}
	if !r.scoped {
		alter("scope", "member of "+AliasLoginRole+", which acl's row scoping restricts", EnsureAliasLoginRoleSQL,
			fmt.Sprintf("GRANT %s TO %s", sqlq.Ident(AliasLoginRole), role))
	}
	switch {
	case !p.authidReadable:
		verifier, err := scramVerifier(acc.Password.Text)
		if err != nil {
			return nil, fault.Failure(fmt.Errorf("aliases: %w", err))
		}
		alter("set", "password; pg_authid is not readable, so the stored one cannot be compared", fmt.Sprintf("ALTER ROLE %s PASSWORD %s", role, sqlq.Lit(verifier)))
	case !scramMatches(r.verifier, acc.Password.Text):
		verifier, err := scramVerifier(acc.Password.Text)
		if err != nil {
			return nil, fault.Failure(fmt.Errorf("aliases: %w", err))
		}
		alter("set", "password", fmt.Sprintf("ALTER ROLE %s PASSWORD %s", role, sqlq.Lit(verifier)))
	}
	if setting(r.settings, "search_path") != st.quoted[acc.login] {
		alter("set", "search_path "+acc.login, searchPath)
	}
	current := setting(r.settings, "timezone")
	switch {
	case acc.timeZone != "" && !strings.EqualFold(current, acc.timeZone):
		alter("set", "time zone "+acc.timeZone, timeZone)
	case acc.timeZone == "" && current != "":
		alter("reset", "time zone", fmt.Sprintf("ALTER ROLE %s IN DATABASE %s RESET timezone", role, sqlq.Ident(p.db)))
	}
	return steps, nil
}

// setting finds a role setting by name (case-insensitively, as GUC names go).
func setting(settings []string, name string) string {
	for _, s := range settings {
		if k, v, ok := strings.Cut(s, "="); ok && strings.EqualFold(k, name) {
			return v
		}
	}
	return ""
}

// schemaSteps creates the account's schema, owned by tenantkit's role, with
// USAGE for the login as its only privilege: any other grant on it (made by
// hand, or by another tool) is revoked.
func (p *planner) schemaSteps(acc *account, st *state) ([]Step, error) {
	q := sqlq.Ident(acc.login)
	grant := fmt.Sprintf("GRANT USAGE ON SCHEMA %s TO %s", q, q)
	s := st.schemas[acc.login]
	want := acc.login + ":USAGE"
	switch {
	case s == nil:
		return []Step{{Verb: "create", Kind: "schema", Name: acc.login, sql: []string{
			"CREATE SCHEMA " + q,
			fmt.Sprintf("COMMENT ON SCHEMA %s IS %s", q, sqlq.Lit(schemaComment(acc.login))),
			grant,
		}}}, nil
	case !strings.HasPrefix(s.comment, managedMark):
		return nil, fault.Usage(p.f.errorf(acc.Login.Pos, "login %s: schema %s already exists and was not created by tenantkit aliases; drop or rename it, or choose another login", acc.Login.Quote(), acc.Login.Quote()))
	case s.owner != p.me:
		return nil, fault.Usage(p.f.errorf(acc.Login.Pos, "login %s: tenant schema %s is owned by %q, not by %q that tenantkit connects as", acc.Login.Quote(), acc.Login.Quote(), s.owner, p.me))
	case slices.Equal(s.grants, []string{want}):
		return nil, nil
	case len(s.grants) == 0:
		return []Step{{Verb: "grant", Kind: "schema", Name: acc.login, Detail: "usage to " + acc.login, sql: []string{grant}}}, nil
	}
	step := Step{Verb: "reset", Kind: "schema", Name: acc.login, Detail: "privileges: USAGE for " + acc.login + " only"}
	revoked := map[string]bool{}
	for _, g := range s.grants {
		role, _, _ := strings.Cut(g, ":")
		if g == want || revoked[role] {
			continue
		}
		revoked[role] = true
		who := "PUBLIC"
		if role != "" {
			who = sqlq.Ident(role)
		}
		step.sql = append(step.sql, fmt.Sprintf("REVOKE ALL ON SCHEMA %s FROM %s CASCADE", q, who))
	}
	step.sql = append(step.sql, grant)
	return []Step{step}, nil
}

// viewSteps creates, replaces and drops the views of an account's schema,
// and counts the views already as wanted.
func (p *planner) viewSteps(acc *account, st *state) ([]Step, int, error) {
	existing := st.views[acc.login]
	wanted := map[string]bool{}
	var steps []Step
	unchanged := 0
	for _, src := range p.sources {
		name := p.opts.Prefix + src.table
		wanted[name] = true
		view := pgx.Identifier{acc.login, name}
		create := p.viewSQL("CREATE VIEW", view, src, acc)
		fp := fingerprint(create, acc.login)
		comment := fmt.Sprintf("COMMENT ON VIEW %s IS %s", sqlq.Ident(view...), sqlq.Lit(viewComment(fp, src)))
		step := Step{Kind: "view", Schema: acc.login, Name: name, grantee: acc.login}
		v := existing[name]
		switch {
		case v == nil:
			step.Verb, step.sql = "create", []string{create, comment}
		case !managedView(v):
			return nil, 0, fault.Usage(p.f.errorf(acc.Login.Pos, "tenant schema %s already holds %s %q that tenantkit did not create; drop or rename it, or use Options.Prefix", acc.Login.Quote(), relkindName(v.kind), name))
		case commentFingerprint(v.comment) == fp && v.ownedBy && v.barrier:
			if slices.Equal(v.grants, []string{acc.login + ":SELECT"}) {
				unchanged++
				continue
			}
			step.Verb, step.Detail = "reset", "privileges: SELECT for "+acc.login+" only"
		case v.ownedBy && columnsExtend(v.columns, src):
			step.Verb, step.sql = "replace", []string{p.viewSQL("CREATE OR REPLACE VIEW", view, src, acc), comment}
		default:
			step.Verb, step.sql = "replace", []string{"DROP VIEW " + sqlq.Ident(view...), create, comment}
		}
		steps = append(steps, step)
	}
	steps = append(p.staleDrops(acc.login, existing, wanted), steps...)
	return steps, unchanged, nil
}

// columnsExtend reports whether a view with the existing columns can be
// replaced in place by one over src: CREATE OR REPLACE VIEW may only add
// columns at the end.
func columnsExtend(existing []string, src *source) bool {
	if len(existing) > len(src.columns) {
		return false
	}
	for i, c := range existing {
		if c != src.columns[i]+" "+src.types[i] {
			return false
		}
	}
	return true
}

func relkindName(kind string) string {
	switch kind {
	case "v":
		return "a view"
	case "m":
		return "a materialized view"
	case "S":
		return "a sequence"
	case "f":
		return "a foreign table"
	}
	return "a table"
}

// staleDrops drops the managed views of a schema that are not wanted.
func (p *planner) staleDrops(schemaName string, existing map[string]*viewState, wanted map[string]bool) []Step {
	var names []string
	for name, v := range existing {
		if !wanted[name] && managedView(v) {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	var steps []Step
	for _, name := range names {
		steps = append(steps, Step{Verb: "drop", Kind: "view", Schema: schemaName, Name: name, Detail: "stale",
			sql: []string{"DROP VIEW " + sqlq.Ident(schemaName, name)}})
	}
	return steps
}

// goneSteps empties the managed schema of an account no longer in the file:
// its managed views are dropped, and its role, unless another database still
// publishes it, loses its login.
func (p *planner) goneSteps(name string, st *state) []Step {
	steps := p.staleDrops(name, st.views[name], nil)
	r := st.roles[name]
	if r == nil {
		return steps
	}
	mark, managed := parseRoleComment(r.comment)
	if !managed {
		return steps
	}
	role := sqlq.Ident(name)
	listed := slices.Contains(mark.Databases, p.db)
	mark.Databases = slices.DeleteFunc(mark.Databases, func(db string) bool { return db == p.db || !st.databases[db] })
	if listed {
		steps = append(steps, Step{Verb: "release", Kind: "role", Name: name, Detail: "from database " + p.db,
			sql: []string{fmt.Sprintf("COMMENT ON ROLE %s IS %s", role, sqlq.Lit(roleComment(mark)))}})
	}
	if len(mark.Databases) == 0 && r.canLogin {
		steps = append(steps, Step{Verb: "disable", Kind: "role", Name: name, Detail: "login",
			sql: []string{fmt.Sprintf("ALTER ROLE %s NOLOGIN", role)}})
	}
	return steps
}

const directReadersSQL = `
SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = $1 AND c.relname = ANY ($2) AND has_table_privilege($3, c.oid, 'SELECT')
ORDER BY c.relname`

// directReaders warns about logins that can read a source relation without
// the views, through a grant to PUBLIC or to a role they belong to.
func (p *planner) directReaders(ctx context.Context) ([]string, error) {
	var tables []string
	for _, src := range p.sources {
		tables = append(tables, src.table)
	}
	var warnings []string
	for _, acc := range p.accounts {
		rows, err := p.tx.Query(ctx, directReadersSQL, p.s.DBSchema, tables, acc.login)
		if err != nil {
			return nil, fault.Failure(fmt.Errorf("aliases: checking the privileges of %q: %w", acc.login, err))
		}
		readable, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return nil, fault.Failure(fmt.Errorf("aliases: checking the privileges of %q: %w", acc.login, err))
		}
		for _, t := range readable {
			warnings = append(warnings, fmt.Sprintf("login %s can read %s.%s directly (a grant to PUBLIC or to a role it belongs to): the tenant filter of its view does not protect that table", acc.login, p.s.DBSchema, t))
		}
	}
	return warnings, nil
}
