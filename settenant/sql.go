package settenant

import (
	"fmt"
	"strings"

	"github.com/tenantkit/tenantkit/internal/sqlq"
	"github.com/tenantkit/tenantkit/schema"
	"github.com/tenantkit/tenantkit/tenant"
)

// Why a row is left without a tenant, as the report statement classifies it.
const (
	reasonNullReference       = "null_reference"
	reasonDanglingReference   = "dangling_reference"
	reasonUntenantedReference = "untenanted_reference"
)

// changedTable is the session's temporary table that records the rows a
// rule changed (tableoid, ctid), so the report can check their neighbours.
const changedTable = "pg_temp.tenantkit_settenant_changed"

const createChangedSQL = `CREATE TEMP TABLE IF NOT EXISTS tenantkit_settenant_changed (tbl oid NOT NULL, row_id tid NOT NULL)`

const truncateChangedSQL = `TRUNCATE ` + changedTable

// statements holds what the SQL of one rule is built from. The rule's Where
// is evaluated in a scope that holds only the target table and one derived
// table whose columns are named so that they collide with none of the target
// table's columns: an unqualified name in Where always means the target's.
type statements struct {
	p      *plan
	tbl    string // the target table as qualifier
	tc     string // the target's tenant column, qualified
	src    string // alias of the derived source table
	keys   []string
	tenant string // the source table's tenant column
	reason string // the source table's reason column (report chain only)
	votes  string // the source table's votes column (BREL report chain only)
	schema *schema.Schema
	// noWhere leaves the rule's condition out (to tell its errors apart).
	noWhere bool
	// sp is the service provider, for the report's reference-rule check;
	// nil when there is none or no report was asked for.
	sp *tenant.Tenant
}

func buildStatements(p *plan, s *schema.Schema, sp *tenant.Tenant) statements {
	taken := map[string]bool{p.obj.Table: true}
	for _, c := range p.obj.Columns {
		taken[c.Name] = true
	}
	free := func(base string) string {
		for taken[base] {
			base += "_"
		}
		taken[base] = true
		return base
	}
	st := statements{p: p, tbl: sqlq.Ident(p.obj.Table), schema: s, sp: sp}
	st.tc = st.tbl + "." + sqlq.Ident(p.obj.TenantColumn)
	st.src = sqlq.Ident(free("tenantkit_src"))
	if len(p.path) > 0 {
		for i := range p.path[0].Columns {
			st.keys = append(st.keys, sqlq.Ident(free(fmt.Sprintf("tenantkit_key%d", i+1))))
		}
	}
	if p.brel != nil {
		st.brelNames(free)
	}
	st.tenant = sqlq.Ident(free("tenantkit_tenant"))
	st.reason = sqlq.Ident(free("tenantkit_reason"))
	return st
}

// args collects statement parameters and hands out their placeholders.
type args []any

func (a *args) add(v any) string {
	*a = append(*a, v)
	return fmt.Sprintf("$%d", len(*a))
}

// bounds is a key range of a batch: rows with key > lo and key <= hi; nil
// ends are open.
type bounds struct{ lo, hi []string }

