package acl

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/samber/lo"
)

// Querier is a pool, connection or transaction.
type Querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// roleComment marks roles tenantkit's acl manages. Role comments are
// cluster-wide, so every database recognizes them.
const roleComment = "managed by tenantkit acl"

// target is one database object privileges are granted on.
type target struct {
	obj  Object // the tree node deciding its rights (a function's name stands for every overload)
	kind string // database, schema, table, view, sequence, function
	sql  string // the object in GRANT syntax, e.g. TABLE "public"."deal"
	// seqs are the sequences the table's column defaults draw from: Create
	// on the table needs USAGE on them.
	seqs []string
}

// privilege is one PostgreSQL privilege held by a role on a target.
type privilege struct {
	role      string
	target    string // target.sql
	priv      string // SELECT, INSERT, …
	grantable bool
}

func (p privilege) key() string { return p.role + "\x00" + p.target + "\x00" + p.priv }

// Schemas that are never part of the tree.
const skipSchemas = `n.nspname NOT IN ('pg_catalog', 'information_schema', 'tenantkit', 'pg_toast')
	AND n.nspname NOT LIKE 'pg_temp_%' AND n.nspname NOT LIKE 'pg_toast_temp_%'`

const targetsSQL = `
SELECT 'database', '', '', 'DATABASE ' || quote_ident(current_database()), '{}'::text[]
UNION ALL
SELECT 'schema', n.nspname, '', 'SCHEMA ' || quote_ident(n.nspname), '{}'
FROM pg_namespace n WHERE ` + skipSchemas + `
UNION ALL
SELECT CASE c.relkind WHEN 'S' THEN 'sequence' WHEN 'v' THEN 'view' WHEN 'm' THEN 'view' ELSE 'table' END,
       n.nspname, c.relname,
       CASE c.relkind WHEN 'S' THEN 'SEQUENCE ' ELSE 'TABLE ' END || quote_ident(n.nspname) || '.' || quote_ident(c.relname),
       ARRAY(SELECT DISTINCT quote_ident(sn.nspname) || '.' || quote_ident(s.relname)
             FROM pg_attrdef ad
             JOIN pg_depend d ON d.classid = 'pg_attrdef'::regclass AND d.objid = ad.oid AND d.refclassid = 'pg_class'::regclass
             JOIN pg_class s ON s.oid = d.refobjid AND s.relkind = 'S'
             JOIN pg_namespace sn ON sn.oid = s.relnamespace
             WHERE ad.adrelid = c.oid ORDER BY 1)
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S') AND ` + skipSchemas + `
UNION ALL
SELECT 'function', n.nspname, p.proname, CASE p.prokind WHEN 'p' THEN 'PROCEDURE ' ELSE 'FUNCTION ' END || p.oid::regprocedure::text, '{}'
FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE p.prokind IN ('f', 'p') AND ` + skipSchemas + `
ORDER BY 1, 2, 3, 4`

const livePrivilegesSQL = `
WITH r AS (SELECT oid, rolname FROM pg_roles WHERE rolname = ANY ($1))
SELECT r.rolname, 'DATABASE ' || quote_ident(d.datname), a.privilege_type, a.is_grantable
FROM pg_database d, aclexplode(d.datacl) a JOIN r ON r.oid = a.grantee
WHERE d.datname = current_database()
UNION ALL
SELECT r.rolname, 'SCHEMA ' || quote_ident(n.nspname), a.privilege_type, a.is_grantable
FROM pg_namespace n, aclexplode(n.nspacl) a JOIN r ON r.oid = a.grantee
WHERE ` + skipSchemas + `
UNION ALL
SELECT r.rolname, CASE c.relkind WHEN 'S' THEN 'SEQUENCE ' ELSE 'TABLE ' END || quote_ident(n.nspname) || '.' || quote_ident(c.relname),
       a.privilege_type, a.is_grantable
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace, aclexplode(c.relacl) a JOIN r ON r.oid = a.grantee
WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S') AND ` + skipSchemas + `
UNION ALL
SELECT r.rolname, CASE p.prokind WHEN 'p' THEN 'PROCEDURE ' ELSE 'FUNCTION ' END || p.oid::regprocedure::text, a.privilege_type, a.is_grantable
FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace, aclexplode(p.proacl) a JOIN r ON r.oid = a.grantee
WHERE p.prokind IN ('f', 'p') AND ` + skipSchemas + `
UNION ALL
SELECT r.rolname, 'SCHEMA tenantkit', a.privilege_type, a.is_grantable
FROM pg_namespace n, aclexplode(n.nspacl) a JOIN r ON r.oid = a.grantee
WHERE n.nspname = 'tenantkit'

UNION ALL
SELECT r.rolname, 'TABLE tenantkit.' || c.relname, a.privilege_type, a.is_grantable
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace, aclexplode(c.relacl) a JOIN r ON r.oid = a.grantee
WHERE n.nspname = 'tenantkit' AND c.relname = 'acl_state'`

