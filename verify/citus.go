package verify

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/tenantkit/tenantkit/internal/sqlq"
	"github.com/tenantkit/tenantkit/schema"
)

// citusDistributed names the tables of dbSchema that Citus distributes
// (hash-distributed, see package distribute); nil without Citus.
func citusDistributed(ctx context.Context, q sqlq.Querier, dbSchema string) (map[string]bool, error) {
	var installed bool
	if err := q.QueryRow(ctx, "SELECT EXISTS (SELECT FROM pg_catalog.pg_extension WHERE extname = 'citus')").Scan(&installed); err != nil {
		return nil, fmt.Errorf("looking for the citus extension: %w", err)
	}
	if !installed {
		return nil, nil
	}
	rows, err := q.Query(ctx, `SELECT c.relname FROM pg_catalog.pg_dist_partition p JOIN pg_catalog.pg_class c ON c.oid = p.logicalrelid
		WHERE p.partmethod = 'h' AND c.relnamespace = (SELECT oid FROM pg_catalog.pg_namespace WHERE nspname = $1)`, dbSchema)
	if err != nil {
		return nil, fmt.Errorf("reading the Citus distributed tables: %w", err)
	}
	out := map[string]bool{}
	var name string
	if _, err := pgx.ForEachRow(rows, []any{&name}, func() error { out[name] = true; return nil }); err != nil {
		return nil, fmt.Errorf("reading the Citus distributed tables: %w", err)
	}
	return out, nil
}

// joinTarget is what the rows of o join as the target of SREL sr, and any
// condition the join adds. On Citus, two distributed tables join only on
// their tenant columns: an SREL whose foreign key pairs them (WithTenant)
// adds that condition; any other (an overlay SREL, which may cross tenants)
// reads the target through a subquery that Citus runs first and sends to
// the workers (an intermediate result: the target's rows travel once).
func (b *builder) joinTarget(o *schema.Object, sr *schema.Srel) (from, on string) {
	tg := sr.Target
	if !b.citus[o.Table] || !b.citus[tg.Table] || o.Schema != tg.Schema {
		return tg.Ident(), ""
	}
	if sr.WithTenant {
		return tg.Ident(), " AND " + ident("g", tg.TenantColumn) + " = " + ident("r", o.TenantColumn)
	}
	return "(SELECT * FROM " + tg.Ident() + " OFFSET 0)", ""
}
