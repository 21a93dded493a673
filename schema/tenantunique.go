package schema

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/tenantkit/tenantkit/internal/sqlq"
)

// tenantUniqueSQL lists the primary keys and unique constraints of table $1
// that leave out the tenant column $2, with the foreign keys that reference
// each (they name its index).
const tenantUniqueSQL = `
SELECT con.conname, con.contype::text,
       ARRAY(SELECT a.attname FROM unnest(con.conkey) WITH ORDINALITY k(n, i)
             JOIN pg_catalog.pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.n ORDER BY k.i)::text[],
       ARRAY(SELECT f.conrelid::regclass::text || ' (' || f.conname || ')' FROM pg_catalog.pg_constraint f
             WHERE f.contype = 'f' AND f.conindid = con.conindid ORDER BY 1)
FROM pg_catalog.pg_constraint con
WHERE con.conrelid = $1::regclass AND con.contype IN ('p', 'u')
  AND NOT EXISTS (SELECT FROM pg_catalog.pg_attribute a WHERE a.attrelid = con.conrelid AND a.attname = $2 AND a.attnum = ANY (con.conkey))
ORDER BY con.contype, con.conname`

// TenantUniqueDDL returns the statements that make every key of a tenanted
// table unique per tenant instead of across tenants, where the schema
// allows it, with a comment before each. A key unique across tenants lets
// a tenant's user probe for another tenant's rows (a duplicate-key error,
// an ON CONFLICT DO NOTHING that inserts nothing); (tenant, key) does not.
// A key that foreign keys reference is only reported: those foreign keys
// must include the tenant column first. A tenant-optional table keeps its
// public rows' keys unique with NULLS NOT DISTINCT, and cannot have the
// nullable tenant column in its primary key. Nothing is run.
func TenantUniqueDDL(ctx context.Context, q Querier, s *Schema) ([]string, error) {
	var out []string
	for _, o := range s.Tenanted() {
		if o.IsTenantTable {
			continue
		}
		rows, err := q.Query(ctx, tenantUniqueSQL, o.Ident(), o.TenantColumn)
		if err != nil {
			return nil, fmt.Errorf("reading the keys of %s: %w", o.Table, err)
		}
		type key struct {
			name, kind string
			cols, refs []string
		}
		keys, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (key, error) {
			var k key
			err := r.Scan(&k.name, &k.kind, &k.cols, &k.refs)
			return k, err
		})
		if err != nil {
			return nil, fmt.Errorf("reading the keys of %s: %w", o.Table, err)
		}
		table := o.Schema + "." + o.Table
		for _, k := range keys {
			what := "unique constraint"
			if k.kind == "p" {
				what = "primary key"
			}
			out = append(out, fmt.Sprintf("-- %s: %s %s (%s) is unique across tenants", table, what, k.name, strings.Join(k.cols, ", ")))
			switch {
			case len(k.refs) > 0:
				out = append(out, fmt.Sprintf("--   not changed: referenced by %s; make those foreign keys include %s first", strings.Join(k.refs, ", "), o.TenantColumn))
			case k.kind == "p" && o.Tenancy != Required:
				out = append(out, fmt.Sprintf("--   not changed: %s may be NULL (public rows), so it cannot be part of the primary key", o.TenantColumn))
			default:
				cols := []string{sqlq.Ident(o.TenantColumn)}
				for _, c := range k.cols {
					cols = append(cols, sqlq.Ident(c))
				}
				kind := "PRIMARY KEY"
				if k.kind == "u" {
					kind = "UNIQUE"
					if o.Tenancy != Required {
						kind = "UNIQUE NULLS NOT DISTINCT"
					}
				}
				out = append(out, fmt.Sprintf("ALTER TABLE %s DROP CONSTRAINT %s, ADD CONSTRAINT %s %s (%s);",
					o.Ident(), sqlq.Ident(k.name), sqlq.Ident(k.name), kind, strings.Join(cols, ", ")))
			}
		}
	}
	return out, nil
}
