package load

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/tenantkit/tenantkit/datafile"
	"github.com/tenantkit/tenantkit/internal/fault"
	"github.com/tenantkit/tenantkit/internal/sqlq"
	"github.com/tenantkit/tenantkit/schema"
	"github.com/tenantkit/tenantkit/tenant"
)

// resolveTenant finds the tenant of -t: it must exist and be active. It
// also reads the service provider, whom eligible SRELs may reference.
func (l *loader) resolveTenant(ctx context.Context) error {
	tt := l.schema.Tenants
	if tt != nil {
		sp, err := tenant.ServiceProvider(ctx, l.tx, tt)
		switch {
		case err == nil:
			l.serviceProvider = sp
		case !errors.Is(err, tenant.ErrNotFound):
			return fault.Failure(fmt.Errorf("userload: %w", err))
		}
	}
	if l.opts.Tenant == "" {
		return nil
	}
	if tt == nil {
		return fault.Usagef("userload: Options.Tenant %s: the database has no tenant table", l.opts.Tenant)
	}
	t, err := tenant.LookupActive(ctx, l.tx, tt, l.opts.Tenant)
	switch {
	case errors.Is(err, tenant.ErrNotFound):
		// A tenant list (a group, subtenants:T, …) is not one tenant.
		if res, lerr := tenant.ResolveRefs(ctx, l.tx, tt, []string{l.opts.Tenant}); lerr == nil {
			return fault.Usagef("userload: Options.Tenant %q is a tenant list (%d tenants): Options.Tenant takes one tenant, by name or key", l.opts.Tenant, len(res[0].Tenants))
		}
		return fault.NotFound(fmt.Errorf("userload: Options.Tenant: %w", err))
	case errors.Is(err, tenant.ErrInactive):
		return fault.Usage(fmt.Errorf("userload: Options.Tenant: %w", err))
	case err != nil:
		return fault.Failure(fmt.Errorf("userload: %w", err))
	}
	l.tenant = t
	l.sum.Tenant = &TenantRef{ID: t.ID, Name: t.Name}
	return nil
}

// stamps reports whether the group's rows get the tenant of -t.
func (g *group) stamps() bool { return g.stampIdx >= 0 }

// value is the value of the group's column j for a record: the tenant of
// -t in the tenant column, else the record's own value.
func (g *group) value(rec record, j int) datafile.Value {
	if j == g.stampIdx {
		return g.stamp
	}
	return rec.vals[j]
}

// setStamp makes a tenanted group take the tenant of -t, adding the tenant
// column when the file lacks it.
func (g *group) setStamp(t *tenant.Tenant) {
	g.stampIdx = -1
	o := g.obj
	if t == nil || !o.Tenanted() || o.IsTenantTable || g.shared { // shared rows keep their owners
		return
	}
	g.stamp = datafile.Value{Str: t.ID}
	for i, c := range g.cols {
		if c.Name == o.TenantColumn {
			g.stampIdx = i
			return
		}
	}
	g.cols = append(g.cols[:len(g.cols):len(g.cols)], o.Column(o.TenantColumn))
	g.stampIdx = len(g.cols) - 1
}

// tenantIdx is the position of the tenant column among the group's columns, -1 if absent.
func (g *group) tenantIdx() int {
	if !g.obj.Tenanted() {
		return -1
	}
	return g.indexOf(g.obj.TenantColumn)
}

func (g *group) indexOf(name string) int {
	for i, c := range g.cols {
		if c.Name == name {
			return i
		}
	}
	return -1
}

// checkTenantRequired rejects rows of tenant-required tables that would
// have no tenant (no -t, and no tenant value in the record).
func (l *loader) checkTenantRequired(ctx context.Context, g *group) error {
	if l.opts.Mode == Delete || g.obj.Tenancy != schema.Required || g.stamps() {
		return nil
	}
	reason := "the table is tenant-required and the record has no tenant (give a tenant value or Options.Tenant)"
	cond := "NOT " + g.matched() // inserts: the tenant column is not in the file
	if i := g.tenantIdx(); i >= 0 {
		cond = fmt.Sprintf("s.%s IS NULL", col(i))
	}
	n, err := l.exec(ctx, "checking tenants", fmt.Sprintf(`
		INSERT INTO tk_rej SELECT s._n, $1, s._f, s._l, s._c, $2, NULL, $3, 'no tenant' FROM %s s WHERE %s AND %s`,
		g.typed(), cond, notRejected), g.id, g.obj.TenantColumn, reason)
	g.counts.NoTenantRejects += n
	return err
}

