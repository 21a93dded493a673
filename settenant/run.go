// Package settenant stamps rows with their tenant by rules read from a
// settenant file: each rule names an object and takes the tenant either from
// the row an SREL path references or from a named tenant, for the rows an
// optional SQL condition selects. Rules run in file order, each as one
// set-based UPDATE (with Options.BatchSize, one per key range), all in one
// transaction (with Options.CommitEachRule, one per rule or batch), and can
// report exactly what they did, which rows they left without a tenant and
// why, and which changed rows now break the reference rule.
package settenant

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tenantkit/tenantkit/internal/dbconn"
	"github.com/tenantkit/tenantkit/internal/fault"
	"github.com/tenantkit/tenantkit/internal/pgfault"
	"github.com/tenantkit/tenantkit/internal/progress"
	"github.com/tenantkit/tenantkit/internal/runlock"
	"github.com/tenantkit/tenantkit/internal/sqlcond"
	"github.com/tenantkit/tenantkit/internal/sqlq"
	"github.com/tenantkit/tenantkit/schema"
)

// Options control a run.
type Options struct {
	// Report computes the per-rule report: rows matched, updated, left
	// without a tenant and why, and reference-rule conflicts.
	Report bool
	// Check previews: the rules run and report, and everything is rolled back.
	Check bool
	// Sample is how many rows left without a tenant the report lists per rule.
	Sample int
	// BatchSize > 0 runs each rule in key ranges of that many rows.
	BatchSize int
	// CommitEachRule commits after each rule (and, with BatchSize, after
	// each batch) instead of once at the end.
	CommitEachRule bool
	// Progress receives a progress report for each rule: its phases, and
	// the rows done when it runs in batches (BatchSize; a bar if it is a
	// terminal); nil reports nothing.
	Progress io.Writer
}

// Run checks the rules of cfg against the object schema, then runs them in
// order. Configuration problems are exit-2 errors naming the file's line,
// found before anything changes.
func Run(ctx context.Context, pool *pgxpool.Pool, s *schema.Schema, cfg *Config, opts Options) (*Result, error) {
	if opts.Check {
		opts.Report = true
	}
	if opts.Sample < 0 || opts.BatchSize < 0 {
		return nil, fault.Usagef("Options.Sample and Options.BatchSize must not be negative")
	}
	conn, release, err := runlock.Session(ctx, pool) // the session holding the run lock
	if err != nil {
		return nil, fault.Failure(err)
	}
	defer release()
	if opts.Check {
		why, err := dbconn.ReadOnly(ctx, conn)
		if err != nil {
			return nil, fault.Failure(err)
		}
		if why != "" {
			return nil, fault.Failure(fmt.Errorf("settenant: Options.Check needs a writable database (it runs the rules and rolls back): %s", why))
		}
	}
	// sqlcond.Check reads the Where conditions this way; make the server agree.
	if _, err := conn.Exec(ctx, "SET standard_conforming_strings = on"); err != nil {
		return nil, fault.Failure(err)
	}
	plans, err := compile(ctx, conn, s, cfg, opts)
	if err != nil {
		return nil, err
	}
	r := &runner{conn: conn, schema: s, opts: opts}
	if err := r.begin(ctx); err != nil {
		return nil, err
	}
	defer func() { _ = r.tx.Rollback(context.Background()) }()
	if opts.Report {
		if _, err := r.tx.Exec(ctx, createChangedSQL); err != nil {
			return nil, fault.Failure(fmt.Errorf("creating the temporary table of changed rows: %w", err))
		}
	}
	for _, p := range plans {
		if err := r.validate(ctx, p); err != nil {
			return nil, err
		}
	}
	res := &Result{Check: opts.Check}
	for _, p := range plans {
		rep, err := r.rule(ctx, p, len(plans))
		if err != nil {
			return r.stopped(res, err)
		}
		if rep.Updated > 0 {
			delete(r.analyzed, p.obj.Ident()) // its statistics are stale now
		}
		res.Rules = append(res.Rules, rep)
		res.Updated += rep.Updated
		if opts.CommitEachRule && !opts.Check {
			if err := r.commitTx(ctx); err != nil {
				return r.stopped(res, err)
			}
			r.rulesCommitted++
			r.batchesCommitted = 0
			if err := r.begin(ctx); err != nil {
				return r.stopped(res, err)
			}
		}
	}
	if opts.Check {
		return res, nil // the deferred rollback undoes everything
	}
	if err := r.commitTx(ctx); err != nil {
		return r.stopped(res, err)
	}
	res.Committed = true
	return res, nil
}

