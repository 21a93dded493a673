package verify

import (
	"fmt"
	"strings"

	"github.com/tenantkit/tenantkit/schema"
)

// joinTarget is what the rows of o join as the target of SREL sr, and any
// condition the join adds. On Citus, two distributed tables join only on
// their tenant columns: an SREL whose foreign key pairs them (WithTenant)
// adds that condition; any other (an overlay SREL, which may cross tenants)
// reads the target rows it references through a subquery that Citus runs
// first and sends to the workers (an intermediate result).
func (b *builder) joinTarget(o *schema.Object, sr *schema.Srel) (from, on string) {
	tg := sr.Target
	if b.citus[o.Table] == "" || b.citus[tg.Table] == "" || o.Schema != tg.Schema {
		return tg.Ident(), ""
	}
	if sr.WithTenant {
		return tg.Ident(), " AND " + ident("g", tg.TenantColumn) + " = " + ident("r", o.TenantColumn)
	}
	// Only the target rows the source references travel: Citus runs the
	// IN subquery first, filters the target's shards by its result, and
	// keeps that (OFFSET 0) as the intermediate result the join reads.
	var gcols, rcols []string
	for i, c := range sr.Columns {
		gc, rc := ident("g", sr.TargetColumns[i]), ident("r", c)
		if a, b := tg.Column(sr.TargetColumns[i]), o.Column(c); a == nil || b == nil || a.TypeOID != b.TypeOID {
			gc, rc = gc+"::text", rc+"::text"
		}
		gcols, rcols = append(gcols, gc), append(rcols, rc)
	}
	return fmt.Sprintf("(SELECT g.* FROM %s g WHERE (%s) IN (SELECT DISTINCT %s FROM %s r) OFFSET 0)",
		tg.Ident(), strings.Join(gcols, ", "), strings.Join(rcols, ", "), o.Ident()), ""
}