func readTargets(ctx context.Context, q Querier) ([]target, error) {
	rows, err := q.Query(ctx, targetsSQL)
	if err != nil {
		return nil, fmt.Errorf("reading database objects: %w", err)
	}
	defer rows.Close()
	var out []target
	for rows.Next() {
		var t target
		var schema, name string
		if err := rows.Scan(&t.kind, &schema, &name, &t.sql, &t.seqs); err != nil {
			return nil, err
		}
		switch t.kind {
		case "database":
			t.obj = Database
		case "schema":
			t.obj = Object{Kind: KindSchema, Schema: schema}
		case "table", "view":
			t.obj = Object{Kind: KindTable, Schema: schema, Name: name}
		case "sequence":
			t.obj = Object{Kind: KindSequence, Schema: schema, Name: name}
		case "function":
			t.obj = Object{Kind: KindFunction, Schema: schema, Name: name}
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

func readLive(ctx context.Context, q Querier, roles []string) (map[string]privilege, error) {
	rows, err := q.Query(ctx, livePrivilegesSQL, roles)
	if err != nil {
		return nil, fmt.Errorf("reading privileges: %w", err)
	}
	defer rows.Close()
	out := map[string]privilege{}
	for rows.Next() {
		var p privilege
		if err := rows.Scan(&p.role, &p.target, &p.priv, &p.grantable); err != nil {
			return nil, err
		}
		out[p.key()] = p
	}
	return out, rows.Err()
}

// privilegesFor maps rights on a target to PostgreSQL privileges.
func privilegesFor(kind string, r Rights) []string {
	var out []string
	add := func(has Rights, priv string) {
		if r&has != 0 {
			out = append(out, priv)
		}
	}
	switch kind {
	case "database":
		add(Execute, "CONNECT")
		add(Create, "CREATE")
	case "schema":
		add(Read|Execute, "USAGE")
		add(Create, "CREATE")
	case "table", "view":
		add(Read, "SELECT")
		add(Create, "INSERT")
		add(Change, "UPDATE")
		add(Delete, "DELETE")
	case "sequence":
		add(Read, "SELECT")
		add(Change, "UPDATE")
		add(Execute|Create, "USAGE")
	case "function":
		add(Execute, "EXECUTE")
	}
	return out
}

// desired computes every privilege the managed persons should hold.
func desired(p *Policy, persons []string, targets []target) map[string]privilege {
	out := map[string]privilege{}
	add := func(role, tgt, priv string, grantable bool) {
		pr := privilege{role: role, target: tgt, priv: priv, grantable: grantable}
		if old, ok := out[pr.key()]; ok && old.grantable {
			pr.grantable = true
		}
		out[pr.key()] = pr
	}
	for _, person := range persons {
		usedSchemas := map[string]bool{}
		for _, t := range targets {
			d := p.Effective(person, t.obj)
			grantable := d.Rights&ChangePermissions != 0
			privs := privilegesFor(t.kind, d.Rights)
			for _, priv := range privs {
				add(person, t.sql, priv, grantable)
			}
			if len(privs) > 0 && t.kind != "database" && t.kind != "schema" {
				usedSchemas[t.obj.Schema] = true
			}
			if d.Rights&Create != 0 && (t.kind == "table" || t.kind == "view") {
				for _, s := range t.seqs {
					add(person, "SEQUENCE "+s, "USAGE", false)
				}
			}
		}
		// ReadPermissions lets a person read the declared entries.
		if p.Effective(person, Database).Rights&ReadPermissions != 0 {
			add(person, "SCHEMA tenantkit", "USAGE", false)
			add(person, "TABLE tenantkit.acl_state", "SELECT", false)
		}
		// Rights on an object are useless without USAGE on its schema.
		for _, t := range targets {
			if t.kind == "schema" && usedSchemas[t.obj.Schema] {
				add(person, t.sql, "USAGE", false)
			}
		}
	}
	return out
}

var roleSlug = regexp.MustCompile(`[^a-z0-9]+`)

// GroupRole is the role name of an access group: deterministic, valid,
// at most 63 bytes, and distinct for distinct names (a hash of the full
// name is part of it).
func GroupRole(name string) string {
	sum := sha256.Sum256([]byte(name))
	slug := strings.Trim(roleSlug.ReplaceAllString(strings.ToLower(name), "_"), "_")
	if len(slug) > 40 {
		slug = slug[:40]
	}
	return "tkg_" + slug + "_" + hex.EncodeToString(sum[:4])
}

func sortedKeys[V any](m map[string]V) []string {
	keys := lo.Keys(m)
	sort.Strings(keys)
	return keys
}