// stopped reports a run that failed or was interrupted. Without
// --commit-each-rule, or before its first commit, nothing was kept: only
// the error is returned. Otherwise the result says which rules and
// batches were committed, and so does the error.
func (r *runner) stopped(res *Result, err error) (*Result, error) {
	if r.rulesCommitted == 0 && r.batchesCommitted == 0 {
		return nil, err
	}
	res.CommittedRules, res.CommittedBatches, res.CommittedRows = r.rulesCommitted, r.batchesCommitted, r.rowsCommitted
	res.Rules = res.Rules[:r.rulesCommitted]
	res.Updated = r.rowsCommitted
	res.Stopped = err.Error()
	return res, fault.Committed(err, res.committedText())
}

// runner holds the connection and the open transaction of a run.
type runner struct {
	// analyzed holds the tables analyzed by this run and not changed since.
	analyzed map[string]bool
	// With --commit-each-rule: the rules committed, the batches of the
	// next rule committed, the rows committed, and the rows updated in
	// the open transaction.
	rulesCommitted, batchesCommitted int
	rowsCommitted, pending           int64
	conn                             *pgxpool.Conn
	tx                               pgx.Tx
	schema                           *schema.Schema
	opts                             Options
}

func (r *runner) begin(ctx context.Context) error {
	tx, err := r.conn.Begin(ctx)
	if err != nil {
		return fault.Failure(err)
	}
	r.tx = tx
	return nil
}

// commitTx commits the open transaction, in the session holding the run lock.
func (r *runner) commitTx(ctx context.Context) error {
	if err := runlock.Verify(ctx, r.tx); err != nil {
		return fault.Failure(fmt.Errorf("settenant: before committing: %w", err))
	}
	// An interrupt during the COMMIT must not leave it done on the server
	// and unreported here: it completes, and the next statement stops.
	if err := r.tx.Commit(context.WithoutCancel(ctx)); err != nil {
		return fault.Failure(fmt.Errorf("committing: %w", err))
	}
	r.rowsCommitted += r.pending
	r.pending = 0
	return nil
}

// analyzeFor analyzes, before a batched rule, the tables the rule reads
// (its own and those on its SREL path) unless this run analyzed them and
// no rule changed them since: the statistics then know the tenants set by
// earlier rules and earlier runs, and the batches are planned for them (a
// plan made while they said a tenant column was all NULL nested-looped over
// the whole referenced table for every batch).
func (r *runner) analyzeFor(ctx context.Context, p *plan) error {
	if r.opts.BatchSize == 0 {
		return nil
	}
	if r.analyzed == nil {
		r.analyzed = map[string]bool{}
	}
	tables := []string{p.obj.Ident()}
	for _, s := range p.path {
		tables = append(tables, s.Target.Ident())
	}
	tables = append(tables, p.brelTables()...)
	for _, t := range tables {
		if r.analyzed[t] {
			continue
		}
		if _, err := r.tx.Exec(ctx, "ANALYZE "+t); err != nil {
			return fault.Failure(fmt.Errorf("settenant: analyzing %s: %w", t, err))
		}
		r.analyzed[t] = true
	}
	return nil
}

// validate has the server parse and analyse a rule's statement without
// running it, so that a wrong column or a bad condition is reported against
// the file, before any rule changes anything.
func (r *runner) validate(ctx context.Context, p *plan) error {
	prepare := func(st statements) error {
		// A savepoint keeps a failed prepare from aborting the transaction.
		return sqlq.Savepoint(ctx, r.tx, func(sp pgx.Tx) error {
			if _, err := sp.Exec(ctx, st.createLocked()); err != nil {
				return err
			}
			sqls := []string{}
			sql, _ := st.lock(bounds{})
			sqls = append(sqls, sql)
			if r.opts.Report {
				sql, _ = st.report(bounds{}, 0)
				sqls = append(sqls, sql)
			}
			for _, sql := range sqls {
				if _, err := sp.Conn().PgConn().Prepare(ctx, "", sql, nil); err != nil {
					return err
				}
			}
			return nil
		})
	}
	err := prepare(p.stmt)
	if err == nil {
		return nil
	}
	// Preparing runs nothing: whatever the server refuses there (a wrong
	// name, a type mismatch, a constant that does not convert) is the
	// configuration's fault.
	pe := sqlcond.Refusal(err)
	if pe == nil {
		return fault.Failure(fmt.Errorf("settenant: %s: %w", p.describe(), err))
	}
	// Blame the condition when the rule is fine without it.
	if p.rule.Where != "" && prepare(p.stmt.withoutWhere()) == nil {
		return p.rule.whereErrorf("<Where>: %s", pe.Message)
	}
	return p.rule.ruleErrorf("<TenantRule>: %s", pe.Message)
}

