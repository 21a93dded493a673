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

// PostgreSQL gives PUBLIC CONNECT and TEMPORARY on every new database, and a
// privilege of PUBLIC cannot be taken from one role: an alias login can
// connect to every such database of the server and create temporary tables
// and functions. The lock-down revokes them from PUBLIC and grants them back
// to the login roles that had them only through PUBLIC, alias logins
// excepted.

// lockDB is a database the lock-down changes, as the catalog has it.
type lockDB struct {
	name, owner string
	// public: the privileges PUBLIC holds on it ("CONNECT", "TEMPORARY").
	public []string
	// direct: for each privilege, the roles holding it by a grant of their
	// own.
	direct map[string][]string
}

const lockDBsSQL = `
SELECT d.datname, pg_get_userbyid(d.datdba),
       coalesce((SELECT array_agg(DISTINCT a.privilege_type) FROM aclexplode(coalesce(d.datacl, acldefault('d', d.datdba))) a
                 WHERE a.grantee = 0), '{}'),
       coalesce((SELECT array_agg(DISTINCT a.privilege_type || ':' || r.rolname) FROM aclexplode(coalesce(d.datacl, acldefault('d', d.datdba))) a
                 JOIN pg_roles r ON r.oid = a.grantee), '{}')
FROM pg_database d WHERE d.datname = ANY ($1)`

// grantBackSQL lists the login roles, alias logins and superusers aside,
// that hold privilege $2 on database $1 through PUBLIC only: no grant to
// them or to a role whose privileges they inherit.
const grantBackSQL = `
SELECT r.rolname FROM pg_roles r, pg_database d
WHERE d.datname = $1 AND r.rolcanlogin AND NOT r.rolsuper
  AND NOT starts_with(coalesce(shobj_description(r.oid, 'pg_authid'), ''), $3)
  AND NOT EXISTS (SELECT FROM aclexplode(coalesce(d.datacl, acldefault('d', d.datdba))) a
                  WHERE a.grantee <> 0 AND a.privilege_type = $2 AND pg_has_role(r.oid, a.grantee, 'USAGE'))
ORDER BY r.rolname`

const managedRolesSQL = `
SELECT r.rolname, shobj_description(r.oid, 'pg_authid') FROM pg_roles r
WHERE starts_with(coalesce(shobj_description(r.oid, 'pg_authid'), ''), $1)`

// openSQL says what alias logins can still do: whether PUBLIC has
// TEMPORARY on this database, and the other databases accepting
// connections whose CONNECT PUBLIC holds.
const openSQL = `
SELECT EXISTS (SELECT FROM pg_database d, aclexplode(coalesce(d.datacl, acldefault('d', d.datdba))) a
               WHERE d.datname = current_database() AND a.grantee = 0 AND a.privilege_type = 'TEMPORARY'),
       coalesce((SELECT array_agg(d.datname ORDER BY d.datname) FROM pg_database d
                 WHERE d.datallowconn AND d.datname <> current_database()
                   AND EXISTS (SELECT FROM aclexplode(coalesce(d.datacl, acldefault('d', d.datdba))) a
                               WHERE a.grantee = 0 AND a.privilege_type = 'CONNECT')), '{}')`

// lockDownSteps revokes from PUBLIC TEMPORARY on this database and CONNECT
// on the databases of --lock-down-db, grants them back to the login roles
// that had them only through PUBLIC, grants CONNECT to the alias logins of
// each database (the file's, here) and takes direct grants of those
// privileges from the alias logins that should not have them. Without
// --lock-down it returns the warning saying what stays open.
func (p *planner) lockDownSteps(ctx context.Context) ([]Step, string, error) {
	fail := func(err error) error {
		return fault.Failure(fmt.Errorf("aliases: reading database privileges: %w", err))
	}
	if !p.opts.LockDown {
		var temp bool
		var others []string
		if err := p.tx.QueryRow(ctx, openSQL).Scan(&temp, &others); err != nil {
			return nil, "", fail(err)
		}
		return nil, openWarning(p.db, temp, others), nil
	}
	names := append([]string{p.db}, p.opts.LockDownDBs...)
	rows, err := p.tx.Query(ctx, lockDBsSQL, names)
	if err != nil {
		return nil, "", fail(err)
	}
	dbs := map[string]*lockDB{}
	var name, owner string
	var public, direct []string
	if _, err := pgx.ForEachRow(rows, []any{&name, &owner, &public, &direct}, func() error {
		d := &lockDB{name: name, owner: owner, public: public, direct: map[string][]string{}}
		for _, pr := range direct {
			priv, role, _ := strings.Cut(pr, ":")
			d.direct[priv] = append(d.direct[priv], role)
		}
		dbs[name] = d
		return nil
	}); err != nil {
		return nil, "", fail(err)
	}
	var super bool
	if err := p.tx.QueryRow(ctx, "SELECT rolsuper FROM pg_roles WHERE rolname = current_user").Scan(&super); err != nil {
		return nil, "", fail(err)
	}
	for _, n := range names {
		d := dbs[n]
		switch {
		case d == nil:
			return nil, "", fault.NotFoundf("aliases: Options.LockDownDBs: no database %q on this server", n)
		case !super && d.owner != p.me:
			return nil, "", fault.Usagef("aliases: Options.LockDown: database %q is owned by %q; role %q, neither its owner nor a superuser, cannot revoke PUBLIC's privileges on it", n, d.owner, p.me)
		}
	}
	// The alias logins: of this file, and every role aliases manages with
	// the databases publishing it.
	aliasDBs := map[string][]string{}
	for _, acc := range p.accounts {
		aliasDBs[acc.login] = []string{p.db}
	}
	rows, err = p.tx.Query(ctx, managedRolesSQL, managedMark)
	if err != nil {
		return nil, "", fail(err)
	}
	var comment string
	if _, err := pgx.ForEachRow(rows, []any{&name, &comment}, func() error {
		m, _ := parseRoleComment(comment)
		aliasDBs[name] = append(aliasDBs[name], m.Databases...)
		return nil
	}); err != nil {
		return nil, "", fail(err)
	}
	var steps []Step
	seen := map[string]bool{}
	for _, n := range names {
		if seen[n] {
			continue
		}
		seen[n] = true
		privs := []string{"CONNECT"}
		if n == p.db {
			privs = []string{"CONNECT", "TEMPORARY"}
			if !slices.Contains(p.opts.LockDownDBs, n) {
				privs = []string{"TEMPORARY"} // CONNECT stays PUBLIC's here
			}
		}
		for _, priv := range privs {
			s, err := p.lockDownPriv(ctx, dbs[n], priv, aliasDBs)
			if err != nil {
				return nil, "", err
			}
			steps = append(steps, s...)
		}
		if n == p.db && !slices.Contains(privs, "CONNECT") {
			// The file's logins connect here by a grant of their own, so
			// that a later revoke from PUBLIC leaves them working.
			steps = append(steps, p.aliasConnect(dbs[n], aliasDBs)...)
		}
	}
	return steps, "", nil
}

