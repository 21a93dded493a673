package buildtenant

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/tenantkit/tenantkit/internal/sqlcond"
	"github.com/tenantkit/tenantkit/internal/sqlq"
	"github.com/tenantkit/tenantkit/schema"
	"github.com/tenantkit/tenantkit/tenant"
)

// workTable is the temporary table a run copies the selected rows into. Its
// columns take their types from the source and tenant tables themselves
// (CREATE TABLE AS … WITH NO DATA), so every key type works:
//
//	seq            the row's number in this run
//	r1…            the row's key (its primary key, or its ctid)
//	p1…            the row's parent reference (the <Parent> SREL's columns)
//	f1…            what parent references point at (the SREL's target columns)
//	v1…            the mapped attributes, already in the tenant columns' types
//	tenant         the row's tenant: new, or adopted
//	parent_seq     the row whose new tenant is the parent, or
//	parent_tenant  the existing tenant that is the parent
//	lvl, depth     level in this run (parents first) and depth in the hierarchy
//	adopted        the row is linked to an existing tenant of the same name
//	has_children   the row's new tenant gets new children
type workTable struct {
	tt *schema.TenantTable
	b  *boundObject
	// rowKey are the source columns that identify a row.
	rowKey []string
}

// workTableName names the work table (in pg_temp, dropped at commit).
const workTableName = "tk_buildtenant_rows"

func newWorkTable(tt *schema.TenantTable, b *boundObject) *workTable {
	w := &workTable{tt: tt, b: b, rowKey: b.rowKey}
	if len(w.rowKey) == 0 {
		w.rowKey = []string{"ctid"}
	}
	return w
}

// sourceCol is a column of the object's table qualified by qual; ctid is a
// system column and stays unquoted.
func sourceCol(qual, name string) string {
	if name == "ctid" {
		return qual + ".ctid"
	}
	return qual + "." + sqlq.Ident(name)
}

// list renders f(i, name) for each name, comma-separated.
func list(names []string, f func(i int, name string) string) string {
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = f(i+1, n)
	}
	return strings.Join(parts, ", ")
}

// numbered lists alias.prefix1, alias.prefix2, … for n columns.
func numbered(alias, prefix string, n int) string {
	parts := make([]string, n)
	for i := range parts {
		parts[i] = fmt.Sprintf("%s%s%d", alias, prefix, i+1)
	}
	return strings.Join(parts, ", ")
}

func (w *workTable) mappedTo() []string {
	out := make([]string, len(w.b.maps))
	for i, m := range w.b.maps {
		out[i] = m.to
	}
	return out
}

func (w *workTable) mappedFrom() []string {
	out := make([]string, len(w.b.maps))
	for i, m := range w.b.maps {
		out[i] = m.from
	}
	return out
}

func (w *workTable) parentCols() (refs, targets []string) {
	if w.b.parent == nil {
		return nil, nil
	}
	return w.b.parent.Columns, w.b.parent.TargetColumns
}

// nameCol is the work table column holding the tenant name.
func (w *workTable) nameCol(alias string) string { return fmt.Sprintf("%sv%d", alias, w.b.name+1) }

// The tenant table's columns, quoted.
func (w *workTable) key() string     { return sqlq.Ident(w.tt.Key) }
func (w *workTable) name() string    { return sqlq.Ident(w.tt.Name) }
func (w *workTable) tenantC() string { return sqlq.Ident(w.b.obj.TenantColumn) }

func (w *workTable) dropSQL() string { return "DROP TABLE IF EXISTS pg_temp." + workTableName }

func (w *workTable) createSQL() string {
	refs, targets := w.parentCols()
	cols := []string{"0::bigint AS seq"}
	cols = append(cols, list(w.rowKey, func(i int, n string) string { return fmt.Sprintf("%s AS r%d", sourceCol("o", n), i) }))
	if refs != nil {
		cols = append(cols,
			list(refs, func(i int, n string) string { return fmt.Sprintf("o.%s AS p%d", sqlq.Ident(n), i) }),
			list(targets, func(i int, n string) string { return fmt.Sprintf("o.%s AS f%d", sqlq.Ident(n), i) }))
	}
	cols = append(cols,
		list(w.mappedTo(), func(i int, n string) string { return fmt.Sprintf("t.%s AS v%d", sqlq.Ident(n), i) }),
		fmt.Sprintf("t.%s AS tenant, t.%s AS parent_tenant", w.key(), w.key()),
		"0::bigint AS parent_seq, 0 AS lvl, 0 AS depth, false AS adopted, false AS has_children")
	// Free space in every page keeps the many updates of unindexed columns
	// HOT: no index entries to write.
	return fmt.Sprintf("CREATE TEMP TABLE %s WITH (fillfactor = 50) ON COMMIT DROP AS SELECT %s FROM %s o, %s t WITH NO DATA",
		workTableName, strings.Join(cols, ", "), w.b.obj.Ident(), w.tt.Ident())
}