// refRule is the reference rule (SPEC §1) for one SREL of a group: a row
// owned by tenant T may reference rows that are public, T's, a
// supertenant's, or — through an eligible SREL — the service provider's.
type refRule struct {
	owner *schema.Object // the referencing object
	srel  *schema.Srel
	idx   []int // positions of the SREL's columns among the group's columns
}

// refRules lists the SRELs of a group the reference rule applies to: the
// referencing row's owner is known (the file's tenant column, -t, or no
// owner at all: a row of an object without tenancy is public), the target
// is tenanted and every column of the SREL is loaded.
func (l *loader) refRules(g *group) []refRule {
	if l.schema.Tenants == nil || g.obj.IsTenantTable || l.opts.Mode == Delete {
		return nil
	}
	if g.obj.Tenanted() && !g.stamps() && g.tenantIdx() < 0 {
		return nil // the owner is not in the file: verify checks existing rows
	}
	var rules []refRule
	for _, sr := range g.obj.Srels {
		t := sr.Target
		if t == nil || !t.Tenanted() || t.IsTenantTable || len(sr.TargetColumns) != len(sr.Columns) {
			continue
		}
		if c := g.obj.Column(g.obj.TenantColumn); sr.WithTenant && c != nil && c.NotNull {
			continue // its foreign key (tenant, …) → (tenant, …) admits only rows of the same tenant
		}
		if idx := g.indexes(sr.Columns); idx != nil {
			rules = append(rules, refRule{owner: g.obj, srel: sr, idx: idx})
		}
	}
	return rules
}

// owner is the SQL expression, as text, of the owner of rows s of the
// group: its tenant column, or NULL for an object without tenancy.
func (g *group) owner(column string) string {
	if !g.obj.Tenanted() {
		return "NULL::text"
	}
	return column + "::text"
}

// refViolation is the reference rule of one SREL as SQL over rows s of a
// table: the join to the referenced rows p and the condition under which a
// row breaks the rule (tenant.RefRule). column gives the expression of the
// SREL's j-th column, owner that of the row's owner as text.
func (l *loader) refViolation(r refRule, column func(j int) string, owner string) (join, ptenant, violates string) {
	var on []string
	for j := range r.idx {
		on = append(on, fmt.Sprintf("p.%s = %s", sqlq.Ident(r.srel.TargetColumns[j]), column(j)))
	}
	ptenant = "p." + sqlq.Ident(r.srel.Target.TenantColumn) + "::text"
	rule := tenant.RefRule{Owner: owner, Referenced: ptenant, Ancestors: "anc", OwnerRequired: r.owner.Tenancy == schema.Required}
	if r.srel.ServiceProviderEligible && l.serviceProvider != nil {
		rule.ServiceProvider = sqlq.Lit(l.serviceProvider.ID)
	}
	join = l.correlated(r.srel.Target) + " p ON " + strings.Join(on, " AND ")
	return join, ptenant, rule.Violation()
}

// checkReferences rejects records whose SRELs point at rows the reference
// rule forbids for the record's owner, one set-based statement per SREL.
func (l *loader) checkReferences(ctx context.Context, g *group) error {
	tt := l.schema.Tenants
	for _, r := range l.refRules(g) {
		owner := "NULL::text"
		if g.obj.Tenanted() {
			owner = fmt.Sprintf("s.%s::text", col(g.tenantIdx()))
		}
		join, ptenant, violates := l.refViolation(r, func(j int) string { return "s." + col(r.idx[j]) }, owner)
		column, value := strings.Join(r.srel.Columns, ", "), "NULL"
		if len(r.idx) == 1 {
			value = fmt.Sprintf("s.%s::text", col(r.idx[0]))
		}
		how := "through a foreign key"
		if r.srel.ForeignKey == "" {
			how = "through an overlay SREL"
		}
		eligible := ""
		if r.srel.ServiceProviderEligible {
			eligible = ", service-provider eligible"
		}
		from, where := l.staged(g)
		sql := fmt.Sprintf(`%s
			INSERT INTO tk_rej
			SELECT s._n, $1, s._f, s._l, s._c, $2, %s,
				CASE WHEN %s IS NULL
				THEN format('reference rule: SREL %%s (%%s%%s) points at a row of %%s owned by %%s, which a public row may not reference (every tenant sees it)',
					$3::text, $4::text, $5::text, $6::text, %s)
				ELSE format('reference rule: SREL %%s (%%s%%s) points at a row of %%s owned by %%s, which is neither public nor %%s or one of its supertenants',
					$3::text, $4::text, $5::text, $6::text, %s, %s) END, 'reference rule'
			FROM %s JOIN %s
			WHERE %s AND %s`,
			tenant.AncestorsWith(tt, "anc"), value, owner, l.tenantLabel(ptenant), l.tenantLabel(ptenant), l.tenantLabel(owner),
			from, join, violates, where)
		n, err := l.exec(ctx, "checking the reference rule", sql, g.id, column, r.srel.Attr, how, eligible, r.srel.Target.Name)
		if err != nil {
			return err
		}
		g.counts.RefRejects += n
	}
	return nil
}

