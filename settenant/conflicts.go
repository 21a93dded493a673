package settenant

import (
	"context"
	"fmt"
	"strings"

	"github.com/tenantkit/tenantkit/internal/sqlq"
	"github.com/tenantkit/tenantkit/schema"
	"github.com/tenantkit/tenantkit/tenant"
)

// Conflict counts rows that a rule's new tenants put in breach of the
// reference rule with a neighbour that already had a tenant.
type Conflict struct {
	// Srel names the reference: "object.attr → target".
	Srel string `json:"srel"`
	// Direction is "outgoing" when changed rows reference a row the rule
	// forbids for their new tenant, "incoming" when rows of other tenants
	// reference changed rows they may no longer see.
	Direction string `json:"direction"`
	// Rows counts the offending referencing rows.
	Rows int64 `json:"rows"`
}

// conflictQuery is one reference-rule check over the changed rows.
type conflictQuery struct {
	conflict Conflict
	sql      string
	args     sqlq.Args
}

// conflictQueries checks, after a rule ran, every SREL from and to the
// changed rows (recorded in the changed table) against the reference rule
// (tenant.RefRule): the rows verify would flag, a public row referencing a
// tenant's row included.
func conflictQueries(p *plan, s *schema.Schema, sp *tenant.Tenant) []conflictQuery {
	var out []conflictQuery
	changed := fmt.Sprintf("%s c JOIN %s o ON o.tableoid = c.tbl AND o.ctid = c.row_id", changedTable, p.obj.Ident())
	build := func(sr *schema.Srel, from *schema.Object, owner, referenced, join string) (string, sqlq.Args) {
		var a sqlq.Args
		rule := tenant.RefRule{Owner: owner, Referenced: referenced, Ancestors: "anc", OwnerRequired: from.Tenancy == schema.Required}
		if sr.ServiceProviderEligible && sp != nil {
			rule.ServiceProvider = a.Add(sp.ID)
		}
		return fmt.Sprintf("WITH RECURSIVE %s\nSELECT count(*) FROM %s\n\tJOIN %s\nWHERE %s",
			tenant.AncestorsCTE(s.Tenants, "anc"), changed, join, rule.Violation()), a
	}
	on := func(from string, cols []string, to string, toCols []string) string {
		var parts []string
		for i, c := range cols {
			parts = append(parts, fmt.Sprintf("%s.%s = %s.%s", from, sqlq.Ident(c), to, sqlq.Ident(toCols[i])))
		}
		return strings.Join(parts, " AND ")
	}
	tenantOf := func(alias string, o *schema.Object) string {
		if !o.Tenanted() {
			return "NULL::text" // rows of an object without tenancy are public
		}
		return alias + "." + sqlq.Ident(o.TenantColumn) + "::text"
	}
	for _, sr := range p.obj.Srels {
		if sr.Target == nil || !sr.Target.Tenanted() {
			continue
		}
		join := fmt.Sprintf("%s x ON %s", sr.Target.Ident(), on("o", sr.Columns, "x", sr.TargetColumns))
		sql, a := build(sr, p.obj, tenantOf("o", p.obj), tenantOf("x", sr.Target), join)
		out = append(out, conflictQuery{Conflict{Srel: srelName(p.obj, sr), Direction: "outgoing"}, sql, a})
	}
	for _, from := range s.Objects {
		if from.IsTenantTable {
			continue
		}
		for _, sr := range from.Srels {
			if sr.Target != p.obj {
				continue
			}
			join := fmt.Sprintf("%s x ON %s", from.Ident(), on("x", sr.Columns, "o", sr.TargetColumns))
			sql, a := build(sr, from, tenantOf("x", from), tenantOf("o", p.obj), join)
			out = append(out, conflictQuery{Conflict{Srel: srelName(from, sr), Direction: "incoming"}, sql, a})
		}
	}
	return out
}

func srelName(o *schema.Object, sr *schema.Srel) string {
	return fmt.Sprintf("%s.%s → %s", o.Name, sr.Attr, sr.TargetName)
}

// conflicts runs the checks and returns those that found rows.
func conflicts(ctx context.Context, q tenant.Querier, p *plan, s *schema.Schema, sp *tenant.Tenant) ([]Conflict, error) {
	out := []Conflict{}
	for _, cq := range conflictQueries(p, s, sp) {
		var n int64
		if err := q.QueryRow(ctx, cq.sql, cq.args...).Scan(&n); err != nil {
			return nil, fmt.Errorf("checking %s against the reference rule: %w", cq.conflict.Srel, err)
		}
		if n > 0 {
			c := cq.conflict
			c.Rows = n
			out = append(out, c)
		}
	}
	return out, nil
}
