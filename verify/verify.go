// Package verify proves that nothing leaks across tenants: it checks a
// database against its object schema with one set-based query per check
// (and per object or SREL), and checks data files by running userload's
// load on them (load.Run with Check) in a transaction that is rolled back,
// each reject a finding (see Files).
//
// The checks on the database:
//
//   - missing-tenant: rows of tenant-required objects with no tenant.
//   - unknown-tenant: rows whose tenant is not in the tenant table.
//   - inactive-tenant: rows owned by an inactive tenant.
//   - reference-rule: references (SRELs, declared foreign keys or overlay
//     ones) that break the reference rule: a row owned by tenant T may
//     reference only public rows, rows of T, rows of T's supertenants, and —
//     through a service-provider-eligible SREL — rows of the service
//     provider. A public row (a NULL tenant in a tenant-optional object, or
//     any row of an untenanted one) is visible to every tenant, so it may
//     reference only public rows and, through an eligible SREL, the service
//     provider's rows; a public row pointing at a tenant's row is a leak.
//   - dangling-reference: overlay SRELs (no foreign key guards them) whose
//     value matches no row.
//   - row-scoping: once acl row scoping is in use (tenantkit.acl_tenant_rights
//     exists), every tenanted table must have row security enabled and all
//     of acl's policies (a table added since the last acl apply has not); no
//     view a scoped role may read reads it with its owner's rights; every
//     alias login is among the roles the policies restrict; no tenant
//     created since the last acl apply is one the persons' rights would
//     reach (database-wide rights, subtenants: lists), which row scoping
//     gives nothing until the next apply.
//   - tenant-pin: tenant names that acl or aliases pinned to a key
//     (tenantkit.tenant_pin) whose key now has another name or is gone, or
//     that now name another key: the next run would refuse them, and a
//     scope resolved by name since may be another tenant's.
//   - the hierarchy rules: service-provider (exactly one, without a parent),
//     cycle, depth (at most MaxDepth levels), subtenants-not-allowed,
//     unknown-parent, max-tenants, and stored-depth (the depth column agrees
//     with the parent links).
//
// The checks run in one snapshot, on Options.Jobs connections at once.
// Every row is counted once: a row flagged by missing-tenant, unknown-tenant
// or inactive-tenant is not checked again by reference-rule, neither as the
// referencing row nor as the referenced one.
package verify

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"golang.org/x/sync/errgroup"

	"github.com/tenantkit/tenantkit/acl"
	"github.com/tenantkit/tenantkit/distribute"
	"github.com/tenantkit/tenantkit/internal/progress"
	"github.com/tenantkit/tenantkit/internal/sqlq"
	"github.com/tenantkit/tenantkit/schema"
	"github.com/tenantkit/tenantkit/tenant"
)

// The check names, in report order.
const (
	CheckMissingTenant     = "missing-tenant"
	CheckUnknownTenant     = "unknown-tenant"
	CheckInactiveTenant    = "inactive-tenant"
	CheckReferenceRule     = "reference-rule"
	CheckDanglingReference = "dangling-reference"
	CheckRowScoping        = "row-scoping"
	CheckTenantPin         = "tenant-pin"
	CheckServiceProvider   = tenant.RuleServiceProvider
	CheckCycle             = tenant.RuleCycle
	CheckDepth             = tenant.RuleDepth
	CheckSubtenantsAllowed = tenant.RuleSubtenantsAllowed
	CheckUnknownParent     = "unknown-parent"
	CheckMaxTenants        = tenant.RuleMaxTenants
	CheckStoredDepth       = "stored-depth"
)

// Checks lists every database check in report order.
var Checks = []string{
	CheckMissingTenant, CheckUnknownTenant, CheckInactiveTenant, CheckReferenceRule, CheckDanglingReference,
	CheckRowScoping, CheckTenantPin, CheckServiceProvider, CheckCycle, CheckDepth, CheckSubtenantsAllowed, CheckUnknownParent, CheckMaxTenants, CheckStoredDepth,
}

// Options tune a run.
type Options struct {
	// Objects limits the row checks to these objects (as referencing
	// objects); nil means every object. The hierarchy is always checked.
	Objects []*schema.Object
	// Sample is how many offending keys to report per finding; 0 means none.
	Sample int
	// Progress receives the progress report (a bar if it is a terminal);
	// nil reports nothing.
	Progress io.Writer
	// Jobs is the number of connections running checks at once (0 or 1:
	// one).
	Jobs int
}

