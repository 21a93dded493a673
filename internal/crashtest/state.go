// Package crashtest proves that tenantkit's writing commands are crash safe.
// It kills a running command with SIGKILL at chosen moments, checks that the
// database is exactly as it was before the run, reruns the command and checks
// that the database is exactly as after a run that was never interrupted.
//
// State captures what is compared: every table's rows (an ordered checksum),
// the catalog's tables, columns, constraints, indexes, views, schemas,
// privileges and comments, and chosen roles. Sequence positions are left out:
// PostgreSQL never rolls them back.
package crashtest

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/tenantkit/tenantkit/internal/sqlq"
)

// Querier runs queries: a connection, a pool or a transaction.
type Querier = sqlq.Execer

// State is a database's comparable content: one entry per table, view,
// schema and role, each a line of text (a row count and checksum for tables).
type State map[string]string

// Options choose what State covers.
type Options struct {
	// Stable leaves out what legitimately differs between two databases
	// that ran the same command: columns whose default is volatile (now(),
	// gen_random_uuid(), …), and role comments and passwords (cluster-wide,
	// they name the databases publishing a role and carry a random salt).
	Stable bool
	// Roles are the cluster-wide roles whose attributes, comment, password
	// and settings in this database belong to the state (absent ones too).
	Roles []string
}

// volatileDefault matches default expressions that give another value on
// every run.
const volatileDefault = `(now|clock_timestamp|statement_timestamp|transaction_timestamp|timeofday|random|gen_random_uuid|uuid_generate_v[14])\s*\(|current_(timestamp|time|date)|localtime`

// relationsSQL lists the user relations with their columns ($1: leave out
// volatile columns from the row checksum).
const relationsSQL = `
SELECT n.nspname, c.relname, c.relkind::text,
       coalesce(c.relacl::text, ''), c.relrowsecurity, c.relforcerowsecurity,
       coalesce(obj_description(c.oid, 'pg_class'), ''),
       coalesce(string_agg(format('%I %s%s%s%s', a.attname, format_type(a.atttypid, a.atttypmod),
                  CASE WHEN a.attnotnull THEN ' not null' ELSE '' END,
                  CASE WHEN d.adbin IS NOT NULL THEN ' default ' || pg_get_expr(d.adbin, d.adrelid) ELSE '' END,
                  coalesce(' comment ' || col_description(c.oid, a.attnum), '')), ', ' ORDER BY a.attnum), ''),
       coalesce(string_agg(quote_ident(a.attname), ', ' ORDER BY a.attnum)
                FILTER (WHERE NOT ($1 AND coalesce(pg_get_expr(d.adbin, d.adrelid) ~* $2, false))), ''),
       CASE WHEN c.relkind = 'v' THEN pg_get_viewdef(c.oid) ELSE '' END
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE c.relkind IN ('r', 'p', 'v', 'm')
  AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_(toast|temp)'
GROUP BY n.nspname, c.relname, c.relkind, c.relacl, c.relrowsecurity, c.relforcerowsecurity, c.oid
ORDER BY 1, 2`

// constraintsSQL lists constraints, indexes, triggers and policies per table.
const constraintsSQL = `
SELECT n.nspname, c.relname, string_agg(x, '; ' ORDER BY x)
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
CROSS JOIN LATERAL (
    SELECT 'constraint ' || quote_ident(conname) || ' ' || pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = c.oid
    UNION ALL SELECT 'index ' || pg_get_indexdef(indexrelid) FROM pg_index WHERE indrelid = c.oid
    UNION ALL SELECT 'trigger ' || pg_get_triggerdef(oid) FROM pg_trigger WHERE tgrelid = c.oid AND NOT tgisinternal
    UNION ALL SELECT format('policy %I %s %s %s using %s check %s', polname, polcmd, polpermissive, polroles::regrole[]::text,
                            pg_get_expr(polqual, polrelid), pg_get_expr(polwithcheck, polrelid))
              FROM pg_policy WHERE polrelid = c.oid
) AS defs(x)
WHERE c.relkind IN ('r', 'p')
  AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_(toast|temp)'
GROUP BY n.nspname, c.relname`

