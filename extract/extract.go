// Package extract writes rows of a database to data files (userload, CSV or
// XLSX) that load back unchanged with userload: whole tables, the result of
// a query, or everything one tenant owns, optionally only what changed since
// the last run, or with every row it references, to move it to another
// database (TenantOptions.WithReferences).
//
// Rows stream from COPY (SELECT …) TO STDOUT in text format straight into a
// datafile.Writer; no table is held in memory. They come in the order the
// server reads them, as with COPY TO and pg_dump; with Output.Sorted each
// table's rows come in key order (the primary key, else the overlay key,
// else the first unique constraint, else every column), so that reruns
// write the same file, at the price of a sort or an index walk on the
// server. Every
// run reads one REPEATABLE READ snapshot, so the tables of one file are
// consistent with each other. A file (or a directory of CSV files) is
// written under a temporary name and moved into place only when the whole
// extract succeeded; standard output (Output.Stdout) is written as the rows
// come.
//
// Values keep PostgreSQL's text form, which every type's input function
// reads back exactly. The session is set to TimeZone UTC, DateStyle ISO,
// IntervalStyle postgres, bytea_output hex and extra_float_digits 1, so
// timestamptz values come out as UTC with an explicit +00 offset and floats
// in their shortest exact form, whatever the server's or the role's defaults.
package extract

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tenantkit/tenantkit/datafile"
	"github.com/tenantkit/tenantkit/internal/fault"
	"github.com/tenantkit/tenantkit/internal/progress"
	"github.com/tenantkit/tenantkit/internal/sqlcond"
	"github.com/tenantkit/tenantkit/internal/sqlq"
	"github.com/tenantkit/tenantkit/schema"
)

// All names every table of the object schema.
const All = "ALL"

// Options control an extract of tables or of a query.
type Options struct {
	// Tables are object or table names, shell patterns, or All.
	Tables []string
	// SQL is a single read-only query to extract instead of tables.
	SQL string
	// Name is the table name written for the result of SQL; the default is
	// the table every result column comes from, else "query".
	Name string
	// Where is an SQL condition on each table's columns.
	Where string
	// Columns limits and orders the columns written; nil means every
	// column except generated ones.
	Columns []string
	// Output describes the file to write and how.
	Output Output
	// Control is the path of the incremental control file; "" means a
	// full extract.
	Control string
}

// Output says where and how a run writes.
type Output struct {
	// Path is the file (or, for several tables as CSV, the directory) to
	// write; "" or "-" is Stdout.
	Path string
	// Stdout receives the data when Path is "" or "-"; nil makes that an
	// error.
	Stdout io.Writer
	// Format is the file format; "" means: from Path's extension, else
	// userload.
	Format datafile.Format
	// Progress receives the progress report (a bar if it is a terminal);
	// nil reports nothing.
	Progress io.Writer
	// Sorted writes each table's rows in key order (see orderBy), at the
	// price of a sort or an index walk on the server; otherwise rows come
	// in the order the server reads them, like COPY TO and pg_dump.
	Sorted bool
}

// TableResult reports one table of a run.
type TableResult struct {
	Table  string `json:"table"`
	Object string `json:"object,omitempty"`
	Rows   int64  `json:"rows"`
	// Since is the high-water mark an incremental run started from; empty
	// for a full extract.
	Since string `json:"since,omitempty"`
	// Mark is the high-water mark recorded for the next run.
	Mark string `json:"mark,omitempty"`
}

// Summary reports a run.
type Summary struct {
	Output string          `json:"output"`
	Format datafile.Format `json:"format"`
	Rows   int64           `json:"rows"`
	Tables []TableResult   `json:"tables"`
}

// section is one table of the output and the query that fills it.
type section struct {
	obj   *schema.Object // nil for a query
	table datafile.Table
	// query is the SELECT producing the rows; run adds the ORDER BY of
	// Output.Sorted.
	query string
	// from is the query's FROM and WHERE clauses (table alias t), for
	// aggregates over the same rows; empty for --sql.
	from string
	// whole is set when the section reads every row of its table (no
	// condition), which sortedScan may read with a sort.
	whole bool
	// what names the section in error messages.
	what string
	// inc is set when the section takes part in an incremental run.
	inc *increment
	// pathSchema is set for --sql: the schema the query's unqualified
	// names resolve in while it is prepared and copied (inQueryPath).
	pathSchema string
}