// chain is the derived source table: for an SREL rule, the first hop's
// target keys with the tenant found at the end of the path; for a Name rule,
// the one tenant. With report, every first-hop row appears, with the reason
// why the path yields no tenant.
func (st *statements) chain(a *args, report bool) string {
	p := st.p
	if p.tenant != nil {
		tt := st.schema.Tenants
		return fmt.Sprintf("SELECT t.%s AS %s FROM %s t WHERE t.%s::text = %s",
			sqlq.Ident(tt.Key), st.tenant, tt.Ident(), sqlq.Ident(tt.Key), a.add(p.tenant.ID))
	}
	if p.brel != nil {
		return st.brelChain(a, bounds{}, report)
	}
	hop := func(i int) string { return sqlq.Ident(fmt.Sprintf("h%d", i+1)) }
	var sel []string
	for j, c := range p.path[0].TargetColumns {
		sel = append(sel, hop(0)+"."+sqlq.Ident(c)+" AS "+st.keys[j])
	}
	last := len(p.path) - 1
	final := hop(last) + "." + sqlq.Ident(p.path[last].Target.TenantColumn)
	sel = append(sel, final+" AS "+st.tenant)
	from := p.path[0].Target.Ident() + " " + hop(0)
	join := "JOIN"
	if report {
		join = "LEFT JOIN"
	}
	var why []string
	for i := 1; i <= last; i++ {
		s := p.path[i]
		var on, isNull []string
		for j, c := range s.Columns {
			on = append(on, fmt.Sprintf("%s.%s = %s.%s", hop(i-1), sqlq.Ident(c), hop(i), sqlq.Ident(s.TargetColumns[j])))
			isNull = append(isNull, fmt.Sprintf("%s.%s IS NULL", hop(i-1), sqlq.Ident(c)))
		}
		from += fmt.Sprintf("\n\t%s %s %s ON %s", join, s.Target.Ident(), hop(i), strings.Join(on, " AND "))
		why = append(why,
			fmt.Sprintf("WHEN %s THEN %s", strings.Join(isNull, " OR "), sqlq.Lit(reasonNullReference)),
			fmt.Sprintf("WHEN %s.%s IS NULL THEN %s", hop(i), sqlq.Ident(s.TargetColumns[0]), sqlq.Lit(reasonDanglingReference)))
	}
	if !report {
		return fmt.Sprintf("SELECT %s\n\tFROM %s\n\tWHERE %s IS NOT NULL", strings.Join(sel, ", "), from, final)
	}
	why = append(why, fmt.Sprintf("WHEN %s IS NULL THEN %s", final, sqlq.Lit(reasonUntenantedReference)))
	sel = append(sel, fmt.Sprintf("CASE %s END AS %s", strings.Join(why, " "), st.reason))
	return fmt.Sprintf("SELECT %s\n\tFROM %s", strings.Join(sel, ", "), from)
}

// joinOn matches target rows with the source table: the first hop's
// columns against its target columns.
func (st *statements) joinOn() []string {
	if st.p.brel != nil {
		return st.brelJoinOn()
	}
	var on []string
	if len(st.p.path) > 0 {
		for j, c := range st.p.path[0].Columns {
			on = append(on, fmt.Sprintf("%s.%s = %s.%s", st.tbl, sqlq.Ident(c), st.src, st.keys[j]))
		}
	}
	return on
}

// withoutWhere returns the statements without the rule's condition.
func (st statements) withoutWhere() statements {
	st.noWhere = true
	return st
}

// rangeCond restricts the target to a batch's key range.
func (st *statements) rangeCond(a *args, b bounds) string {
	if b.lo == nil && b.hi == nil {
		return ""
	}
	cols := make([]string, len(st.p.rowKey))
	for i, c := range st.p.rowKey {
		cols[i] = st.tbl + "." + sqlq.Ident(c.Name)
	}
	return st.keyRange(a, cols, b)
}

// keyRange restricts cols, compared as the row key, to a batch's key range.
func (st *statements) keyRange(a *args, cols []string, b bounds) string {
	bound := func(vals []string) string {
		ph := make([]string, len(vals))
		for i, v := range vals {
			ph[i] = a.add(v) + "::text::" + st.p.rowKey[i].Type
		}
		return "ROW(" + strings.Join(ph, ", ") + ")"
	}
	var out string
	if b.lo != nil {
		out += fmt.Sprintf(" AND ROW(%s) > %s", strings.Join(cols, ", "), bound(b.lo))
	}
	if b.hi != nil {
		out += fmt.Sprintf(" AND ROW(%s) <= %s", strings.Join(cols, ", "), bound(b.hi))
	}
	return out
}

// where wraps the rule's condition; it goes on lines of its own so that a
// trailing -- comment cannot swallow the closing parenthesis.
func (st *statements) where() string {
	if st.p.rule.Where == "" || st.noWhere {
		return ""
	}
	return " AND (\n" + st.p.rule.Where + "\n)"
}

// update is the plain rule: one UPDATE … FROM, which waits for a row an
// application holds and checks it again at its newest version. It serves
// the unbatched run without a report, where nothing needs the rows it
// changed; batches and the report lock their rows first (see lock).
func (st *statements) update(b bounds) (string, args) {
	var a args
	chain := st.chain(&a, false)
	conds := append(st.joinOn(), fmt.Sprintf("%s IS DISTINCT FROM %s.%s", st.tc, st.src, st.tenant))
	sql := fmt.Sprintf("UPDATE %s SET %s = %s.%s%s\nFROM (%s) AS %s\nWHERE %s%s%s",
		st.p.obj.Ident(), sqlq.Ident(st.p.obj.TenantColumn), st.src, st.tenant, st.stamp(),
		chain, st.src,
		strings.Join(conds, " AND "), st.rangeCond(&a, b), st.where())
	return sql, a
}