// fillSQL selects the rows: no tenant yet, and the Where condition, which is
// evaluated over the object's table alone (no alias, no other table in
// FROM), so its unqualified names are that table's columns. A row whose
// parent row is selected too gets that row's number as parent_seq; a row
// that is its own parent is a root.
func (w *workTable) fillSQL() string {
	refs, targets := w.parentCols()
	q := w.b.obj.Ident()
	keyCols := list(w.rowKey, func(_ int, n string) string { return sourceCol(q, n) })
	sel := []string{
		fmt.Sprintf("row_number() OVER (ORDER BY %s) AS seq", keyCols),
		list(w.rowKey, func(i int, n string) string { return fmt.Sprintf("%s AS r%d", sourceCol(q, n), i) }),
	}
	cols := []string{"seq", numbered("", "r", len(w.rowKey))}
	parentSeq, join := "NULL::bigint", ""
	if refs != nil {
		sel = append(sel,
			list(refs, func(i int, n string) string { return fmt.Sprintf("%s AS p%d", sourceCol(q, n), i) }),
			list(targets, func(i int, n string) string { return fmt.Sprintf("%s AS f%d", sourceCol(q, n), i) }))
		cols = append(cols, numbered("", "p", len(refs)), numbered("", "f", len(targets)))
		parentSeq = "pr.seq"
		join = fmt.Sprintf(" LEFT JOIN sel pr ON (%s) = (%s) AND pr.seq <> s.seq", numbered("pr.", "f", len(targets)), numbered("s.", "p", len(refs)))
	}
	sel = append(sel, list(w.mappedFrom(), func(i int, n string) string { return fmt.Sprintf("%s AS v%d", sourceCol(q, n), i) }))
	cols = append(cols, numbered("", "v", len(w.b.maps)))
	where := sourceCol(q, w.b.obj.TenantColumn) + " IS NULL"
	if w.b.rule.Where != "" {
		where += " AND " + sqlcond.Wrap(w.b.rule.Where)
	}
	scols := strings.Join(cols, ", ")
	return fmt.Sprintf("WITH sel AS (SELECT %s FROM %s WHERE %s)\nINSERT INTO %s (%s, parent_seq, adopted) SELECT %s, %s, false FROM sel s%s",
		strings.Join(sel, ", "), q, where,
		workTableName, scols, "s."+strings.ReplaceAll(scols, ", ", ", s."), parentSeq, join)
}

// indexSQL indexes the work table on the columns the later statements
// join on, and gathers statistics (temporary tables get none otherwise),
// so that each statement stays a hash join or an index lookup per row.
func (w *workTable) indexSQL() []string {
	t := workTableName
	out := []string{
		"CREATE UNIQUE INDEX ON " + t + " (seq)",
		"CREATE INDEX ON " + t + " (" + w.nameCol("") + ")",
	}
	if refs, _ := w.parentCols(); refs != nil {
		out = append(out,
			"CREATE INDEX ON "+t+" (parent_seq)",
			"CREATE INDEX ON "+t+" ("+numbered("", "f", len(refs))+")")
	}
	return append(out, "ANALYZE "+t)
}

// labelExpr renders a row's key as one text value, parts separated by \x1f.
func (w *workTable) labelExpr(alias string) string {
	return fmt.Sprintf("array_to_string(ARRAY[%s], chr(31))",
		list(w.rowKey, func(i int, _ string) string { return fmt.Sprintf("coalesce(%sr%d::text, 'NULL')", alias, i) }))
}