// Extract writes tables, or the result of a query, to a data file.
func Extract(ctx context.Context, pool *pgxpool.Pool, s *schema.Schema, opts Options) (*Summary, error) {
	if err := checkOptions(opts); err != nil {
		return nil, err
	}
	var ctl *control
	if opts.Control != "" {
		var err error
		if ctl, err = loadControl(opts.Control, "extract", "where="+opts.Where); err != nil {
			return nil, err
		}
	}
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return nil, fault.Failure(err)
	}
	defer conn.Release()
	var clamp *time.Time
	if ctl != nil {
		if clamp, err = inFlightSince(ctx, conn.Conn()); err != nil {
			return nil, err
		}
	}
	tx, err := conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, fault.Failure(err)
	}
	defer tx.Rollback(context.Background())
	if err := setSession(ctx, tx); err != nil {
		return nil, err
	}
	var sections []*section
	if opts.SQL != "" {
		sec, err := querySection(ctx, tx, opts.SQL, opts.Name, s.DBSchema)
		if err != nil {
			return nil, err
		}
		sections = []*section{sec}
	} else {
		objs, err := selectTables(s, opts.Tables)
		if err != nil {
			return nil, err
		}
		for _, o := range objs {
			sec, err := tableSection(o, opts.Columns, opts.Where, ctl, clamp)
			if err != nil {
				return nil, err
			}
			sections = append(sections, sec)
		}
	}
	return run(ctx, tx, sections, opts.Output, ctl)
}

func checkOptions(opts Options) error {
	switch {
	case opts.SQL != "" && len(opts.Tables) > 0:
		return fault.Usagef("give either tables or Options.SQL, not both")
	case opts.SQL == "" && len(opts.Tables) == 0:
		return fault.Usagef("name the tables to extract (or ALL), or give Options.SQL")
	case opts.SQL != "" && (opts.Where != "" || len(opts.Columns) > 0):
		return fault.Usagef("Options.Where and Options.Columns apply to tables; put them into the Options.SQL query")
	case opts.SQL != "" && opts.Control != "":
		return fault.Usagef("Options.Control applies to tables, not to Options.SQL")
	case opts.SQL == "" && opts.Name != "":
		return fault.Usagef("Options.Name applies to Options.SQL only")
	}
	return nil
}

// selectTables resolves the table arguments, parents before children.
func selectTables(s *schema.Schema, names []string) ([]*schema.Object, error) {
	for _, n := range names {
		if n == All {
			if len(names) > 1 {
				return nil, fault.Usagef("ALL stands for every table; name no other table with it")
			}
			return schema.Ordered(s.Objects), nil
		}
	}
	objs, err := s.Select(names)
	if err != nil {
		return nil, fault.Usage(err)
	}
	if len(objs) == 0 {
		return nil, fault.NotFoundf("no table matches %s", strings.Join(names, " "))
	}
	return schema.Ordered(objs), nil
}

// sessionSettings make every value's text form exact and independent of
// the server's and the role's defaults.
const sessionSettings = `SET LOCAL TimeZone = 'UTC';
SET LOCAL DateStyle = 'ISO, YMD';
SET LOCAL IntervalStyle = 'postgres';
SET LOCAL bytea_output = 'hex';
SET LOCAL extra_float_digits = 1;
SET LOCAL standard_conforming_strings = on`

func setSession(ctx context.Context, tx pgx.Tx) error {
	if _, err := tx.Exec(ctx, sessionSettings); err != nil {
		return fault.Failure(fmt.Errorf("setting up the session: %w", err))
	}
	return nil
}

// tableSection builds the section extracting one table.
func tableSection(o *schema.Object, columns []string, where string, ctl *control, clamp *time.Time) (*section, error) {
	cols, err := outputColumns(o, columns)
	if err != nil {
		return nil, err
	}
	var conds []string
	if where != "" {
		conds = append(conds, sqlcond.Wrap(where))
	}
	sec := &section{obj: o, what: "table " + o.Table}
	if ctl != nil {
		sec.inc = ctl.increment(o, clamp)
		if c := sec.inc.condition("t"); c != "" {
			conds = append(conds, c)
		}
	}
	sec.table = datafile.Table{Name: o.Table}
	for _, c := range cols {
		sec.table.Columns = append(sec.table.Columns, c.Name)
		sec.table.Types = append(sec.table.Types, c.Type)
	}
	sec.from, sec.whole = fromClause(o, conds), len(conds) == 0
	sec.query = selectList(cols) + sec.from
	return sec, nil
}

