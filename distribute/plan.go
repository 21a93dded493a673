// Package distribute plans and applies the distribution of a converted
// database over Citus: tenanted objects become distributed tables sharded
// by the tenant column, all co-located; the tenant table, objects without
// tenancy that tenanted ones are linked to, and tenant-optional objects
// holding public rows become reference tables; primary keys, unique
// constraints and foreign keys of distributed tables are rewritten to
// include the tenant column, and identity columns are made acceptable to
// Citus. The key rewrite alone (Options.KeysOnly) is valid on plain
// PostgreSQL too.
package distribute

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/tenantkit/tenantkit/internal/fault"
	"github.com/tenantkit/tenantkit/internal/sqlq"
	"github.com/tenantkit/tenantkit/schema"
)

// Type is what Citus makes of a table.
type Type string

// The table types of a plan.
const (
	// Distributed tables are sharded by the tenant column.
	Distributed Type = "distributed"
	// Reference tables are copied to every node.
	Reference Type = "reference"
	// Local tables stay on the coordinator, unknown to Citus.
	Local Type = "local"
	// citusLocal is a coordinator table Citus manages (state only).
	citusLocal Type = "citus local"
)

// Options shape a plan.
type Options struct {
	// Objects are object or table names or shell patterns of objects
	// without tenancy to make reference tables though no distributed or
	// reference table is linked to them.
	Objects []string
	// ReferenceForShared makes the target of a foreign key that crosses
	// tenants a reference table instead of dropping the foreign key.
	ReferenceForShared bool
	// KeysOnly plans the schema changes without the Citus calls.
	KeysOnly bool
	// Overlay is the object schema overlay file the schema was read with
	// ("" for none): SRELs it already declares need no fragment.
	Overlay string
}

// Table is the classification of one object.
type Table struct {
	Object *schema.Object `json:"-"`
	Name   string         `json:"object"`
	Table  string         `json:"table"`
	Rows   int64          `json:"rows"`
	// Public counts the rows without a tenant.
	Public int64  `json:"public_rows"`
	Type   Type   `json:"type"`
	Reason string `json:"reason"`
	// Current is the type Citus gives the table now ("" when none).
	Current Type `json:"current,omitempty"`
}

// FKAction is what the plan does with a foreign key.
type FKAction string

// The foreign key actions.
const (
	FKKept      FKAction = "kept"
	FKRewritten FKAction = "rewritten"
	FKDropped   FKAction = "dropped"
)

// ForeignKey is the plan for one foreign key between objects of the schema.
type ForeignKey struct {
	Name   string   `json:"name"`
	From   string   `json:"from"`
	Attr   string   `json:"attr"`
	To     string   `json:"to"`
	Action FKAction `json:"action"`
	Reason string   `json:"reason"`
	// CrossRows counts the rows referencing another tenant's row through it.
	CrossRows int64 `json:"cross_tenant_rows"`

	con  *constraint
	srel *schema.Srel
}

// Step is one statement of the plan.
type Step struct {
	Object string `json:"object"`
	What   string `json:"what"`
	SQL    string `json:"sql"`
	// Citus steps run after the schema changes, each on its own.
	Citus bool `json:"citus,omitempty"`
	// After steps run after the Citus steps.
	After bool `json:"after,omitempty"`
}

// KeptSrel is a reference whose foreign key the plan drops: the overlay
// keeps it as an SREL so that verify still checks it.
type KeptSrel struct {
	Object   string `json:"object"`
	Table    string `json:"table"`
	Attr     string `json:"attr"`
	Column   string `json:"column"`
	To       string `json:"to"`
	ToColumn string `json:"to_column"`
	Eligible bool   `json:"service_provider_eligible,omitempty"`
	// Declared is true when the overlay already declares the SREL.
	Declared bool `json:"declared"`
}

