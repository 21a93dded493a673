package distribute

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/tenantkit/tenantkit/internal/sqlq"
	"github.com/tenantkit/tenantkit/schema"
)

// constraint is a primary key, unique constraint or foreign key as the
// catalog has it: what the plan needs to drop and recreate it.
type constraint struct {
	name    string
	kind    byte // 'p', 'u', 'f'
	table   string
	columns []string
	// Foreign keys only.
	target        string
	targetColumns []string
	onDelete      byte // pg_constraint.confdeltype: a, r, c, n, d
	onUpdate      byte
	deferrable    bool
	deferred      bool
	matchFull     bool
}

const constraintsSQL = `
SELECT con.conname, con.contype::text, c.relname,
       ARRAY(SELECT a.attname FROM unnest(con.conkey) WITH ORDINALITY k(n, i)
             JOIN pg_catalog.pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.n ORDER BY k.i)::text[],
       coalesce(t.relname, ''),
       ARRAY(SELECT a.attname FROM unnest(con.confkey) WITH ORDINALITY k(n, i)
             JOIN pg_catalog.pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.n ORDER BY k.i)::text[],
       coalesce(con.confdeltype, 'a')::text, coalesce(con.confupdtype, 'a')::text,
       con.condeferrable, con.condeferred, coalesce(con.confmatchtype = 'f', false)
FROM pg_catalog.pg_constraint con
JOIN pg_catalog.pg_class c ON c.oid = con.conrelid
LEFT JOIN pg_catalog.pg_class t ON t.oid = con.confrelid
WHERE c.relnamespace = (SELECT oid FROM pg_catalog.pg_namespace WHERE nspname = $1) AND con.contype IN ('p', 'u', 'f')
ORDER BY c.relname, con.contype, con.conname`

// readConstraints returns the constraints of the schema's tables by table.
func readConstraints(ctx context.Context, q sqlq.Querier, dbSchema string) (map[string][]*constraint, error) {
	rows, err := q.Query(ctx, constraintsSQL, dbSchema)
	if err != nil {
		return nil, fmt.Errorf("reading constraints of schema %q: %w", dbSchema, err)
	}
	out := map[string][]*constraint{}
	var c constraint
	var kind, del, upd string
	if _, err := pgx.ForEachRow(rows, []any{&c.name, &kind, &c.table, &c.columns, &c.target, &c.targetColumns,
		&del, &upd, &c.deferrable, &c.deferred, &c.matchFull}, func() error {
		cc := c
		cc.kind, cc.onDelete, cc.onUpdate = kind[0], del[0], upd[0]
		out[cc.table] = append(out[cc.table], &cc)
		return nil
	}); err != nil {
		return nil, fmt.Errorf("reading constraints of schema %q: %w", dbSchema, err)
	}
	return out, nil
}

// uniqueIndexesSQL finds unique indexes that back no constraint: Citus
// requires them, too, to include the distribution column.
const uniqueIndexesSQL = `
SELECT c.relname, i.relname,
       ARRAY(SELECT a.attname FROM unnest(x.indkey) WITH ORDINALITY k(n, o)
             JOIN pg_catalog.pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = k.n ORDER BY k.o)::text[]
FROM pg_catalog.pg_index x
JOIN pg_catalog.pg_class c ON c.oid = x.indrelid
JOIN pg_catalog.pg_class i ON i.oid = x.indexrelid
WHERE c.relnamespace = (SELECT oid FROM pg_catalog.pg_namespace WHERE nspname = $1) AND x.indisunique
  AND NOT EXISTS (SELECT FROM pg_catalog.pg_constraint con WHERE con.conindid = x.indexrelid)
ORDER BY c.relname, i.relname`

type uniqueIndex struct {
	table, name string
	columns     []string
}

