// Package buildtenant creates tenants out of the rows of a pre-tenant object
// (usually organizations): one tenant per row that has none yet, with
// attributes copied as a configuration file (schema/buildtenant.xsd) maps
// them, optionally placed in a hierarchy that follows the object's own parent
// reference, and the row's tenant set to the new tenant (with Options.Adopt,
// a row whose name a tenant already has is linked to that tenant instead).
//
// A run is one transaction of a handful of set-based statements whatever the
// number of rows: the selected rows are copied into a temporary work table,
// checked (name collisions, hierarchy depth, subtenants allowed, cycles),
// inserted into the tenant table with one INSERT … SELECT … RETURNING per
// hierarchy level, and linked with one UPDATE. Tenants are matched back to
// their rows by name, which the checks have proven unique, so the tenant
// key may be of any type and filled by any default.
package buildtenant

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/tenantkit/tenantkit/acl"
	"github.com/tenantkit/tenantkit/internal/fault"
	"github.com/tenantkit/tenantkit/internal/progress"
	"github.com/tenantkit/tenantkit/internal/sqlcond"
	"github.com/tenantkit/tenantkit/internal/sqlq"
	"github.com/tenantkit/tenantkit/schema"
	"github.com/tenantkit/tenantkit/tenant"
)

// Beginner starts transactions: a pool or a connection.
type Beginner = sqlq.Beginner

// Options control a run.
type Options struct {
	// Check previews the run: everything happens inside a transaction that
	// is rolled back, and Result.Tenants lists what would be created.
	Check bool
	// Adopt links a row whose tenant name already exists to that tenant
	// instead of reporting a collision.
	Adopt bool
	// Progress receives a progress report per pre-tenant object (a bar if
	// it is a terminal); nil reports nothing.
	Progress io.Writer
	// AccessGroups gives every created tenant the default access groups
	// (TENANT\Administrators, TENANT\Users) at the next acl apply.
	AccessGroups bool
}

// Result summarises a run.
type Result struct {
	Check   bool            `json:"check"`
	Created int64           `json:"created"`
	Adopted int64           `json:"adopted"`
	Objects []*ObjectResult `json:"objects"`
	// Problems stop the run: nothing is created when there is any.
	Problems []*Problem `json:"problems,omitempty"`
	// Tenants lists, with Check, the tenants the run would create or adopt.
	Tenants []*Planned `json:"tenants,omitempty"`
}

// ObjectResult counts what happened to one pre-tenant object.
type ObjectResult struct {
	Object string `json:"object"`
	Table  string `json:"table"`
	// Rows is the number of rows selected: no tenant yet, matching Where.
	Rows    int64 `json:"rows"`
	Created int64 `json:"created"`
	Adopted int64 `json:"adopted"`
}

// Problem is a reason the run cannot go ahead, with the rows involved.
type Problem struct {
	Object  string `json:"object"`
	Kind    string `json:"kind"`
	Message string `json:"message"`
	// Rows names up to maxListedRows rows by their key; RowCount counts all.
	Rows     []string `json:"rows"`
	RowCount int64    `json:"row_count"`
}

// Problem kinds.
const (
	NameMissing    = "name-missing"
	NameExists     = "name-exists"
	NameAmbiguous  = "name-ambiguous"
	NameDuplicate  = "name-duplicate"
	ParentCycle    = "parent-cycle"
	TooDeep        = "too-deep"
	NoSubtenants   = "no-subtenants"
	TooManyTenants = "too-many-tenants"
)

// Planned is one tenant a checked run would create (or adopt).
type Planned struct {
	Object  string  `json:"object"`
	Row     string  `json:"row"`
	Name    string  `json:"name"`
	Parent  *string `json:"parent"`
	Depth   int     `json:"depth"`
	Adopted bool    `json:"adopted,omitempty"`
}

// maxListedRows caps the rows named per problem, and maxProblems the
// problems reported per kind and object.
const (
	maxListedRows = 10
	maxProblems   = 50
)

