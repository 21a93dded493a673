package verify

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/tenantkit/tenantkit/datafile"
	"github.com/tenantkit/tenantkit/internal/exit"
	"github.com/tenantkit/tenantkit/internal/progress"
	"github.com/tenantkit/tenantkit/schema"
	"github.com/tenantkit/tenantkit/tenant"
)

// The data file checks, in report order.
const (
	CheckUnknownTable    = "unknown-table"
	CheckUnknownColumn   = "unknown-column"
	CheckDuplicateColumn = "duplicate-column"
	CheckGeneratedColumn = "generated-column"
	CheckMissingKey      = "missing-key"
	CheckBadValue        = "bad-value"
	CheckNullValue       = "null-value"
)

// FileChecks lists every data file check in report order.
var FileChecks = []string{
	CheckUnknownTable, CheckUnknownColumn, CheckDuplicateColumn, CheckGeneratedColumn, CheckMissingKey,
	CheckBadValue, CheckNullValue, CheckMissingTenant, CheckReferenceRule,
}

// FileOptions tune Files.
type FileOptions struct {
	// Tenant (a name or key) is the tenant the files would be loaded for
	// (userload -t); "" means the files carry their own tenant values.
	Tenant string
	// Read says how to read the files.
	Read   datafile.Options
	Sample int
	Quiet  bool
}

// maxTableColumns is PostgreSQL's limit on the columns of a table, which
// the temporary table of a section must respect.
const maxTableColumns = 1600

// ErrTenantInactive is returned by Files when the -t tenant is inactive.
var ErrTenantInactive = errors.New("the tenant is inactive")

// ErrTenantList is returned by Files when -t names a tenant list (a tenant
// group, subtenants:T, …) rather than one tenant.
var ErrTenantList = errors.New("-t takes one tenant, by name or key")

// valueErrorFunc returns why v is not valid input for type typ (whose
// values may hold at most maxlen characters when maxlen > 0), or NULL. It
// traps the cast error per value (a subtransaction each), so it only runs
// on the columns a set-based cast has already found to hold bad values.
const valueErrorFunc = `CREATE FUNCTION pg_temp.tenantkit_value_error(v text, typ text, maxlen int) RETURNS text
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $f$
BEGIN
	IF maxlen > 0 AND length(v) > maxlen THEN
		RETURN format('value too long for type %s', typ);
	END IF;
	EXECUTE format('SELECT %L::%s', v, typ);
	RETURN NULL;
EXCEPTION WHEN others THEN
	RETURN SQLERRM;
END
$f$`