// Plan is what distribute would do.
type Plan struct {
	Tables      []*Table      `json:"tables"`
	ForeignKeys []*ForeignKey `json:"foreign_keys"`
	Steps       []Step        `json:"steps"`
	Kept        []KeptSrel    `json:"kept_srels"`
	// Notes are one-line remarks shown with the classification.
	Notes []string `json:"notes,omitempty"`
	// Citus reports whether the database has the citus extension.
	Citus    bool `json:"citus"`
	KeysOnly bool `json:"keys_only"`

	schema *schema.Schema
	byObj  map[*schema.Object]*Table
}

// Done reports whether nothing is left to do.
func (p *Plan) Done() bool { return len(p.Steps) == 0 }

// Build reads the database and plans its distribution. Untenanted rows in
// an object that must be distributed are an error naming the object
// (exit 1): Citus cannot change a distribution column later.
func Build(ctx context.Context, q sqlq.Querier, s *schema.Schema, opts Options) (*Plan, error) {
	if s.Tenants == nil {
		return nil, fault.Usagef("distribute: schema %q has no tenant table: there is nothing to distribute by", s.DBSchema)
	}
	cit, err := readCitus(ctx, q, s.DBSchema)
	if err != nil {
		return nil, err
	}
	cons, err := readConstraints(ctx, q, s.DBSchema)
	if err != nil {
		return nil, err
	}
	p := &Plan{Citus: cit.installed, KeysOnly: opts.KeysOnly, schema: s, byObj: map[*schema.Object]*Table{}}
	extra, err := s.Select(opts.Objects)
	if err != nil {
		return nil, fault.Usage(fmt.Errorf("distribute: Options.Objects: %w", err))
	}
	var unfinished []string
	for _, o := range s.Objects {
		t := &Table{Object: o, Name: o.Name, Table: o.Table, Current: cit.types[o.Table]}
		if t.Rows, t.Public, err = countRows(ctx, q, o); err != nil {
			return nil, err
		}
		switch {
		case o.IsTenantTable:
			t.Type, t.Reason = Reference, "the tenant table"
		case o.Tenancy == schema.Required && t.Public > 0:
			unfinished = append(unfinished, fmt.Sprintf("object %q (table %s): %d of %d rows have no tenant", o.Name, o.Table, t.Public, t.Rows))
			t.Type = Distributed
		case o.Tenancy == schema.Required:
			t.Type, t.Reason = Distributed, "tenant-required"
		case o.Tenancy == schema.Optional && t.Public > 0:
			t.Type, t.Reason = Reference, fmt.Sprintf("tenant-optional with %d public rows: Citus allows no NULL distribution value", t.Public)
		case o.Tenancy == schema.Optional:
			t.Type, t.Reason = Distributed, "tenant-optional, every row has a tenant (the tenant column becomes NOT NULL)"
		case slices.Contains(extra, o):
			t.Type, t.Reason = Reference, "no tenancy; named by Options.Objects"
		default:
			t.Type, t.Reason = Local, "no tenancy; no distributed or reference table is linked to it"
		}
		if t.Current == Distributed && cit.distCol[o.Table] != o.TenantColumn {
			return nil, fault.Usagef("distribute: table %s is already distributed by column %q, not by the tenant column %q; Citus cannot change a distribution column (undistribute_table first)",
				o.Table, cit.distCol[o.Table], o.TenantColumn)
		}
		if (t.Current == Distributed || t.Current == Reference) && t.Current != t.Type {
			t.Type, t.Reason = t.Current, "already a Citus "+string(t.Current)+" table"
		}
		p.Tables = append(p.Tables, t)
		p.byObj[o] = t
	}
	if len(unfinished) > 0 {
		return nil, fault.Violations(fmt.Errorf("distribute: tables that would be distributed hold rows without a tenant; finish buildtenant/settenant first (Citus cannot change a distribution column later): %s",
			strings.Join(unfinished, "; ")))
	}
	p.linkUntenanted()
	if err := p.planForeignKeys(ctx, q, cons, opts); err != nil {
		return nil, err
	}
	if err := p.planKeys(ctx, q, cons); err != nil {
		return nil, err
	}
	if err := p.planIdentities(ctx, q); err != nil {
		return nil, err
	}
	p.planForeignKeySteps(cons)
	if !opts.KeysOnly {
		p.planCitus()
	}
	p.orderSteps()
	if err := p.keepSrels(opts.Overlay); err != nil {
		return nil, err
	}
	return p, nil
}

