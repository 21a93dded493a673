package load

import (
	"context"
	"fmt"

	"github.com/tenantkit/tenantkit/distribute"
	"github.com/tenantkit/tenantkit/internal/fault"
	"github.com/tenantkit/tenantkit/schema"
)

// readCitus notes the tables Citus distributes (see package distribute).
// Citus runs no correlated subquery between a distributed table and a
// local one, which the staging tables are: for those targets the records
// are first matched with a plain join into a local table (findMatches).
func (l *loader) readCitus(ctx context.Context) error {
	var err error
	if l.citus, err = distribute.DistributedTables(ctx, l.tx, l.schema.DBSchema); err != nil {
		return fault.Failure(fmt.Errorf("userload: %w", err))
	}
	return nil
}

// correlated is how a subquery correlated with staged records reads the
// table of o: the table, or on Citus, for a distributed one, a subquery
// Citus runs first (it correlates no distributed table with local rows).
func (l *loader) correlated(o *schema.Object) string {
	if l.citus[o.Table] != "" {
		return "(SELECT * FROM " + o.Ident() + " OFFSET 0)"
	}
	return o.Ident()
}

// distributed reports whether the group's table is a Citus distributed table.
func (l *loader) distributed(g *group) bool { return l.citus[g.obj.Table] != "" }

// staged is the FROM item of the group's records that are not rejected,
// named s, and the condition left for the WHERE clause. On a Citus
// distributed table they are a subquery, which Citus runs first and joins
// as an intermediate result: it joins a distributed table with no local
// table directly.
func (l *loader) staged(g *group) (from, where string) {
	if l.distributed(g) {
		return "(SELECT * FROM " + g.typed() + " s WHERE " + notRejected + " OFFSET 0) s", "true"
	}
	return g.typed() + " s", notRejected
}