// Run builds the tenants cfg describes. Configuration errors are exit-2
// errors (positioned *xmlnode.Error values where they concern the file);
// problems found in the data are returned in Result.Problems with an exit-1
// error, and nothing is created.
func Run(ctx context.Context, db Beginner, s *schema.Schema, cfg *Config, opts Options) (*Result, error) {
	objs, err := bind(cfg, s)
	if err != nil {
		return nil, err
	}
	tt := s.Tenants
	tx, err := db.Begin(ctx)
	if err != nil {
		return nil, fault.Failure(err)
	}
	defer tx.Rollback(ctx)
	// Others may read while the run works, but not add tenants or change the
	// pre-tenant rows: the collision checks and the row addresses stay true.
	if _, err := tx.Exec(ctx, "LOCK TABLE "+tt.Ident()+" IN SHARE ROW EXCLUSIVE MODE"); err != nil {
		return nil, fault.Failure(fmt.Errorf("locking the tenant table: %w", err))
	}
	if err := tuneSession(ctx, tx); err != nil {
		return nil, err
	}
	if err := checkWithServer(ctx, tx, tt, objs); err != nil {
		return nil, err
	}
	sp, err := tenant.ServiceProvider(ctx, tx, tt)
	if errors.Is(err, tenant.ErrNotFound) {
		return nil, fault.Usagef("tenant table %q has no service provider tenant: create it before building tenants", tt.Table)
	}
	if err != nil {
		return nil, fault.Failure(err)
	}
	r := &runner{tx: tx, tt: tt, sp: sp, opts: opts, res: &Result{Check: opts.Check}}
	for _, b := range objs {
		if err := r.object(ctx, b); err != nil {
			return r.res, err
		}
	}
	if n := len(r.res.Problems); n > 0 {
		return r.res, fault.Violations(fmt.Errorf("%s found; nothing was created", plural(n, "problem")))
	}
	if opts.Check {
		return r.res, nil // the deferred rollback undoes everything
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, fault.Failure(fmt.Errorf("committing: %w", err))
	}
	return r.res, nil
}

// tuneSession sets up the transaction for a few large statements. Strings
// are read with standard_conforming_strings on, as sqlcond.Check reads the
// Where conditions. JIT
// compilation is off: the recursive statements' row estimates are far too
// high, and compiling them costs more than running them. The work table
// should stay in memory: past the default 8MB of temporary buffers every
// statement on it would go to disk; that setting can only change before the
// session's first use of a temporary table, so a refusal is ignored (inside
// a savepoint).
func tuneSession(ctx context.Context, tx pgx.Tx) error {
	if _, err := tx.Exec(ctx, "SET LOCAL standard_conforming_strings = on; SET LOCAL jit = off"); err != nil {
		return fault.Failure(fmt.Errorf("setting up the session: %w", err))
	}
	err := sqlq.Savepoint(ctx, tx, func(sp pgx.Tx) error {
		_, err := sp.Exec(ctx, "SET LOCAL temp_buffers = '256MB'")
		return err
	})
	var pgErr *pgconn.PgError
	if err != nil && !errors.As(err, &pgErr) {
		return fault.Failure(fmt.Errorf("setting up the session: %w", err))
	}
	return nil // refused (temporary tables already used): the default stays
}

// runner carries one run's transaction and results.
type runner struct {
	tx   pgx.Tx
	tt   *schema.TenantTable
	sp   *tenant.Tenant
	opts Options
	res  *Result
}