// outputColumns resolves --columns, or takes every column that can be
// written back (generated columns cannot).
func outputColumns(o *schema.Object, names []string) ([]schema.Column, error) {
	var cols []schema.Column
	if len(names) == 0 {
		for _, c := range o.Columns {
			if !c.Generated {
				cols = append(cols, c)
			}
		}
		return cols, nil
	}
	seen := map[string]bool{}
	for _, n := range names {
		c := o.Column(n)
		if c == nil {
			return nil, fault.NotFoundf("table %s has no column %q", o.Table, n)
		}
		if seen[n] {
			return nil, fault.Usagef("column %q is named twice in Options.Columns", n)
		}
		seen[n] = true
		cols = append(cols, *c)
	}
	return cols, nil
}

// selectList is the SELECT clause of cols from table alias t.
func selectList(cols []schema.Column) string {
	var b strings.Builder
	b.WriteString("SELECT ")
	for i, c := range cols {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("t." + sqlq.Ident(c.Name))
	}
	return b.String()
}

// fromClause reads o as t where every condition holds.
func fromClause(o *schema.Object, conds []string) string {
	from := " FROM " + o.Ident() + " t"
	if len(conds) > 0 {
		from += " WHERE " + strings.Join(conds, " AND ")
	}
	return from
}

// orderBy orders rows by the object's sort key (schema.Object.SortKey),
// else every column by its text form, so that reruns write the rows in the
// same order. A sort key that does not tell every row apart (an overlay
// key that is not unique, a unique constraint over a nullable column) is
// followed by every column's text, which orders the rows it ties.
func orderBy(o *schema.Object) string {
	var parts []string
	for _, k := range o.SortKey() {
		parts = append(parts, "t."+sqlq.Ident(k))
	}
	if len(parts) == 0 || !o.SortKeyIsTotal() {
		for _, c := range o.Columns {
			parts = append(parts, "t."+sqlq.Ident(c.Name)+"::text")
		}
	}
	return strings.Join(parts, ", ")
}

// run writes every section to the output and, on success, records the new
// high-water marks in the control file.
func run(ctx context.Context, tx pgx.Tx, sections []*section, out Output, ctl *control) (*Summary, error) {
	for _, sec := range sections {
		if out.Sorted && sec.obj != nil {
			sec.query += " ORDER BY " + orderBy(sec.obj)
		}
		if err := prepare(ctx, tx, sec); err != nil {
			return nil, err
		}
	}
	f, err := openOutput(out, len(sections))
	if err != nil {
		return nil, err
	}
	defer f.abort()
	sum := &Summary{Output: f.name(), Format: f.format}
	rep := progress.New(out.Progress, "extract", progress.Options{Total: -1, Unit: "rows"})
	for _, sec := range sections {
		if out.Sorted {
			if err := sortedScan(ctx, tx, sec); err != nil {
				rep.Finish()
				return nil, err
			}
		}
		n, err := copySection(ctx, tx, f.w, f.name(), sec, rep)
		if err != nil {
			rep.Finish()
			return nil, err
		}
		res := TableResult{Table: sec.table.Name, Rows: n}
		if sec.obj != nil {
			res.Object = sec.obj.Name
		}
		if sec.inc != nil {
			if err := sec.inc.advance(ctx, tx, sec, n); err != nil {
				rep.Finish()
				return nil, err
			}
			res.Since, res.Mark = sec.inc.since(), sec.inc.mark()
		}
		sum.Tables = append(sum.Tables, res)
		sum.Rows += n
	}
	rep.Finish()
	if err := f.commit(); err != nil {
		return nil, err
	}
	if ctl != nil {
		if err := ctl.save(); err != nil {
			return nil, err
		}
	}
	return sum, nil
}

// sortedScan chooses how the server reads a table for --sorted. A table
// whose rows are not stored in key order is read with a sequential scan
// and a sort rather than an index scan, which fetches every row from a
// random page: the planner costs those fetches low when the table fits in
// memory, yet at 1M rows of a uuid key the index scan takes 4.5 s against
// 2.2 s for the (parallel) scan and sort. A table stored in key order (the
// leading key column's correlation, as ANALYZE measured it, at least 0.9
// either way) keeps the planner's choice, as does a query (--sql) and a
// section that reads some rows only (--where, a tenant's rows), where an
// index can find them in key order. The setting lasts to the next
// section's; the transaction is read-only.
func sortedScan(ctx context.Context, tx pgx.Tx, sec *section) error {
	indexScan := "on"
	if o := sec.obj; o != nil && sec.whole && len(o.SortKey()) > 0 {
		var corr *float64
		err := tx.QueryRow(ctx, `SELECT correlation FROM pg_catalog.pg_stats
			WHERE schemaname = $1 AND tablename = $2 AND attname = $3
			ORDER BY inherited LIMIT 1`, o.Schema, o.Table, o.SortKey()[0]).Scan(&corr)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return fault.Failure(fmt.Errorf("%s: reading the statistics of its key: %w", sec.what, err))
		}
		if corr == nil || math.Abs(*corr) < 0.9 {
			indexScan = "off"
		}
	}
	if _, err := tx.Exec(ctx, "SELECT pg_catalog.set_config('enable_indexscan', $1, true)", indexScan); err != nil {
		return fault.Failure(fmt.Errorf("%s: choosing how to read the rows in key order: %w", sec.what, err))
	}
	return nil
}