// rule analyzes the tables of the rule p (of n) and runs it, reporting its
// progress.
func (r *runner) rule(ctx context.Context, p *plan, n int) (*RuleReport, error) {
	prog := progress.New(r.opts.Progress, fmt.Sprintf("settenant rule %d/%d (%s)", p.index, n, p.obj.Name), progress.Options{Total: -1})
	defer prog.Finish()
	if r.opts.BatchSize > 0 {
		prog.Phase("analyzing")
	}
	if err := r.analyzeFor(ctx, p); err != nil {
		return nil, err
	}
	return r.runRule(ctx, p, prog)
}

// runRule runs one rule, in key-range batches when asked to.
func (r *runner) runRule(ctx context.Context, p *plan, prog *progress.Reporter) (*RuleReport, error) {
	rep := newRuleReport(p, r.opts.Report)
	if _, err := r.tx.Exec(ctx, p.stmt.createLocked()); err != nil {
		return nil, fault.Failure(fmt.Errorf("settenant: %s: %w", p.describe(), err))
	}
	if r.opts.Report {
		if _, err := r.tx.Exec(ctx, truncateChangedSQL); err != nil {
			return nil, fault.Failure(err)
		}
	}
	if r.opts.BatchSize > 0 {
		prog.SetTotal(r.estimateRows(ctx, p))
	} else {
		prog.Phase("updating")
	}
	var lo []string
	for batch := 1; ; batch++ {
		b := bounds{lo: lo}
		if r.opts.BatchSize > 0 {
			prog.Phasef("batch %d", batch)
			hi, err := r.nextBound(ctx, p, lo)
			if err != nil {
				return nil, err
			}
			b.hi = hi
		}
		if err := r.runBatch(ctx, p, b, rep); err != nil {
			return nil, err
		}
		if b.hi == nil {
			break
		}
		prog.Add(int64(r.opts.BatchSize))
		lo = b.hi
		if r.opts.CommitEachRule && !r.opts.Check {
			if err := r.commitTx(ctx); err != nil {
				return nil, err
			}
			r.batchesCommitted++
			if err := r.begin(ctx); err != nil {
				return nil, err
			}
		}
	}
	if r.opts.Report {
		prog.Phase("finding the conflicts")
		sp := p.stmt.sp
		c, err := conflicts(ctx, r.tx, p, r.schema, sp)
		if err != nil {
			return nil, fault.Failure(fmt.Errorf("settenant: %s: %w", p.describe(), err))
		}
		rep.Conflicts = c
	}
	return rep, nil
}

// runBatch runs one batch of a rule: it locks the rows to update (in key
// order) and updates them; with the report it then classifies the rows of
// the batch it did not update. A deadlock or serialization failure rolls
// the batch back to its savepoint and runs it again, at most
// transientRetries times. Rows an application changed after they were
// classified so that the rule would now update them are taken in another
// round (at most reportRounds); what remains is counted as changed during
// the run.
func (r *runner) runBatch(ctx context.Context, p *plan, b bounds, rep *RuleReport) error {
	fail := func(err error) error {
		if werr := r.blameWhere(ctx, p, err); werr != nil {
			return werr
		}
		return fault.Failure(fmt.Errorf("settenant: %s: %w", p.describe(), err))
	}
	for round := 1; ; round++ {
		updated, reassigned, err := r.lockAndUpdate(ctx, p, b)
		if err != nil {
			return fail(err)
		}
		rep.Updated += updated
		r.pending += updated
		if !r.opts.Report {
			return nil
		}
		sql, a := p.stmt.report(b, r.opts.Sample)
		var c Counts
		var sample string
		var pending int64
		err = r.tx.QueryRow(ctx, sql, append([]any{pgx.QueryExecModeExec}, a...)...).Scan(p.stmt.reportDest(&c, &pending, &sample)...)
		if err != nil {
			return fail(err)
		}
		c.Matched += updated
		c.Reassigned = reassigned
		if pending > 0 && round < reportRounds {
			// Count this round's updates, classify again after the next.
			rep.add(&Counts{Matched: updated, Reassigned: reassigned}, nil, 0)
			continue
		}
		c.ChangedDuringRun = pending
		rows, err := parseSample(sample)
		if err != nil {
			return fail(fmt.Errorf("reading the sample: %w", err))
		}
		rep.add(&c, rows, r.opts.Sample)
		return nil
	}
}

