package extract_test

import (
	"strings"
	"testing"

	"github.com/tenantkit/tenantkit/internal/testkit"
)

// TestSQLThatWritesPrintsNothing: a --sql query that would write, refused
// by the read-only transaction, writes nothing to standard output (no
// TABLE header) and says that the query writes and what (issue 21, point
// 8: "cannot execute SELECT" hid the DELETE). Northwind's shape.
func TestSQLThatWritesPrintsNothing(t *testing.T) {
	db := testkit.NewNorthwindDB(t)
	db.Exec(t, "CREATE SEQUENCE order_ids")
	for _, tc := range []struct{ sql, msg string }{
		{"with x as (delete from employees returning *) select * from x", "--sql: the query writes (DELETE on employees); extract runs it in a read-only transaction, which refuses that\n"},
		{"WITH u AS (UPDATE region SET tenant = 1 RETURNING region_id) SELECT * FROM u", "--sql: the query writes (UPDATE on region)"},
		{"select * from employees for update", "--sql: the query writes (row locks: FOR UPDATE or FOR SHARE)"},
		{"select nextval('order_ids') AS n, employee_id from employees", "--sql: the query writes, and extract runs it in a read-only transaction: cannot execute nextval() in a read-only transaction\n"},
	} {
		res := testkit.Run(t, db, "extract", "--sql", tc.sql)
		if res.Code != 2 || res.Stdout != "" || !strings.Contains(res.Stderr, tc.msg) {
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want exit 2, nothing on stdout and %q", tc.sql, res.Code, res.Stdout, res.Stderr, tc.msg)
		}
	}
	if n := db.Value(t, "SELECT count(*) FROM employees"); n != "3" {
		t.Errorf("%s employees left", n)
	}
	// A query without rows still writes its header.
	res := testkit.Run(t, db, "extract", "--sql", "select employee_id, last_name from employees where false")
	if res.Code != 0 || res.Stdout != "TABLE employees\n    employee_id last_name\n" {
		t.Errorf("empty query: exit %d, stdout %q, stderr %q", res.Code, res.Stdout, res.Stderr)
	}
}