// lockedTable is the session's temporary table of the rows a rule's batch
// is about to update, locked, with their new tenant (see lock).
const lockedTable = "pg_temp.tenantkit_settenant_locked"

// createLocked (re)creates the locked table with the types of the rule's
// target table.
func (st *statements) createLocked() string {
	return fmt.Sprintf(`DROP TABLE IF EXISTS %s;
CREATE TEMP TABLE tenantkit_settenant_locked AS
	SELECT %s.tableoid AS row_oid, %[2]s.ctid AS row_ctid, true AS had_tenant, %s AS new_tenant FROM %s WITH NO DATA`,
		lockedTable, st.tbl, st.tc, st.p.obj.Ident())
}

// lock finds the rows the plain UPDATE would change, with the same
// conditions, and locks them in key order (FOR NO KEY UPDATE, the lock the
// UPDATE takes) into the locked table. A row an application changes in the
// meantime is waited for and checked again at its newest version, as the
// UPDATE does; once locked, it cannot change (nor move: its ctid stays)
// until the transaction ends, so apply updates exactly these rows. Locking
// in key order keeps runs from deadlocking with writers that also go in
// key order.
func (st *statements) lock(b bounds) (string, args) {
	var a args
	chain := st.chainFor(&a, b, false)
	conds := append(st.joinOn(), fmt.Sprintf("%s IS DISTINCT FROM %s.%s", st.tc, st.src, st.tenant))
	order := st.tbl + ".ctid"
	if len(st.p.rowKey) > 0 {
		cols := make([]string, len(st.p.rowKey))
		for i, c := range st.p.rowKey {
			cols[i] = st.tbl + "." + sqlq.Ident(c.Name)
		}
		order = strings.Join(cols, ", ")
	}
	sql := fmt.Sprintf(`INSERT INTO %[1]s
SELECT %[2]s.tableoid, %[2]s.ctid, %[3]s IS NOT NULL, %[4]s.%[5]s
FROM %[6]s JOIN (%[7]s) AS %[4]s ON true
WHERE %[8]s%[9]s%[10]s
ORDER BY %[11]s
FOR NO KEY UPDATE OF %[2]s`,
		lockedTable, st.tbl, st.tc, st.src, st.tenant, st.p.obj.Ident(), chain,
		strings.Join(conds, " AND "), st.rangeCond(&a, b), st.where(), order)
	return sql, a
}

// apply updates the locked rows, records them in the changed table when
// log is set, and returns the rows updated and how many of them had
// another tenant before.
func (st *statements) apply(log bool) string {
	logged := ""
	if log {
		logged = fmt.Sprintf(", tenantkit_logged AS (\n\tINSERT INTO %s (tbl, row_id) SELECT row_oid, row_ctid FROM tenantkit_updated\n)", changedTable)
	}
	return fmt.Sprintf(`WITH tenantkit_updated AS (
	UPDATE %s SET %s = l.new_tenant%s FROM %s l
	WHERE %s.tableoid = l.row_oid AND %[5]s.ctid = l.row_ctid
	RETURNING %[5]s.tableoid AS row_oid, %[5]s.ctid AS row_ctid, l.had_tenant
)%s
SELECT count(*), count(*) FILTER (WHERE had_tenant) FROM tenantkit_updated`,
		st.p.obj.Ident(), sqlq.Ident(st.p.obj.TenantColumn), st.stamp(), lockedTable, st.tbl, logged)
}

