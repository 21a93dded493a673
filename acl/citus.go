package acl

import (
	"context"
	"sort"

	"github.com/tenantkit/tenantkit/distribute"
	"github.com/tenantkit/tenantkit/internal/fault"
	"github.com/tenantkit/tenantkit/schema"
)

// refuseDistributed stops row scoping on a database whose tenanted tables
// Citus distributes: the row policies call functions reading tenantkit's
// rights tables, which live on the coordinator only, while Citus evaluates
// a distributed table's policies on the workers' shards.
func refuseDistributed(ctx context.Context, q Querier, s *schema.Schema) error {
	dist, err := distribute.DistributedTables(ctx, q, s.DBSchema)
	if err != nil || len(dist) == 0 {
		return err
	}
	var tables []string
	for t := range dist {
		tables = append(tables, t)
	}
	sort.Strings(tables)
	return fault.Usagef("acl: row scoping is not supported on Citus distributed tables (%s, …): the policies read tenantkit's rights tables, which the workers lack; use aliases views for per-tenant access", tables[0])
}