// object builds the tenants of one pre-tenant object.
func (r *runner) object(ctx context.Context, b *boundObject) error {
	w := newWorkTable(r.tt, b)
	or := &ObjectResult{Object: b.obj.Name, Table: b.obj.Table}
	r.res.Objects = append(r.res.Objects, or)
	prog := progress.New(r.opts.Progress, "buildtenant "+b.obj.Name, progress.Options{Total: -1, Unit: "rows"})
	defer prog.Finish()
	prog.Phase("selecting the rows")
	if _, err := r.tx.Exec(ctx, "LOCK TABLE "+b.obj.Ident()+" IN SHARE ROW EXCLUSIVE MODE"); err != nil {
		return r.fail(b, "locking the table", err)
	}
	for _, sql := range []string{w.dropSQL(), w.createSQL()} {
		if _, err := r.tx.Exec(ctx, sql); err != nil {
			return r.fail(b, "creating the work table", err)
		}
	}
	tag, err := r.fillWorkTable(ctx, b, w)
	if err != nil {
		return err
	}
	or.Rows = tag.RowsAffected()
	if or.Rows == 0 {
		return nil
	}
	prog.SetTotal(or.Rows)
	prog.Phase("checking the new tenants")
	for _, sql := range w.indexSQL() {
		if _, err := r.tx.Exec(ctx, sql); err != nil {
			return r.fail(b, "indexing the work table", err)
		}
	}
	if err := r.checkNames(ctx, b, w); err != nil {
		return err
	}
	prog.Phase("placing the new tenants in the hierarchy")
	if err := r.placeInHierarchy(ctx, b, w); err != nil {
		return err
	}
	prog.Phase("checking the hierarchy")
	if err := r.checkHierarchy(ctx, b, w); err != nil {
		return err
	}
	if len(r.res.Problems) > 0 {
		return nil // report everything, create nothing
	}
	if err := r.insert(ctx, b, w, or, prog); err != nil {
		return err
	}
	if r.opts.Check {
		prog.Phase("listing the new tenants")
		return r.plan(ctx, b, w)
	}
	return nil
}

// refusedByTenantTable turns a constraint of the tenant table that the
// checks do not know (say a unique index on lower(name)) refusing a new
// tenant into a violation: the data conflicts, the database is fine, and
// the run's rollback leaves nothing created.
func refusedByTenantTable(b *boundObject, err error) error {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || !strings.HasPrefix(pgErr.Code, "23") {
		return nil
	}
	msg := pgErr.Message
	if pgErr.Detail != "" {
		msg += ": " + pgErr.Detail
	}
	return fault.Violations(fmt.Errorf("%s: the tenant table refused a new tenant: %s; nothing was created", b.obj.Name, msg))
}

// fail wraps a database error of one object's run.
// fillWorkTable selects the object's rows into the work table, in a
// savepoint: a Where that validated can still fail on some row's data (a
// cast that does not hold for every row), which is the configuration's
// fault, reported at the <Where> (exit 2).
func (r *runner) fillWorkTable(ctx context.Context, b *boundObject, w *workTable) (pgconn.CommandTag, error) {
	var tag pgconn.CommandTag
	err := sqlq.Savepoint(ctx, r.tx, func(sp pgx.Tx) (err error) {
		tag, err = sp.Exec(ctx, w.fillSQL())
		return err
	})
	if err == nil {
		return tag, nil
	}
	if b.rule.Where != "" && sqlcond.DataFailure(err) != nil {
		if pe, perr := sqlcond.Probe(ctx, r.tx, b.obj.Ident(), b.rule.Where); perr == nil && pe != nil {
			return tag, b.rule.WhereNode.Errorf("<Where>: fails on rows of table %q: %s", b.obj.Table, pe.Message)
		}
	}
	return tag, r.fail(b, "selecting the rows", err)
}

func (r *runner) fail(b *boundObject, doing string, err error) error {
	return fault.Failure(fmt.Errorf("object %q: %s: %w", b.obj.Name, doing, err))
}

// checkNames finds rows without a name, names that exist already (adopted
// with Options.Adopt) and names several rows would give to new tenants.
func (r *runner) checkNames(ctx context.Context, b *boundObject, w *workTable) error {
	if err := r.collect(ctx, b, w, NameMissing, w.nullNamesSQL(), func(_ string, n int64) string {
		return fmt.Sprintf("%s no tenant name (%s is NULL)", plural64(n, "row has", "rows have"), b.maps[b.name].from)
	}); err != nil {
		return err
	}
	if r.opts.Adopt {
		if err := r.collect(ctx, b, w, NameAmbiguous, w.ambiguousNamesSQL(), func(name string, n int64) string {
			return fmt.Sprintf("cannot adopt tenant %q: several tenants have that name", name)
		}); err != nil {
			return err
		}
		if _, err := r.tx.Exec(ctx, w.adoptSQL()); err != nil {
			return r.fail(b, "adopting existing tenants", err)
		}
	} else if err := r.collect(ctx, b, w, NameExists, w.existingNamesSQL(), func(name string, n int64) string {
		return fmt.Sprintf("tenant %q already exists (Options.Adopt links the rows to it)", name)
	}); err != nil {
		return err
	}
	return r.collect(ctx, b, w, NameDuplicate, w.duplicateNamesSQL(), func(name string, n int64) string {
		return fmt.Sprintf("tenant name %q would be given by %d rows", name, n)
	})
}