func (p *Plan) citusBound(o *schema.Object) bool {
	t := p.byObj[o]
	return t != nil && (t.Type == Distributed || t.Type == Reference)
}

// linkUntenanted makes reference tables of the local objects linked by a
// foreign key to a distributed or reference table, until none is left:
// Citus allows no foreign key between those and a local table.
func (p *Plan) linkUntenanted() {
	for changed := true; changed; {
		changed = false
		for _, o := range p.schema.Objects {
			for _, sr := range o.Srels {
				if sr.ForeignKey == "" || sr.Target == nil {
					continue
				}
				from, to := p.byObj[o], p.byObj[sr.Target]
				switch {
				case from.Type == Local && p.citusBound(sr.Target):
					from.Type, from.Reason = Reference, fmt.Sprintf("no tenancy; references %s (%s)", sr.Target.Name, sr.ForeignKey)
					changed = true
				case to.Type == Local && p.citusBound(o):
					to.Type, to.Reason = Reference, fmt.Sprintf("no tenancy; referenced by %s.%s", o.Name, sr.Attr)
					changed = true
				}
			}
		}
	}
}

// planForeignKeys decides, for every foreign key between objects, whether
// it stays, is rewritten with the tenant columns or is dropped.
func (p *Plan) planForeignKeys(ctx context.Context, q sqlq.Querier, cons map[string][]*constraint, opts Options) error {
	for {
		p.ForeignKeys = nil
		promoted := false
		for _, o := range p.schema.Objects {
			for _, sr := range o.Srels {
				if sr.ForeignKey == "" || sr.Target == nil {
					continue
				}
				fk := &ForeignKey{Name: sr.ForeignKey, From: o.Name, Attr: sr.Attr, To: sr.Target.Name, srel: sr, con: findConstraint(cons[o.Table], sr.ForeignKey)}
				if fk.con == nil {
					return fmt.Errorf("distribute: foreign key %s of table %s vanished while planning", sr.ForeignKey, o.Table)
				}
				from, to := p.byObj[o], p.byObj[sr.Target]
				switch {
				case from.Type == Local || to.Type == Local:
					fk.Action, fk.Reason = FKKept, "between tables Citus does not manage"
				case from.Type == Distributed && to.Type == Distributed:
					if sr.WithTenant {
						fk.Action, fk.Reason = FKKept, "already includes the tenant columns"
						break
					}
					n, err := crossRows(ctx, q, o, sr)
					if err != nil {
						return err
					}
					fk.CrossRows = n
					if n == 0 && !sr.ServiceProviderEligible {
						fk.Action, fk.Reason = FKRewritten, fmt.Sprintf("co-located: (%s) → %s (%s); from now on it admits only rows of the same tenant",
							strings.Join(withTenant(o.TenantColumn, sr.Columns), ", "), sr.Target.Table, strings.Join(withTenant(sr.Target.TenantColumn, sr.TargetColumns), ", "))
						break
					}
					why := fmt.Sprintf("%d rows reference other tenants' rows", n)
					if sr.ServiceProviderEligible {
						why = fmt.Sprintf("service-provider eligible (%d rows reference other tenants' rows)", n)
					}
					if opts.ReferenceForShared {
						to.Type, to.Reason = Reference, fmt.Sprintf("referenced across tenants by %s.%s (%s); Options.ReferenceForShared", o.Name, sr.Attr, why)
						promoted = true
						continue
					}
					fk.Action, fk.Reason = FKDropped, "crosses tenants, so it cannot be co-located: "+why+"; the SREL stays in the overlay (or give Options.ReferenceForShared)"
				case from.Type == Reference && to.Type == Distributed:
					fk.Action, fk.Reason = FKDropped, "a reference table cannot reference a distributed table; the SREL stays in the overlay"
				default:
					fk.Action, fk.Reason = FKKept, fmt.Sprintf("%s → %s: Citus accepts it", from.Type, to.Type)
				}
				p.ForeignKeys = append(p.ForeignKeys, fk)
			}
		}
		if !promoted {
			slices.SortStableFunc(p.ForeignKeys, func(a, b *ForeignKey) int {
				return strings.Compare(a.From+"\x00"+a.Name, b.From+"\x00"+b.Name)
			})
			return nil
		}
	}
}

