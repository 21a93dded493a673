package extract_test

import (
	"testing"

	"github.com/tenantkit/tenantkit/extract"
	"github.com/tenantkit/tenantkit/internal/testkit"
	"github.com/tenantkit/tenantkit/schema"
)

// TestSortedScanFollowsTheStorageOrder: --sorted reads a table stored in
// random key order (a uuid key) with a scan and a sort, and one stored in
// key order (a key inserted ascending, or descending) with the planner's
// own choice; a table never analyzed counts as unordered. Some rows of a
// table (a condition), and a query, keep the planner's choice.
func TestSortedScanFollowsTheStorageOrder(t *testing.T) {
	db := testkit.NewDB(t)
	db.Exec(t, `CREATE SCHEMA "Stock";
		CREATE TABLE "Stock".parcel ("Code" uuid PRIMARY KEY DEFAULT gen_random_uuid(), weight int);
		INSERT INTO "Stock".parcel (weight) SELECT g FROM generate_series(1, 20000) g;
		CREATE TABLE "Stock".ledger (line bigint PRIMARY KEY, memo text);
		INSERT INTO "Stock".ledger SELECT g, 'x' FROM generate_series(1, 20000) g;
		CREATE TABLE "Stock".countdown (n int, label text, PRIMARY KEY (n, label));
		INSERT INTO "Stock".countdown SELECT 20001 - g, 'y' FROM generate_series(1, 20000) g;
		CREATE TABLE "Stock".fresh (k int PRIMARY KEY);
		ANALYZE "Stock".parcel, "Stock".ledger, "Stock".countdown`)
	ctx, s := loadSchema(t, db, schema.Options{DBSchema: "Stock"})
	pool := db.Session(t)
	cases := []struct {
		table string
		whole bool
		want  string
	}{{"parcel", true, "off"}, {"ledger", true, "on"}, {"countdown", true, "on"}, {"fresh", true, "off"}, {"parcel", false, "on"}}
	for _, c := range cases {
		table, want := c.table, c.want
		obj := s.Object(table)
		if obj == nil {
			t.Fatalf("no object %s", table)
		}
		tx, err := pool.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		// Start from the other setting, so that doing nothing fails.
		other := map[string]string{"on": "off", "off": "on"}[want]
		if _, err := tx.Exec(ctx, "SELECT set_config('enable_indexscan', $1, true)", other); err != nil {
			t.Fatal(err)
		}
		if err := extract.SortedScan(ctx, tx, obj, c.whole); err != nil {
			t.Fatalf("%s: %v", table, err)
		}
		var got string
		if err := tx.QueryRow(ctx, "SELECT current_setting('enable_indexscan')").Scan(&got); err != nil {
			t.Fatal(err)
		}
		tx.Rollback(ctx)
		if got != want {
			t.Errorf("%s (whole %v): enable_indexscan %s, want %s", table, c.whole, got, want)
		}
	}
	// A query (no object) keeps the planner's choice.
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, "SET LOCAL enable_indexscan = off"); err != nil {
		t.Fatal(err)
	}
	if err := extract.SortedScan(ctx, tx, nil, true); err != nil {
		t.Fatal(err)
	}
	var got string
	if err := tx.QueryRow(ctx, "SELECT current_setting('enable_indexscan')").Scan(&got); err != nil || got != "on" {
		t.Errorf("query: enable_indexscan %s (%v), want on", got, err)
	}
}