// reportRounds bounds the rounds of a reported batch (see runBatch).
const reportRounds = 3

// transientRetries bounds the reruns of a batch that hit a deadlock or a
// serialization failure.
const transientRetries = 3

// lockAndUpdate locks and updates a batch's rows in a savepoint, running it
// again after a deadlock or a serialization failure. Its statements go
// unprepared (pgx.QueryExecModeExec), so that each batch is planned for its
// own key range, never with a cached generic plan.
func (r *runner) lockAndUpdate(ctx context.Context, p *plan, b bounds) (updated, reassigned int64, err error) {
	for attempt := 0; ; attempt++ {
		updated, reassigned, err = r.lockAndUpdateOnce(ctx, p, b)
		if err == nil || pgfault.Classify(err) != pgfault.Transient {
			return updated, reassigned, err
		}
		if attempt == transientRetries {
			return 0, 0, fmt.Errorf("%w (after %d attempts)", err, attempt+1)
		}
		time.Sleep(time.Duration(attempt+1) * 100 * time.Millisecond)
	}
}

func (r *runner) lockAndUpdateOnce(ctx context.Context, p *plan, b bounds) (updated, reassigned int64, err error) {
	err = sqlq.Savepoint(ctx, r.tx, func(sp pgx.Tx) error {
		if r.opts.BatchSize == 0 && !r.opts.Report {
			sql, a := p.stmt.update(b)
			tag, err := sp.Exec(ctx, sql, append([]any{pgx.QueryExecModeExec}, a...)...)
			updated = tag.RowsAffected()
			return err
		}
		if _, err := sp.Exec(ctx, "TRUNCATE "+lockedTable); err != nil {
			return err
		}
		sql, a := p.stmt.lock(b)
		if _, err := sp.Exec(ctx, sql, append([]any{pgx.QueryExecModeExec}, a...)...); err != nil {
			return err
		}
		return sp.QueryRow(ctx, p.stmt.apply(r.opts.Report), pgx.QueryExecModeExec).Scan(&updated, &reassigned)
	})
	if err != nil {
		return 0, 0, err
	}
	return updated, reassigned, nil
}

// nextBound returns the last key of the batch after lo, or nil when the
// rest of the table fits in one batch.
func (r *runner) nextBound(ctx context.Context, p *plan, lo []string) ([]string, error) {
	sql, a := p.stmt.nextBound(lo, r.opts.BatchSize)
	vals := make([]string, len(p.rowKey))
	dest := make([]any, len(vals))
	for i := range vals {
		dest[i] = &vals[i]
	}
	err := r.tx.QueryRow(ctx, sql, append([]any{pgx.QueryExecModeExec}, a...)...).Scan(dest...)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fault.Failure(fmt.Errorf("settenant: %s: finding the next batch: %w", p.describe(), err))
	}
	return vals, nil
}

// estimateRows is the planner's row count of the rule's table, -1 when unknown.
func (r *runner) estimateRows(ctx context.Context, p *plan) int64 {
	var n float64
	if err := r.tx.QueryRow(ctx, "SELECT reltuples FROM pg_class WHERE oid = $1::regclass", p.obj.Ident()).Scan(&n); err != nil || n < 0 {
		return -1
	}
	return int64(n)
}

// blameWhere turns a rule's failure at run time into an error at its
// <Where> when the condition itself fails on some row of the table (it
// validated, but a cast in it does not hold for every row's data, say):
// that is the configuration's fault, exit 2. It returns nil when the
// failure is not the condition's.
func (r *runner) blameWhere(ctx context.Context, p *plan, err error) error {
	if p.rule.Where == "" || sqlcond.DataFailure(err) == nil {
		return nil
	}
	// The failed statement aborted the transaction: everything it did is
	// undone anyway, and the probe needs a transaction that works.
	if rerr := r.tx.Rollback(ctx); rerr != nil {
		return nil
	}
	pe, perr := sqlcond.Probe(ctx, r.conn, p.obj.Ident(), p.rule.Where)
	if perr != nil || pe == nil {
		return nil
	}
	msg := fmt.Sprintf("<Where>: fails on rows of table %q: %s", p.obj.Table, pe.Message)
	if r.opts.CommitEachRule && !r.opts.Check {
		msg += " (Options.CommitEachRule: the work committed before stays committed)"
	}
	return p.rule.whereErrorf("%s", msg)
}