func findConstraint(cs []*constraint, name string) *constraint {
	for _, c := range cs {
		if c.name == name {
			return c
		}
	}
	return nil
}

// crossRows counts the rows of o whose SREL sr reaches a row of another
// tenant (or a public one).
func crossRows(ctx context.Context, q sqlq.Querier, o *schema.Object, sr *schema.Srel) (int64, error) {
	var on []string
	for i, c := range sr.Columns {
		on = append(on, fmt.Sprintf("r.%s = f.%s", sqlq.Ident(sr.TargetColumns[i]), sqlq.Ident(c)))
	}
	sql := fmt.Sprintf("SELECT count(*) FROM %s f JOIN %s r ON %s WHERE f.%s IS DISTINCT FROM r.%s",
		o.Ident(), sr.Target.Ident(), strings.Join(on, " AND "), sqlq.Ident(o.TenantColumn), sqlq.Ident(sr.Target.TenantColumn))
	var n int64
	if err := q.QueryRow(ctx, sql).Scan(&n); err != nil {
		return 0, fmt.Errorf("counting the rows of %s referencing other tenants through %s: %w", o.Table, sr.ForeignKey, err)
	}
	return n, nil
}

func withTenant(tenant string, cols []string) []string {
	return append([]string{tenant}, cols...)
}

// planKeys rewrites the primary keys and unique constraints of distributed
// tables to begin with the tenant column, and makes that column NOT NULL.
func (p *Plan) planKeys(ctx context.Context, q sqlq.Querier, cons map[string][]*constraint) error {
	idx, err := readUniqueIndexes(ctx, q, p.schema.DBSchema)
	if err != nil {
		return err
	}
	for _, t := range p.Tables {
		o := t.Object
		if t.Type != Distributed {
			continue
		}
		for _, u := range idx {
			if u.table == o.Table && !slices.Contains(u.columns, o.TenantColumn) {
				return fault.Usagef("distribute: unique index %s on table %s does not include the tenant column %q, as Citus requires; recreate it with that column first",
					u.name, o.Table, o.TenantColumn)
			}
		}
		if c := o.Column(o.TenantColumn); c != nil && !c.NotNull {
			p.Steps = append(p.Steps, Step{Object: o.Name, What: "tenant column " + o.TenantColumn + " NOT NULL",
				SQL: fmt.Sprintf("ALTER TABLE %s ALTER COLUMN %s SET NOT NULL", o.Ident(), sqlq.Ident(o.TenantColumn))})
		}
		for _, c := range cons[o.Table] {
			if (c.kind != 'p' && c.kind != 'u') || slices.Contains(c.columns, o.TenantColumn) {
				continue
			}
			kind := "PRIMARY KEY"
			what := "primary key"
			if c.kind == 'u' {
				kind, what = "UNIQUE", "unique constraint"
			}
			cols := withTenant(o.TenantColumn, c.columns)
			p.Steps = append(p.Steps, Step{Object: o.Name,
				What: fmt.Sprintf("%s %s (%s) → (%s)", what, c.name, strings.Join(c.columns, ", "), strings.Join(cols, ", ")),
				SQL: fmt.Sprintf("ALTER TABLE %s DROP CONSTRAINT %s, ADD CONSTRAINT %s %s (%s)",
					o.Ident(), sqlq.Ident(c.name), sqlq.Ident(c.name), kind, identList(cols))})
		}
	}
	return nil
}