// rowLabel turns a labelExpr value into "id=4" or "server=a path=\"/x y\"".
func (w *workTable) rowLabel(label string) string {
	parts := strings.Split(label, "\x1f")
	out := make([]string, len(parts))
	for i, p := range parts {
		col := "?"
		if i < len(w.rowKey) {
			col = w.rowKey[i]
		}
		if p == "" || strings.ContainsAny(p, " \t\r\n\"=,\\") || !strconv.CanBackquote(p) {
			p = strconv.Quote(p)
		}
		out[i] = col + "=" + p
	}
	return strings.Join(out, " ")
}

// Check queries return (key text, first $1 row labels, row count) groups,
// at most $2 of them.
const groupSelect = "SELECT %s, (array_agg(%s ORDER BY c.seq))[1:$1::int], count(*) FROM " + workTableName + " c "

func (w *workTable) group(key string) string {
	return fmt.Sprintf(groupSelect, key, w.labelExpr("c."))
}

func (w *workTable) nullNamesSQL() string {
	return w.group("NULL::text") + "WHERE " + w.nameCol("c.") + " IS NULL HAVING count(*) > 0 LIMIT $2::int"
}

func (w *workTable) existingNamesSQL() string {
	n := w.nameCol("c.")
	return w.group(n+"::text") + fmt.Sprintf("WHERE EXISTS (SELECT FROM %s t WHERE t.%s = %s) GROUP BY %s ORDER BY min(c.seq) LIMIT $2::int",
		w.tt.Ident(), w.name(), n, n)
}

func (w *workTable) ambiguousNamesSQL() string {
	n := w.nameCol("c.")
	return w.group(n+"::text") + fmt.Sprintf("WHERE (SELECT count(*) FROM %s t WHERE t.%s = %s) > 1 GROUP BY %s ORDER BY min(c.seq) LIMIT $2::int",
		w.tt.Ident(), w.name(), n, n)
}

func (w *workTable) adoptSQL() string {
	return fmt.Sprintf("UPDATE %s c SET adopted = true, tenant = t.%s FROM %s t WHERE t.%s = %s",
		workTableName, w.key(), w.tt.Ident(), w.name(), w.nameCol("c."))
}

func (w *workTable) duplicateNamesSQL() string {
	n := w.nameCol("c.")
	return w.group(n+"::text") + fmt.Sprintf("WHERE NOT c.adopted AND %s IS NOT NULL GROUP BY %s HAVING count(*) > 1 ORDER BY min(c.seq) LIMIT $2::int", n, n)
}

// ancestorSQL handles rows whose parent row is not selected (filtered out by
// Where): it walks up the parent references through such rows to the
// nearest one that is selected or already has a tenant. A row left without
// either (no parent, a dangling reference, a cycle of unselected rows) goes
// under the service provider. A row that is its own parent is a root.
func (w *workTable) ancestorSQL() string {
	refs, targets := w.parentCols()
	o := w.b.obj.Ident()
	n := len(refs)
	k := numbered("", "k", n)
	oRefs := list(refs, func(_ int, c string) string { return "o." + sqlq.Ident(c) })
	oTargets := list(targets, func(_ int, c string) string { return "o." + sqlq.Ident(c) })
	return sqlq.Expand(ancestorTemplate, sqlq.Names{
		"k": k, "c_refs": numbered("c.", "p", n), "c_targets": numbered("c.", "f", n),
		"o_refs": oRefs, "source": o, "o_targets": oTargets, "w_k": numbered("w.", "k", n), "tenant": w.tenantC(), "p_targets": numbered("p.", "f", n)})
}

// ancestorTemplate walks from each row with an unselected parent: walk's
// columns k hold the reference being followed (c_refs, then o_refs: the
// parent's own reference), and o_targets are the key a reference matches.
const ancestorTemplate = `WITH RECURSIVE walk(seq, hops, {k}) AS (
	SELECT c.seq, 1, {c_refs} FROM ` + workTableName + ` c
	WHERE c.parent_seq IS NULL AND ({c_refs}) IS NOT NULL AND ({c_refs}) IS DISTINCT FROM ({c_targets})
	UNION ALL
	SELECT w.seq, w.hops + 1, {o_refs} FROM walk w JOIN {source} o ON ({o_targets}) = ({w_k})
	WHERE o.{tenant} IS NULL AND ({o_refs}) IS NOT NULL
	  AND NOT EXISTS (SELECT FROM ` + workTableName + ` p WHERE ({p_targets}) = ({o_targets}))
) CYCLE {k} SET on_cycle USING path,
anchor AS (
	SELECT DISTINCT ON (w.seq) w.seq, p.seq AS pseq, o.{tenant} AS ptenant
	FROM walk w JOIN {source} o ON ({o_targets}) = ({w_k})
	LEFT JOIN ` + workTableName + ` p ON ({p_targets}) = ({o_targets})
	WHERE o.{tenant} IS NOT NULL OR p.seq IS NOT NULL
	ORDER BY w.seq, w.hops)
UPDATE ` + workTableName + ` c SET parent_seq = a.pseq, parent_tenant = a.ptenant FROM anchor a WHERE a.seq = c.seq`

