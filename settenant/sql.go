package settenant

import (
	"fmt"
	"strings"

	"github.com/tenantkit/tenantkit/internal/sqlcond"
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

// bounds is a key range of a batch: rows with key > lo and key <= hi; nil
// ends are open.
type bounds struct{ lo, hi []string }

// chain is the derived source table: for an SREL rule, the first hop's
// target keys with the tenant found at the end of the path; for a Name rule,
// the one tenant; for a BREL rule, the tenant the referrers of a key agree
// on, read from the referrers of batch b only when it can (see brelChain).
// With report, every first-hop row appears, with the reason why the path
// yields no tenant.
func (st *statements) chain(a *sqlq.Args, b bounds, report bool) string {
	p := st.p
	if p.tenant != nil {
		tt := st.schema.Tenants
		return fmt.Sprintf("SELECT t.%s AS %s FROM %s t WHERE t.%s::text = %s",
			sqlq.Ident(tt.Key), st.tenant, tt.Ident(), sqlq.Ident(tt.Key), a.Add(p.tenant.ID))
	}
	if p.brel != nil {
		return st.brelChain(a, b, report)
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
func (st *statements) rangeCond(a *sqlq.Args, b bounds) string {
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
func (st *statements) keyRange(a *sqlq.Args, cols []string, b bounds) string {
	bound := func(vals []string) string {
		ph := make([]string, len(vals))
		for i, v := range vals {
			ph[i] = a.Add(v) + "::text::" + st.p.rowKey[i].Type
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
	return " AND " + sqlcond.Wrap(st.p.rule.Where)
}

// update is the plain rule: one UPDATE … FROM, which waits for a row an
// application holds and checks it again at its newest version. It serves
// the unbatched run without a report, where nothing needs the rows it
// changed; batches and the report lock their rows first (see lock).
func (st *statements) update(b bounds) (string, sqlq.Args) {
	var a sqlq.Args
	chain := st.chain(&a, b, false)
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
	return sqlq.Expand(createLockedSQL, sqlq.Names{"tbl": st.tbl, "tc": st.tc, "table": st.p.obj.Ident()})
}

const createLockedSQL = `DROP TABLE IF EXISTS ` + lockedTable + `;
CREATE TEMP TABLE tenantkit_settenant_locked AS
	SELECT {tbl}.tableoid AS row_oid, {tbl}.ctid AS row_ctid, true AS had_tenant, {tc} AS new_tenant FROM {table} WITH NO DATA`

// lock finds the rows the plain UPDATE would change, with the same
// conditions, and locks them in key order (FOR NO KEY UPDATE, the lock the
// UPDATE takes) into the locked table. A row an application changes in the
// meantime is waited for and checked again at its newest version, as the
// UPDATE does; once locked, it cannot change (nor move: its ctid stays)
// until the transaction ends, so apply updates exactly these rows. Locking
// in key order keeps runs from deadlocking with writers that also go in
// key order.
func (st *statements) lock(b bounds) (string, sqlq.Args) {
	var a sqlq.Args
	chain := st.chain(&a, b, false)
	conds := append(st.joinOn(), fmt.Sprintf("%s IS DISTINCT FROM %s.%s", st.tc, st.src, st.tenant))
	order := st.tbl + ".ctid"
	if len(st.p.rowKey) > 0 {
		cols := make([]string, len(st.p.rowKey))
		for i, c := range st.p.rowKey {
			cols[i] = st.tbl + "." + sqlq.Ident(c.Name)
		}
		order = strings.Join(cols, ", ")
	}
	sql := sqlq.Expand(lockSQL, sqlq.Names{
		"tbl": st.tbl, "tc": st.tc, "src": st.src, "tenant": st.tenant, "table": st.p.obj.Ident(), "chain": chain,
		"conds": strings.Join(conds, " AND "), "range": st.rangeCond(&a, b), "where": st.where(), "order": order})
	return sql, a
}

const lockSQL = `INSERT INTO ` + lockedTable + `
SELECT {tbl}.tableoid, {tbl}.ctid, {tc} IS NOT NULL, {src}.{tenant}
FROM {table} JOIN ({chain}) AS {src} ON true
WHERE {conds}{range}{where}
ORDER BY {order}
FOR NO KEY UPDATE OF {tbl}`

// apply updates the locked rows, records them in the changed table when
// log is set, and returns the rows updated and how many of them had
// another tenant before.
func (st *statements) apply(log bool) string {
	logged := ""
	if log {
		logged = fmt.Sprintf(", tenantkit_logged AS (\n\tINSERT INTO %s (tbl, row_id) SELECT row_oid, row_ctid FROM tenantkit_updated\n)", changedTable)
	}
	return sqlq.Expand(applySQL, sqlq.Names{
		"table": st.p.obj.Ident(), "column": sqlq.Ident(st.p.obj.TenantColumn), "stamp": st.stamp(), "tbl": st.tbl, "logged": logged})
}

const applySQL = `WITH tenantkit_updated AS (
	UPDATE {table} SET {column} = l.new_tenant{stamp} FROM ` + lockedTable + ` l
	WHERE {tbl}.tableoid = l.row_oid AND {tbl}.ctid = l.row_ctid
	RETURNING {tbl}.tableoid AS row_oid, {tbl}.ctid AS row_ctid, l.had_tenant
){logged}
SELECT count(*), count(*) FILTER (WHERE had_tenant) FROM tenantkit_updated`

// report classifies every row the Where selects that the rule has not
// updated (rows in the changed table are left out): unchanged, kept, left
// without a tenant and why, or — when an application changed it since the
// rule's rows were locked — one the rule would now update. It returns the
// counts and a sample of the rows left without a tenant; a BREL rule has
// reasons of its own and samples the votes too (see brelReport).
func (st *statements) report(b bounds, sample int) (string, sqlq.Args) {
	var a sqlq.Args
	p := st.p
	var n sqlq.Names
	if p.brel != nil {
		n = st.brelReport(&a, b)
	} else {
		chain := st.chain(&a, b, true)
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
		n = sqlq.Names{"chain": chain, "on": strings.Join(on, " AND "), "reason": reason,
			"reason_counts": reasonCounts(reasonNullReference, reasonDanglingReference, reasonUntenantedReference),
			"votes":         "", "sampled": "", "sampled_z": ""}
	}
	n["shown"], n["sort"] = st.shownSort()
	n["tbl"], n["tc"], n["src"], n["tenant"], n["table"] = st.tbl, st.tc, st.src, st.tenant, p.obj.Ident()
	n["range"], n["where"] = st.rangeCond(&a, b), st.where()
	n["limit"] = a.Add(sample)
	return sqlq.Expand(reportSQL, n), a
}

// reasonCounts counts the rows left without a tenant for each reason, in
// order: the report statement's columns between kept and pending.
func reasonCounts(reasons ...string) string {
	var out string
	for _, r := range reasons {
		out += "\n\tcount(*) FILTER (WHERE new_tenant IS NULL AND old_tenant IS NULL AND reason = " + sqlq.Lit(r) + "),"
	}
	return out
}

// reportSQL is the report statement; {votes} adds a BREL rule's votes to
// the classified rows, {sampled} and {sampled_z} to the sample.
const reportSQL = `WITH tenantkit_rows AS MATERIALIZED (
	SELECT {tc} AS old_tenant, {src}.{tenant} AS new_tenant, {reason} AS reason{votes}, {shown} AS shown, {sort} AS sort
	FROM {table} LEFT JOIN ({chain}) AS {src} ON {on}
	WHERE NOT EXISTS (SELECT FROM ` + changedTable + ` c WHERE c.tbl = {tbl}.tableoid AND c.row_id = {tbl}.ctid){range}{where}
)
SELECT count(*),
	count(*) FILTER (WHERE new_tenant IS NOT NULL AND old_tenant IS NOT DISTINCT FROM new_tenant),
	count(*) FILTER (WHERE new_tenant IS NULL AND old_tenant IS NOT NULL),{reason_counts}
	count(*) FILTER (WHERE new_tenant IS NOT NULL AND old_tenant IS DISTINCT FROM new_tenant),
	coalesce((SELECT json_agg(json_build_array(z.shown, z.reason{sampled_z}) ORDER BY z.sort) FROM (
		SELECT shown, reason{sampled}, sort FROM tenantkit_rows WHERE new_tenant IS NULL AND old_tenant IS NULL
		ORDER BY sort LIMIT {limit}) z), '[]')::text
FROM tenantkit_rows`

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
func (st *statements) nextBound(lo []string, size int) (string, sqlq.Args) {
	var a sqlq.Args
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
		strings.Join(texts, ", "), st.p.obj.Ident(), cond, strings.Join(cols, ", "), a.Add(size-1))
	return sql, a
}
