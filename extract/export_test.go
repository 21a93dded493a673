package extract

import (
	"context"

	"github.com/jackc/pgx/v5"
	"github.com/tenantkit/tenantkit/schema"
)

// SortedScan runs sortedScan for a section reading o, all of its rows when
// whole is set; o nil stands for a query.
func SortedScan(ctx context.Context, tx pgx.Tx, o *schema.Object, whole bool) error {
	what := "query"
	if o != nil {
		what = "table " + o.Table
	}
	return sortedScan(ctx, tx, &section{obj: o, whole: whole, what: what})
}