func readUniqueIndexes(ctx context.Context, q sqlq.Querier, dbSchema string) ([]uniqueIndex, error) {
	rows, err := q.Query(ctx, uniqueIndexesSQL, dbSchema)
	if err != nil {
		return nil, fmt.Errorf("reading unique indexes of schema %q: %w", dbSchema, err)
	}
	var out []uniqueIndex
	var u uniqueIndex
	if _, err := pgx.ForEachRow(rows, []any{&u.table, &u.name, &u.columns}, func() error {
		out = append(out, uniqueIndex{table: u.table, name: u.name, columns: append([]string(nil), u.columns...)})
		return nil
	}); err != nil {
		return nil, fmt.Errorf("reading unique indexes of schema %q: %w", dbSchema, err)
	}
	return out, nil
}

// citusState says whether the database has Citus and how it manages each
// table of the schema: by table name, Distributed (with its distribution
// column) or Reference; tables Citus does not know are absent.
type citusState struct {
	installed bool
	types     map[string]Type
	distCol   map[string]string
}

func readCitus(ctx context.Context, q sqlq.Querier, dbSchema string) (*citusState, error) {
	st := &citusState{types: map[string]Type{}, distCol: map[string]string{}}
	if err := q.QueryRow(ctx, "SELECT EXISTS (SELECT FROM pg_catalog.pg_extension WHERE extname = 'citus')").Scan(&st.installed); err != nil {
		return nil, fmt.Errorf("looking for the citus extension: %w", err)
	}
	if !st.installed {
		return st, nil
	}
	// pg_dist_partition lives in pg_catalog; column_to_column_name turns
	// the stored distribution key into a column name.
	rows, err := q.Query(ctx, `
SELECT c.relname, p.partmethod::text, p.repmodel::text,
       coalesce(pg_catalog.column_to_column_name(p.logicalrelid, p.partkey), '')
FROM pg_catalog.pg_dist_partition p
JOIN pg_catalog.pg_class c ON c.oid = p.logicalrelid
WHERE c.relnamespace = (SELECT oid FROM pg_catalog.pg_namespace WHERE nspname = $1)`, dbSchema)
	if err != nil {
		return nil, fmt.Errorf("reading Citus tables: %w", err)
	}
	var table, method, repmodel, col string
	if _, err := pgx.ForEachRow(rows, []any{&table, &method, &repmodel, &col}, func() error {
		switch {
		case method == "h":
			st.types[table], st.distCol[table] = Distributed, col
		case method == "n" && repmodel == "t":
			st.types[table] = Reference
		default:
			st.types[table] = citusLocal
		}
		return nil
	}); err != nil {
		return nil, fmt.Errorf("reading Citus tables: %w", err)
	}
	return st, nil
}

// countRows returns, per object, its rows and its rows without a tenant.
func countRows(ctx context.Context, q sqlq.Querier, o *schema.Object) (rows, public int64, err error) {
	sql := "SELECT count(*), 0 FROM " + o.Ident()
	if o.Tenanted() {
		sql = fmt.Sprintf("SELECT count(*), count(*) FILTER (WHERE %s IS NULL) FROM %s", sqlq.Ident(o.TenantColumn), o.Ident())
	}
	if err := q.QueryRow(ctx, sql).Scan(&rows, &public); err != nil {
		return 0, 0, fmt.Errorf("counting the rows of %s: %w", o.Table, err)
	}
	return rows, public, nil
}

// DistributedTables names the tables of dbSchema that Citus distributes by
// hash, with their distribution columns; nil when the database has no
// Citus. Other commands use it to shape their queries the way Citus runs
// them, or to refuse what it cannot do.
func DistributedTables(ctx context.Context, q sqlq.Querier, dbSchema string) (map[string]string, error) {
	st, err := readCitus(ctx, q, dbSchema)
	if err != nil || !st.installed {
		return nil, err
	}
	out := map[string]string{}
	for t, typ := range st.types {
		if typ == Distributed {
			out[t] = st.distCol[t]
		}
	}
	return out, nil
}