func identList(cols []string) string {
	q := make([]string, len(cols))
	for i, c := range cols {
		q[i] = sqlq.Ident(c)
	}
	return strings.Join(q, ", ")
}

// planIdentities turns identity columns other than bigint of the tables
// Citus will manage into columns with a sequence default, which Citus
// accepts: it refuses smallint and integer identity columns.
func (p *Plan) planIdentities(ctx context.Context, q sqlq.Querier) error {
	for _, t := range p.Tables {
		o := t.Object
		if t.Type == Local || t.Current != "" {
			continue
		}
		for _, c := range o.Columns {
			if !c.Identity {
				continue
			}
			if c.Type == "bigint" {
				p.Notes = append(p.Notes, fmt.Sprintf("%s.%s: bigint identity column kept (Citus accepts it)", o.Table, c.Name))
				continue
			}
			var oldSchema, oldName, seq string
			err := q.QueryRow(ctx, `
SELECT n.nspname, c.relname,
       (SELECT n FROM pg_catalog.generate_series(0, 99) g(i), LATERAL (SELECT $3 || CASE WHEN i = 0 THEN '' ELSE i::text END AS n) x
        WHERE NOT EXISTS (SELECT FROM pg_catalog.pg_class WHERE relname = x.n AND relnamespace = (SELECT oid FROM pg_catalog.pg_namespace WHERE nspname = $4))
        ORDER BY i LIMIT 1)
FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE c.oid = pg_catalog.pg_get_serial_sequence($1, $2)::regclass`, o.Ident(), c.Name, o.Table+"_"+c.Name+"_seq", o.Schema).Scan(&oldSchema, &oldName, &seq)
			if err != nil {
				return fmt.Errorf("reading the identity sequence of %s.%s: %w", o.Table, c.Name, err)
			}
			newSeq := sqlq.Ident(o.Schema, seq)
			col := sqlq.Ident(c.Name)
			p.Steps = append(p.Steps, Step{Object: o.Name,
				What: fmt.Sprintf("%s identity column %s → sequence default %s (Citus accepts only bigint identity columns)", c.Type, c.Name, seq),
				SQL: sqlq.Expand("CREATE SEQUENCE {seq} AS {type};\n"+
					"SELECT pg_catalog.setval({seq_lit}, greatest((SELECT max({col}) FROM {table}), (SELECT last_value FROM {old_seq}), 1));\n"+
					"ALTER TABLE {table} ALTER COLUMN {col} DROP IDENTITY, ALTER COLUMN {col} SET DEFAULT pg_catalog.nextval({seq_lit}::regclass);\n"+
					"ALTER SEQUENCE {seq} OWNED BY {table}.{col}",
					sqlq.Names{"seq": newSeq, "type": c.Type, "seq_lit": sqlq.Lit(newSeq), "col": col, "table": o.Ident(), "old_seq": sqlq.Ident(oldSchema, oldName)})})
		}
	}
	return nil
}

