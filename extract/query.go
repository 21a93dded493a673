package extract

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/tenantkit/tenantkit/internal/dbconn"
	"github.com/tenantkit/tenantkit/internal/fault"
	"github.com/tenantkit/tenantkit/internal/sqlq"
)

// readStatements are the keywords a read-only query may start with.
var readStatements = []string{"SELECT", "WITH", "VALUES", "TABLE"}

// querySection builds the section for --sql. The query must be one
// statement (the extended protocol refuses several) starting with SELECT,
// WITH, VALUES or TABLE; it runs in a READ ONLY transaction, so whatever
// would still write (a data-modifying WITH, nextval, SELECT … FOR UPDATE)
// fails with exit 2 as well.
// querySQLPath is the search_path of a --sql query: the person's own
// statement, so its unqualified names find the objects' schema (after the
// system catalog); the transaction is read-only. pinnedPath restores the
// session's own: tenantkit's statements never run with the objects' schema
// on the path, where a function planted there could match a call better
// than pg_catalog's.
const (
	querySQLPath = `SELECT pg_catalog.set_config('search_path', 'pg_catalog, ' || pg_catalog.quote_ident($1) || ', pg_temp', true)`
	pinnedPath   = `SELECT pg_catalog.set_config('search_path', '` + dbconn.SearchPath + `', true)`
)

// inQueryPath runs fn, which runs sec's query, with the query's search_path
// when sec is a --sql section, and restores the pinned one afterwards. fn's
// error comes back as it is (the transaction is then aborted and rolls
// back, path and all).
func inQueryPath(ctx context.Context, tx pgx.Tx, sec *section, fn func() error) error {
	if sec.pathSchema == "" {
		return fn()
	}
	if _, err := tx.Exec(ctx, querySQLPath, sec.pathSchema); err != nil {
		return fault.Failure(err)
	}
	if err := fn(); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, pinnedPath); err != nil {
		return fault.Failure(err)
	}
	return nil
}

func querySection(ctx context.Context, tx pgx.Tx, sql, name, dbSchema string) (*section, error) {
	sql = strings.TrimRight(strings.TrimSpace(sql), "; \t\r\n")
	first := strings.ToUpper(firstWord(sql))
	ok := false
	for _, k := range readStatements {
		ok = ok || first == k
	}
	if !ok {
		return nil, fault.Usagef("Options.SQL: only a single read-only SELECT can be extracted, not %q", firstWord(sql))
	}
	sec := &section{query: sql, what: "Options.SQL", pathSchema: dbSchema}
	var desc *pgconn.StatementDescription
	err := inQueryPath(ctx, tx, sec, func() (err error) {
		// The plan names a write before anything would run it.
		if w := planWrites(ctx, tx, sql); w != "" {
			return fault.Usagef("Options.SQL: the query writes (%s); extract runs it in a read-only transaction, which refuses that", w)
		}
		if desc, err = tx.Conn().PgConn().Prepare(ctx, "", sql, nil); err != nil {
			return queryError(sec, err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(desc.Fields) == 0 {
		return nil, fault.Usagef("Options.SQL: the statement returns no columns")
	}
	oids := make([]uint32, len(desc.Fields))
	mods := make([]int32, len(desc.Fields))
	for i, f := range desc.Fields {
		sec.table.Columns = append(sec.table.Columns, f.Name)
		oids[i], mods[i] = f.DataTypeOID, f.TypeModifier
	}
	if err := tx.QueryRow(ctx, typeNamesSQL, oids, mods).Scan(&sec.table.Types); err != nil {
		return nil, fault.Failure(err)
	}
	if name == "" {
		if name, err = sourceTable(ctx, tx, desc.Fields); err != nil {
			return nil, err
		}
	}
	sec.table.Name = name
	return sec, nil
}

const typeNamesSQL = `SELECT array_agg(format_type(t.oid, nullif(t.mod, -1)) ORDER BY t.n)
FROM unnest($1::oid[], $2::int[]) WITH ORDINALITY AS t(oid, mod, n)`

const tableNameSQL = `SELECT relname FROM pg_class WHERE oid = $1`

// sourceTable names the result of a query after the table all its columns
// come from, so that it loads back into that table; else "query".
func sourceTable(ctx context.Context, tx pgx.Tx, fields []pgconn.FieldDescription) (string, error) {
	oid := fields[0].TableOID
	for _, f := range fields {
		if f.TableOID == 0 || f.TableOID != oid {
			return "query", nil
		}
	}
	var name string
	if err := tx.QueryRow(ctx, tableNameSQL, oid).Scan(&name); err != nil {
		return "", fault.Failure(err)
	}
	return name, nil
}

// firstWord returns the first keyword of sql, skipping white space,
// comments and opening parentheses.
func firstWord(sql string) string {
	s := sql
	for {
		s = strings.TrimLeft(s, " \t\r\n(")
		switch {
		case strings.HasPrefix(s, "--"):
			i := strings.IndexByte(s, '\n')
			if i < 0 {
				return ""
			}
			s = s[i+1:]
		case strings.HasPrefix(s, "/*"):
			i := strings.Index(s, "*/")
			if i < 0 {
				return ""
			}
			s = s[i+2:]
		default:
			end := strings.IndexFunc(s, func(r rune) bool {
				return !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9')
			})
			if end < 0 {
				return s
			}
			return s[:end]
		}
	}
}

// planWrites names what the plan of a query would write: a data-modifying
// WITH ("DELETE on employees"), row locks (SELECT … FOR UPDATE). The
// read-only transaction refuses them only when the query runs, with a
// message about the query's outer command ("cannot execute SELECT in a
// read-only transaction") that hides the write; EXPLAIN finds them
// before anything is written. Writes a plan does not show (nextval…)
// and a plan that cannot be read give "".
func planWrites(ctx context.Context, tx pgx.Tx, sql string) string {
	var out []byte
	// In a savepoint: a plan the server refuses must not abort the run.
	if err := sqlq.Savepoint(ctx, tx, func(sp pgx.Tx) error {
		return sp.QueryRow(ctx, "EXPLAIN (FORMAT JSON) "+sql).Scan(&out)
	}); err != nil {
		return ""
	}
	var plans []struct {
		Plan planNode `json:"Plan"`
	}
	if err := json.Unmarshal(out, &plans); err != nil || len(plans) == 0 {
		return ""
	}
	var writes []string
	plans[0].Plan.writes(&writes)
	return strings.Join(writes, ", ")
}

// planNode is the part of an EXPLAIN (FORMAT JSON) node planWrites reads.
type planNode struct {
	NodeType  string     `json:"Node Type"`
	Operation string     `json:"Operation"`
	Relation  string     `json:"Relation Name"`
	Plans     []planNode `json:"Plans"`
}

func (n *planNode) writes(out *[]string) {
	switch n.NodeType {
	case "ModifyTable":
		*out = append(*out, fmt.Sprintf("%s on %s", strings.ToUpper(n.Operation), n.Relation))
	case "LockRows":
		*out = append(*out, "row locks: FOR UPDATE or FOR SHARE")
	}
	for i := range n.Plans {
		n.Plans[i].writes(out)
	}
}