// serviceProviderSQL puts the remaining roots under the service provider ($1).
func (w *workTable) serviceProviderSQL() string {
	return fmt.Sprintf(`UPDATE %s c SET parent_tenant = sp.%s FROM (SELECT t.%s FROM %s t WHERE t.%s::text = $1) sp
WHERE c.parent_seq IS NULL AND c.parent_tenant IS NULL`, workTableName, w.key(), w.key(), w.tt.Ident(), w.key())
}

// levelSQL numbers the levels from the roots down, notes which rows'
// tenants get children (a join, not a per-row EXISTS: without an index on
// parent_seq, or with a hash too big for work_mem, that is quadratic), and
// computes each new tenant's depth from its parent's true depth (its number of ancestors, not
// a depth column that may be stale). Rows on a cycle of parent rows are
// never reached and keep a NULL level.
func (w *workTable) levelSQL() string {
	return "WITH RECURSIVE " + tenant.AncestorsCTE(w.tt, "anc") + levelTail
}

const levelTail = `,
known(tenant, depth) AS (SELECT tenant, count(*)::int - 1 FROM anc GROUP BY tenant),
lv(seq, lvl, depth) AS (
	SELECT c.seq, 0, CASE WHEN c.adopted THEN coalesce(ka.depth, 0) ELSE coalesce(kp.depth + 1, 0) END
	FROM ` + workTableName + ` c LEFT JOIN known kp ON kp.tenant = c.parent_tenant LEFT JOIN known ka ON ka.tenant = c.tenant
	WHERE c.parent_seq IS NULL
	UNION ALL
	SELECT c.seq, lv.lvl + 1, CASE WHEN c.adopted THEN coalesce(ka.depth, 0) ELSE lv.depth + 1 END
	FROM lv JOIN ` + workTableName + ` c ON c.parent_seq = lv.seq LEFT JOIN known ka ON ka.tenant = c.tenant),
kids(seq) AS (SELECT DISTINCT parent_seq FROM ` + workTableName + ` WHERE parent_seq IS NOT NULL AND NOT adopted)
UPDATE ` + workTableName + ` c SET lvl = lv.lvl, depth = lv.depth, has_children = kids.seq IS NOT NULL
FROM lv LEFT JOIN kids ON kids.seq = lv.seq WHERE lv.seq = c.seq`

func (w *workTable) cycleSQL() string {
	return w.group("NULL::text") + "WHERE c.lvl IS NULL HAVING count(*) > 0 LIMIT $2::int"
}

// tooDeepSQL finds new tenants at depth $3 (= maxDepth) or more: depth 0 is
// the first level.
func (w *workTable) tooDeepSQL() string {
	return w.group("c.depth::text") + "WHERE NOT c.adopted AND c.depth >= $3::int GROUP BY c.depth ORDER BY c.depth LIMIT $2::int"
}

// existingParent is the existing tenant a new tenant would go under, or NULL
// when its parent is another new tenant.
const existingParent = "CASE WHEN c.parent_seq IS NULL THEN c.parent_tenant WHEN p.adopted THEN p.tenant END"

func (w *workTable) noSubtenantsSQL() string {
	return w.group("pt."+w.name()+"::text") + fmt.Sprintf(`LEFT JOIN %s p ON p.seq = c.parent_seq
JOIN %s pt ON pt.%s = %s
WHERE NOT c.adopted AND pt.%s IS NOT TRUE
GROUP BY pt.%s, pt.%s ORDER BY min(c.seq) LIMIT $2::int`,
		workTableName, w.tt.Ident(), w.key(), existingParent, sqlq.Ident(w.tt.SubtenantsAllowed), w.key(), w.name())
}