// planForeignKeySteps drops the foreign keys the plan changes and adds
// their rewritten forms. Before the Citus calls every foreign key that
// involves a table Citus will take over is dropped and added again after
// them, so that the tables can be distributed in any order.
func (p *Plan) planForeignKeySteps(cons map[string][]*constraint) {
	srelFK := map[string]*ForeignKey{}
	for _, fk := range p.ForeignKeys {
		srelFK[p.schema.Object(fk.From).Table+"\x00"+fk.Name] = fk
	}
	for _, o := range p.schema.Objects {
		for _, c := range cons[o.Table] {
			if c.kind != 'f' {
				continue
			}
			fk := srelFK[o.Table+"\x00"+c.name]
			target := p.schema.Object(c.target)
			moved := !p.KeysOnly && (p.byObj[o].Current == "" && p.citusBound(o) || target != nil && p.byObj[target].Current == "" && p.citusBound(target))
			if fk == nil {
				// The tenant column's foreign key, or one out of the schema.
				if moved {
					p.dropAndAdd(o, c, c.columns, c.targetColumns, "re-added after distribution")
				}
				continue
			}
			switch fk.Action {
			case FKDropped:
				p.Steps = append(p.Steps, Step{Object: o.Name, What: fmt.Sprintf("drop foreign key %s (%s)", c.name, fk.Reason),
					SQL: fmt.Sprintf("ALTER TABLE %s DROP CONSTRAINT %s", o.Ident(), sqlq.Ident(c.name))})
			case FKRewritten:
				p.dropAndAdd(o, c, withTenant(o.TenantColumn, fk.srel.Columns), withTenant(target.TenantColumn, fk.srel.TargetColumns), "with the tenant columns")
			case FKKept:
				if moved {
					p.dropAndAdd(o, c, c.columns, c.targetColumns, "re-added after distribution")
				}
			}
		}
	}
}

func (p *Plan) dropAndAdd(o *schema.Object, c *constraint, cols, targetCols []string, why string) {
	target := sqlq.Ident(p.schema.DBSchema, c.target)
	p.Steps = append(p.Steps, Step{Object: o.Name, What: "drop foreign key " + c.name,
		SQL: fmt.Sprintf("ALTER TABLE %s DROP CONSTRAINT %s", o.Ident(), sqlq.Ident(c.name))})
	def := fmt.Sprintf("ALTER TABLE %s ADD CONSTRAINT %s FOREIGN KEY (%s) REFERENCES %s (%s)",
		o.Ident(), sqlq.Ident(c.name), identList(cols), target, identList(targetCols))
	if c.matchFull {
		def += " MATCH FULL"
	}
	def += fkAction(" ON UPDATE ", c.onUpdate, nil)
	// ON DELETE SET NULL must leave the tenant column alone once it is part
	// of the key: name the other columns.
	var setCols []string
	if len(cols) != len(c.columns) {
		setCols = c.columns
	}
	def += fkAction(" ON DELETE ", c.onDelete, setCols)
	if c.deferrable {
		def += " DEFERRABLE"
		if c.deferred {
			def += " INITIALLY DEFERRED"
		}
	}
	p.Steps = append(p.Steps, Step{Object: o.Name, After: !p.KeysOnly,
		What: fmt.Sprintf("foreign key %s (%s) → %s (%s), %s", c.name, strings.Join(cols, ", "), c.target, strings.Join(targetCols, ", "), why),
		SQL:  def})
}

func fkAction(prefix string, a byte, setCols []string) string {
	var s string
	switch a {
	case 'r':
		s = "RESTRICT"
	case 'c':
		s = "CASCADE"
	case 'n':
		s = "SET NULL"
	case 'd':
		s = "SET DEFAULT"
	default:
		return ""
	}
	if len(setCols) > 0 && (a == 'n' || a == 'd') && prefix == " ON DELETE " {
		s += " (" + identList(setCols) + ")"
	}
	return prefix + s
}