// report classifies every row the Where selects that the rule has not
// updated (rows in the changed table are left out): unchanged, kept, left
// without a tenant and why, or — when an application changed it since the
// rule's rows were locked — one the rule would now update. It returns the
// counts and a sample of the rows left without a tenant.
func (st *statements) report(b bounds, sample int) (string, args) {
	if st.p.brel != nil {
		return st.brelReport(b, sample)
	}
	var a args
	p := st.p
	chain := st.chain(&a, true)
	on := st.joinOn()
	reason := "NULL::text"
	if len(p.path) > 0 {
		var isNull []string
		for _, c := range p.path[0].Columns {
			isNull = append(isNull, fmt.Sprintf("%s.%s IS NULL", st.tbl, sqlq.Ident(c)))
		}
		reason = fmt.Sprintf("CASE WHEN %s.%s IS NOT NULL THEN NULL WHEN %s THEN %s WHEN %s.%s IS NULL THEN %s ELSE %s.%s END",
			st.src, st.tenant, strings.Join(isNull, " OR "), sqlq.Lit(reasonNullReference),
			st.src, st.keys[0], sqlq.Lit(reasonDanglingReference), st.src, st.reason)
	} else {
		on = []string{"true"}
	}
	shown, sort := st.shownSort()
	limit := a.add(sample)
	sql := fmt.Sprintf(`WITH tenantkit_rows AS MATERIALIZED (
	SELECT %[2]s AS old_tenant, %[3]s.%[4]s AS new_tenant, %[5]s AS reason, %[6]s AS shown, %[7]s AS sort
	FROM %[8]s LEFT JOIN (%[9]s) AS %[3]s ON %[10]s
	WHERE NOT EXISTS (SELECT FROM %[13]s c WHERE c.tbl = %[1]s.tableoid AND c.row_id = %[1]s.ctid)%[11]s%[12]s
)
SELECT count(*),
	count(*) FILTER (WHERE new_tenant IS NOT NULL AND old_tenant IS NOT DISTINCT FROM new_tenant),
	count(*) FILTER (WHERE new_tenant IS NULL AND old_tenant IS NOT NULL),
	count(*) FILTER (WHERE new_tenant IS NULL AND old_tenant IS NULL AND reason = %[14]s),
	count(*) FILTER (WHERE new_tenant IS NULL AND old_tenant IS NULL AND reason = %[15]s),
	count(*) FILTER (WHERE new_tenant IS NULL AND old_tenant IS NULL AND reason = %[16]s),
	count(*) FILTER (WHERE new_tenant IS NOT NULL AND old_tenant IS DISTINCT FROM new_tenant),
	coalesce((SELECT json_agg(json_build_array(z.shown, z.reason) ORDER BY z.sort) FROM (
		SELECT shown, reason, sort FROM tenantkit_rows WHERE new_tenant IS NULL AND old_tenant IS NULL
		ORDER BY sort LIMIT %[17]s) z), '[]')::text
FROM tenantkit_rows`,
		st.tbl, st.tc, st.src, st.tenant,
		reason, shown, sort,
		p.obj.Ident(), chain, strings.Join(on, " AND "),
		st.rangeCond(&a, b), st.where(), changedTable,
		sqlq.Lit(reasonNullReference), sqlq.Lit(reasonDanglingReference), sqlq.Lit(reasonUntenantedReference),
		limit)
	return sql, a
}

// shownSort is what the report prints for a row and sorts the sample by:
// the shown key, else the ctid.
func (st *statements) shownSort() (shown, sort string) {
	shown, sort = st.tbl+".ctid::text", st.tbl+".ctid"
	if k := st.p.shownKey; len(k) == 1 {
		shown, sort = st.tbl+"."+sqlq.Ident(k[0])+"::text", st.tbl+"."+sqlq.Ident(k[0])
	} else if len(k) > 1 {
		cols := make([]string, len(k))
		for i, c := range k {
			cols[i] = st.tbl + "." + sqlq.Ident(c)
		}
		sort = "ROW(" + strings.Join(cols, ", ") + ")"
		shown = sort + "::text"
	}
	return shown, sort
}

// stamp is ", change column = now" when the object has a change column
// (see schema.Object.ChangeStamp).
func (st *statements) stamp() string {
	if set := st.p.obj.ChangeStamp(st.tbl); set != "" {
		return ", " + set
	}
	return ""
}

// nextBoundSQL finds the last key of the batch that starts after lo.
func (st *statements) nextBound(lo []string, size int) (string, args) {
	var a args
	cols := make([]string, len(st.p.rowKey))
	texts := make([]string, len(st.p.rowKey))
	for i, c := range st.p.rowKey {
		cols[i] = st.tbl + "." + sqlq.Ident(c.Name)
		texts[i] = cols[i] + "::text"
	}
	cond := st.rangeCond(&a, bounds{lo: lo})
	if cond != "" {
		cond = " WHERE true" + cond
	}
	sql := fmt.Sprintf("SELECT %s FROM %s%s ORDER BY %s OFFSET %s LIMIT 1",
		strings.Join(texts, ", "), st.p.obj.Ident(), cond, strings.Join(cols, ", "), a.add(size-1))
	return sql, a
}