// prepare checks a section's query before anything is written, so that a
// bad --where, --sql or column fails cleanly with exit 2.
func prepare(ctx context.Context, tx pgx.Tx, sec *section) error {
	return inQueryPath(ctx, tx, sec, func() error {
		_, err := tx.Conn().PgConn().Prepare(ctx, "", sec.query, nil)
		if err != nil {
			return queryError(sec, err)
		}
		return nil
	})
}

// queryError classifies an error of a section's query: errors in what the
// user wrote (syntax, unknown names, bad literals, writes in a read-only
// transaction) are bad input; anything else is a failure.
func queryError(sec *section, err error) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch {
		case pgErr.Code == "25006":
			return fault.Usagef("%s: the query writes, and extract runs it in a read-only transaction: %s", sec.what, pgErr.Message)
		case strings.HasPrefix(pgErr.Code, "42"), strings.HasPrefix(pgErr.Code, "22"), strings.HasPrefix(pgErr.Code, "0A"):
			return fault.Usagef("%s: %s (SQLSTATE %s)", sec.what, pgErr.Message, pgErr.Code)
		}
	}
	return fault.Failure(fmt.Errorf("%s: %w", sec.what, err))
}

// outputError is the exit 3 error for a failed write of the output, nil
// when err is not one (a value the format refuses, say).
func outputError(target string, sec *section, err error) error {
	var pathErr *fs.PathError
	if !errors.As(err, &pathErr) {
		return nil
	}
	return fault.Failure(fmt.Errorf("writing %s: %s: %w", target, sec.what, pathErr.Err))
}

// copySection streams one section from COPY TO into the writer.
// Failures to write the output (a full disk, a size limit, an unwritable
// directory) are exit 3 naming the output, target.
func copySection(ctx context.Context, tx pgx.Tx, w datafile.Writer, target string, sec *section, rep *progress.Reporter) (int64, error) {
	// The header waits for the first row, or for the end of a COPY without
	// rows: a query the server refuses when it starts leaves no header.
	begun := false
	var headerErr error
	begin := func() error {
		if begun {
			return nil
		}
		begun = true
		headerErr = w.BeginTable(&sec.table)
		return headerErr
	}
	headerFailed := func() (int64, error) {
		if ioErr := outputError(target, sec, headerErr); ioErr != nil {
			return 0, ioErr
		}
		return 0, fault.Usage(fmt.Errorf("%s: %w", sec.what, headerErr))
	}
	var pending int64
	var writeErr error
	dec := datafile.NewCopyDecoder(len(sec.table.Columns), func(vals []datafile.Value) error {
		if err := begin(); err != nil {
			return err
		}
		if err := w.WriteRow(vals); err != nil {
			writeErr = err
			return err
		}
		if pending++; pending == 1024 {
			rep.Add(pending)
			pending = 0
		}
		return nil
	})
	err := inQueryPath(ctx, tx, sec, func() error {
		_, err := tx.Conn().PgConn().CopyTo(ctx, dec, "COPY (\n"+sec.query+"\n) TO STDOUT")
		return err
	})
	rep.Add(pending)
	if headerErr != nil {
		return headerFailed()
	}
	if ioErr := outputError(target, sec, writeErr); ioErr != nil {
		return dec.Rows(), ioErr
	}
	if writeErr != nil {
		// The writer refused a value (e.g. beyond Excel's limits): bad
		// input for that format, not a database failure.
		return dec.Rows(), fault.Usage(fmt.Errorf("%s: %w", sec.what, writeErr))
	}
	if err != nil {
		if ctx.Err() != nil {
			return dec.Rows(), ctx.Err()
		}
		return dec.Rows(), queryError(sec, err)
	}
	if err := dec.Close(); err != nil {
		return dec.Rows(), fault.Failure(fmt.Errorf("%s: %w", sec.what, err))
	}
	if begin() != nil {
		return headerFailed()
	}
	return dec.Rows(), nil
}