// Finding is the result of one check on one object, SREL or the hierarchy.
type Finding struct {
	Check  string `json:"check"`
	Object string `json:"object,omitempty"`
	Column string `json:"column,omitempty"` // data files: the column
	Srel   string `json:"srel,omitempty"`
	Target string `json:"target,omitempty"`
	Count  int64  `json:"count"`
	// Samples are offending rows by key, tenants by name.
	Samples []string `json:"samples,omitempty"`
}

// Where names what a finding is about: "obj", "obj.srel -> target" or "".
func (f *Finding) Where() string {
	switch {
	case f.Srel != "":
		return f.Object + "." + f.Srel + " -> " + f.Target
	case f.Column != "":
		return f.Object + "." + f.Column
	default:
		return f.Object
	}
}

// CheckTotal is the number of violations one check found.
type CheckTotal struct {
	Check      string `json:"check"`
	Violations int64  `json:"violations"`
}

// Report is the outcome of Database.
type Report struct {
	Violations int64        `json:"violations"`
	Checks     []CheckTotal `json:"checks"`
	// Findings holds the findings with violations, in check order.
	Findings []*Finding `json:"findings"`
	Queries  int        `json:"queries"`
	Notes    []string   `json:"notes,omitempty"`
}

func (r *Report) add(f *Finding) {
	if f.Count == 0 {
		return
	}
	r.Findings = append(r.Findings, f)
	r.Violations += f.Count
	r.total(f.Check, f.Count)
}

// total adds n to the total of check.
func (r *Report) total(check string, n int64) {
	for i := range r.Checks {
		if r.Checks[i].Check == check {
			r.Checks[i].Violations += n
		}
	}
}

// sortFindings orders the findings by check, in the order of checks.
func (r *Report) sortFindings(checks []string) {
	rank := map[string]int{}
	for i, c := range checks {
		rank[c] = i
	}
	sort.SliceStable(r.Findings, func(i, j int) bool { return rank[r.Findings[i].Check] < rank[r.Findings[j].Check] })
}

// query is one check query: a statement whose rows start with the total
// count (count(*) OVER ()) followed by the sample columns, and a function
// formatting a sample row.
type query struct {
	finding *Finding
	sql     string
	args    []any
	sample  func(cols []*string) string
	// hierarchy is set on the hierarchy query, whose rows are (check,
	// tenant, detail), one per violation; it receives a finding per check.
	hierarchy *schema.TenantTable
	results   []*Finding
}

// label names the query's check in the progress report
// ("reference-rule call_req.customer -> customer").
func (q *query) label() string {
	if q.hierarchy != nil {
		return "hierarchy " + q.hierarchy.Object.Name
	}
	return q.finding.Check + " " + q.finding.Where()
}

// findings are the query's results.
func (q *query) findings() []*Finding {
	if q.hierarchy != nil {
		return q.results
	}
	return []*Finding{q.finding}
}

