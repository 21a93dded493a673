package load

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/tenantkit/tenantkit/datafile"
	"github.com/tenantkit/tenantkit/internal/fault"
	"github.com/tenantkit/tenantkit/internal/sqlq"
	"github.com/tenantkit/tenantkit/schema"
)

// nextvalDefault finds the sequence of a nextval default that
// pg_get_serial_sequence does not know (a sequence the column does not own).
var nextvalDefault = regexp.MustCompile(`^nextval\('((?:[^']|'')+)'::regclass\)$`)

const setvalSQL = `
SELECT setval($1::regclass, m) FROM (SELECT max(%s)::bigint AS m FROM %s) x
WHERE m > coalesce(pg_sequence_last_value($1::regclass), 0)`

// advanceSequences moves the sequences behind loaded key columns past the
// largest value of their column, so that later plain INSERTs do not collide.
func (l *loader) advanceSequences(ctx context.Context) error {
	done := map[string]bool{}
	for _, g := range l.groups {
		if g.counts.Inserted == 0 {
			continue
		}
		for _, c := range g.cols {
			id := g.obj.Ident() + "." + c.Name
			if done[id] {
				continue
			}
			done[id] = true
			if err := l.advanceSequence(ctx, g.obj, c); err != nil {
				return err
			}
		}
	}
	return nil
}

// advanceSequence moves the sequence behind integer column c of o (an
// identity, serial or nextval default) past the column's largest value;
// columns without one are left alone.
func (l *loader) advanceSequence(ctx context.Context, o *schema.Object, c *schema.Column) error {
	if !(c.Identity || strings.HasPrefix(c.Default, "nextval(")) {
		return nil
	}
	switch c.Type {
	case "smallint", "integer", "bigint":
	default:
		return nil
	}
	var seq *string
	if err := l.tx.QueryRow(ctx, "SELECT pg_get_serial_sequence($1, $2)", o.Ident(), c.Name).Scan(&seq); err != nil {
		return fault.Failure(fmt.Errorf("userload: finding the sequence of %s.%s: %w", o.Table, c.Name, err))
	}
	if seq == nil {
		m := nextvalDefault.FindStringSubmatch(c.Default)
		if m == nil {
			return nil
		}
		name := strings.ReplaceAll(m[1], "''", "'")
		seq = &name
	}
	sql := fmt.Sprintf(setvalSQL, sqlq.Ident(c.Name), o.Ident())
	_, err := l.exec(ctx, fmt.Sprintf("advancing sequence %s past the largest %s.%s", *seq, o.Table, c.Name), sql, *seq)
	return err
}

// report counts the rejects, hands them to OnReject, prints the record
// detail and writes the rejects file.
func (l *loader) report(ctx context.Context) error {
	byID := map[int]*group{}
	for _, g := range l.groups {
		byID[g.id] = g
	}
	rows, err := l.tx.Query(ctx, "SELECT grp, count(DISTINCT _n) FROM tk_rej GROUP BY grp")
	if err != nil {
		return fault.Failure(err)
	}
	var id int
	var n int64
	if _, err := pgx.ForEachRow(rows, []any{&id, &n}, func() error {
		byID[id].counts.Rejected += n
		l.sum.Rejected += n
		return nil
	}); err != nil {
		return fault.Failure(err)
	}
	if l.sum.Rejected > 0 {
		l.prog.Phasef("collecting %d rejected record(s)", l.sum.Rejected)
		if err := l.countReasons(ctx); err != nil {
			return err
		}
		if err := l.findValuePositions(ctx, byID); err != nil {
			return err
		}
	}
	l.prog.EndPhase() // the rejects and the detail may go to the same terminal
	if l.opts.OnReject != nil && l.sum.Rejected > 0 {
		if err := l.eachReject(ctx, byID); err != nil {
			return err
		}
	}
	if l.opts.Verbose && l.opts.Detail != nil {
		if err := l.writeDetail(ctx, byID); err != nil {
			return err
		}
	}
	if l.opts.RejectsFile != "" && l.sum.Rejected > 0 && !l.opts.Check {
		l.prog.Phase("writing the rejects file " + l.opts.RejectsFile)
		if err := l.writeRejects(ctx); err != nil {
			return err
		}
		l.sum.RejectsFile = l.opts.RejectsFile
	}
	return nil
}

