package tenant

import (
	"context"
	"fmt"

	"github.com/tenantkit/tenantkit/internal/sqlq"
	"github.com/tenantkit/tenantkit/schema"
)

// Census is how many rows each tenant owns in each tenanted object, read in
// one snapshot: the tenant hierarchy with its rows, as reports draw it.
type Census struct {
	// Objects names the tenanted objects counted, in schema order.
	Objects []string `json:"objects"`
	// Tenants holds every tenant, in name order.
	Tenants []*Tenant `json:"tenants"`
	// Rows[i][j] counts the rows of Objects[j] that Tenants[i] owns.
	Rows [][]int64 `json:"rows"`
	// Public[j] counts the rows of Objects[j] with no tenant.
	Public []int64 `json:"public"`
	// Unknown[j] counts the rows of Objects[j] whose tenant key names no
	// tenant.
	Unknown []int64 `json:"unknown"`
}

// censusSQL counts an object's rows per tenant key, NULL for public rows.
const censusSQL = `SELECT r.{tenant}::text, count(*) FROM {table} r GROUP BY 1`

// Count takes the census of objs (the tenanted ones; the tenant table's own
// rows are not counted) with one grouped query per object, all in one
// read-only repeatable-read transaction.
func Count(ctx context.Context, db TxStarter, tt *schema.TenantTable, objs []*schema.Object) (*Census, error) {
	tx, err := db.Begin(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY"); err != nil {
		return nil, fmt.Errorf("starting the census transaction: %w", err)
	}
	ts, err := List(ctx, tx, tt)
	if err != nil {
		return nil, err
	}
	c := &Census{Tenants: ts, Rows: make([][]int64, len(ts))}
	index := make(map[string]int, len(ts))
	for i, t := range ts {
		index[t.ID] = i
	}
	var counted []*schema.Object
	for _, o := range objs {
		if o.Tenanted() && !o.IsTenantTable {
			counted = append(counted, o)
			c.Objects = append(c.Objects, o.Name)
		}
	}
	for i := range c.Rows {
		c.Rows[i] = make([]int64, len(counted))
	}
	c.Public, c.Unknown = make([]int64, len(counted)), make([]int64, len(counted))
	for j, o := range counted {
		if err := c.countObject(ctx, tx, o, j, index); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// countObject fills column j of the census with o's rows.
func (c *Census) countObject(ctx context.Context, q Querier, o *schema.Object, j int, index map[string]int) error {
	rows, err := q.Query(ctx, sqlq.Expand(censusSQL, sqlq.Names{"table": o.Ident(), "tenant": sqlq.Ident(o.TenantColumn)}))
	if err != nil {
		return fmt.Errorf("counting the rows of %s per tenant: %w", o.Name, err)
	}
	defer rows.Close()
	for rows.Next() {
		var key *string
		var n int64
		if err := rows.Scan(&key, &n); err != nil {
			return fmt.Errorf("counting the rows of %s per tenant: %w", o.Name, err)
		}
		switch i, ok := index[deref(key)]; {
		case key == nil:
			c.Public[j] += n
		case ok:
			c.Rows[i][j] += n
		default:
			c.Unknown[j] += n
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("counting the rows of %s per tenant: %w", o.Name, err)
	}
	return nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