// Database runs every check on the database in read-only, repeatable read
// transactions that share one snapshot, so that all checks see the same
// data. With Jobs > 1, db must hand out independent connections (a pool):
// the checks then run on that many connections at once, the first
// transaction exporting its snapshot to the others.
func Database(ctx context.Context, db tenant.TxStarter, s *schema.Schema, opts Options) (*Report, error) {
	objs := opts.Objects
	if objs == nil {
		objs = s.Objects
	}
	tx, err := db.Begin(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY"); err != nil {
		return nil, fmt.Errorf("starting the verify transaction: %w", err)
	}
	rep := &Report{}
	for _, c := range Checks {
		rep.Checks = append(rep.Checks, CheckTotal{Check: c})
	}
	b := &builder{s: s, tt: s.Tenants, sample: opts.Sample}
	if b.citus, err = distribute.DistributedTables(ctx, tx, s.DBSchema); err != nil {
		return nil, err
	}
	if b.tt == nil {
		rep.Notes = append(rep.Notes, "no tenant table: only missing-tenant and dangling-reference are checked")
	} else {
		sp, err := tenant.ServiceProvider(ctx, tx, b.tt)
		switch {
		case err == nil:
			b.spID = &sp.ID
		case !errors.Is(err, tenant.ErrNotFound):
			return nil, err
		}
	}
	qs := b.rowQueries(objs)
	if b.tt != nil {
		var pinned bool
		if err := tx.QueryRow(ctx, "SELECT pg_catalog.to_regclass('tenantkit.tenant_pin') IS NOT NULL").Scan(&pinned); err != nil {
			return nil, fmt.Errorf("verify %s: %w", CheckTenantPin, err)
		}
		if pinned {
			qs = append(qs, b.tenantPin())
		}
		var scoped bool
		if err := tx.QueryRow(ctx, "SELECT pg_catalog.to_regclass('tenantkit.acl_tenant_scope') IS NOT NULL").Scan(&scoped); err != nil {
			return nil, fmt.Errorf("verify %s: %w", CheckRowScoping, err)
		}
		if scoped {
			qs = append(qs, b.newTenants())
		}
		qs = append(qs, b.hierarchyQuery())
	}
	txs, err := snapshotSharers(ctx, db, tx, min(max(opts.Jobs, 1), len(qs)))
	for _, t := range txs[1:] {
		defer t.Rollback(ctx)
	}
	if err != nil {
		return nil, err
	}
	bar := progress.New(opts.Progress, "verify", progress.Options{Total: int64(len(qs)), Unit: "checks"})
	defer bar.Finish()
	next := make(chan int) // the index in qs
	g, gctx := errgroup.WithContext(ctx)
	for _, t := range txs {
		g.Go(func() error {
			for i := range next {
				q := qs[i]
				end := bar.Step(fmt.Sprintf("check %d/%d: %s", i+1, len(qs), q.label()))
				err := runQuery(gctx, t, q, opts.Sample)
				end()
				if err != nil {
					return err
				}
				bar.Add(1)
			}
			return nil
		})
	}
	g.Go(func() error {
		defer close(next)
		for i := range qs {
			select {
			case next <- i:
			case <-gctx.Done():
				return gctx.Err()
			}
		}
		return nil
	})
	if err := g.Wait(); err != nil {
		return nil, err
	}
	for _, q := range qs {
		for _, f := range q.findings() {
			rep.add(f)
		}
	}
	rep.Queries = len(qs)
	rep.sortFindings(Checks)
	return rep, nil
}

// snapshotSharers returns tx and jobs-1 more read-only transactions that
// import tx's snapshot.
func snapshotSharers(ctx context.Context, db tenant.TxStarter, tx pgx.Tx, jobs int) ([]pgx.Tx, error) {
	txs := []pgx.Tx{tx}
	if jobs <= 1 {
		return txs, nil
	}
	var snap string
	if err := tx.QueryRow(ctx, "SELECT pg_export_snapshot()").Scan(&snap); err != nil {
		return txs, fmt.Errorf("exporting the verify snapshot: %w", err)
	}
	for i := 1; i < jobs; i++ {
		t, err := db.Begin(ctx)
		if err != nil {
			return txs, err
		}
		txs = append(txs, t)
		setup := "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY; SET TRANSACTION SNAPSHOT " + sqlq.Lit(snap)
		if _, err := t.Exec(ctx, setup); err != nil {
			return txs, fmt.Errorf("sharing the verify snapshot: %w", err)
		}
	}
	return txs, nil
}

