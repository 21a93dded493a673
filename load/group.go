package load

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/tenantkit/tenantkit/datafile"
	"github.com/tenantkit/tenantkit/internal/fault"
	"github.com/tenantkit/tenantkit/internal/sqlq"
	"github.com/tenantkit/tenantkit/schema"
)

// auxColumns are the staging columns before the file's values: the record's
// run-wide number, file index, line and column.
const auxColumns = 4

// maxTableColumns is PostgreSQL's limit on the columns of a table, which
// the staging tables must respect too.
const maxTableColumns = 1600

// group gathers the sections of one table with the same columns: they share
// a staging table and are applied together.
type group struct {
	id   int
	obj  *schema.Object
	cols []*schema.Column
	// key holds the indexes in cols of the match key; nil when the file
	// holds no key and every record is an insert.
	key []int
	// keyUnique says the database enforces the key (primary key or unique
	// constraint), so a COPY straight into the table catches duplicates.
	keyUnique bool
	// Records copied into the typed staging table (text COPY), into the
	// text staging table (binary COPY, cast later) and straight into the
	// target table.
	typedRows, textStaged, fast int64
	hasStage                    bool
	// hasMatches says the match table was built (see findMatches).
	hasMatches bool
	// indexed says the typed table has its index on _n (failure path).
	indexed bool
	counts  *TableCounts
	// stampIdx is the position in cols of the tenant column filled with
	// stamp (the tenant of -t); -1 when the group is not stamped.
	stampIdx int
	stamp    datafile.Value
	// shared marks a group of SHARED sections: inserted only where the
	// database lacks the row (see shared.go).
	shared bool
}

// staged reports records waiting in staging tables.
func (g *group) staged() bool { return g.typedRows+g.textStaged > 0 }

// auxAndValueColumns are the staging tables' columns.
func (g *group) auxAndValueColumns() []string {
	cols := []string{"_n", "_f", "_l", "_c"}
	for i := range g.cols {
		cols = append(cols, col(i))
	}
	return cols
}

// name of the group's temporary tables: s = staging (text), t = typed, m = matches.
func (g *group) stage() string { return fmt.Sprintf("tk_s%d", g.id) }
func (g *group) typed() string { return fmt.Sprintf("tk_t%d", g.id) }
func (g *group) match() string { return fmt.Sprintf("tk_m%d", g.id) }

// col is the staging/typed column holding file column i.
func col(i int) string { return "c" + strconv.Itoa(i) }

func (g *group) signature() string {
	names := make([]string, len(g.cols))
	for i, c := range g.cols {
		names[i] = c.Name
	}
	sig := g.obj.Ident() + "\x00" + strings.Join(names, "\x00")
	if g.shared {
		sig += "\x00SHARED"
	}
	return sig
}

func (g *group) columnNames() []string {
	names := make([]string, len(g.cols))
	for i, c := range g.cols {
		names[i] = c.Name
	}
	return names
}

// quotedColumns is the target column list for SQL.
func (g *group) quotedColumns() string {
	q := make([]string, len(g.cols))
	for i, c := range g.cols {
		q[i] = sqlq.Ident(c.Name)
	}
	return strings.Join(q, ", ")
}

// keyNames is the key's column names, comma-separated, for messages.
func (g *group) keyNames() string { return g.columnList(g.key) }

// columnList names the group's columns at positions idx.
func (g *group) columnList(idx []int) string {
	names := make([]string, len(idx))
	for i, k := range idx {
		names[i] = g.cols[k].Name
	}
	return strings.Join(names, ", ")
}

// keyJoin is the condition matching target rows t to typed rows s.
func (g *group) keyJoin(t, s string) string {
	conds := make([]string, len(g.key))
	for i, k := range g.key {
		conds[i] = fmt.Sprintf("%s.%s = %s.%s", t, sqlq.Ident(g.cols[k].Name), s, col(k))
	}
	return strings.Join(conds, " AND ")
}

// keyColumnList lists the key's staging columns, each after sep, with prefix.
func (g *group) keyColumnList(prefix, sep string) string {
	var b strings.Builder
	for _, k := range g.key {
		b.WriteString(sep + prefix + col(k))
	}
	return b.String()
}

// keyText is an SQL expression showing a record's key as (a, b)=(1, 2).
func (g *group) keyText(s string) string { return g.valuesText(s, g.key) }

// valuesText is the SQL text "(a, b)=(1, x)" of the columns at positions
// idx of record s.
func (g *group) valuesText(s string, idx []int) string {
	vals := make([]string, len(idx))
	for i, k := range idx {
		vals[i] = fmt.Sprintf("coalesce(%s.%s::text, 'NULL')", s, col(k))
	}
	return fmt.Sprintf("%s || concat_ws(', ', %s) || ')'", sqlq.Lit("("+g.columnList(idx)+")=("), strings.Join(vals, ", "))
}

// chooseKey picks the match key of a section (SPEC §4): --key, else the
// object's match key among the file's columns (schema.Object.MatchKeyAmong).
// A --key or overlay key with columns missing is bad input.
func chooseKey(obj *schema.Object, cols []*schema.Column, flagKey []string, where string) ([]int, bool, error) {
	index := func(names []string) []int {
		var idx []int
		for _, n := range names {
			i := slices.IndexFunc(cols, func(c *schema.Column) bool { return c.Name == n })
			if i < 0 {
				return nil
			}
			idx = append(idx, i)
		}
		return idx
	}
	for _, named := range []struct {
		names []string
		what  string
	}{{flagKey, "Options.Key"}, {obj.Key, "the schema overlay's key"}} {
		if len(named.names) == 0 {
			continue
		}
		for _, n := range named.names {
			if obj.Column(n) == nil {
				return nil, false, fault.NotFoundf("%s: %s: table %q has no column %q", where, named.what, obj.Table, n)
			}
		}
		idx := index(named.names)
		if idx == nil {
			return nil, false, fault.Usagef("%s: table %q: the match key (%s, from %s) is not among the file's columns",
				where, obj.Table, strings.Join(named.names, ", "), named.what)
		}
		return idx, obj.IsUnique(named.names), nil
	}
	names := make([]string, len(cols))
	for i, c := range cols {
		names[i] = c.Name
	}
	if k := obj.MatchKeyAmong(names); k != nil {
		return index(k), true, nil
	}
	return nil, false, nil
}

var typmodType = regexp.MustCompile(`^(character varying|character|bit varying|bit)\((\d+)\)(\[\])*$`)

// castType is the type a staged text value is cast to. It is the column's
// type, except that length-limited character and bit types lose their
// length: an explicit cast would silently truncate, where the assignment to
// the column raises an error (and lengthLimit finds those values first).
func castType(c *schema.Column) string {
	m := typmodType.FindStringSubmatch(c.Type)
	if m == nil {
		return c.Type
	}
	base := map[string]string{"character varying": "varchar", "character": "bpchar", "bit varying": "varbit", "bit": "varbit"}[m[1]]
	return base + m[3]
}

// lengthLimit is the maximum length of a character column's values, 0 when none.
func lengthLimit(c *schema.Column) int {
	m := typmodType.FindStringSubmatch(c.Type)
	if m == nil || m[3] != "" || strings.HasPrefix(m[1], "bit") {
		return 0
	}
	n, _ := strconv.Atoi(m[2])
	return n
}

// castCannotFail reports types every text value converts to.
func castCannotFail(c *schema.Column) bool {
	switch castType(c) {
	case "text", "varchar", "character varying", "bpchar":
		return true
	}
	return false
}