// Files checks data files against the object schema without loading them:
// each table section is streamed (COPY) into a temporary table of text
// columns, and checked there set-based. Nothing is written: the
// transaction is rolled back. Malformed files stop the run with the
// reader's *datafile.SyntaxError.
func Files(ctx context.Context, db tenant.TxStarter, s *schema.Schema, paths []string, opts FileOptions) (*Report, error) {
	tx, err := db.Begin(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback(ctx)
	fc := &fileChecker{s: s, tx: tx, opts: opts, rep: &Report{}}
	for _, c := range FileChecks {
		fc.rep.Checks = append(fc.rep.Checks, CheckTotal{Check: c})
	}
	if opts.Tenant != "" {
		if err := fc.resolveTenant(ctx); err != nil {
			return nil, err
		}
	}
	if _, err := tx.Exec(ctx, valueErrorFunc); err != nil {
		return nil, fmt.Errorf("verify: creating the value check function: %w", err)
	}
	fc.bar = progress.New("verify files", progress.Options{Quiet: opts.Quiet, Total: -1})
	for _, p := range paths {
		if err := fc.file(ctx, p); err != nil {
			return nil, err
		}
	}
	fc.bar.Finish()
	fc.rep.sortFindings(FileChecks)
	return fc.rep, nil
}

type fileChecker struct {
	s       *schema.Schema
	tx      pgx.Tx
	opts    FileOptions
	rep     *Report
	bar     *progress.Reporter
	tenant  *tenant.Tenant
	spID    string
	section int
}

func (fc *fileChecker) resolveTenant(ctx context.Context) error {
	tt := fc.s.Tenants
	if tt == nil {
		return errors.New("-t: the database has no tenant table")
	}
	all, err := tenant.List(ctx, fc.tx, tt)
	if err != nil {
		return err
	}
	h := tenant.NewHierarchy(all)
	t := h.Find(fc.opts.Tenant)
	if t == nil {
		if res, err := tenant.ResolveRefs(ctx, fc.tx, tt, []string{fc.opts.Tenant}); err == nil {
			return fmt.Errorf("-t %q is a tenant list (%d tenants): %w", fc.opts.Tenant, len(res[0].Tenants), ErrTenantList)
		}
		return fmt.Errorf("tenant %q: %w", fc.opts.Tenant, tenant.ErrNotFound)
	}
	if !t.Active {
		return fmt.Errorf("tenant %q: %w", t.Name, ErrTenantInactive)
	}
	fc.tenant = t
	if sp := h.ServiceProvider(); sp != nil {
		fc.spID = sp.ID
	}
	return nil
}

// add records one finding, merging it into an existing one for the same
// check and place.
func (fc *fileChecker) add(f *Finding) {
	if f.Count == 0 {
		return
	}
	if len(f.Samples) > fc.opts.Sample {
		f.Samples = f.Samples[:fc.opts.Sample]
	}
	for _, g := range fc.rep.Findings {
		if g.Check == f.Check && g.Object == f.Object && g.Column == f.Column && g.Srel == f.Srel {
			g.Count += f.Count
			for _, smp := range f.Samples {
				if len(g.Samples) < fc.opts.Sample {
					g.Samples = append(g.Samples, smp)
				}
			}
			fc.rep.Violations += f.Count
			fc.rep.total(f.Check, f.Count)
			return
		}
	}
	fc.rep.add(f)
}

func (fc *fileChecker) file(ctx context.Context, path string) error {
	r, err := datafile.Open(path, fc.opts.Read)
	if err != nil {
		return err
	}
	defer r.Close()
	have := r.Next()
	for have {
		if have, err = fc.table(ctx, r); err != nil {
			return err
		}
	}
	if err := r.Err(); err != nil {
		return err
	}
	return nil
}

// column is one column of a file section that maps onto the object.
type column struct {
	name   string
	index  int // in the file's rows
	col    *schema.Column
	tmp    string // the temporary table's column
	castOK bool   // every value parses
}

// table checks one table section, whose first row r holds (or nil Values:
// a table without rows, whose name and columns are checked all the same);
// it returns whether r holds a row of a next section.
func (fc *fileChecker) table(ctx context.Context, r datafile.Reader) (bool, error) {
	t, start := r.Table(), r.Pos()
	where := fmt.Sprintf("%s: table %s", start, t.Name)
	o := fc.s.Object(t.Name)
	if o == nil {
		n, more := drain(r, t)
		fc.add(&Finding{Check: CheckUnknownTable, Object: t.Name, Count: 1,
			Samples: []string{fmt.Sprintf("%s: no such object or table (%d rows)", where, n)}})
		fc.bar.Add(n)
		return more, r.Err()
	}
	var cols []*column
	seen := map[string]bool{}
	for i, name := range t.Columns {
		c := o.Column(name)
		switch {
		case seen[name]:
			fc.add(&Finding{Check: CheckDuplicateColumn, Object: o.Name, Column: name, Count: 1, Samples: []string{where}})
		case c == nil:
			fc.add(&Finding{Check: CheckUnknownColumn, Object: o.Name, Column: name, Count: 1, Samples: []string{where}})
		case c.Generated:
			fc.add(&Finding{Check: CheckGeneratedColumn, Object: o.Name, Column: name, Count: 1, Samples: []string{where}})
		default:
			cols = append(cols, &column{name: name, index: i, col: c, tmp: fmt.Sprintf("c%d", len(cols))})
		}
		seen[name] = true
	}
	var missing []string
	for _, k := range o.Key {
		if !seen[k] {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		fc.add(&Finding{Check: CheckMissingKey, Object: o.Name, Count: 1,
			Samples: []string{fmt.Sprintf("%s: match key column(s) %s missing", where, strings.Join(missing, ", "))}})
	}
	if r.Values() == nil {
		return r.Next(), r.Err()
	}
	if n := len(cols); n+2 > maxTableColumns {
		return false, exit.Usagef("%s: %d columns to check, but verify -f copies each record with 2 columns of its own into a table, "+
			"and PostgreSQL allows %d columns a table: check at most %d columns at once (split the columns over two sections)",
			where, n, maxTableColumns, maxTableColumns-2)
	}
	fc.section++
	tmpName := fmt.Sprintf("tenantkit_verify_%d", fc.section)
	tmp := pgx.Identifier{tmpName}.Sanitize()
	defs := []string{"n bigint", "pos text"}
	names := []string{"n", "pos"}
	for _, c := range cols {
		defs = append(defs, c.tmp+" text")
		names = append(names, c.tmp)
	}
	if _, err := fc.tx.Exec(ctx, fmt.Sprintf("CREATE TEMP TABLE %s (%s) ON COMMIT DROP", tmp, strings.Join(defs, ", "))); err != nil {
		return false, fmt.Errorf("verify %s: %w", where, err)
	}
	src := &sectionSource{r: r, t: t, cols: cols, first: true, fc: fc, o: o}
	n, err := fc.tx.CopyFrom(ctx, pgx.Identifier{tmpName}, names, src)
	if src.err != nil {
		return false, src.err
	}
	if err != nil {
		return false, fmt.Errorf("verify %s: copying the rows: %w", where, err)
	}
	fc.bar.Add(n)
	sec := &section{fc: fc, o: o, tmp: tmp, cols: cols, where: where, rows: n}
	if err := sec.check(ctx); err != nil {
		return false, err
	}
	if _, err := fc.tx.Exec(ctx, "DROP TABLE "+tmp); err != nil {
		return false, err
	}
	return src.more, nil
}

// drain skips the rest of a section and counts its rows.
func drain(r datafile.Reader, t *datafile.Table) (int64, bool) {
	n := int64(1)
	if r.Values() == nil {
		n = 0
	}
	for r.Next() {
		if r.Table() != t {
			return n, true
		}
		n++
	}
	return n, false
}

// sectionSource feeds one section's rows to COPY: the row the reader holds,
// then every next one of the same table. It stops at the first row of
// another table, leaving it in the reader.
type sectionSource struct {
	fc    *fileChecker
	o     *schema.Object
	r     datafile.Reader
	t     *datafile.Table
	cols  []*column
	first bool
	more  bool // the reader holds a row of a next section
	n     int64
	row   []any
	err   error
}

func (s *sectionSource) Next() bool {
	for {
		if !s.first {
			if !s.r.Next() {
				s.err = s.r.Err()
				return false
			}
			if s.r.Table() != s.t {
				s.more = true
				return false
			}
		}
		s.first = false
		s.n++
		if s.nulValue() {
			continue // PostgreSQL cannot take the row; userload rejects it
		}
		vals := s.r.Values()
		if s.row == nil {
			s.row = make([]any, 2+len(s.cols))
		}
		s.row[0], s.row[1] = s.n, s.r.Pos().String()
		for i, c := range s.cols {
			if v := vals[c.index]; v.Null {
				s.row[2+i] = nil
			} else {
				s.row[2+i] = v.Str
			}
		}
		return true
	}
}

// nulValue reports a value holding a NUL character, which no text column
// can store, as a bad value of its column (the record's reject reason in
// userload), and whether the row had one.
func (s *sectionSource) nulValue() bool {
	bad := false
	for _, c := range s.cols {
		v := s.r.Values()[c.index]
		if v.Null || strings.IndexByte(v.Str, 0) < 0 {
			continue
		}
		bad = true
		s.fc.add(&Finding{Check: CheckBadValue, Object: s.o.Name, Column: c.name, Count: 1,
			Samples: []string{fmt.Sprintf("%s: %s=%s: the value holds a NUL character", s.r.Pos(), c.name, strconv.Quote(v.Str))}})
	}
	return bad
}

func (s *sectionSource) Values() ([]any, error) { return s.row, nil }
func (s *sectionSource) Err() error             { return s.err }

// section checks the rows of one section held in a temporary table.
type section struct {
	fc    *fileChecker
	o     *schema.Object
	tmp   string
	cols  []*column
	where string
	rows  int64
}

// textTypes need no parsing: every string is a valid value.
var textTypes = map[string]bool{"text": true, "character varying": true}

var lengthType = regexp.MustCompile(`^(character varying|character|bit varying|bit)\((\d+)\)$`)

func maxLen(typ string) int {
	if m := lengthType.FindStringSubmatch(typ); m != nil {
		n, _ := strconv.Atoi(m[2])
		return n
	}
	return 0
}

func (sec *section) check(ctx context.Context) error {
	if err := sec.checkValues(ctx); err != nil {
		return err
	}
	if err := sec.checkNulls(ctx); err != nil {
		return err
	}
	if err := sec.checkTenant(ctx); err != nil {
		return err
	}
	return sec.checkReferences(ctx)
}

// castExpr is the set-based test of a column: it fails (an error or a
// non-zero count) when some value does not parse.
func castExpr(c *column) string {
	if n := maxLen(c.col.Type); n > 0 {
		return fmt.Sprintf("count(*) FILTER (WHERE length(%s) > %d) + count(%s::%s) * 0", c.tmp, n, c.tmp, c.col.Type)
	}
	return fmt.Sprintf("count(%s::%s) * 0", c.tmp, c.col.Type)
}

// checkValues casts every column at once; only when that fails does it
// look for the offending values, column by column.
func (sec *section) checkValues(ctx context.Context) error {
	var typed []*column
	for _, c := range sec.cols {
		c.castOK = true
		if !textTypes[c.col.Type] && !sec.loadsTenant(c) {
			typed = append(typed, c)
		}
	}
	if len(typed) == 0 {
		return nil
	}
	exprs := make([]string, len(typed))
	for i, c := range typed {
		exprs[i] = castExpr(c)
	}
	ok, err := sec.castsPass(ctx, exprs)
	if err != nil || ok {
		return err
	}
	for _, c := range typed {
		ok, err := sec.castsPass(ctx, []string{castExpr(c)})
		if err != nil {
			return err
		}
		if ok {
			continue
		}
		c.castOK = false
		body := fmt.Sprintf("FROM (SELECT n, pos, %[1]s AS v, pg_temp.tenantkit_value_error(%[1]s, $2, $3) AS err FROM %[2]s WHERE %[1]s IS NOT NULL) x WHERE err IS NOT NULL",
			c.tmp, sec.tmp)
		q := &query{
			finding: &Finding{Check: CheckBadValue, Object: sec.o.Name, Column: c.name},
			sql:     sampledSQL("", []string{"x.n"}, []string{"x.pos", "x.v", "x.err"}, body),
			args:    []any{c.col.Type, maxLen(c.col.Type)},
			sample: func(cols []*string) string {
				return fmt.Sprintf("%s: %s=%s: %s", deref(cols[1]), c.name, strconv.Quote(deref(cols[2])), deref(cols[3]))
			},
		}
		if err := sec.run(ctx, q); err != nil {
			return err
		}
	}
	return nil
}

// castsPass runs the cast expressions over the table in a savepoint and
// reports whether they all held.
func (sec *section) castsPass(ctx context.Context, exprs []string) (bool, error) {
	sp, err := sec.fc.tx.Begin(ctx)
	if err != nil {
		return false, err
	}
	var sum int64
	err = sp.QueryRow(ctx, fmt.Sprintf("SELECT 0 + %s FROM %s", strings.Join(exprs, " + "), sec.tmp)).Scan(&sum)
	if err != nil {
		if rbErr := sp.Rollback(ctx); rbErr != nil {
			return false, rbErr
		}
		if ctx.Err() != nil {
			return false, ctx.Err()
		}
		return false, nil
	}
	return sum == 0, sp.Commit(ctx)
}

func (sec *section) run(ctx context.Context, q *query) error {
	if err := runQuery(ctx, sec.fc.tx, q, sec.fc.opts.Sample); err != nil {
		return fmt.Errorf("%s: %w", sec.where, err)
	}
	sec.fc.add(q.finding)
	return nil
}

// loadsTenant reports whether c is the tenant column that -t overrides.
func (sec *section) loadsTenant(c *column) bool {
	return sec.fc.tenant != nil && c.name == sec.o.TenantColumn
}

func (sec *section) checkNulls(ctx context.Context) error {
	for _, c := range sec.cols {
		if !c.col.NotNull || sec.loadsTenant(c) {
			continue
		}
		q := &query{
			finding: &Finding{Check: CheckNullValue, Object: sec.o.Name, Column: c.name},
			sql:     sampledSQL("", []string{"x.n"}, []string{"x.pos"}, fmt.Sprintf("FROM %s x WHERE x.%s IS NULL", sec.tmp, c.tmp)),
			sample:  func(cols []*string) string { return deref(cols[1]) + ": " + c.name + " is NULL (NOT NULL column)" },
		}
		if err := sec.run(ctx, q); err != nil {
			return err
		}
	}
	return nil
}

// checkTenant: without -t, every row of a tenant-required object needs a
// tenant value, as userload demands.
func (sec *section) checkTenant(ctx context.Context) error {
	if sec.fc.tenant != nil || sec.o.Tenancy != schema.Required {
		return nil
	}
	var tc *column
	for _, c := range sec.cols {
		if c.name == sec.o.TenantColumn {
			tc = c
		}
	}
	if tc == nil {
		sec.fc.add(&Finding{Check: CheckMissingTenant, Object: sec.o.Name, Count: sec.rows,
			Samples: []string{fmt.Sprintf("%s: no tenant column %s and no -t: all %d rows", sec.where, sec.o.TenantColumn, sec.rows)}})
		return nil
	}
	if tc.col.NotNull {
		return nil // reported by checkNulls
	}
	q := &query{
		finding: &Finding{Check: CheckMissingTenant, Object: sec.o.Name, Column: tc.name},
		sql:     sampledSQL("", []string{"x.n"}, []string{"x.pos"}, fmt.Sprintf("FROM %s x WHERE x.%s IS NULL OR x.%s = ''", sec.tmp, tc.tmp, tc.tmp)),
		sample:  func(cols []*string) string { return deref(cols[1]) + ": no tenant" },
	}
	return sec.run(ctx, q)
}

// checkReferences: with -t, references to existing rows must obey the
// reference rule for that tenant. References to rows that do not exist
// (perhaps loaded by the same run) are not checked here.
func (sec *section) checkReferences(ctx context.Context) error {
	fc := sec.fc
	if fc.tenant == nil {
		return nil
	}
	tt := fc.s.Tenants
	byName := map[string]*column{}
	for _, c := range sec.cols {
		byName[c.name] = c
	}
	for _, sr := range sec.o.Srels {
		tg := sr.Target
		if tg == nil || !tg.Tenanted() {
			continue
		}
		var on, vals []string
		usable := true
		for i, colName := range sr.Columns {
			c := byName[colName]
			if c == nil || !c.castOK || sec.loadsTenant(c) {
				usable = false
				break
			}
			tcol := tg.Column(sr.TargetColumns[i])
			on = append(on, fmt.Sprintf("%s = x.%s::%s", ident("g", sr.TargetColumns[i]), c.tmp, tcol.Type))
			vals = append(vals, "x."+c.tmp)
		}
		if !usable {
			continue
		}
		// $3: the service provider's key when the SREL is eligible, else NULL.
		rule := tenant.RefRule{Owner: "$2::text", Referenced: ident("g", tg.TenantColumn) + "::text", ServiceProvider: "$3::text", Ancestors: "anc"}
		var spArg any
		if sr.ServiceProviderEligible && fc.spID != "" {
			spArg = fc.spID
		}
		body := fmt.Sprintf("FROM %s x JOIN %s g ON %s JOIN %s gt ON %s WHERE %s",
			sec.tmp, tg.Ident(), strings.Join(on, " AND "), tt.Ident(), eq("gt", tt.Object, tt.Key, "g", tg, tg.TenantColumn), rule.Violation())
		extras := append([]string{"x.pos"}, vals...)
		extras = append(extras, "gt."+pgx.Identifier{tt.Name}.Sanitize()+"::text")
		q := &query{
			finding: &Finding{Check: CheckReferenceRule, Object: sec.o.Name, Srel: sr.Attr, Target: tg.Name},
			sql:     sampledSQL("WITH RECURSIVE "+tenant.AncestorsCTE(tt, "anc"), []string{"x.n"}, extras, body),
			args:    []any{fc.tenant.ID, spArg},
			sample: func(cols []*string) string {
				parts := make([]string, len(sr.Columns))
				for i, c := range sr.Columns {
					parts[i] = c + "=" + quoteValue(cols[2+i])
				}
				return fmt.Sprintf("%s: %s -> a row of %s (tenant %s is not among %s's supertenants)",
					deref(cols[1]), strings.Join(parts, " "), tg.Name, tenantLabel(cols[len(cols)-1], "?"), fc.tenant.Name)
			},
		}
		if err := sec.run(ctx, q); err != nil {
			return err
		}
	}
	return nil
}
