package schema

import (
	"context"
	"fmt"
	"slices"
	"sort"

	"github.com/tenantkit/tenantkit/internal/sqlq"

	"github.com/jackc/pgx/v5"
)

// Querier is what the catalog reader needs: a pool, a connection or a transaction.
type Querier = sqlq.Querier

const tablesSQL = `
SELECT c.oid, c.relname
FROM pg_class c
WHERE c.relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = $1) AND c.relkind IN ('r', 'p') AND NOT c.relispartition
ORDER BY c.relname`

const columnsSQL = `
SELECT a.attrelid, a.attname, format_type(a.atttypid, a.atttypmod), a.atttypid, a.attnotnull,
       coalesce(pg_get_expr(d.adbin, d.adrelid), ''), a.attidentity <> '', a.attgenerated <> ''
FROM pg_attribute a
JOIN pg_class c ON c.oid = a.attrelid
LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE c.relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = $1) AND c.relkind IN ('r', 'p')
  AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attrelid, a.attnum`

// Constraints with their columns in key order; foreign keys with the
// referenced table and columns.
const constraintsSQL = `
SELECT con.conrelid, con.contype, con.conname,
       ARRAY(SELECT a.attname FROM unnest(con.conkey) WITH ORDINALITY k(n, i)
             JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.n ORDER BY k.i)::text[],
       coalesce(con.confrelid, 0),
       ARRAY(SELECT a.attname FROM unnest(con.confkey) WITH ORDINALITY k(n, i)
             JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.n ORDER BY k.i)::text[]
FROM pg_constraint con
JOIN pg_class c ON c.oid = con.conrelid
WHERE c.relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = $1) AND con.contype IN ('p', 'u', 'f')
ORDER BY con.conrelid, con.contype, con.oid`

type catalogFK struct {
	name       string
	from       uint32
	cols       []string
	to         uint32
	targetCols []string
}

type catalog struct {
	schema string
	byOID  map[uint32]*Object
	fks    []catalogFK
}

// readCatalog loads the tables of one PostgreSQL schema.
func readCatalog(ctx context.Context, q Querier, dbSchema string) (*catalog, error) {
	cat := &catalog{schema: dbSchema, byOID: map[uint32]*Object{}}
	// pgx.ForEachRow closes the rows on every path, errors included.
	rows, err := q.Query(ctx, tablesSQL, dbSchema)
	if err != nil {
		return nil, fmt.Errorf("reading tables of schema %q: %w", dbSchema, err)
	}
	var oid uint32
	var name string
	if _, err := pgx.ForEachRow(rows, []any{&oid, &name}, func() error {
		cat.byOID[oid] = &Object{Name: name, Schema: dbSchema, Table: name, Tenancy: None}
		return nil
	}); err != nil {
		return nil, fmt.Errorf("reading tables: %w", err)
	}

	if rows, err = q.Query(ctx, columnsSQL, dbSchema); err != nil {
		return nil, fmt.Errorf("reading columns: %w", err)
	}
	var c Column
	if _, err := pgx.ForEachRow(rows, []any{&oid, &c.Name, &c.Type, &c.TypeOID, &c.NotNull, &c.Default, &c.Identity, &c.Generated}, func() error {
		if o := cat.byOID[oid]; o != nil {
			o.Columns = append(o.Columns, c)
		}
		return nil
	}); err != nil {
		return nil, fmt.Errorf("reading columns: %w", err)
	}

	if rows, err = q.Query(ctx, constraintsSQL, dbSchema); err != nil {
		return nil, fmt.Errorf("reading constraints: %w", err)
	}
	var target uint32
	var kind string
	var cols, targetCols []string
	if _, err := pgx.ForEachRow(rows, []any{&oid, &kind, &name, &cols, &target, &targetCols}, func() error {
		o := cat.byOID[oid]
		if o == nil {
			return nil
		}
		switch kind {
		case "p":
			o.PrimaryKey = slices.Clone(cols)
		case "u":
			o.Uniques = append(o.Uniques, slices.Clone(cols))
		case "f":
			cat.fks = append(cat.fks, catalogFK{name: name, from: oid, cols: slices.Clone(cols), to: target, targetCols: slices.Clone(targetCols)})
		}
		return nil
	}); err != nil {
		return nil, fmt.Errorf("reading constraints: %w", err)
	}
	return cat, nil
}

func (cat *catalog) objects() []*Object {
	out := make([]*Object, 0, len(cat.byOID))
	for _, o := range cat.byOID {
		out = append(out, o)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Table < out[j].Table })
	return out
}