// planCitus adds the Citus calls: reference tables first, then the
// distributed ones, parents before children, co-located with the first.
func (p *Plan) planCitus() {
	var objs []*schema.Object
	for _, t := range p.Tables {
		objs = append(objs, t.Object)
	}
	ordered := schema.Ordered(objs)
	for _, o := range ordered {
		if t := p.byObj[o]; t.Type == Reference && t.Current != Reference {
			p.Steps = append(p.Steps, Step{Object: o.Name, Citus: true, What: fmt.Sprintf("reference table %s (%d rows)", o.Table, t.Rows),
				SQL: fmt.Sprintf("SELECT pg_catalog.create_reference_table(%s)", sqlq.Lit(o.Ident()))}, p.truncateLocal(o))
		}
	}
	anchor := ""
	for _, o := range ordered {
		if t := p.byObj[o]; t.Current == Distributed {
			anchor = o.Ident()
			break
		}
	}
	for _, o := range ordered {
		t := p.byObj[o]
		if t.Type != Distributed || t.Current == Distributed {
			continue
		}
		sql := fmt.Sprintf("SELECT pg_catalog.create_distributed_table(%s, %s)", sqlq.Lit(o.Ident()), sqlq.Lit(o.TenantColumn))
		what := fmt.Sprintf("distributed table %s by %s (%d rows)", o.Table, o.TenantColumn, t.Rows)
		if anchor != "" {
			sql = fmt.Sprintf("SELECT pg_catalog.create_distributed_table(%s, %s, colocate_with => %s)", sqlq.Lit(o.Ident()), sqlq.Lit(o.TenantColumn), sqlq.Lit(anchor))
		} else {
			anchor = o.Ident()
		}
		p.Steps = append(p.Steps, Step{Object: o.Name, Citus: true, What: what, SQL: sql}, p.truncateLocal(o))
	}
}

// truncateLocal empties the coordinator's own copy of a table Citus has
// just copied to its shards (Citus keeps it, and says so in a notice).
func (p *Plan) truncateLocal(o *schema.Object) Step {
	return Step{Object: o.Name, Citus: true, What: "the coordinator's local copy of " + o.Table + " emptied (the shards hold the rows)",
		SQL: fmt.Sprintf("SELECT pg_catalog.truncate_local_data_after_distributing_table(%s)", sqlq.Lit(o.Ident()))}
}

// orderSteps puts the schema changes first: foreign key drops, then keys
// and columns, then foreign key additions; then the Citus calls; then what
// runs after them.
func (p *Plan) orderSteps() {
	rank := func(s Step) int {
		switch {
		case s.After:
			return 5
		case s.Citus:
			return 4
		case strings.HasPrefix(s.What, "drop foreign key"):
			return 0
		case strings.HasPrefix(s.What, "foreign key"):
			return 3
		case strings.Contains(s.What, "identity"):
			return 2
		}
		return 1
	}
	slices.SortStableFunc(p.Steps, func(a, b Step) int { return rank(a) - rank(b) })
}

// keepSrels lists the SRELs of dropped foreign keys, and whether the
// overlay declares them already.
func (p *Plan) keepSrels(overlay string) error {
	declared, err := declaredSrels(overlay)
	if err != nil {
		return err
	}
	for _, fk := range p.ForeignKeys {
		if fk.Action != FKDropped {
			continue
		}
		from := p.schema.Object(fk.From)
		sr := fk.srel
		if len(sr.Columns) != 1 {
			p.Notes = append(p.Notes, fmt.Sprintf("%s: multi-column foreign key %s is dropped and the overlay cannot declare it as an SREL: verify no longer checks it", from.Table, fk.Name))
			continue
		}
		p.Kept = append(p.Kept, KeptSrel{Object: from.Name, Table: from.Table, Attr: sr.Attr, Column: sr.Columns[0],
			To: sr.Target.Name, ToColumn: sr.TargetColumns[0], Eligible: sr.ServiceProviderEligible,
			Declared: declared[from.Table+"\x00"+sr.Columns[0]] || declared[from.Name+"\x00"+sr.Columns[0]]})
	}
	return nil
}

// Undeclared returns the kept SRELs the overlay lacks.
func (p *Plan) Undeclared() []KeptSrel {
	var out []KeptSrel
	for _, k := range p.Kept {
		if !k.Declared {
			out = append(out, k)
		}
	}
	return out
}

// ErrNoCitus is the one-line refusal of the Citus calls on a server
// without the citus extension.
var ErrNoCitus = errors.New("the database has no citus extension: run distribute on a Citus coordinator (CREATE EXTENSION citus), or give Options.KeysOnly to apply only the key rewrite, valid on plain PostgreSQL")