// tenantLabel is the SQL text naming the tenant whose key, as text, is
// keyText — `tenant "Acme" (2)`, as verify names tenants, with the key
// that the file holds — or "a public row's owner" when keyText is NULL.
func (l *loader) tenantLabel(keyText string) string {
	tt := l.schema.Tenants
	return fmt.Sprintf(`coalesce((SELECT format('tenant "%%s" (%%s)', tl.%s, tl.%s) FROM %s tl WHERE tl.%s::text = %s), 'tenant ' || %s, 'no tenant')`,
		sqlq.Ident(tt.Name), sqlq.Ident(tt.Key), tt.Ident(), sqlq.Ident(tt.Key), keyText, keyText)
}

// straightViolations tells whether rows copied straight into a table that
// was empty break a tenant rule: a tenant-required row without a tenant,
// or an SREL the reference rule forbids. Every row of the table is then a
// loaded row; on a violation the section is read again into staging,
// which names each offending record.
func (l *loader) straightViolations(ctx context.Context, g *group) (bool, error) {
	owner := "s." + sqlq.Ident(g.obj.TenantColumn)
	var conds []string
	if g.obj.Tenancy == schema.Required && !g.stamps() {
		conds = append(conds, fmt.Sprintf("EXISTS (SELECT 1 FROM %s s WHERE %s IS NULL)", g.obj.Ident(), owner))
	}
	for _, r := range l.refRules(g) {
		join, _, violates := l.refViolation(r, func(j int) string { return "s." + sqlq.Ident(r.srel.Columns[j]) }, g.owner(owner))
		// A count, not EXISTS: EXISTS plans for its first row, a nested
		// loop of one index probe per loaded row, which must scan every row
		// when (as usual) none violates — a thousand times slower at 1M
		// rows than the hash join a count gets.
		conds = append(conds, fmt.Sprintf("(SELECT count(*) FROM %s s JOIN %s WHERE %s) > 0", g.obj.Ident(), join, violates))
	}
	if len(conds) == 0 {
		return false, nil
	}
	defer l.prog.Step("checking the tenants of " + g.obj.Table)()
	var bad bool
	sql := "SELECT " + strings.Join(conds, " OR ")
	if l.schema.Tenants != nil {
		sql = tenant.AncestorsWith(l.schema.Tenants, "anc") + " " + sql
	}
	defer l.trace(time.Now(), sql)
	if err := l.tx.QueryRow(ctx, sql).Scan(&bad); err != nil {
		return false, fault.Failure(fmt.Errorf("userload: checking tenants of %s: %w", g.obj.Table, err))
	}
	return bad, nil
}

// newKeyColumn is the position in the group's columns of a key whose
// values are labels under --new-keys: the single-column primary key, when
// it has a default and is in the file; -1 otherwise.
func (l *loader) newKeyColumn(g *group) int {
	o := g.obj
	// (tenant, id) on a distributed database: id; shared records are
	// matched (matchShared).
	pk := o.LogicalKey(o.PrimaryKey)
	if !l.opts.NewKeys || len(pk) != 1 || g.shared {
		return -1
	}
	if c := o.Column(pk[0]); c == nil || !c.HasDefault() {
		return -1
	}
	return g.indexOf(pk[0])
}

