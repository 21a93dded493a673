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

	"github.com/tenantkit/tenantkit/internal/sqlq"
)

// Querier is a pool, connection or transaction.
type Querier = sqlq.Querier

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
	// invoker: a view with security_invoker, which reads its tables with
	// the querying role's rights (and row security) rather than its owner's.
	invoker bool
	// reads are the relations a view's query names directly (target.sql).
	reads []string
}

// privilege is one PostgreSQL privilege held by a role on a target.
type privilege struct {
	role      string
	target    string // target.sql
	priv      string // SELECT, INSERT, …
	grantable bool
}

func (p privilege) key() string { return p.role + "\x00" + p.target + "\x00" + p.priv }

// Schemas that are never part of the tree: the system's, tenantkit's own, and
// the schemas aliases publishes its views in (aliases alone grants on them,
// to the account's login, so acl and aliases never undo each other).
const skipSchemas = `n.nspname NOT IN ('pg_catalog', 'information_schema', 'tenantkit', 'pg_toast')
	AND n.nspname NOT LIKE 'pg_temp_%' AND n.nspname NOT LIKE 'pg_toast_temp_%'
	AND coalesce(obj_description(n.oid, 'pg_namespace'), '') NOT LIKE 'managed by tenantkit aliases%'`

const targetsSQL = `
SELECT 'database', '', '', 'DATABASE ' || quote_ident(current_database()), '{}'::text[], false, '{}'::text[]
UNION ALL
SELECT 'schema', n.nspname, '', 'SCHEMA ' || quote_ident(n.nspname), '{}', false, '{}'
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
             WHERE ad.adrelid = c.oid ORDER BY 1),
       coalesce(c.reloptions @> '{security_invoker=true}' OR c.reloptions @> '{security_invoker=on}', false),
       ARRAY(SELECT DISTINCT 'TABLE ' || quote_ident(tn.nspname) || '.' || quote_ident(t.relname)
             FROM pg_rewrite rw
             JOIN pg_depend d ON d.classid = 'pg_rewrite'::regclass AND d.objid = rw.oid AND d.refclassid = 'pg_class'::regclass
             JOIN pg_class t ON t.oid = d.refobjid AND t.oid <> c.oid AND t.relkind IN ('r', 'p', 'v', 'm', 'f')
             JOIN pg_namespace tn ON tn.oid = t.relnamespace
             WHERE rw.ev_class = c.oid AND c.relkind IN ('v', 'm') ORDER BY 1)
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S') AND ` + skipSchemas + `
UNION ALL
SELECT 'function', n.nspname, p.proname, CASE p.prokind WHEN 'p' THEN 'PROCEDURE ' ELSE 'FUNCTION ' END || p.oid::regprocedure::text, '{}', false, '{}'
FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE p.prokind IN ('f', 'p') AND ` + skipSchemas + `
ORDER BY 1, 2, 3, 4`

// aclItemsSQL lists the privileges granted on the tree's objects (and on
// tenantkit's readable state) that concern acl: those held by the roles $1,
// those granted by them, and every privilege on the tables $2 (the tenanted
// ones, for the warnings on roles row scoping does not restrict). PUBLIC is
// grantee 0.
const aclItemsSQL = `
WITH r AS (SELECT oid FROM pg_roles WHERE rolname = ANY ($1)),
items AS (
	SELECT 'DATABASE ' || quote_ident(d.datname) AS target, d.datdba AS owner, 0::oid AS rel, a.grantor, a.grantee, a.privilege_type, a.is_grantable
	FROM pg_database d, aclexplode(d.datacl) a
	WHERE d.datname = current_database()
	UNION ALL
	SELECT 'SCHEMA ' || quote_ident(n.nspname), n.nspowner, 0, a.grantor, a.grantee, a.privilege_type, a.is_grantable
	FROM pg_namespace n, aclexplode(n.nspacl) a
	WHERE ` + skipSchemas + `
	UNION ALL
	SELECT CASE c.relkind WHEN 'S' THEN 'SEQUENCE ' ELSE 'TABLE ' END || quote_ident(n.nspname) || '.' || quote_ident(c.relname),
	       c.relowner, c.oid, a.grantor, a.grantee, a.privilege_type, a.is_grantable
	FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace, aclexplode(c.relacl) a
	WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S') AND ` + skipSchemas + `
	UNION ALL
	SELECT CASE p.prokind WHEN 'p' THEN 'PROCEDURE ' ELSE 'FUNCTION ' END || p.oid::regprocedure::text, p.proowner, 0,
	       a.grantor, a.grantee, a.privilege_type, a.is_grantable
	FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace, aclexplode(p.proacl) a
	WHERE p.prokind IN ('f', 'p') AND ` + skipSchemas + `
	UNION ALL
	SELECT 'SCHEMA tenantkit', n.nspowner, 0, a.grantor, a.grantee, a.privilege_type, a.is_grantable
	FROM pg_namespace n, aclexplode(n.nspacl) a
	WHERE n.nspname = 'tenantkit'
	UNION ALL
	SELECT 'TABLE tenantkit.' || c.relname, c.relowner, 0, a.grantor, a.grantee, a.privilege_type, a.is_grantable
	FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace, aclexplode(c.relacl) a
	WHERE n.nspname = 'tenantkit' AND c.relname = 'acl_state')
SELECT i.target, coalesce(ge.rolname, 'PUBLIC'), coalesce(gr.rolname, ''), i.privilege_type, i.is_grantable, i.grantor = i.owner,
       i.rel = ANY ($2::regclass[])
FROM items i LEFT JOIN pg_roles ge ON ge.oid = i.grantee LEFT JOIN pg_roles gr ON gr.oid = i.grantor
WHERE i.grantee IN (SELECT oid FROM r) OR i.grantor IN (SELECT oid FROM r) OR i.rel = ANY ($2::regclass[])`

