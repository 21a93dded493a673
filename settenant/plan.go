package settenant

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/tenantkit/tenantkit/distribute"
	"github.com/tenantkit/tenantkit/internal/fault"
	"github.com/tenantkit/tenantkit/internal/sqlcond"
	"github.com/tenantkit/tenantkit/schema"
	"github.com/tenantkit/tenantkit/tenant"
)

// plan is a rule checked against the object schema and ready to run.
type plan struct {
	rule  *Rule
	index int // 1-based position in the file
	obj   *schema.Object
	// path is the SREL chain of an SREL rule, first hop first.
	path []*schema.Srel
	// brel is the back reference of a BREL rule; nil for other rules.
	brel *backRef
	// tenant is the tenant a Name rule sets.
	tenant *tenant.Tenant
	// rowKey identifies rows for batching: the primary key, else a unique
	// key of NOT NULL columns; nil when the table has neither.
	rowKey []*schema.Column
	// shownKey is what the report prints for a row: the object's first
	// match key; nil means the row's ctid.
	shownKey []string
	stmt     statements
}

// compile checks every rule against the object schema and the tenant table
// and builds its statements. Every problem is an exit-2 error naming the
// rule's line in the file.
func compile(ctx context.Context, q tenant.Querier, s *schema.Schema, cfg *Config, opts Options) ([]*plan, error) {
	if s.Tenants == nil {
		return nil, fault.Usagef("the database has no tenant table (name it with <Tenants table=…> in the schema overlay)")
	}
	// The report's reference-rule check lets eligible SRELs point at the
	// service provider's rows.
	var sp *tenant.Tenant
	if opts.Report {
		var err error
		if sp, err = tenant.ServiceProvider(ctx, q, s.Tenants); err != nil && !errors.Is(err, tenant.ErrNotFound) {
			return nil, fault.Failure(err)
		}
	}
	distributed, err := distribute.DistributedTables(ctx, q, s.DBSchema)
	if err != nil {
		return nil, fault.Failure(err)
	}
	plans := make([]*plan, 0, len(cfg.Rules))
	for i, r := range cfg.Rules {
		p := &plan{rule: r, index: i + 1}
		if p.obj = s.Object(r.Object); p.obj == nil {
			return nil, r.Errorf("unknown object %q", r.Object)
		}
		if !p.obj.Tenanted() {
			return nil, r.Errorf("object %q (table %q) has no tenant column", p.obj.Name, p.obj.Table)
		}
		if col := distributed[p.obj.Table]; col != "" && col == p.obj.TenantColumn {
			return nil, r.Errorf("object %q (table %q) is distributed by its tenant column on Citus, which cannot change a distribution column: set tenants before distribute apply (settenant works on reference tables only)", p.obj.Name, p.obj.Table)
		}
		var err error
		switch r.Type {
		case SREL:
			err = p.resolvePath()
		case Name:
			err = p.resolveTenant(ctx, q, s.Tenants)
		case BREL:
			err = p.resolveBrel(s)
		}
		if err != nil {
			return nil, err
		}
		if r.Agree != "" && r.Type != BREL {
			return nil, r.agreeErrorf("agree=%q is for BREL rules, not type=%q", r.Agree, r.Type)
		}
		if r.Where != "" {
			if err := sqlcond.Check(r.Where); err != nil {
				return nil, r.whereErrorf("<Where>: %v", err)
			}
		}
		p.rowKey = p.obj.RowKey()
		if opts.BatchSize > 0 && p.rowKey == nil {
			return nil, r.Errorf("Options.BatchSize: table %q has no primary key or unique key of NOT NULL columns to batch by", p.obj.Table)
		}
		p.shownKey = p.obj.MatchKey()
		p.stmt = buildStatements(p, s, sp)
		plans = append(plans, p)
	}
	return plans, nil
}

// resolvePath follows the dotted SREL path of the rule.
func (p *plan) resolvePath() error {
	path, err := p.followPath(p.obj, p.rule.Source)
	p.path = path
	return err
}

// followPath follows a dotted SREL path from object start; it must end at
// a tenanted object. Errors are at the rule's <TenantRule> and quote text.
func (p *plan) followPath(start *schema.Object, text string) ([]*schema.Srel, error) {
	r := p.rule
	cur := start
	var path []*schema.Srel
	for _, seg := range strings.Split(text, ".") {
		attr := strings.TrimSpace(seg)
		if attr == "" {
			return nil, r.ruleErrorf("SREL path %q has an empty attribute name", text)
		}
		sr := findSrel(cur, attr)
		if sr == nil {
			if cur.Column(attr) != nil {
				return nil, r.ruleErrorf("SREL path %q: attribute %q of object %q is not an SREL (no foreign key, and no <Srel> in the schema overlay)", text, attr, cur.Name)
			}
			return nil, r.ruleErrorf("SREL path %q: object %q has no attribute %q", text, cur.Name, attr)
		}
		if !sr.Target.IsLogicallyUnique(sr.TargetColumns) {
			return nil, r.ruleErrorf("SREL path %q: %q points at %s(%s), which is not a primary key or unique constraint, so a row may reference several", text, attr, sr.Target.Name, strings.Join(sr.TargetColumns, ", "))
		}
		path = append(path, sr)
		cur = sr.Target
	}
	if !cur.Tenanted() {
		return nil, r.ruleErrorf("SREL path %q ends at object %q (table %q), which has no tenant column", text, cur.Name, cur.Table)
	}
	return path, nil
}

// findSrel finds an SREL by attribute name, else a one-column SREL by its
// column name.
func findSrel(o *schema.Object, attr string) *schema.Srel {
	if sr := o.Srel(attr); sr != nil {
		return sr
	}
	for _, sr := range o.Srels {
		if len(sr.Columns) == 1 && sr.Columns[0] == attr {
			return sr
		}
	}
	return nil
}

func (p *plan) resolveTenant(ctx context.Context, q tenant.Querier, tt *schema.TenantTable) error {
	t, err := tenant.LookupActive(ctx, q, tt, p.rule.Source)
	if errors.Is(err, tenant.ErrNotFound) || errors.Is(err, tenant.ErrInactive) {
		return p.rule.ruleErrorf("%v", err)
	}
	if err != nil {
		return fault.Failure(err)
	}
	p.tenant = t
	return nil
}

// describe names the rule in messages: "rule 2 (line 7, cnt)".
func (p *plan) describe() string {
	return fmt.Sprintf("rule %d (line %d, %s)", p.index, p.rule.Line(), p.obj.Name)
}