// keptKeys returns, under --new-keys, the surrogate key of a tenanted
// table that the file's values would fill: a single-column primary key of
// an integer or uuid type, in the file, without a default and not a
// reference the run rewires. A template cannot seed a tenant through such
// a key (its labels collide with the rows of the tenant it came from).
// Natural keys — text, composite (Chinook's PlaylistTrack, the fixtures'
// doc_repository) — are kept and matched as usual. nil otherwise.
func (l *loader) keptKeys(g *group) []string {
	o := g.obj
	pk := o.LogicalKey(o.PrimaryKey)
	if !l.opts.NewKeys || !o.Tenanted() || len(pk) != 1 || l.newKeyColumn(g) >= 0 || l.opts.Mode == Delete || g.shared {
		return nil
	}
	k := pk[0]
	c := o.Column(k)
	if g.indexOf(k) < 0 || c == nil || c.HasDefault() || findSrelColumn(o, k) {
		return nil
	}
	switch c.Type {
	case "smallint", "integer", "bigint", "uuid":
		return pk
	}
	return nil
}

func findSrelColumn(o *schema.Object, column string) bool {
	for _, sr := range o.Srels {
		if slices.Contains(sr.Columns, column) {
			return true
		}
	}
	return false
}

// keyDefault is the SQL expression giving a fresh value of key column c.
func keyDefault(o *schema.Object, c *schema.Column) string {
	if c.Default != "" {
		return c.Default
	}
	return fmt.Sprintf("nextval(pg_get_serial_sequence(%s, %s))", sqlq.Lit(o.Ident()), sqlq.Lit(c.Name))
}

// assignNewKeys gives every record of the group a fresh key under
// --new-keys, remembering which label became which key.
func (l *loader) assignNewKeys(ctx context.Context, g *group) error {
	k := l.newKeyColumn(g)
	if k < 0 {
		return nil
	}
	c := g.cols[k]
	// A sequence behind the table's keys (rows inserted with explicit
	// keys, a restored dump) would draw keys that exist: move it past them.
	if err := l.advanceSequence(ctx, g.obj, c); err != nil {
		return err
	}
	m := l.keyMaps[g.obj]
	if m == "" {
		m = fmt.Sprintf("tk_k%d", g.id)
		if _, err := l.exec(ctx, "creating the key map", fmt.Sprintf("CREATE TEMP TABLE %s (label %s, newkey %s) ON COMMIT DROP", m, castType(c), castType(c))); err != nil {
			return err
		}
		l.keyMaps[g.obj] = m
	}
	steps := []string{
		fmt.Sprintf(`INSERT INTO %s SELECT label, %s FROM (SELECT DISTINCT %s AS label FROM %s s WHERE %s IS NOT NULL
			AND NOT EXISTS (SELECT FROM %s k WHERE k.label = s.%s)) x`, m, keyDefault(g.obj, c), col(k), g.typed(), col(k), m, col(k)),
		fmt.Sprintf("UPDATE %s s SET %s = k.newkey FROM %s k WHERE s.%s = k.label", g.typed(), col(k), m, col(k)),
		fmt.Sprintf("UPDATE %s s SET %s = %s WHERE s.%s IS NULL", g.typed(), col(k), keyDefault(g.obj, c), col(k)),
	}
	for _, sql := range steps {
		if _, err := l.exec(ctx, "assigning new keys to "+g.obj.Table, sql); err != nil {
			return err
		}
	}
	return nil
}

// rewireReferences rewrites the group's SREL values that are labels of
// records given new keys in this run (--new-keys), or of shared records
// matched to rows with other keys (matchShared), to those keys.
func (l *loader) rewireReferences(ctx context.Context, g *group) error {
	if len(l.keyMaps) == 0 { // none under --new-keys nor from shared records (matchShared)
		return nil
	}
	for _, sr := range g.obj.Srels {
		m := l.keyMaps[sr.Target]
		if m == "" || len(sr.Columns) != 1 || sr.Target == nil {
			continue
		}
		if pk := sr.Target.LogicalKey(sr.Target.PrimaryKey); len(pk) != 1 || sr.TargetColumns[0] != pk[0] {
			continue
		}
		i := g.indexOf(sr.Columns[0])
		if i < 0 {
			continue
		}
		n, err := l.exec(ctx, "rewiring references of "+g.obj.Table, fmt.Sprintf(
			"UPDATE %s s SET %s = k.newkey FROM %s k WHERE s.%s = k.label", g.typed(), col(i), m, col(i)))
		if err != nil {
			return err
		}
		g.counts.Rewired += n
	}
	return nil
}