// runQuery runs a check and fills its finding (or, for the hierarchy, its
// findings).
func runQuery(ctx context.Context, tx pgx.Tx, q *query, sample int) error {
	if q.hierarchy != nil {
		return runHierarchy(ctx, tx, q, sample)
	}
	rows, err := tx.Query(ctx, q.sql, append([]any{sample}, q.args...)...)
	if err != nil {
		return fmt.Errorf("verify %s %s: %w", q.finding.Check, q.finding.Where(), err)
	}
	defer rows.Close()
	for rows.Next() {
		vals := rows.RawValues()
		cols := make([]*string, len(vals)-1)
		for i, v := range vals[1:] {
			if v != nil {
				s := string(v)
				cols[i] = &s
			}
		}
		n, err := strconv.ParseInt(string(vals[0]), 10, 64)
		if err != nil {
			return fmt.Errorf("verify %s: bad count %q", q.finding.Check, vals[0])
		}
		q.finding.Count = n
		if sample > 0 {
			q.finding.Samples = append(q.finding.Samples, q.sample(cols))
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("verify %s %s: %w", q.finding.Check, q.finding.Where(), err)
	}
	return nil
}

// builder writes the check queries for one object schema.
type builder struct {
	s      *schema.Schema
	tt     *schema.TenantTable
	spID   *string
	sample int
	// citus names the tables Citus distributes (with their distribution
	// columns); nil without Citus.
	citus map[string]string
}

func ident(alias, col string) string { return alias + "." + sqlq.Ident(col) }

// eq compares two columns, natively when their types agree, else as text.
func eq(aAlias string, aObj *schema.Object, aCol string, bAlias string, bObj *schema.Object, bCol string) string {
	ac, bc := aObj.Column(aCol), bObj.Column(bCol)
	if ac != nil && bc != nil && ac.TypeOID == bc.TypeOID {
		return ident(aAlias, aCol) + " = " + ident(bAlias, bCol)
	}
	return ident(aAlias, aCol) + "::text = " + ident(bAlias, bCol) + "::text"
}

// keyExprs are the native expressions of the key an object's rows are
// shown by, its sort key, else the row's physical location.
func keyExprs(o *schema.Object, alias string) []string {
	key := o.SortKey()
	if key == nil {
		return []string{alias + ".ctid"}
	}
	out := make([]string, len(key))
	for i, c := range key {
		out[i] = ident(alias, c)
	}
	return out
}

// sampledSQL wraps a check: body ("FROM … WHERE …") finds the offending
// rows; they are materialized first, so that the planner scans and hashes
// the tables as a whole instead of walking an index in key order for the
// LIMIT. The outer query returns the total count (a window over the
// offenders) and the first $1 of them (at least one, to carry the count)
// in key order: the keys (native, shown as text), then the extra text
// columns.
func sampledSQL(with string, keys, extras []string, body string) string {
	var inner, outer, order []string
	for i, k := range keys {
		inner = append(inner, fmt.Sprintf("%s AS k%d", k, i))
		outer = append(outer, fmt.Sprintf("k%d::text", i))
		order = append(order, fmt.Sprintf("bad.k%d", i))
	}
	for i, x := range extras {
		inner = append(inner, fmt.Sprintf("%s AS x%d", x, i))
		outer = append(outer, fmt.Sprintf("x%d", i))
	}
	if with == "" {
		with = "WITH "
	} else {
		with += ",\n"
	}
	return fmt.Sprintf("%sbad AS MATERIALIZED (SELECT %s\n%s)\nSELECT (count(*) OVER ())::text, %s FROM bad ORDER BY %s LIMIT greatest($1::int, 1)",
		with, strings.Join(inner, ", "), body, strings.Join(outer, ", "), strings.Join(order, ", "))
}

// formatKey renders key values as "col=value …".
func formatKey(o *schema.Object, vals []*string) string {
	key := o.SortKey()
	if key == nil {
		return "ctid=" + deref(vals[0])
	}
	parts := make([]string, len(key))
	for i, c := range key {
		parts[i] = c + "=" + quoteValue(vals[i])
	}
	return strings.Join(parts, " ")
}

func deref(s *string) string {
	if s == nil {
		return "NULL"
	}
	return *s
}

// quoteValue leaves plain values bare and quotes the rest Go-style, so that
// blanks, quotes and newlines in keys stay readable on one line.
func quoteValue(s *string) string {
	if s == nil {
		return "NULL"
	}
	if *s == "" {
		return `""`
	}
	for _, r := range *s {
		if !(r == '-' || r == '_' || r == '.' || r == ':' || r == '@' || r == '/' || r == '+' ||
			r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return strconv.Quote(*s)
		}
	}
	return *s
}

func tenantLabel(name *string, fallback string) string {
	if name == nil {
		return fallback
	}
	return *name
}

// rowQueries builds the row checks for objs.
func (b *builder) rowQueries(objs []*schema.Object) []*query {
	var qs []*query
	for _, o := range objs {
		if o.Tenancy == schema.Required {
			qs = append(qs, b.missingTenant(o))
		}
		if o.Tenanted() && b.tt != nil {
			qs = append(qs, b.unknownTenant(o))
			if b.tt.Active != "" {
				qs = append(qs, b.inactiveTenant(o))
			}
		}
	}
	for _, o := range objs {
		for _, sr := range o.Srels {
			if b.tt != nil && sr.Target != nil && sr.Target.Tenanted() {
				qs = append(qs, b.referenceRule(o, sr))
			}
		}
	}
	for _, o := range objs {
		for _, sr := range o.Srels {
			if sr.ForeignKey == "" && sr.Target != nil {
				qs = append(qs, b.dangling(o, sr))
			}
		}
	}
	for _, o := range objs {
		if o.Tenanted() && !o.IsTenantTable {
			qs = append(qs, b.rowScoping(o))
		}
	}
	return qs
}

// rowScopingSQL lists what acl's row scoping lacks on table $3, when row
// scoping is in use at all: a policy (tenantkit_unscoped is not wanted on a
// table with policies of its own), row security; a view that a scoped role
// may read and that reads the table with its owner's rights (some view on
// the way is not security_invoker), so that row security does not restrict
// it; an alias login of this database the policies do not name.
const rowScopingSQL = `
WITH RECURSIVE
own AS (SELECT EXISTS (SELECT FROM pg_policy fp WHERE fp.polrelid = $3::regclass
	AND NOT coalesce(obj_description(fp.oid, 'pg_policy') LIKE 'managed by tenantkit acl%', false)) AS yes),
scoped AS (SELECT DISTINCT r AS role FROM pg_policy p, unnest(p.polroles) r
	WHERE p.polrelid = $3::regclass AND p.polname = 'tenantkit_select' AND NOT p.polpermissive),
invoker AS (SELECT c.oid, coalesce(c.reloptions @> '{security_invoker=true}' OR c.reloptions @> '{security_invoker=on}', false) AS yes
	FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('v', 'm')
	-- the views aliases publishes filter by tenant themselves
	AND coalesce(obj_description(n.oid, 'pg_namespace'), '') NOT LIKE 'managed by tenantkit aliases%'),
reads AS (SELECT DISTINCT rw.ev_class AS view, d.refobjid AS rel FROM pg_rewrite rw
	JOIN pg_depend d ON d.classid = 'pg_rewrite'::regclass AND d.objid = rw.oid AND d.refclassid = 'pg_class'::regclass
	WHERE d.refobjid <> rw.ev_class),
reach (view, owner_rights, depth) AS (
	SELECT r.view, NOT i.yes, 1 FROM reads r JOIN invoker i ON i.oid = r.view WHERE r.rel = $3::regclass
	UNION
	SELECT r.view, reach.owner_rights OR NOT i.yes, reach.depth + 1 FROM reach JOIN reads r ON r.rel = reach.view
	JOIN invoker i ON i.oid = r.view WHERE reach.depth < 32),
bad AS MATERIALIZED (
	SELECT 'policy ' || p AS x0 FROM unnest($2::text[]) p
	WHERE NOT EXISTS (SELECT FROM pg_policy WHERE polrelid = $3::regclass AND polname = p)
		AND NOT (p = 'tenantkit_unscoped' AND (SELECT yes FROM own))
	UNION ALL
	SELECT 'row security disabled' FROM pg_class WHERE oid = $3::regclass AND NOT relrowsecurity
	UNION ALL
	SELECT DISTINCT 'view ' || reach.view::regclass::text || ' reads it with its owner''s rights and ' || pg_get_userbyid(s.role) || ' may read the view'
	FROM reach, scoped s WHERE reach.owner_rights AND has_table_privilege(s.role, reach.view, 'SELECT')
	UNION ALL
	SELECT 'alias login ' || r.rolname || ' is not restricted (run acl apply)' FROM pg_namespace n
	JOIN pg_roles r ON r.rolname = substring(obj_description(n.oid, 'pg_namespace') FROM '^managed by tenantkit aliases; login (.*)$')
	WHERE EXISTS (SELECT FROM scoped) AND NOT EXISTS (SELECT FROM scoped s WHERE pg_has_role(r.oid, s.role, 'USAGE')))
SELECT (count(*) OVER ())::text, x0 FROM bad
WHERE to_regclass('tenantkit.acl_tenant_rights') IS NOT NULL
ORDER BY x0 LIMIT greatest($1::int, 1)`

func (b *builder) rowScoping(o *schema.Object) *query {
	return &query{
		finding: &Finding{Check: CheckRowScoping, Object: o.Name},
		sql:     rowScopingSQL,
		args:    []any{acl.RowPolicyNames(), o.Ident()},
		sample:  func(cols []*string) string { return deref(cols[0]) },
	}
}

// newTenantsSQL finds the tenants created after the last acl apply (not in
// tenantkit.acl_tenant_scope) that the persons' rights would reach: the
// rights on any new tenant ('**': through the database), or on a new
// tenant under one of its known supertenants (subtenants: lists). Row
// scoping gives them nothing until acl apply reruns.
const newTenantsSQL = `WITH RECURSIVE {ancestors},
fresh AS (SELECT t.{key}::text AS k, t.{name}::text AS n FROM {table} t
	WHERE NOT EXISTS (SELECT FROM tenantkit.acl_tenant_scope s WHERE s.tenant = t.{key}::text)),
bad AS MATERIALIZED (
	SELECT f.n, f.k, (SELECT pg_catalog.string_agg(DISTINCT p, ', ' ORDER BY p)
		FROM tenantkit.acl_tenant_scope s, pg_catalog.unnest(s.reach) p
		WHERE s.tenant = '**' OR s.tenant IN (SELECT a.ancestor::text FROM anc a WHERE a.tenant::text = f.k)) AS who
	FROM fresh f)
SELECT (count(*) OVER ())::text, n, k, who FROM bad WHERE who IS NOT NULL ORDER BY n, k LIMIT greatest($1::int, 1)`

func (b *builder) newTenants() *query {
	key, name := sqlq.Ident(b.tt.Key), sqlq.Ident(b.tt.Name)
	return &query{
		finding: &Finding{Check: CheckRowScoping, Object: b.tt.Object.Name},
		sql:     sqlq.Expand(newTenantsSQL, sqlq.Names{"ancestors": tenant.AncestorsCTE(b.tt, "anc"), "table": b.tt.Ident(), "key": key, "name": name}),
		sample: func(cols []*string) string {
			return fmt.Sprintf("tenant %s (key %s) is newer than the last acl apply: rights of %s would reach its rows (run acl apply)",
				strconv.Quote(deref(cols[0])), deref(cols[1]), deref(cols[2]))
		},
	}
}

// tenantPinSQL finds the pins that no longer hold: the pinned key is gone
// or has another name (a pin of a key to itself, made for a reference by
// key, only needs the key to exist), or the name now names another key.
const tenantPinSQL = `WITH bad AS MATERIALIZED (
	SELECT p.name, p.key, n.{key}::text AS now_key, k.{name}::text AS key_name, k.{key} IS NULL AS gone
	FROM tenantkit.tenant_pin p
	LEFT JOIN {table} k ON k.{key}::text = p.key
	LEFT JOIN {table} n ON n.{name}::text = p.name
	WHERE k.{key} IS NULL
	   OR p.name <> p.key AND k.{name}::text IS DISTINCT FROM p.name
	   OR n.{key} IS NOT NULL AND n.{key}::text <> p.key)
SELECT (count(*) OVER ())::text, name, key, now_key, key_name, gone::text FROM bad ORDER BY name LIMIT greatest($1::int, 1)`

func (b *builder) tenantPin() *query {
	key, name := sqlq.Ident(b.tt.Key), sqlq.Ident(b.tt.Name)
	return &query{
		finding: &Finding{Check: CheckTenantPin, Object: b.tt.Object.Name},
		sql:     sqlq.Expand(tenantPinSQL, sqlq.Names{"table": b.tt.Ident(), "key": key, "name": name}),
		sample: func(cols []*string) string {
			out := fmt.Sprintf("%s: pinned to key %s", strconv.Quote(deref(cols[0])), deref(cols[1]))
			if cols[2] != nil {
				out += ", now names key " + *cols[2]
			} else {
				out += ", now names no tenant"
			}
			if deref(cols[4]) == "true" {
				return out + "; key " + deref(cols[1]) + " is gone"
			}
			return out + "; key " + deref(cols[1]) + " is now named " + strconv.Quote(deref(cols[3]))
		},
	}
}

const missingTenantSQL = `FROM {table} r WHERE {tenant} IS NULL`

func (b *builder) missingTenant(o *schema.Object) *query {
	return &query{
		finding: &Finding{Check: CheckMissingTenant, Object: o.Name},
		sql:     sampledSQL("", keyExprs(o, "r"), nil, sqlq.Expand(missingTenantSQL, sqlq.Names{"table": o.Ident(), "tenant": ident("r", o.TenantColumn)})),
		sample:  func(cols []*string) string { return formatKey(o, cols) },
	}
}

const unknownTenantSQL = `FROM {table} r WHERE {tenant} IS NOT NULL AND NOT EXISTS (SELECT FROM {tenants} t WHERE {match})`

func (b *builder) unknownTenant(o *schema.Object) *query {
	keys := keyExprs(o, "r")
	n := len(keys)
	body := sqlq.Expand(unknownTenantSQL, sqlq.Names{"table": o.Ident(), "tenant": ident("r", o.TenantColumn), "tenants": b.tt.Ident(),
		"match": eq("t", b.tt.Object, b.tt.Key, "r", o, o.TenantColumn)})
	return &query{
		finding: &Finding{Check: CheckUnknownTenant, Object: o.Name},
		sql:     sampledSQL("", keys, []string{ident("r", o.TenantColumn) + "::text"}, body),
		sample: func(cols []*string) string {
			return formatKey(o, cols[:n]) + " (tenant key " + quoteValue(cols[n]) + ")"
		},
	}
}

const inactiveTenantSQL = `FROM {table} r JOIN {tenants} t ON {match} WHERE NOT coalesce(t.{active}, true)`

func (b *builder) inactiveTenant(o *schema.Object) *query {
	keys := keyExprs(o, "r")
	n := len(keys)
	body := sqlq.Expand(inactiveTenantSQL, sqlq.Names{"table": o.Ident(), "tenants": b.tt.Ident(),
		"match": eq("t", b.tt.Object, b.tt.Key, "r", o, o.TenantColumn), "active": sqlq.Ident(b.tt.Active)})
	return &query{
		finding: &Finding{Check: CheckInactiveTenant, Object: o.Name},
		sql:     sampledSQL("", keys, []string{"t." + sqlq.Ident(b.tt.Name) + "::text"}, body),
		sample: func(cols []*string) string {
			return formatKey(o, cols[:n]) + " (tenant " + tenantLabel(cols[n], "?") + ")"
		},
	}
}

// activeCond is the SQL condition "tenant alias t is active".
func (b *builder) activeCond(alias string) string {
	if b.tt.Active == "" {
		return "true"
	}
	return "coalesce(" + ident(alias, b.tt.Active) + ", true)"
}

// referenceRuleSQL finds references from r (object o) to g (the SREL's
// target) that break the reference rule (tenant.RefRule; $2 is the service
// provider's key as text, NULL when the SREL is not eligible). Targets that
// are public or owned by a missing or inactive tenant are left out (the
// join on gt and the activity condition), and so are referencing rows whose
// own tenant is missing or inactive (the source join and condition).
const referenceRuleSQL = `FROM {table} r
JOIN {target} g ON {on}
JOIN {tenants} gt ON {target_tenant}
{source_join}
WHERE {source_cond} AND {target_active}
  AND {violation}`

func (b *builder) referenceRule(o *schema.Object, sr *schema.Srel) *query {
	tg, tt := sr.Target, b.tt
	rkeys := keyExprs(o, "r")
	var on []string
	for i, c := range sr.Columns {
		on = append(on, eq("g", tg, sr.TargetColumns[i], "r", o, c))
	}
	var srcJoin, srcCond string
	switch o.Tenancy {
	case schema.Required:
		srcJoin = fmt.Sprintf("JOIN %s rt ON %s", tt.Ident(), eq("rt", tt.Object, tt.Key, "r", o, o.TenantColumn))
		srcCond = b.activeCond("rt")
	case schema.Optional:
		srcJoin = fmt.Sprintf("LEFT JOIN %s rt ON %s", tt.Ident(), eq("rt", tt.Object, tt.Key, "r", o, o.TenantColumn))
		srcCond = fmt.Sprintf("(%s IS NULL OR (rt.%s IS NOT NULL AND %s))", ident("r", o.TenantColumn), sqlq.Ident(tt.Key), b.activeCond("rt"))
	default:
		srcJoin = fmt.Sprintf("LEFT JOIN %s rt ON false", tt.Ident())
		srcCond = "true"
	}
	rule := tenant.RefRule{Owner: "NULL::text", Referenced: ident("g", tg.TenantColumn) + "::text", ServiceProvider: "$2::text", Ancestors: "anc",
		OwnerRequired: o.Tenancy == schema.Required}
	if o.Tenanted() {
		key := tt.Object.Column(tt.Key).TypeOID
		if o.Column(o.TenantColumn).TypeOID == key && tg.Column(tg.TenantColumn).TypeOID == key {
			rule.Owner, rule.Referenced, rule.KeyTyped = ident("r", o.TenantColumn), ident("g", tg.TenantColumn), true
		} else {
			rule.Owner = ident("r", o.TenantColumn) + "::text"
		}
	}
	var spArg any
	if sr.ServiceProviderEligible && b.spID != nil {
		spArg = *b.spID
	}
	target, targetOn := b.joinTarget(o, sr)
	body := sqlq.Expand(referenceRuleSQL, sqlq.Names{
		"table": o.Ident(), "target": target, "on": strings.Join(on, " AND ") + targetOn,
		"tenants": tt.Ident(), "target_tenant": eq("gt", tt.Object, tt.Key, "g", tg, tg.TenantColumn),
		"source_join": srcJoin, "source_cond": srcCond, "target_active": b.activeCond("gt"), "violation": rule.Violation()})
	var extras []string
	extras = append(extras, "rt."+sqlq.Ident(tt.Name)+"::text")
	for _, g := range keyExprs(tg, "g") {
		extras = append(extras, g+"::text")
	}
	extras = append(extras, "gt."+sqlq.Ident(tt.Name)+"::text")
	// The recursive CTE is nested in a plain one, which Citus plans on its
	// own (it refuses a recursive CTE in a query on distributed tables).
	sql := sampledSQL(tenant.AncestorsWith(tt, "anc"), rkeys, extras, body)
	n := len(rkeys)
	return &query{
		finding: &Finding{Check: CheckReferenceRule, Object: o.Name, Srel: sr.Attr, Target: tg.Name},
		sql:     sql,
		args:    []any{spArg},
		sample: func(cols []*string) string {
			return fmt.Sprintf("%s (%s) -> %s (%s)", formatKey(o, cols[:n]), tenantLabel(cols[n], "public"),
				formatKey(tg, cols[n+1:len(cols)-1]), tenantLabel(cols[len(cols)-1], "?"))
		},
	}
}

const danglingSQL = `FROM {table} r WHERE {not_null} AND NOT EXISTS (SELECT FROM {target} g WHERE {on})`

func (b *builder) dangling(o *schema.Object, sr *schema.Srel) *query {
	tg := sr.Target
	keys := keyExprs(o, "r")
	var vals, notNull, on []string
	for i, c := range sr.Columns {
		vals = append(vals, ident("r", c)+"::text")
		notNull = append(notNull, ident("r", c)+" IS NOT NULL")
		on = append(on, eq("g", tg, sr.TargetColumns[i], "r", o, c))
	}
	n := len(keys)
	target, targetOn := b.joinTarget(o, sr)
	body := sqlq.Expand(danglingSQL, sqlq.Names{"table": o.Ident(), "not_null": strings.Join(notNull, " AND "), "target": target, "on": strings.Join(on, " AND ") + targetOn})
	return &query{
		finding: &Finding{Check: CheckDanglingReference, Object: o.Name, Srel: sr.Attr, Target: tg.Name},
		sql:     sampledSQL("", keys, vals, body),
		sample: func(cols []*string) string {
			parts := make([]string, len(sr.Columns))
			for i, c := range sr.Columns {
				parts[i] = c + "=" + quoteValue(cols[n+i])
			}
			return formatKey(o, cols[:n]) + " -> " + strings.Join(parts, " ")
		},
	}
}