// aclItem is one privilege as the catalog records it.
type aclItem struct {
	privilege
	grantor string
	// byOwner: granted by the object's owner (or by a superuser, which
	// PostgreSQL records as the owner): a grant acl can revoke itself.
	byOwner bool
	// tenanted: the object is a row-scoped table.
	tenanted bool
}

func readACLItems(ctx context.Context, q Querier, roles, tenanted []string) ([]aclItem, error) {
	if tenanted == nil {
		tenanted = []string{}
	}
	rows, err := q.Query(ctx, aclItemsSQL, roles, tenanted)
	if err != nil {
		return nil, fmt.Errorf("reading privileges: %w", err)
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (aclItem, error) {
		var it aclItem
		err := row.Scan(&it.target, &it.role, &it.grantor, &it.priv, &it.grantable, &it.byOwner, &it.tenanted)
		return it, err
	})
}

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
		if err := rows.Scan(&t.kind, &schema, &name, &t.sql, &t.seqs, &t.invoker, &t.reads); err != nil {
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

// readLive returns the privileges the roles hold, whoever granted them.
func readLive(ctx context.Context, q Querier, roles []string) (map[string]privilege, error) {
	items, err := readACLItems(ctx, q, roles, nil)
	if err != nil {
		return nil, err
	}
	in := lo.SliceToMap(roles, func(r string) (string, bool) { return r, true })
	out := map[string]privilege{}
	for _, it := range items {
		if in[it.role] {
			p := it.privilege
			p.grantable = p.grantable || out[p.key()].grantable
			out[p.key()] = p
		}
	}
	return out, nil
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

// guard narrows which rights become privileges where granting them would
// let a person reach rows its tenant rights do not cover.
type guard struct {
	// tenantTable is the tenant table (target.sql); persons write it only
	// through an explicit entry on it: renaming or re-parenting a tenant
	// changes whose rows every name-resolved right reaches.
	tenantTable string
	// unsafeViews maps a view that reads a row-scoped table with its
	// owner's rights (a view without security_invoker on the way) to that
	// table: row security would not restrict a person reading it.
	unsafeViews map[string]string
}

// rightsOn is what person may turn into privileges on t.
func (g guard) rightsOn(p *Policy, person string, t target) (Rights, Decision) {
	d := p.Effective(person, t.obj)
	r := d.Rights
	if d.Super {
		return r, d
	}
	explicitOnly := func(mask Rights) {
		r = r&^mask | r&mask&p.Explicit(person, t.obj)
	}
	switch {
	case g.unsafeViews[t.sql] != "":
		r = 0
	case t.kind == "sequence":
		// Every tenant draws keys from a shared sequence: SELECT shows how
		// many rows others insert, UPDATE (setval) breaks their inserts.
		explicitOnly(Read | Change)
	case t.sql == g.tenantTable:
		explicitOnly(Create | Change | Delete)
	}
	return r, d
}

// desired computes every privilege the managed persons should hold.
func desired(p *Policy, persons []string, targets []target, g guard) map[string]privilege {
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
			rights, _ := g.rightsOn(p, person, t)
			grantable := rights&ChangePermissions != 0
			privs := privilegesFor(t.kind, rights)
			for _, priv := range privs {
				add(person, t.sql, priv, grantable)
			}
			if len(privs) > 0 && t.kind != "database" && t.kind != "schema" {
				usedSchemas[t.obj.Schema] = true
			}
			if rights&Create != 0 && (t.kind == "table" || t.kind == "view") {
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

// unsafeViews finds the views that read one of the tables (target.sql)
// with their owner's rights: directly or through other views, unless every
// view on the way is security_invoker. Each maps to a table it reaches.
func unsafeViews(targets []target, scoped map[string]bool) map[string]string {
	views := map[string]target{}
	for _, t := range targets {
		if t.kind == "view" {
			views[t.sql] = t
		}
	}
	// reaches: a scoped table v reads, directly or through views.
	var reaches func(v string, depth int) string
	reaches = func(v string, depth int) string {
		for _, r := range views[v].reads {
			if scoped[r] {
				return r
			}
			if _, ok := views[r]; ok && depth < 64 {
				if tbl := reaches(r, depth+1); tbl != "" {
					return tbl
				}
			}
		}
		return ""
	}
	// unsafe: v reads a scoped table with its owner's rights, or reads a
	// view that does.
	var unsafe func(v string, depth int) string
	unsafe = func(v string, depth int) string {
		if !views[v].invoker {
			if tbl := reaches(v, depth); tbl != "" {
				return tbl
			}
		}
		for _, r := range views[v].reads {
			if _, ok := views[r]; ok && depth < 64 {
				if tbl := unsafe(r, depth+1); tbl != "" {
					return tbl
				}
			}
		}
		return ""
	}
	out := map[string]string{}
	for v := range views {
		if tbl := unsafe(v, 0); tbl != "" {
			out[v] = tbl
		}
	}
	return out
}

var roleSlug = regexp.MustCompile(`[^a-z0-9]+`)

// GroupRole is the role name of an access group of the database whose OID
// is db: deterministic, valid, at most 63 bytes, and distinct for distinct
// names and databases (a hash of both is part of it). Roles are
// cluster-wide and databases are not: two databases' groups of one name
// are two roles, and neither database's apply touches the other's.
func GroupRole(db uint32, name string) string {
	sum := sha256.Sum256([]byte(fmt.Sprintf("%d\x00%s", db, name)))
	slug := strings.Trim(roleSlug.ReplaceAllString(strings.ToLower(name), "_"), "_")
	if len(slug) > 40 {
		slug = slug[:40]
	}
	return "tkg_" + slug + "_" + hex.EncodeToString(sum[:4])
}

// oldGroupRole is GroupRole before group roles were per database (the
// hash covered the name only); such roles may be shared by several
// databases.
var oldGroupRole = regexp.MustCompile(`^tkg_[a-z0-9_]*_[0-9a-f]{8}$`)

// groupComment marks the group roles of one database; the OID says which
// (it survives renaming the database), the name is for people.
func groupComment(db database) string {
	return fmt.Sprintf("%s: access group of database %s (oid %d)", roleComment, db.name, db.oid)
}

var groupCommentOID = regexp.MustCompile(`^` + regexp.QuoteMeta(roleComment) + `: access group of database (.*) \(oid (\d+)\)$`)

// groupOwner reads a group role's comment: the database that manages it.
func groupOwner(comment string) (db database, ok bool) {
	m := groupCommentOID.FindStringSubmatch(comment)
	if m == nil {
		return database{}, false
	}
	var oid uint32
	if _, err := fmt.Sscan(m[2], &oid); err != nil {
		return database{}, false
	}
	return database{oid: oid, name: m[1]}, true
}

// database is the database a plan runs in.
type database struct {
	oid  uint32
	name string
}

func readDatabase(ctx context.Context, q Querier) (database, error) {
	var db database
	err := q.QueryRow(ctx, "SELECT d.oid, d.datname FROM pg_catalog.pg_database d WHERE d.datname = pg_catalog.current_database()").Scan(&db.oid, &db.name)
	if err != nil {
		return db, fmt.Errorf("reading the current database: %w", err)
	}
	return db, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := lo.Keys(m)
	sort.Strings(keys)
	return keys
}