// placeInHierarchy gives every row its parent: the new tenant of its parent
// row, else the tenant of the nearest ancestor row that has or gets one,
// else the service provider; then its level and depth.
func (r *runner) placeInHierarchy(ctx context.Context, b *boundObject, w *workTable) error {
	type step struct {
		sql  string
		args []any
	}
	var steps []step
	if b.parent != nil {
		steps = append(steps, step{sql: w.ancestorSQL()})
	}
	if r.tt.Parent != "" {
		steps = append(steps, step{sql: w.serviceProviderSQL(), args: []any{r.sp.ID}})
	}
	steps = append(steps, step{sql: w.levelSQL()})
	for _, st := range steps {
		if _, err := r.tx.Exec(ctx, st.sql, st.args...); err != nil {
			return r.fail(b, "placing the new tenants in the hierarchy", err)
		}
	}
	return nil
}

// checkHierarchy enforces the rules of the hierarchy on the new tenants.
func (r *runner) checkHierarchy(ctx context.Context, b *boundObject, w *workTable) error {
	if err := r.collect(ctx, b, w, ParentCycle, w.cycleSQL(), func(_ string, n int64) string {
		return fmt.Sprintf("%s on (or below) a cycle of parent rows", plural64(n, "row is", "rows are"))
	}); err != nil {
		return err
	}
	if r.tt.Parent == "" {
		return r.checkTenantCount(ctx, b, w)
	}
	max := r.tt.MaxDepth
	if err := r.collect(ctx, b, w, TooDeep, w.tooDeepSQL(), func(depth string, n int64) string {
		d, _ := strconv.Atoi(depth)
		return fmt.Sprintf("%s would be at depth %d, beyond maxDepth %d (depths 0 to %d)", plural64(n, "new tenant", "new tenants"), d, max, max-1)
	}, max); err != nil {
		return err
	}
	if r.tt.SubtenantsAllowed != "" {
		if err := r.collect(ctx, b, w, NoSubtenants, w.noSubtenantsSQL(), func(name string, n int64) string {
			return fmt.Sprintf("parent tenant %q does not allow subtenants (%s is false); %s would go under it", name, r.tt.SubtenantsAllowed, plural64(n, "new tenant", "new tenants"))
		}); err != nil {
			return err
		}
	}
	return r.checkTenantCount(ctx, b, w)
}

func (r *runner) checkTenantCount(ctx context.Context, b *boundObject, w *workTable) error {
	if r.tt.MaxTenants <= 0 {
		return nil
	}
	var existing, adding int64
	if err := r.tx.QueryRow(ctx, w.tenantCountSQL()).Scan(&existing, &adding); err != nil {
		return r.fail(b, "counting tenants", err)
	}
	if existing+adding > int64(r.tt.MaxTenants) {
		r.res.Problems = append(r.res.Problems, &Problem{
			Object: b.obj.Name, Kind: TooManyTenants, RowCount: adding,
			Message: fmt.Sprintf("%s and %d would be added, beyond maxTenants %d", plural64(existing, "tenant exists", "tenants exist"), adding, r.tt.MaxTenants),
		})
	}
	return nil
}