// schemasSQL lists the user schemas.
const schemasSQL = `
SELECT nspname, pg_get_userbyid(nspowner), coalesce(nspacl::text, ''), coalesce(obj_description(oid, 'pg_namespace'), '')
FROM pg_namespace
WHERE nspname NOT IN ('pg_catalog', 'information_schema') AND nspname !~ '^pg_(toast|temp)'`

// rolesSQL describes the roles named by $1 (superuser: reads pg_authid).
const rolesSQL = `
SELECT r.name, a.rolname IS NOT NULL, coalesce(a.rolcanlogin, false), coalesce(a.rolsuper, false),
       coalesce(a.rolcreaterole, false), coalesce(md5(a.rolpassword), ''),
       coalesce(shobj_description(a.oid, 'pg_authid'), ''),
       coalesce((SELECT setconfig::text FROM pg_db_role_setting
                 WHERE setrole = a.oid AND setdatabase = (SELECT oid FROM pg_database WHERE datname = current_database())), ''),
       coalesce((SELECT string_agg(g.rolname, ',' ORDER BY g.rolname) FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid
                 WHERE m.member = a.oid), '')
FROM unnest($1::text[]) AS r(name)
LEFT JOIN pg_authid a ON a.rolname = r.name`

// Capture reads the state of the database q is connected to.
func Capture(ctx context.Context, q Querier, opts Options) (State, error) {
	st := State{}
	type table struct{ ident, cols string }
	var tables []table
	rows, err := q.Query(ctx, relationsSQL, opts.Stable, volatileDefault)
	if err != nil {
		return nil, fmt.Errorf("crashtest: listing relations: %w", err)
	}
	for rows.Next() {
		var nsp, rel, kind, acl, comment, cols, checkCols, viewDef string
		var rls, forceRLS bool
		if err := rows.Scan(&nsp, &rel, &kind, &acl, &rls, &forceRLS, &comment, &cols, &checkCols, &viewDef); err != nil {
			rows.Close()
			return nil, fmt.Errorf("crashtest: listing relations: %w", err)
		}
		ident := sqlq.Ident(nsp, rel)
		key := "relation " + ident
		st[key] = fmt.Sprintf("kind %s; columns %s; acl %s; rls %t/%t; comment %q", kind, cols, acl, rls, forceRLS, comment)
		switch kind {
		case "v":
			st["view "+ident] = viewDef
		case "r", "p":
			tables = append(tables, table{ident, checkCols})
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("crashtest: listing relations: %w", err)
	}
	for _, tb := range tables {
		sum, err := Checksum(ctx, q, tb.ident, tb.cols)
		if err != nil {
			return nil, err
		}
		st["rows "+tb.ident] = sum
	}
	if err := collect(ctx, q, st, constraintsSQL, nil, func(vals []string) (string, string) {
		return "definitions " + sqlq.Ident(vals[0], vals[1]), vals[2]
	}); err != nil {
		return nil, err
	}
	if err := collect(ctx, q, st, schemasSQL, nil, func(vals []string) (string, string) {
		return "schema " + sqlq.Ident(vals[0]), fmt.Sprintf("owner %s; acl %s; comment %q", vals[1], vals[2], vals[3])
	}); err != nil {
		return nil, err
	}
	roles, err := CaptureRoles(ctx, q, opts)
	if err != nil {
		return nil, err
	}
	for k, v := range roles {
		st[k] = v
	}
	return st, nil
}

// CaptureRoles reads the state of opts.Roles only: an entry per role.
func CaptureRoles(ctx context.Context, q Querier, opts Options) (State, error) {
	st := State{}
	if len(opts.Roles) == 0 {
		return st, nil
	}
	err := collect(ctx, q, st, rolesSQL, []any{opts.Roles}, func(v []string) (string, string) {
		if v[1] != "true" {
			return "role " + v[0], "absent"
		}
		if opts.Stable {
			return "role " + v[0], fmt.Sprintf("login %s; super %s; createrole %s; settings %s; member of %s", v[2], v[3], v[4], v[7], v[8])
		}
		return "role " + v[0], fmt.Sprintf("login %s; super %s; createrole %s; password md5 %s; comment %q; settings %s; member of %s",
			v[2], v[3], v[4], v[5], v[6], v[7], v[8])
	})
	if err != nil {
		return nil, err
	}
	return st, nil
}

// collect runs a query whose values are all read as text and adds one
// entry per row.
func collect(ctx context.Context, q Querier, st State, sql string, args []any, entry func([]string) (string, string)) error {
	rows, err := q.Query(ctx, sql, args...)
	if err != nil {
		return fmt.Errorf("crashtest: %s: %w", firstWords(sql), err)
	}
	defer rows.Close()
	for rows.Next() {
		raw, err := rows.Values()
		if err != nil {
			return fmt.Errorf("crashtest: %s: %w", firstWords(sql), err)
		}
		vals := make([]string, len(raw))
		for i, v := range raw {
			vals[i] = fmt.Sprint(v)
		}
		k, v := entry(vals)
		st[k] = v
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("crashtest: %s: %w", firstWords(sql), err)
	}
	return nil
}

func firstWords(sql string) string {
	f := strings.Fields(sql)
	if len(f) > 6 {
		f = f[:6]
	}
	return strings.Join(f, " ")
}

// Checksum is a table's row count and an ordered checksum of its rows (the
// md5 of the sorted md5s of each row's text form), over the given columns
// (a select list of quoted names; "" for none).
func Checksum(ctx context.Context, q Querier, table, cols string) (string, error) {
	sql := `SELECT count(*), coalesce(md5(string_agg(h, '' ORDER BY h COLLATE "C")), '')
FROM (SELECT md5(t::text) AS h FROM (SELECT ` + cols + ` FROM ` + table + `) AS t) AS s`
	var n int64
	var sum string
	if err := q.QueryRow(ctx, sql).Scan(&n, &sum); err != nil {
		return "", fmt.Errorf("crashtest: checksum of %s: %w", table, err)
	}
	return fmt.Sprintf("%d rows, md5 %s", n, sum), nil
}

// Diff lists the entries that differ between want and got, sorted, as
// "key: want … got …" lines; none when the states are equal.
func Diff(want, got State) []string {
	var out []string
	for k, w := range want {
		g, ok := got[k]
		switch {
		case !ok:
			out = append(out, fmt.Sprintf("%s: want %s, got nothing", k, w))
		case g != w:
			out = append(out, fmt.Sprintf("%s: want %s, got %s", k, w, g))
		}
	}
	for k, g := range got {
		if _, ok := want[k]; !ok {
			out = append(out, fmt.Sprintf("%s: want nothing, got %s", k, g))
		}
	}
	sort.Strings(out)
	return out
}

// Sequence is a sequence's position.
type Sequence struct {
	Ident     string
	LastValue int64
	IsCalled  bool
}

const sequencesSQL = `
SELECT format('%I.%I', n.nspname, c.relname)
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind = 'S' AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_(toast|temp)'
ORDER BY 1`

// Sequences reads the position of every sequence.
func Sequences(ctx context.Context, q Querier) ([]Sequence, error) {
	rows, err := q.Query(ctx, sequencesSQL)
	if err != nil {
		return nil, fmt.Errorf("crashtest: listing sequences: %w", err)
	}
	idents, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("crashtest: listing sequences: %w", err)
	}
	seqs := make([]Sequence, 0, len(idents))
	for _, ident := range idents {
		s := Sequence{Ident: ident}
		if err := q.QueryRow(ctx, "SELECT last_value, is_called FROM "+ident).Scan(&s.LastValue, &s.IsCalled); err != nil {
			return nil, fmt.Errorf("crashtest: reading sequence %s: %w", ident, err)
		}
		seqs = append(seqs, s)
	}
	return seqs, nil
}

// RestoreSequences puts sequences back where Sequences found them, so that
// a rerun after a killed one draws the same generated keys as a run that
// was never interrupted.
func RestoreSequences(ctx context.Context, q Querier, seqs []Sequence) error {
	for _, s := range seqs {
		if _, err := q.Exec(ctx, "SELECT setval($1::regclass, $2, $3)", s.Ident, s.LastValue, s.IsCalled); err != nil {
			return fmt.Errorf("crashtest: restoring sequence %s: %w", s.Ident, err)
		}
	}
	return nil
}