func (l *loader) countReasons(ctx context.Context) error {
	rows, err := l.tx.Query(ctx, "SELECT kind, count(DISTINCT _n) FROM tk_rej GROUP BY kind")
	if err != nil {
		return fault.Failure(err)
	}
	l.sum.RejectsByReason = map[string]int64{}
	var kind string
	var n int64
	_, err = pgx.ForEachRow(rows, []any{&kind, &n}, func() error {
		l.sum.RejectsByReason[kind] = n
		return nil
	})
	return fault.Failure(err)
}

func (l *loader) pos(f, line, c int32) datafile.Pos {
	return datafile.Pos{File: l.opts.Files[f], Line: int(line), Col: int(c)}
}

// valueKinds are the kinds of reject whose column names a value of the
// record: they are reported where that value starts.
var valueKinds = []string{"bad value", "NOT NULL", "refused by the database"}

// findValuePositions reads the files again for where the values of the
// rejects of valueKinds start (the staging tables hold only the record's
// position), into valuePos.
func (l *loader) findValuePositions(ctx context.Context, byID map[int]*group) error {
	rows, err := l.tx.Query(ctx, "SELECT DISTINCT _f, _l, _c, grp, col FROM tk_rej WHERE col IS NOT NULL AND kind = ANY($1)", valueKinds)
	if err != nil {
		return fault.Failure(err)
	}
	var want []fieldKey
	var f, line, c int32
	var id int
	var column string
	if _, err := pgx.ForEachRow(rows, []any{&f, &line, &c, &id, &column}, func() error {
		want = append(want, fieldKey{rec: recordKey{file: int(f), line: int(line), col: int(c), table: byID[id].obj.Table}, column: column})
		return nil
	}); err != nil {
		return fault.Failure(err)
	}
	if len(want) == 0 {
		return nil
	}
	sr := &sectionReader{files: l.opts.Files, opts: l.opts.File, schema: l.schema, stdinCopy: l.stdinCopy}
	l.valuePos, err = sr.fieldPositions(ctx, want)
	if err != nil && ctx.Err() == nil {
		// The file cannot be read again (it was removed or changed since):
		// the rejects it holds are reported at their records.
		err = nil
	}
	return err
}

// rejectPos is where a reject of kind is reported: at its value (see
// findValuePositions) when the reject names one, else at the record.
func (l *loader) rejectPos(f, line, c int32, table, kind string, column *string) datafile.Pos {
	if column != nil && slices.Contains(valueKinds, kind) {
		k := fieldKey{rec: recordKey{file: int(f), line: int(line), col: int(c), table: table}, column: *column}
		if p, ok := l.valuePos[k]; ok {
			return l.pos(f, int32(p.Line), int32(p.Col))
		}
	}
	return l.pos(f, line, c)
}

func (l *loader) eachReject(ctx context.Context, byID map[int]*group) error {
	rows, err := l.tx.Query(ctx, "SELECT grp, _f, _l, _c, _n, col, val, reason, kind FROM tk_rej ORDER BY _f, _l, _c, _n, reason")
	if err != nil {
		return fault.Failure(err)
	}
	defer rows.Close()
	sum := Reject{}
	lastDependent := int64(-1)
	for rows.Next() {
		var id int
		var f, line, c int32
		var n int64
		var column *string
		var r Reject
		if err := rows.Scan(&id, &f, &line, &c, &n, &column, &r.Value, &r.Reason, &r.Kind); err != nil {
			return fault.Failure(err)
		}
		r.Table = byID[id].obj.Table
		r.Pos = l.rejectPos(f, line, c, r.Table, r.Kind, column)
		if column != nil {
			r.Column = *column
		}
		if r.Kind == dependentKind { // summed up below, once for all
			if n != lastDependent {
				lastDependent = n
				sum.Dependents++
				if len(sum.First) < shownDependents {
					sum.First = append(sum.First, Reject{Pos: r.Pos, Table: r.Table})
				}
			}
			continue
		}
		l.opts.OnReject(r)
	}
	if err := rows.Err(); err != nil {
		return fault.Failure(err)
	}
	if sum.Dependents > 0 {
		sum.Pos = sum.First[0].Pos
		l.opts.OnReject(sum)
	}
	return nil
}

