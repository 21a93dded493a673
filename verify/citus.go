package verify

import (
	"github.com/tenantkit/tenantkit/schema"
)

// joinTarget is what the rows of o join as the target of SREL sr, and any
// condition the join adds. On Citus, two distributed tables join only on
// their tenant columns: an SREL whose foreign key pairs them (WithTenant)
// adds that condition; any other (an overlay SREL, which may cross tenants)
// reads the target through a subquery that Citus runs first and sends to
// the workers (an intermediate result: the target's rows travel once).
func (b *builder) joinTarget(o *schema.Object, sr *schema.Srel) (from, on string) {
	tg := sr.Target
	if b.citus[o.Table] == "" || b.citus[tg.Table] == "" || o.Schema != tg.Schema {
		return tg.Ident(), ""
	}
	if sr.WithTenant {
		return tg.Ident(), " AND " + ident("g", tg.TenantColumn) + " = " + ident("r", o.TenantColumn)
	}
	return "(SELECT * FROM " + tg.Ident() + " OFFSET 0)", ""
}
