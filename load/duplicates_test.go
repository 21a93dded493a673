package load_test

import (
	"strings"
	"testing"

	"github.com/tenantkit/tenantkit/internal/testkit"
)

// TestDuplicatesWithinTheFilesNameBothRecords: records of one run that
// repeat a unique key are rejected naming the first record, whether the
// key is the match key or another unique constraint (which the database
// reported as "Key (…)=(…) already exists", as though a row held it), on
// an empty table (the fast path) and on one with rows (issue 21, point 8).
// Northwind's categories, whose names are unique.
func TestDuplicatesWithinTheFilesNameBothRecords(t *testing.T) {
	db := testkit.NewNorthwindDB(t)
	db.Exec(t, `CREATE TABLE categories (category_id smallint PRIMARY KEY, category_name varchar(15) NOT NULL UNIQUE, description text)`)
	f := write(t, "categories.dat", `TABLE categories
    category_id category_name description
    { "1", "Beverages", "Soft drinks, coffees, teas" }
    { "2", "Condiments", NULL }
    { "3", "Beverages", "Beers and ales" }
    { "2", "Confections", NULL }
`)
	for _, args := range [][]string{{"-f", f}, {"-i", "-f", f}} {
		for _, rows := range []string{"empty", "with rows"} {
			if rows == "with rows" {
				db.Exec(t, `INSERT INTO categories VALUES (8, 'Seafood', NULL) ON CONFLICT DO NOTHING`)
			}
			res := userload(t, db, 1, append([]string{"--quiet"}, args...)...)
			want := f + `:5:5: categories: duplicate value (category_name)=(Beverages) of a unique constraint in the loaded data (first at ` + f + `:3)
` + f + `:6:5: categories: duplicate key (category_id)=(2) in the loaded data (first at ` + f + `:4)
`
			if !strings.HasPrefix(res.Stderr, want) || strings.Contains(res.Stderr, "already exists") {
				t.Errorf("%v, table %s: stderr\n%s\nwant\n%s", args, rows, res.Stderr, want)
			}
		}
	}
	wantRows(t, db, "SELECT count(*) FROM categories", "1")
}