// writeDetail prints one line per record, in file order:
//
//	FILE:LINE:COL: insert|update|delete TABLE [(N rows)]
//	FILE:LINE:COL: reject TABLE: reason
func (l *loader) writeDetail(ctx context.Context, byID map[int]*group) error {
	var parts []string
	for _, g := range l.groups {
		if !g.staged() {
			continue
		}
		update := "CASE WHEN m.changed = 0 THEN 'unchanged' ELSE 'update' END"
		act := map[Mode]string{InsertOnly: "'insert'", UpdateOnly: update, Delete: "'delete'",
			Upsert: "CASE WHEN m._n IS NULL THEN 'insert' WHEN m.changed = 0 THEN 'unchanged' ELSE 'update' END"}[l.opts.Mode]
		from := fmt.Sprintf("%s s LEFT JOIN %s m ON m._n = s._n", g.typed(), g.match())
		if !g.hasMatches {
			from = fmt.Sprintf("%s s LEFT JOIN (SELECT NULL::bigint AS _n, 0::bigint AS cnt, 0::bigint AS changed) m ON false", g.typed())
		}
		parts = append(parts, fmt.Sprintf(`SELECT s._f, s._l, s._c, s._n, %d AS grp, %s AS act, coalesce(m.cnt, 0) AS cnt, NULL AS reason
			FROM %s WHERE %s`, g.id, act, from, notRejected))
	}
	parts = append(parts, `SELECT _f, _l, _c, _n, grp, 'reject', 0,
		string_agg(CASE WHEN col IS NULL THEN reason ELSE format('column %I: %s', col, reason) END, '; ' ORDER BY reason)
		FROM tk_rej GROUP BY _f, _l, _c, _n, grp`)
	rows, err := l.tx.Query(ctx, "SELECT * FROM ("+strings.Join(parts, " UNION ALL ")+") x ORDER BY _f, _l, _c, _n")
	if err != nil {
		return fault.Failure(fmt.Errorf("userload: listing records: %w", err))
	}
	defer rows.Close()
	// A rejected record's line is at the first of its values at fault,
	// like the reject lines (within the record: the order stays the file's).
	first := map[recordKey]datafile.Pos{}
	for k, p := range l.valuePos {
		if q, ok := first[k.rec]; !ok || p.Line < q.Line || p.Line == q.Line && p.Col < q.Col {
			first[k.rec] = p
		}
	}
	w := bufio.NewWriter(l.opts.Detail)
	for rows.Next() {
		var f, line, c int32
		var n int64
		var id int
		var act string
		var cnt int64
		var reason *string
		if err := rows.Scan(&f, &line, &c, &n, &id, &act, &cnt, &reason); err != nil {
			return fault.Failure(err)
		}
		pos := l.pos(f, line, c)
		if p, ok := first[recordKey{file: int(f), line: int(line), col: int(c), table: byID[id].obj.Table}]; ok && reason != nil {
			pos = l.pos(f, int32(p.Line), int32(p.Col))
		}
		fmt.Fprintf(w, "%s: %s %s", pos, act, byID[id].obj.Table)
		switch {
		case reason != nil:
			fmt.Fprintf(w, ": %s", *reason)
		case cnt > 1:
			fmt.Fprintf(w, " (%d rows)", cnt)
		}
		w.WriteByte('\n')
	}
	if err := rows.Err(); err != nil {
		return fault.Failure(err)
	}
	return w.Flush()
}

// writeRejects writes the rejected records in userload format, each after
// comments giving its position and reasons, so that the file loads back
// once fixed.
//
// The file is written under a temporary name next to RejectsFile and only
// renamed to it after the commit (see Run): a failed write (an unwritable
// directory, a full disk) or a failed load leaves no partial file, and the
// error names the path.
func (l *loader) writeRejects(ctx context.Context) error {
	path := l.opts.RejectsFile
	a, err := datafile.CreateAtomic(path)
	if err != nil {
		return fault.Usage(fmt.Errorf("userload: rejects file %s: %w", path, err))
	}
	f, err := os.OpenFile(a.Temp, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		a.Abort()
		return fault.Usage(fmt.Errorf("userload: rejects file %s: %w", path, err))
	}
	l.rejectsTmp = a.Temp
	fail := func(err error) error {
		f.Close()
		os.Remove(l.rejectsTmp)
		l.rejectsTmp = ""
		return err
	}
	w := bufio.NewWriter(f)
	enc := rowEncoder{opts: datafile.Options{Format: datafile.Userload, LiteralBackslash: l.opts.File.LiteralBackslash, Encoding: l.opts.File.Encoding}}
	fmt.Fprintf(w, "# tenantkit userload rejects: fix the records below and load this file again\n")
	for _, g := range l.groups {
		if g.counts.Rejected == 0 || !g.staged() {
			continue
		}
		if err := l.writeGroupRejects(ctx, w, &enc, g); err != nil {
			return fail(err)
		}
	}
	if err := w.Flush(); err != nil {
		return fail(fault.Failure(fmt.Errorf("userload: writing rejects file %s: %w", path, err)))
	}
	if err := f.Close(); err != nil {
		return fail(fault.Failure(fmt.Errorf("userload: writing rejects file %s: %w", path, err)))
	}
	return nil
}