// lockDownPriv is the lock-down of one privilege on one database.
func (p *planner) lockDownPriv(ctx context.Context, d *lockDB, priv string, aliasDBs map[string][]string) ([]Step, error) {
	db := sqlq.Ident(d.name)
	var steps []Step
	if slices.Contains(d.public, priv) {
		rows, err := p.tx.Query(ctx, grantBackSQL, d.name, priv, managedMark)
		if err != nil {
			return nil, fault.Failure(fmt.Errorf("aliases: reading the roles connecting to %q: %w", d.name, err))
		}
		back, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return nil, fault.Failure(fmt.Errorf("aliases: reading the roles connecting to %q: %w", d.name, err))
		}
		steps = append(steps, Step{Verb: "revoke", Kind: "database", Name: d.name, Detail: priv + " from PUBLIC",
			sql: []string{fmt.Sprintf("REVOKE %s ON DATABASE %s FROM PUBLIC", priv, db)}})
		if len(back) > 0 {
			steps = append(steps, Step{Verb: "grant", Kind: "database", Name: d.name, Detail: priv + " to " + roleList(back) + ", which had it through PUBLIC",
				sql: []string{fmt.Sprintf("GRANT %s ON DATABASE %s TO %s", priv, db, identList(back))}})
		}
	}
	if priv == "CONNECT" {
		steps = append(steps, p.aliasConnect(d, aliasDBs)...)
	}
	// Alias logins that hold the privilege by a grant of their own and
	// should not: TEMPORARY anywhere, CONNECT where they publish nothing.
	var drop []string
	for _, role := range d.direct[priv] {
		if dbsOf, alias := aliasDBs[role]; alias && (priv == "TEMPORARY" || !slices.Contains(dbsOf, d.name)) {
			drop = append(drop, role)
		}
	}
	slices.Sort(drop)
	if len(drop) > 0 {
		steps = append(steps, Step{Verb: "revoke", Kind: "database", Name: d.name, Detail: priv + " from alias logins " + roleList(drop),
			sql: []string{fmt.Sprintf("REVOKE %s ON DATABASE %s FROM %s", priv, db, identList(drop))}})
	}
	return steps, nil
}

// aliasConnect grants CONNECT on d to the alias logins publishing in it
// that lack a grant of their own.
func (p *planner) aliasConnect(d *lockDB, aliasDBs map[string][]string) []Step {
	var need []string
	for role, dbsOf := range aliasDBs {
		if slices.Contains(dbsOf, d.name) && !slices.Contains(d.direct["CONNECT"], role) {
			need = append(need, role)
		}
	}
	if len(need) == 0 {
		return nil
	}
	slices.Sort(need)
	return []Step{{Verb: "grant", Kind: "database", Name: d.name, Detail: "CONNECT to alias logins " + roleList(need),
		sql: []string{fmt.Sprintf("GRANT CONNECT ON DATABASE %s TO %s", sqlq.Ident(d.name), identList(need))}}}
}

// openWarning says what alias logins can do through PUBLIC's privileges,
// or "" when nothing.
func openWarning(db string, temp bool, others []string) string {
	var can []string
	if len(others) > 0 {
		list := strings.Join(others, ", ")
		if len(others) > 3 {
			list = strings.Join(others[:3], ", ") + fmt.Sprintf(" and %d more", len(others)-3)
		}
		can = append(can, fmt.Sprintf("connect to %s (%s)", plural(len(others), "other database", "other databases"), list))
	}
	if temp {
		can = append(can, fmt.Sprintf("create temporary tables and functions in %s", db))
	}
	if len(can) == 0 {
		return ""
	}
	return "alias logins can " + strings.Join(can, " and ") + ", through PUBLIC's privileges: rerun with Options.LockDown (and Options.LockDownDBs naming each other database) to revoke them"
}

// roleList names roles for a plan line: the first five, then a count.
func roleList(roles []string) string {
	if len(roles) <= 5 {
		return strings.Join(roles, ", ")
	}
	return strings.Join(roles[:5], ", ") + fmt.Sprintf(" and %d more", len(roles)-5)
}

func identList(roles []string) string {
	q := make([]string, len(roles))
	for i, r := range roles {
		q[i] = sqlq.Ident(r)
	}
	return strings.Join(q, ", ")
}
