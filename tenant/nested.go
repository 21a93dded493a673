package tenant

import (
	"fmt"

	"github.com/tenantkit/tenantkit/internal/sqlq"
	"github.com/tenantkit/tenantkit/schema"
)

// AncestorsWith is a complete WITH clause defining name(tenant, ancestor)
// as AncestorsCTE does, its recursive CTE nested in a plain, materialized
// one: "AncestorsWith(tt, "anc") + " SELECT …"". Citus plans that CTE on
// its own, where it refuses a recursive CTE in a query on distributed
// tables; on PostgreSQL the two forms give the same rows.
func AncestorsWith(tt *schema.TenantTable, name string) string {
	inner := name + "_r"
	return fmt.Sprintf("WITH %s AS MATERIALIZED (SELECT tenant, ancestor FROM (WITH RECURSIVE %s SELECT * FROM %s) x)",
		sqlq.Ident(name), AncestorsCTE(tt, inner), sqlq.Ident(inner))
}