func (l *loader) writeGroupRejects(ctx context.Context, w *bufio.Writer, enc *rowEncoder, g *group) error {
	t := &datafile.Table{Name: g.obj.Table, Columns: g.columnNames()}
	// A record's values: as read, from the text staging table, else in
	// their text form from the typed one.
	vals := make([]string, len(g.cols))
	for i := range g.cols {
		vals[i] = "s." + col(i) + "::text"
	}
	source := fmt.Sprintf("SELECT _n, %s FROM %s s", strings.Join(vals, ", "), g.typed())
	if g.hasStage {
		source = fmt.Sprintf("SELECT _n, %s FROM %s s UNION ALL %s WHERE NOT EXISTS (SELECT FROM %s x WHERE x._n = s._n)",
			strings.Join(vals, ", "), g.stage(), source, g.stage())
	}
	for i := range vals {
		vals[i] = "s." + col(i)
	}
	rows, err := l.tx.Query(ctx, fmt.Sprintf(`SELECT r._n, r._f, r._l, r._c, r.col, r.reason, r.kind, %s
		FROM tk_rej r JOIN (%s) s ON s._n = r._n WHERE r.grp = $1 ORDER BY r._f, r._l, r._c, r._n, r.reason`,
		strings.Join(vals, ", "), source), g.id)
	if err != nil {
		return fault.Failure(err)
	}
	defer rows.Close()
	header, err := enc.header(t)
	if err != nil {
		return fault.Failure(err)
	}
	w.WriteString("\n")
	w.Write(header)
	var last int64 = -1
	var pending []datafile.Value
	flush := func() error {
		if pending == nil {
			return nil
		}
		b, err := enc.row(t, pending)
		if err != nil {
			return fault.Failure(err)
		}
		w.Write(b)
		pending = nil
		return nil
	}
	for rows.Next() {
		var n int64
		var f, line, c int32
		var column *string
		var reason, kind string
		dest := []any{&n, &f, &line, &c, &column, &reason, &kind}
		strs := make([]*string, len(g.cols))
		for i := range strs {
			dest = append(dest, &strs[i])
		}
		if err := rows.Scan(dest...); err != nil {
			return fault.Failure(err)
		}
		if n != last {
			if err := flush(); err != nil {
				return err
			}
			last = n
			pending = make([]datafile.Value, len(strs))
			for i, s := range strs {
				if s == nil {
					pending[i] = datafile.Value{Null: true}
				} else {
					pending[i] = datafile.Value{Str: *s}
				}
			}
		}
		msg := reason
		if column != nil {
			msg = fmt.Sprintf("column %q: %s", *column, reason)
		}
		if l.opts.Reword != nil {
			msg = l.opts.Reword(msg)
		}
		fmt.Fprintf(w, "    # %s: %s\n", l.rejectPos(f, line, c, g.obj.Table, kind, column), asciiLine(msg))
	}
	if err := rows.Err(); err != nil {
		return fault.Failure(err)
	}
	return flush()
}

// asciiLine makes text safe for a one-line comment in any encoding:
// control and non-ASCII characters are written as Go escapes.
func asciiLine(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= 0x20 && r < 0x7f {
			b.WriteRune(r)
			continue
		}
		q := strconv.QuoteRuneToASCII(r)
		b.WriteString(q[1 : len(q)-1])
	}
	return b.String()
}

// rowEncoder renders userload records with the datafile writer, one at a
// time, so that comments can go between them.
type rowEncoder struct {
	opts datafile.Options
}

func (e *rowEncoder) render(t *datafile.Table, vals []datafile.Value) ([]byte, error) {
	var buf bytes.Buffer
	w, err := datafile.NewWriter(&buf, e.opts)
	if err != nil {
		return nil, err
	}
	if err := w.BeginTable(t); err != nil {
		return nil, err
	}
	if vals != nil {
		if err := w.WriteRow(vals); err != nil {
			return nil, err
		}
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func (e *rowEncoder) header(t *datafile.Table) ([]byte, error) { return e.render(t, nil) }

func (e *rowEncoder) row(t *datafile.Table, vals []datafile.Value) ([]byte, error) {
	h, err := e.header(t)
	if err != nil {
		return nil, err
	}
	b, err := e.render(t, vals)
	if err != nil {
		return nil, err
	}
	return b[len(h):], nil
}