// collect runs a check query returning (key, row labels, row count) groups
// and records one problem per group.
func (r *runner) collect(ctx context.Context, b *boundObject, w *workTable, kind, sql string, msg func(key string, n int64) string, args ...any) error {
	rows, err := r.tx.Query(ctx, sql, append([]any{maxListedRows, maxProblems}, args...)...)
	if err != nil {
		return r.fail(b, "checking "+kind, err)
	}
	defer rows.Close()
	for rows.Next() {
		var key *string
		var labels []string
		var n int64
		if err := rows.Scan(&key, &labels, &n); err != nil {
			return r.fail(b, "checking "+kind, err)
		}
		p := &Problem{Object: b.obj.Name, Kind: kind, RowCount: n}
		if key != nil {
			p.Message = msg(*key, n)
		} else {
			p.Message = msg("", n)
		}
		for _, l := range labels {
			p.Rows = append(p.Rows, w.rowLabel(l))
		}
		r.res.Problems = append(r.res.Problems, p)
	}
	if err := rows.Err(); err != nil {
		return r.fail(b, "checking "+kind, err)
	}
	return nil
}

// insert creates the tenants level by level (parents first), then links
// every selected row to its tenant.
func (r *runner) insert(ctx context.Context, b *boundObject, w *workTable, or *ObjectResult, prog *progress.Reporter) error {
	var maxLevel int
	var pending int64
	if err := r.tx.QueryRow(ctx, w.levelsSQL()).Scan(&maxLevel, &pending, &or.Adopted); err != nil {
		return r.fail(b, "reading the levels", err)
	}
	for level := 0; level <= maxLevel && pending > 0; level++ {
		prog.Phasef("creating the tenants of level %d/%d", level+1, maxLevel+1)
		want := int64(0)
		tag, err := r.tx.Exec(ctx, w.insertSQL(), level)
		if err != nil {
			if refused := refusedByTenantTable(b, err); refused != nil {
				return refused
			}
			return r.fail(b, fmt.Sprintf("creating the tenants of level %d", level), err)
		}
		if err := r.tx.QueryRow(ctx, w.levelCountSQL(), level).Scan(&want); err != nil {
			return r.fail(b, "counting the new tenants", err)
		}
		if tag.RowsAffected() != want {
			return r.fail(b, "matching new tenants to rows", fmt.Errorf("%d tenants inserted at level %d but %d matched back by name (does a trigger or default change tenant names?)", want, level, tag.RowsAffected()))
		}
		or.Created += want
		prog.Add(want)
	}
	prog.Add(or.Adopted)
	prog.Phase("setting the rows' tenant")
	tag, err := r.tx.Exec(ctx, w.linkSQL())
	if err != nil {
		return r.fail(b, "setting the rows' tenant", err)
	}
	if tag.RowsAffected() != or.Rows {
		return r.fail(b, "setting the rows' tenant", fmt.Errorf("%d rows linked, %d selected", tag.RowsAffected(), or.Rows))
	}
	r.res.Created += or.Created
	r.res.Adopted += or.Adopted
	if r.opts.AccessGroups && or.Created > 0 {
		prog.Phase("recording the default access groups")
		if err := r.accessGroups(ctx, w); err != nil {
			return r.fail(b, "recording the default access groups", err)
		}
	}
	return nil
}

// accessGroups records the default access groups of the tenants this
// object's rows created, in the run's transaction.
func (r *runner) accessGroups(ctx context.Context, w *workTable) error {
	rows, err := r.tx.Query(ctx, fmt.Sprintf("SELECT %s::text FROM %s c WHERE NOT c.adopted", w.nameCol("c."), workTableName))
	if err != nil {
		return err
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return err
	}
	return acl.AddTenantDefaults(ctx, r.tx, names...)
}

// plan lists, for a checked run, the tenants it would create or adopt.
func (r *runner) plan(ctx context.Context, b *boundObject, w *workTable) error {
	rows, err := r.tx.Query(ctx, w.planSQL())
	if err != nil {
		return r.fail(b, "listing the new tenants", err)
	}
	defer rows.Close()
	for rows.Next() {
		var label string
		p := &Planned{Object: b.obj.Name}
		if err := rows.Scan(&label, &p.Name, &p.Parent, &p.Depth, &p.Adopted); err != nil {
			return r.fail(b, "listing the new tenants", err)
		}
		p.Row = w.rowLabel(label)
		r.res.Tenants = append(r.res.Tenants, p)
	}
	if err := rows.Err(); err != nil {
		return r.fail(b, "listing the new tenants", err)
	}
	return nil
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

func plural64(n int64, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
