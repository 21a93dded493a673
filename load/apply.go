package load

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/tenantkit/tenantkit/internal/fault"
	"github.com/tenantkit/tenantkit/internal/pgfault"
	"github.com/tenantkit/tenantkit/internal/sqlq"
	"github.com/tenantkit/tenantkit/schema"
)

// setupSQL creates the rejects table and the helper that names a value's
// cast error (used only after a set-based cast has failed; PostgreSQL 15
// has no pg_input_is_valid).
const setupSQL = `
SET LOCAL temp_buffers = '64MB';
SET LOCAL work_mem = '128MB';
SET LOCAL jit = off;
CREATE TEMP TABLE tk_rej (_n bigint, grp int, _f int, _l int, _c int, col text, val text, reason text, kind text) ON COMMIT DROP;
CREATE OR REPLACE FUNCTION pg_temp.tk_cast_error(v text, t text) RETURNS text LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	EXECUTE format('SELECT CAST(%L AS %s)', v, t);
	RETURN NULL;
EXCEPTION WHEN OTHERS THEN
	RETURN SQLERRM;
END $$`

// notRejected is the condition keeping records s that have no reject.
const notRejected = "NOT EXISTS (SELECT FROM tk_rej r WHERE r._n = s._n)"

func (l *loader) setup(ctx context.Context) error {
	if _, err := l.tx.Exec(ctx, setupSQL); err != nil {
		return fault.Failure(fmt.Errorf("userload: preparing the session: %w", err))
	}
	return nil
}

// exec runs a statement; failures are database failures.
func (l *loader) exec(ctx context.Context, what, sql string, args ...any) (int64, error) {
	defer l.trace(time.Now(), sql)
	tag, err := l.tx.Exec(ctx, sql, args...)
	if err != nil {
		return 0, fault.Failure(fmt.Errorf("userload: %s: %w", what, err))
	}
	return tag.RowsAffected(), nil
}

// trace reports a statement's duration to Options.Trace.
func (l *loader) trace(start time.Time, sql string) {
	if l.opts.Trace != nil {
		fmt.Fprintf(l.opts.Trace, "userload: %8.3fs %s\n", time.Since(start).Seconds(), strings.Join(strings.Fields(sql), " "))
	}
}

// trySavepoint runs sql in a savepoint and reports the database's refusal
// of the data as a *pgconn.PgError with the savepoint rolled back. Any
// other error (see pgfault.Classify) is a failure of the run.
func (l *loader) trySavepoint(ctx context.Context, sql string, args ...any) (int64, *pgconn.PgError, error) {
	a, _, pgErr, err := l.runChange(ctx, statement{sql: sql}, "", args...)
	return a, pgErr, err
}

// saveNulRejects records the values PostgreSQL text cannot hold.
func (l *loader) saveNulRejects(ctx context.Context) error {
	for _, r := range l.nuls {
		_, err := l.exec(ctx, "recording a reject", `INSERT INTO tk_rej VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'bad value')`,
			r.rec.n, r.grp.id, r.file, r.rec.pos.Line, r.rec.pos.Col, r.column,
			strings.ReplaceAll(r.value, "\x00", `\0`), "the value holds a NUL character, which PostgreSQL text cannot store")
		if err != nil {
			return err
		}
	}
	return nil
}