func (w *workTable) tenantCountSQL() string {
	return fmt.Sprintf("SELECT (SELECT count(*) FROM %s), (SELECT count(*) FROM %s WHERE NOT adopted)", w.tt.Ident(), workTableName)
}

func (w *workTable) levelsSQL() string {
	return "SELECT coalesce(max(lvl), 0), count(*) FILTER (WHERE NOT adopted), count(*) FILTER (WHERE adopted) FROM " + workTableName
}

func (w *workTable) levelCountSQL() string {
	return "SELECT count(*) FROM " + workTableName + " WHERE lvl = $1 AND NOT adopted"
}

// insertSQL creates the new tenants of level $1 and records each one's key
// in the work table, matched by name.
func (w *workTable) insertSQL() string {
	cols := list(w.mappedTo(), func(_ int, n string) string { return sqlq.Ident(n) })
	vals := numbered("c.", "v", len(w.b.maps))
	if w.tt.Parent != "" {
		cols += ", " + sqlq.Ident(w.tt.Parent)
		vals += ", coalesce(c.parent_tenant, p.tenant)"
	}
	if w.tt.Depth != "" {
		cols += ", " + sqlq.Ident(w.tt.Depth)
		vals += ", c.depth"
	}
	if s := w.tt.SubtenantsAllowed; s != "" {
		// A new tenant that gets children must allow subtenants; the others
		// take the column's default.
		def := "NULL"
		if c := w.tt.Object.Column(s); c != nil && c.Default != "" {
			def = c.Default
		}
		cols += ", " + sqlq.Ident(s)
		vals += fmt.Sprintf(", CASE WHEN c.has_children THEN true ELSE %s END", def)
	}
	return sqlq.Expand(insertTemplate, sqlq.Names{
		"tenants": w.tt.Ident(), "cols": cols, "vals": vals, "key": w.key(), "name": w.name(), "c_name": w.nameCol("c.")})
}

const insertTemplate = `WITH ins AS (
	INSERT INTO {tenants} ({cols})
	SELECT {vals} FROM ` + workTableName + ` c LEFT JOIN ` + workTableName + ` p ON p.seq = c.parent_seq
	WHERE c.lvl = $1 AND NOT c.adopted
	ORDER BY c.seq
	RETURNING {key}, {name})
UPDATE ` + workTableName + ` c SET tenant = ins.{key} FROM ins WHERE {c_name} = ins.{name} AND c.lvl = $1 AND NOT c.adopted`

// linkSQL sets every selected row's tenant, in one statement.
func (w *workTable) linkSQL() string {
	stamp := ""
	if set := w.b.obj.ChangeStamp("o"); set != "" {
		stamp = ", " + set
	}
	return fmt.Sprintf("UPDATE %s o SET %s = c.tenant%s FROM %s c WHERE (%s) = (%s)",
		w.b.obj.Ident(), w.tenantC(), stamp, workTableName,
		list(w.rowKey, func(_ int, n string) string { return sourceCol("o", n) }),
		numbered("c.", "r", len(w.rowKey)))
}

func (w *workTable) planSQL() string {
	parent := "NULL::text"
	if w.tt.Parent != "" {
		parent = sqlq.Expand(planParentTemplate, sqlq.Names{"name": w.name(), "tenants": w.tt.Ident(), "key": w.key(), "parent": sqlq.Ident(w.tt.Parent)})
	}
	return fmt.Sprintf("SELECT %s, %s::text, %s, c.depth, c.adopted FROM %s c LEFT JOIN %s p ON p.seq = c.parent_seq ORDER BY c.lvl, c.seq",
		w.labelExpr("c."), w.nameCol("c."), parent, workTableName, workTableName)
}

// planParentTemplate is the name of the tenant a planned row goes under:
// an adopted row's tenant's parent, a new tenant's parent.
const planParentTemplate = "(SELECT pt.{name}::text FROM {tenants} pt WHERE pt.{key} = CASE WHEN c.adopted THEN (SELECT a.{parent} FROM {tenants} a WHERE a.{key} = c.tenant) ELSE coalesce(c.parent_tenant, p.tenant) END)"