// applyAll applies the staged groups, parents before children (children
// first when deleting).
func (l *loader) applyAll(ctx context.Context) error {
	var objs []*schema.Object
	for _, g := range l.groups {
		if !slices.Contains(objs, g.obj) {
			objs = append(objs, g.obj)
		}
	}
	order := schema.Ordered(objs)
	// The tenant table is every tenanted table's parent, though the tenant
	// column is no SREL.
	slices.SortStableFunc(order, func(a, b *schema.Object) int {
		switch {
		case a.IsTenantTable == b.IsTenantTable:
			return 0
		case a.IsTenantTable:
			return -1
		}
		return 1
	})
	if l.opts.Mode == Delete {
		slices.Reverse(order)
	}
	for _, o := range order {
		for _, g := range l.groups {
			if g.obj == o && g.staged() {
				if err := l.apply(ctx, g); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// apply runs one group's checks and changes, each a set-based statement,
// naming the phases that have work to the progress report.
func (l *loader) apply(ctx context.Context, g *group) error {
	if g.shared {
		return l.applyShared(ctx, g)
	}
	t := g.obj.Table
	convert := "converting the values of " + t
	if g.textStaged == 0 {
		convert = "analyzing the staged records of " + t
	}
	hasFK := l.opts.Mode != Delete && slices.ContainsFunc(g.obj.Srels, func(sr *schema.Srel) bool { return sr.ForeignKey != "" && sr.Target != nil })
	steps := []struct {
		phase string // "": none of its own (part of the one before, or nothing to do)
		run   func(context.Context, *group) error
	}{
		{convert, l.castValues},
		{when(l.opts.NewKeys, "assigning new keys of "+t), l.assignNewKeys}, {"", l.rewireReferences},
		{"checking the records of " + t, l.checkLengths}, {"", l.checkDuplicateKeys}, {"", l.findMatches},
		{"", l.checkMatches}, {"", l.checkNotNull}, {"", l.checkTenantRequired},
		{when(hasFK, "checking the foreign keys of "+t), l.checkForeignKeys},
		{when(len(l.refRules(g)) > 0, "checking the reference rules of "+t), l.checkReferences},
		{l.changing(g), l.change},
	}
	l.applying = "applying the records of " + t
	for _, step := range steps {
		if step.phase != "" {
			l.prog.Phase(step.phase)
		}
		if err := step.run(ctx, g); err != nil {
			return err
		}
	}
	l.prog.EndPhase()
	return nil
}

// when is phase if cond holds, else "".
func when(cond bool, phase string) string {
	if cond {
		return phase
	}
	return ""
}

// changing names the phase that changes the group's table.
func (l *loader) changing(g *group) string {
	switch l.opts.Mode {
	case Delete:
		return "deleting from " + g.obj.Table
	case InsertOnly:
		return "inserting into " + g.obj.Table
	case UpdateOnly:
		return "updating " + g.obj.Table
	}
	return "merging " + g.obj.Table
}

// castValues moves the records of the text staging table into the typed
// one. When a value does not convert, each failing value of each failing
// column becomes a reject, and the cast runs again without those records.
func (l *loader) castValues(ctx context.Context, g *group) error {
	if g.textStaged == 0 {
		return l.analyze(ctx, g, nil)
	}
	sel := make([]string, len(g.cols))
	for i, c := range g.cols {
		sel[i] = fmt.Sprintf("CAST(%s AS %s)", col(i), castType(c))
	}
	sql := fmt.Sprintf(`INSERT INTO %s SELECT _n, _f, _l, _c, %s FROM %s s WHERE %s`,
		g.typed(), strings.Join(sel, ", "), g.stage(), notRejected)
	_, pgErr, err := l.trySavepoint(ctx, sql)
	if err != nil || pgErr == nil {
		return l.analyze(ctx, g, err)
	}
	for i, c := range g.cols {
		if castCannotFail(c) {
			continue
		}
		probe := fmt.Sprintf("SELECT count(CAST(%s AS %s)) FROM %s", col(i), castType(c), g.stage())
		if _, bad, err := l.trySavepoint(ctx, probe); err != nil {
			return err
		} else if bad == nil {
			continue
		}
		_, err := l.exec(ctx, "finding values that do not convert", sqlq.Expand(`
			INSERT INTO tk_rej SELECT _n, $1, _f, _l, _c, $2, {col}, e, 'bad value' FROM (
				SELECT *, pg_temp.tk_cast_error({col}, $3) AS e FROM {stage} WHERE {col} IS NOT NULL) s
			WHERE e IS NOT NULL`, sqlq.Names{"col": col(i), "stage": g.stage()}), g.id, c.Name, castType(c))
		if err != nil {
			return err
		}
	}
	_, err = l.exec(ctx, "converting the staged values of "+g.obj.Table, sql)
	return l.analyze(ctx, g, err)
}

func (l *loader) analyze(ctx context.Context, g *group, err error) error {
	if err != nil {
		return err
	}
	_, err = l.exec(ctx, "analyzing staged rows", "ANALYZE "+g.typed()+" (_n"+g.keyColumnList("", ", ")+")")
	return err
}

// checkLengths rejects values too long for a length-limited character column.
func (l *loader) checkLengths(ctx context.Context, g *group) error {
	if l.opts.Mode == Delete {
		return nil
	}
	for i, c := range g.cols {
		n := lengthLimit(c)
		if n == 0 {
			continue
		}
		_, err := l.exec(ctx, "checking value lengths", sqlq.Expand(`
			INSERT INTO tk_rej SELECT _n, $1, _f, _l, _c, $2, {col}, $3, 'bad value' FROM {typed} s
			WHERE char_length({col}) > {limit}`, sqlq.Names{"col": col(i), "typed": g.typed(), "limit": strconv.Itoa(n)}),
			g.id, c.Name, fmt.Sprintf("value too long for type %s", c.Type))
		if err != nil {
			return err
		}
	}
	return nil
}

// checkDuplicateKeys rejects records repeating the key of an earlier
// record of the run: applied together they would collide or be ambiguous.
func (l *loader) checkDuplicateKeys(ctx context.Context, g *group) error {
	if g.key == nil || l.opts.Mode == Delete || l.canUpsert(g) {
		return nil // an upsert looks for them only when it fails
	}
	return l.findDuplicateKeys(ctx, g)
}

func (l *loader) findDuplicateKeys(ctx context.Context, g *group) error {
	return l.findDuplicates(ctx, g, g.key, "duplicate key %s in the loaded data (first at %s:%s)")
}

// findUniqueDuplicates rejects records repeating, within the run, the
// values of a unique constraint (or primary key) other than the match key,
// naming the first record: the database would only say that the key
// "already exists", as though a row of the table held it. It runs when a
// change failed with a unique violation.
func (l *loader) findUniqueDuplicates(ctx context.Context, g *group) error {
	keys := g.obj.Uniques
	if len(g.obj.PrimaryKey) > 0 {
		keys = append([][]string{g.obj.PrimaryKey}, keys...)
	}
	for _, k := range keys {
		idx := g.indexes(k)
		if idx == nil || slices.Equal(idx, g.key) {
			continue
		}
		if err := l.findDuplicates(ctx, g, idx, "duplicate value %s of a unique constraint in the loaded data (first at %s:%s)"); err != nil {
			return err
		}
	}
	return nil
}

// findDuplicates rejects the records of g repeating the values of the
// columns at positions idx of an earlier record of the run. reason formats
// the values and the first record's file and line.
func (l *loader) findDuplicates(ctx context.Context, g *group, idx []int, reason string) error {
	var keys, notNull []string
	for _, k := range idx {
		keys = append(keys, col(k))
		notNull = append(notNull, col(k)+" IS NOT NULL")
	}
	var dup bool
	err := l.tx.QueryRow(ctx, fmt.Sprintf(`SELECT EXISTS (SELECT FROM %s s WHERE %s AND %s GROUP BY %s HAVING count(*) > 1)`,
		g.typed(), strings.Join(notNull, " AND "), notRejected, strings.Join(keys, ", "))).Scan(&dup)
	if err != nil || !dup {
		return err
	}
	_, err = l.exec(ctx, "checking duplicate keys", sqlq.Expand(`
		INSERT INTO tk_rej
		SELECT _n, $1, _f, _l, _c, NULL, NULL, format($3, kt, ($2::text[])[ff + 1], fl), 'duplicate key in the files'
		FROM (SELECT s._n, s._f, s._l, s._c, {key_text} AS kt,
				row_number() OVER w AS rn, first_value(s._f) OVER w AS ff, first_value(s._l) OVER w AS fl
			FROM {typed} s WHERE {not_null} AND `+notRejected+`
			WINDOW w AS (PARTITION BY {keys} ORDER BY s._n)) d
		WHERE rn > 1`, sqlq.Names{"key_text": g.valuesText("s", idx), "typed": g.typed(), "not_null": strings.Join(notNull, " AND "), "keys": strings.Join(keys, ", ")}),
		g.id, l.opts.Files, reason)
	return err
}

// findMatches builds, where it is needed, the match table: for every
// record with a match, the number of target rows its key matches and how
// many of them its values would change. It is needed for the record
// detail and for keys the database does not enforce (several matches).
// Elsewhere, matches are found by joining the target directly.
func (l *loader) findMatches(ctx context.Context, g *group) error {
	if g.key == nil || !(l.opts.Verbose || !g.keyUnique || l.distributed(g)) {
		return nil
	}
	from, where := l.staged(g)
	_, err := l.exec(ctx, "matching records to rows of "+g.obj.Table, fmt.Sprintf(`CREATE TEMP TABLE %s ON COMMIT DROP AS
		SELECT s._n, count(*) AS cnt, count(*) FILTER (WHERE %s) AS changed
		FROM %s JOIN %s t ON %s WHERE %s GROUP BY s._n`,
		g.match(), l.differs(g), from, g.obj.Ident(), g.keyJoin("t", "s"), where))
	g.hasMatches = err == nil
	return err
}

// matched is the condition that record s matches a row of the target.
func (g *group) matched() string {
	switch {
	case g.key == nil:
		return "false"
	case g.hasMatches:
		return fmt.Sprintf("EXISTS (SELECT FROM %s m WHERE m._n = s._n)", g.match())
	}
	return fmt.Sprintf("EXISTS (SELECT FROM %s t WHERE %s)", g.obj.Ident(), g.keyJoin("t", "s"))
}

// differs is the condition that target row t differs from record s in a
// column the record sets. Types without an equality operator (json, xml,
// geometric types…) are compared in their text form.
func (l *loader) differs(g *group) string {
	return l.differsFrom(g, func(i int) string { return "s." + col(i) })
}

// differsFrom is differs with the record's value of column i given by val.
func (l *loader) differsFrom(g *group, val func(i int) string) string {
	if l.opts.Mode == Delete || l.opts.Mode == InsertOnly {
		return "true"
	}
	var conds []string
	for i, c := range g.cols {
		if slices.Contains(g.key, i) {
			continue
		}
		name := sqlq.Ident(c.Name)
		if hasEquality(c) {
			conds = append(conds, fmt.Sprintf("t.%s IS DISTINCT FROM %s", name, val(i)))
		} else {
			conds = append(conds, fmt.Sprintf("t.%s::text IS DISTINCT FROM %s::text", name, val(i)))
		}
	}
	if len(conds) == 0 {
		return "false"
	}
	return "(" + strings.Join(conds, " OR ") + ")"
}

var equalityTypes = regexp.MustCompile(`^(smallint|integer|bigint|numeric|real|double precision|text|character varying|character|bpchar|varchar|boolean|date|timestamp|time|uuid|bytea|jsonb|interval|inet|cidr|macaddr|money|oid)\b`)

func hasEquality(c *schema.Column) bool { return equalityTypes.MatchString(c.Type) }

// checkMatches rejects records whose matches the mode does not allow.
func (l *loader) checkMatches(ctx context.Context, g *group) error {
	if g.key == nil {
		return nil
	}
	type rule struct{ cond, reason, kind string }
	var rules []rule
	key := g.keyText("s")
	switch l.opts.Mode {
	case InsertOnly:
		rules = append(rules, rule{g.matched(), "'key ' || " + key + " || ' already exists (mode InsertOnly inserts only)'", "key exists"})
	case UpdateOnly, Delete:
		rules = append(rules, rule{"NOT " + g.matched(), "'no row matches key ' || " + key, "no match"})
	}
	if g.stamps() && g.key != nil {
		// With -t a record may only change rows of that tenant: matching a
		// public row or another tenant's would move it to the tenant.
		tc := sqlq.Ident(g.obj.TenantColumn)
		other := fmt.Sprintf("EXISTS (SELECT FROM %s t WHERE %s AND t.%s::text IS DISTINCT FROM %s)",
			l.correlated(g.obj), g.keyJoin("t", "s"), tc, sqlq.Lit(g.stamp.Str))
		owner := sqlq.Expand("(SELECT CASE WHEN t.{tc} IS NULL THEN 'that is public' ELSE 'owned by ' || {label} END FROM {table} t WHERE {match} AND t.{tc}::text IS DISTINCT FROM {tenant} LIMIT 1)",
			sqlq.Names{"tc": tc, "label": l.tenantLabel("t." + tc + "::text"), "table": l.correlated(g.obj), "match": g.keyJoin("t", "s"), "tenant": sqlq.Lit(g.stamp.Str)})
		loadedFor := sqlq.Lit(fmt.Sprintf("; loading for tenant %q (%s), a record may change only that tenant's rows", l.tenant.Name, l.tenant.ID))
		reason := "'key ' || " + key + " || ' matches a row ' || " + owner + " || " + loadedFor
		rules = append(rules, rule{other, reason, "another tenant's row"})
	}
	if !l.opts.All && g.hasMatches && !g.keyUnique {
		several := fmt.Sprintf("EXISTS (SELECT FROM %s m WHERE m._n = s._n AND m.cnt > 1)", g.match())
		rules = append(rules, rule{several, "'key ' || " + key + " || ' matches several rows (Options.All applies the record to all of them)'", "several matches"})
	}
	for _, r := range rules {
		_, err := l.exec(ctx, "checking matches", fmt.Sprintf(`
			INSERT INTO tk_rej SELECT s._n, $1, s._f, s._l, s._c, NULL, NULL, %s, $2
			FROM %s s WHERE %s AND %s`, r.reason, g.typed(), r.cond, notRejected), g.id, r.kind)
		if err != nil {
			return err
		}
	}
	return nil
}

// checkNotNull rejects NULLs in NOT NULL columns, and inserts that leave
// out a NOT NULL column without a default.
func (l *loader) checkNotNull(ctx context.Context, g *group) error {
	if l.opts.Mode == Delete {
		return nil
	}
	insert := "NOT " + g.matched()
	var checks, nulls []string
	for i, c := range g.cols {
		if c.NotNull {
			checks = append(checks, fmt.Sprintf("(%s, s.%s IS NULL)", sqlq.Lit(c.Name), col(i)))
			nulls = append(nulls, fmt.Sprintf("s.%s IS NULL", col(i)))
		}
	}
	if len(checks) > 0 {
		// The OR of the columns filters the scan, so only records holding a
		// NULL are expanded into one row per column.
		_, err := l.exec(ctx, "checking NOT NULL columns", fmt.Sprintf(`
			INSERT INTO tk_rej SELECT s._n, $1, s._f, s._l, s._c, v.col, NULL, 'NULL in a NOT NULL column', 'NOT NULL'
			FROM %s s CROSS JOIN LATERAL (VALUES %s) v(col, missing) WHERE (%s) AND v.missing AND %s`,
			g.typed(), strings.Join(checks, ", "), strings.Join(nulls, " OR "), notRejected), g.id)
		if err != nil {
			return err
		}
	}
	if l.opts.Mode == UpdateOnly {
		return nil
	}
	for _, c := range g.obj.Columns {
		if !g.insertNeeds(&c) {
			continue
		}
		_, err := l.exec(ctx, "checking NOT NULL columns", fmt.Sprintf(`
			INSERT INTO tk_rej SELECT s._n, $1, s._f, s._l, s._c, $2, NULL,
				'cannot insert: the column is NOT NULL, has no default and is not in the file', 'NOT NULL'
			FROM %s s WHERE %s AND %s`, g.typed(), insert, notRejected), g.id, c.Name)
		if err != nil {
			return err
		}
	}
	return nil
}

// checkForeignKeys rejects records whose declared foreign keys point at no
// row: neither in the target table (whose own new rows, as a parent, were
// applied already) nor, for a self-reference, among the records loaded.
func (l *loader) checkForeignKeys(ctx context.Context, g *group) error {
	if l.opts.Mode == Delete {
		return nil
	}
	for _, sr := range g.obj.Srels {
		if sr.ForeignKey == "" || sr.Target == nil {
			continue
		}
		idx := g.indexes(sr.Columns)
		if idx == nil {
			continue
		}
		var present, join, self []string
		for i, k := range idx {
			present = append(present, fmt.Sprintf("s.%s IS NOT NULL", col(k)))
			join = append(join, fmt.Sprintf("p.%s = s.%s", sqlq.Ident(sr.TargetColumns[i]), col(k)))
		}
		cond := fmt.Sprintf("NOT EXISTS (SELECT FROM %s p WHERE %s)", l.correlated(sr.Target), strings.Join(join, " AND "))
		if sr.Target == g.obj {
			if tidx := g.indexes(sr.TargetColumns); tidx != nil {
				for i, k := range idx {
					self = append(self, fmt.Sprintf("p.%s = s.%s", col(tidx[i]), col(k)))
				}
				cond += fmt.Sprintf(" AND NOT EXISTS (SELECT FROM %s p WHERE %s AND NOT EXISTS (SELECT FROM tk_rej r WHERE r._n = p._n))",
					g.typed(), strings.Join(self, " AND "))
			}
		}
		column, value := sqlq.Lit(strings.Join(sr.Columns, ", ")), "NULL"
		if len(idx) == 1 {
			value = fmt.Sprintf("s.%s::text", col(idx[0]))
		}
		if err := l.rejectDependents(ctx, g, sr, idx, column, value, cond); err != nil {
			return err
		}
		reason := fmt.Sprintf("no row of %s has (%s) = (%s) (foreign key %s)", sr.Target.Table,
			strings.Join(sr.TargetColumns, ", "), "%s", sr.ForeignKey)
		vals := make([]string, len(idx))
		for i, k := range idx {
			vals[i] = fmt.Sprintf("s.%s::text", col(k))
		}
		_, err := l.exec(ctx, "checking references", fmt.Sprintf(`
			INSERT INTO tk_rej SELECT s._n, $1, s._f, s._l, s._c, %s, %s, format($2, concat_ws(', ', %s)), 'dangling foreign key'
			FROM %s s WHERE %s AND %s AND %s`, column, value, strings.Join(vals, ", "),
			g.typed(), strings.Join(present, " AND "), notRejected, cond), g.id, reason)
		if err != nil {
			return err
		}
	}
	return nil
}

// dependentKind is the kind of reason of a record rejected only because a
// record it references was rejected: reported once for all such records,
// not one line each (a rejected parent would otherwise bury its cause
// under a line per child, grandchild…).
const dependentKind = "depends on a rejected record"

// rejectDependents rejects the records of g whose SREL sr (a declared
// foreign key, at positions idx of g's columns) dangles, cond, because it
// points at a record of the run that was rejected, naming that record.
func (l *loader) rejectDependents(ctx context.Context, g *group, sr *schema.Srel, idx []int, column, value, cond string) error {
	var parents []string
	for _, pg := range l.groups {
		tidx := pg.indexes(sr.TargetColumns)
		if pg.obj != sr.Target || !pg.staged() || tidx == nil {
			continue
		}
		var on, onText []string
		for i, k := range idx {
			on = append(on, fmt.Sprintf("p.%s = s.%s", col(tidx[i]), col(k)))
			onText = append(onText, fmt.Sprintf("p.%s = s.%s::text", col(tidx[i]), col(k)))
		}
		parents = append(parents, fmt.Sprintf("SELECT p._n, p._f, p._l FROM %s p WHERE %s", pg.typed(), strings.Join(on, " AND ")))
		if pg.hasStage { // records with a value that did not convert are only there
			parents = append(parents, fmt.Sprintf("SELECT p._n, p._f, p._l FROM %s p WHERE %s AND NOT EXISTS (SELECT FROM %s t WHERE t._n = p._n)",
				pg.stage(), strings.Join(onText, " AND "), pg.typed()))
		}
	}
	if len(parents) == 0 {
		return nil
	}
	var present []string
	for _, k := range idx {
		present = append(present, fmt.Sprintf("s.%s IS NOT NULL", col(k)))
	}
	_, err := l.exec(ctx, "checking references to rejected records", fmt.Sprintf(`
		INSERT INTO tk_rej SELECT s._n, $1, s._f, s._l, s._c, %s, %s,
			format('references a record of %%s that was rejected (%%s:%%s)', $2::text, ($3::text[])[d._f + 1], d._l), $4
		FROM %s s CROSS JOIN LATERAL (
			SELECT p._f, p._l FROM (%s) p WHERE EXISTS (SELECT FROM tk_rej r WHERE r._n = p._n) ORDER BY p._n LIMIT 1) d
		WHERE %s AND %s AND %s`, column, value, g.typed(), strings.Join(parents, " UNION ALL "),
		strings.Join(present, " AND "), notRejected, cond), g.id, sr.Target.Table, l.opts.Files, dependentKind)
	return err
}

// indexes are the positions in the group's columns of the named columns,
// nil unless all are present.
func (g *group) indexes(names []string) []int {
	var idx []int
	for _, n := range names {
		i := slices.IndexFunc(g.cols, func(c *schema.Column) bool { return c.Name == n })
		if i < 0 {
			return nil
		}
		idx = append(idx, i)
	}
	return idx
}

// statement is a set-based change. Counted statements return one row
// (inserted, updated); the others count their affected rows as inserted.
// An extra condition on its records s (a record range of the failure
// path) goes between sql and tail.
type statement struct {
	sql, tail string
	counted   bool
}

// change applies the group: UPDATE the matched rows that differ, INSERT
// the rest, or DELETE the matched rows.
func (l *loader) change(ctx context.Context, g *group) error {
	if l.opts.Mode == Delete {
		from, where := l.staged(g)
		n, _, err := l.changeSafely(ctx, g, statement{sql: fmt.Sprintf(`DELETE FROM %s t USING %s WHERE %s AND %s `,
			g.obj.Ident(), from, g.keyJoin("t", "s"), where)})
		g.counts.Deleted += n
		return err
	}
	if l.canUpsert(g) {
		return l.upsert(ctx, g)
	}
	var inserted, updated int64
	if g.key != nil && l.opts.Mode != InsertOnly {
		var err error
		if updated, err = l.update(ctx, g); err != nil {
			return err
		}
	}
	if l.opts.Mode != UpdateOnly {
		var err error
		inserted, _, err = l.changeSafely(ctx, g, l.insertStatement(g, "WHERE NOT "+g.matched()+" AND "+notRejected+" ", ""))
		if err != nil {
			return err
		}
	}
	g.counts.Inserted += inserted
	g.counts.Updated += updated
	return l.countUnchanged(ctx, g, inserted, updated)
}

// insertStatement inserts the records of the typed table chosen by where;
// tail follows the extra condition.
func (l *loader) insertStatement(g *group, where, tail string) statement {
	vals := make([]string, len(g.cols))
	overriding := ""
	for i, c := range g.cols {
		vals[i] = "s." + col(i)
		if c.Identity {
			overriding = " OVERRIDING SYSTEM VALUE"
		}
	}
	return statement{sql: fmt.Sprintf(`INSERT INTO %s AS t (%s)%s SELECT %s FROM %s s %s`,
		g.obj.Ident(), g.quotedColumns(), overriding, strings.Join(vals, ", "), g.typed(), where), tail: tail}
}

// canUpsert says whether the group is applied with one INSERT … ON
// CONFLICT: a default-mode load on a key the database enforces, without
// record detail, whose records could all be inserted. A file that leaves
// out a NOT NULL column without a default can only update: PostgreSQL
// checks NOT NULL on the row an INSERT … ON CONFLICT proposes before it
// looks for the conflict, so it would refuse the records that match.
func (l *loader) canUpsert(g *group) bool {
	return l.opts.Mode == Upsert && g.key != nil && g.keyUnique && !g.hasMatches &&
		!slices.ContainsFunc(g.obj.Columns, func(c schema.Column) bool { return g.insertNeeds(&c) })
}

// insertNeeds says whether inserting a record needs column c, which the
// group's file leaves out: NOT NULL, no default, not generated.
func (g *group) insertNeeds(c *schema.Column) bool {
	return c.NotNull && !c.HasDefault() && !c.Generated && !slices.ContainsFunc(g.cols, func(fc *schema.Column) bool { return fc.Name == c.Name })
}

// upsert inserts and updates in one statement. Records repeating a key make
// it fail ("cannot affect row a second time", or a unique violation); only
// then are duplicate keys looked for, and the statement run again.
func (l *loader) upsert(ctx context.Context, g *group) error {
	var set, keys []string
	for i, c := range g.cols {
		name := sqlq.Ident(c.Name)
		if slices.Contains(g.key, i) {
			keys = append(keys, name)
		} else {
			set = append(set, fmt.Sprintf("%s = EXCLUDED.%s", name, name))
		}
	}
	onConflict := fmt.Sprintf("ON CONFLICT (%s) DO NOTHING", strings.Join(keys, ", "))
	if len(set) > 0 {
		onConflict = fmt.Sprintf("ON CONFLICT (%s) DO UPDATE SET %s WHERE %s", strings.Join(keys, ", "),
			strings.Join(g.stamped(set, "t"), ", "), l.differsFrom(g, func(i int) string { return "EXCLUDED." + sqlq.Ident(g.cols[i].Name) }))
	}
	ins := l.insertStatement(g, "WHERE "+notRejected+" ", " "+onConflict+" RETURNING xmax = 0 AS ins")
	st := statement{sql: "WITH u AS (" + ins.sql, tail: ins.tail + ") SELECT count(*) FILTER (WHERE ins), count(*) FILTER (WHERE NOT ins) FROM u", counted: true}
	inserted, updated, pgErr, err := l.runChange(ctx, st, "")
	if err != nil {
		return err
	}
	if pgErr != nil {
		if err := l.findDuplicateKeys(ctx, g); err != nil {
			return err
		}
		if inserted, updated, err = l.changeSafely(ctx, g, st); err != nil {
			return err
		}
	}
	g.counts.Inserted += inserted
	g.counts.Updated += updated
	return l.countUnchanged(ctx, g, inserted, updated)
}

func (l *loader) update(ctx context.Context, g *group) (int64, error) {
	var set []string
	for i, c := range g.cols {
		if !slices.Contains(g.key, i) {
			set = append(set, fmt.Sprintf("%s = s.%s", sqlq.Ident(c.Name), col(i)))
		}
	}
	if len(set) == 0 { // the file holds only the key: matched rows stay as they are
		return 0, nil
	}
	from, where := l.staged(g)
	n, _, err := l.changeSafely(ctx, g, statement{sql: fmt.Sprintf(`UPDATE %s t SET %s FROM %s WHERE %s AND %s AND %s `,
		g.obj.Ident(), strings.Join(g.stamped(set, "t"), ", "), from, g.keyJoin("t", "s"), l.differs(g), where)})
	return n, err
}

// stamped adds to an UPDATE's assignments the move of the change column
// to now (schema.Object.ChangeStamp) when the file does not give it, so
// that incremental extracts see the updated rows. Only rows that differ
// are updated, so unchanged rows keep their stamp.
func (g *group) stamped(set []string, qual string) []string {
	if g.indexOf(g.obj.ChangeColumn) >= 0 {
		return set
	}
	if st := g.obj.ChangeStamp(qual); st != "" {
		return append(set, st)
	}
	return set
}

// countUnchanged counts the matched rows a record left as they were.
func (l *loader) countUnchanged(ctx context.Context, g *group, inserted, updated int64) error {
	if g.key == nil || l.opts.Mode == InsertOnly {
		return nil
	}
	var n int64
	var err error
	if g.hasMatches {
		err = l.tx.QueryRow(ctx, fmt.Sprintf("SELECT coalesce(sum(cnt - changed), 0) FROM %s s WHERE %s", g.match(), notRejected)).Scan(&n)
	} else { // the key is unique: every valid record not inserted matched one row
		var valid int64
		err = l.tx.QueryRow(ctx, fmt.Sprintf("SELECT count(*) FROM %s s WHERE %s", g.typed(), notRejected)).Scan(&valid)
		n = valid - inserted - updated
	}
	if err != nil {
		return fault.Failure(fmt.Errorf("userload: counting unchanged rows of %s: %w", g.obj.Table, err))
	}
	g.counts.Unchanged += n
	return nil
}

// runChange executes a change in a savepoint, restricted by cond. When the
// data is at fault (pgfault.Data: a value, a constraint, a trigger's RAISE)
// the refusal comes back as a *pgconn.PgError with the savepoint rolled
// back. A deadlock or serialization failure runs the statement again, at
// most transientRetries times. Anything else (disk full, a lock or
// statement timeout, a lost connection, a shutdown) is a failure of the
// run: no record is blamed for it.
func (l *loader) runChange(ctx context.Context, st statement, cond string, args ...any) (int64, int64, *pgconn.PgError, error) {
	sql := st.sql + cond + st.tail
	for attempt := 0; ; attempt++ {
		a, b, err := l.runOnce(ctx, st, sql, args...)
		if err == nil {
			return a, b, nil, nil
		}
		var pgErr *pgconn.PgError
		switch pgfault.Classify(err) {
		case pgfault.Data:
			errors.As(err, &pgErr)
			return 0, 0, pgErr, nil
		case pgfault.Transient:
			if attempt < transientRetries {
				time.Sleep(time.Duration(attempt+1) * 100 * time.Millisecond)
				continue
			}
			err = fmt.Errorf("%w (after %d attempts)", err, attempt+1)
		}
		return 0, 0, nil, fault.Failure(fmt.Errorf("userload: %s: %w", l.applying, err))
	}
}

// transientRetries bounds the reruns of a statement that hit a deadlock or
// a serialization failure.
const transientRetries = 3

// runOnce runs sql in a savepoint, rolled back on an error (see
// sqlq.Savepoint: a failed rollback is a failure of the database).
func (l *loader) runOnce(ctx context.Context, st statement, sql string, args ...any) (int64, int64, error) {
	defer l.trace(time.Now(), sql)
	var a, b int64
	err := sqlq.Savepoint(ctx, l.tx, func(sp pgx.Tx) error {
		if st.counted {
			return sp.QueryRow(ctx, sql, args...).Scan(&a, &b)
		}
		tag, err := sp.Exec(ctx, sql, args...)
		a = tag.RowsAffected()
		return err
	})
	if err != nil {
		return 0, 0, err
	}
	return a, b, nil
}

// chunkSize is the number of record numbers a statement covers on the
// failure path before it falls back to one record at a time.
const chunkSize = 5000

const inRange = "AND s._n BETWEEN $1 AND $2"

// changeSafely runs a set-based change. When the database refuses it (a
// check constraint, a trigger, a unique constraint other than the key…),
// the change is retried in chunks of records, and the records of refused
// chunks one by one, so that each refused record becomes a reject with the
// database's reason and everything else is applied.
func (l *loader) changeSafely(ctx context.Context, g *group, st statement) (int64, int64, error) {
	a, b, pgErr, err := l.runChange(ctx, st, "")
	if err != nil || pgErr == nil {
		return a, b, err
	}
	if pgErr.Code == "23505" { // records of the run may repeat a unique key: name both
		if err := l.findUniqueDuplicates(ctx, g); err != nil {
			return 0, 0, err
		}
		if a, b, pgErr, err = l.runChange(ctx, st, ""); err != nil || pgErr == nil {
			return a, b, err
		}
	}
	if !g.indexed {
		if _, err := l.exec(ctx, "indexing staged rows", fmt.Sprintf("CREATE INDEX ON %s (_n)", g.typed())); err != nil {
			return 0, 0, err
		}
		g.indexed = true
	}
	var lo, hi int64
	if err := l.tx.QueryRow(ctx, fmt.Sprintf("SELECT coalesce(min(_n), 0), coalesce(max(_n), -1) FROM %s", g.typed())).Scan(&lo, &hi); err != nil {
		return 0, 0, fault.Failure(err)
	}
	var totalA, totalB int64
	for start := lo; start <= hi; start += chunkSize {
		a, b, pgErr, err := l.runChange(ctx, st, inRange, start, start+chunkSize-1)
		if err != nil {
			return totalA, totalB, err
		}
		if pgErr != nil {
			a, b, err = l.changeOneByOne(ctx, g, st, start, start+chunkSize-1)
			if err != nil {
				return totalA, totalB, err
			}
		}
		totalA, totalB = totalA+a, totalB+b
	}
	return totalA, totalB, nil
}

func (l *loader) changeOneByOne(ctx context.Context, g *group, st statement, lo, hi int64) (int64, int64, error) {
	rows, err := l.tx.Query(ctx, fmt.Sprintf("SELECT s._n, s._f, s._l, s._c FROM %s s WHERE s._n BETWEEN $1 AND $2 AND %s ORDER BY s._n",
		g.typed(), notRejected), lo, hi)
	if err != nil {
		return 0, 0, fault.Failure(err)
	}
	type pos struct {
		n       int64
		f, l, c int32
	}
	recs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (pos, error) {
		var p pos
		err := r.Scan(&p.n, &p.f, &p.l, &p.c)
		return p, err
	})
	if err != nil {
		return 0, 0, fault.Failure(err)
	}
	var totalA, totalB int64
	for _, p := range recs {
		a, b, pgErr, err := l.runChange(ctx, st, inRange, p.n, p.n)
		if err != nil {
			return totalA, totalB, err
		}
		if pgErr == nil {
			totalA, totalB = totalA+a, totalB+b
			continue
		}
		reason := pgErr.Message
		if pgErr.Detail != "" {
			reason += " (" + pgErr.Detail + ")"
		}
		var column any
		if pgErr.ColumnName != "" {
			column = pgErr.ColumnName
		}
		_, err = l.exec(ctx, "recording a reject", `INSERT INTO tk_rej VALUES ($1, $2, $3, $4, $5, $6, NULL, $7, 'refused by the database')`,
			p.n, g.id, p.f, p.l, p.c, column, reason)
		if err != nil {
			return totalA, totalB, err
		}
	}
	return totalA, totalB, nil
}
