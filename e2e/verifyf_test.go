package e2e_test

import (
	"encoding/json"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/tenantkit/tenantkit/internal/testkit"
)

// verify -f and userload -c are one engine: on every file of a corpus of
// bad files they must name the same records (FILE:LINE:COL) and exit alike.
//
// The schema is unlike the fixtures': Northwind-like snake_case tables, text
// keys (customer_id varchar(5)), an int foreign key ship_via, and the tenant
// column "company" pointing at the tenant table "company".
const northwindSchema = `
CREATE TABLE company (company_id int PRIMARY KEY, company_name text NOT NULL UNIQUE, parent_id int REFERENCES company,
	service_provider boolean NOT NULL DEFAULT false);
INSERT INTO company VALUES (1, 'Host', NULL, true), (2, 'Northwind', 1, false), (3, 'Contoso', 1, false);
CREATE TABLE shippers (shipper_id int PRIMARY KEY, company_name varchar(40) NOT NULL, phone varchar(24), company int REFERENCES company);
INSERT INTO shippers VALUES (1, 'Speedy Express', '(503) 555-9831', NULL), (2, 'United Package', NULL, 2), (3, 'Federal Shipping', NULL, 3);
CREATE TABLE customers (customer_id varchar(5) PRIMARY KEY, company_name varchar(40) NOT NULL, country text,
	company int REFERENCES company);
INSERT INTO customers VALUES ('ALFKI', 'Alfreds Futterkiste', 'Germany', 2), ('ANATR', 'Ana Trujillo', 'Mexico', 2), ('BONAP', 'Bon app''', 'France', 3);
CREATE TABLE orders (order_id serial PRIMARY KEY, customer_id varchar(5) REFERENCES customers, ship_via int REFERENCES shippers,
	order_date date, freight numeric(10,2) CHECK (freight >= 0), company int REFERENCES company);
INSERT INTO orders (customer_id, ship_via, order_date, freight, company) VALUES ('ALFKI', 1, '1996-07-04', 32.38, 2), ('BONAP', 3, '1996-07-05', 11.61, 3);`

const northwindOverlay = `<Schema tenantColumn="company">
  <Tenants table="company" name="company_name"/>
  <Object name="customers" table="customers" tenancy="required"/>
  <Object name="orders" table="orders" tenancy="required"/>
  <Object name="shippers" table="shippers" tenancy="optional"/>
</Schema>`

// northwindCorpus: each file and the lines (of its records or headers)
// both commands must name; tenant is -t.
var northwindCorpus = []struct {
	name   string
	tenant string
	file   string
	lines  []int // the lines named; nil: the file passes
	code   int
}{
	{name: "dangling references (issue 20)", file: `TABLE orders
    order_id customer_id ship_via order_date freight company
    { "101", "ALFKI", "1", "1996-08-01", "1.50", "2" }
    { "102", "NOONE", "1", "1996-08-01", "1.50", "2" }
    { "103", "ALFKI", "9", "1996-08-01", "1.50", "2" }
`, lines: []int{4, 5}, code: 1},
	{name: "bad values", file: `TABLE orders
    order_id customer_id ship_via order_date freight company
    { "101", "ALFKI", "1", "1996-13-01", "1.50", "2" }
    { "102", "ALFKI", "one", "1996-08-01", "1.50", "2" }
    { "103", "ALFKI", "1", "1996-08-01", "12345678901.00", "2" }
    { "104", "ALFKI", "1", "1996-08-01", "1.50", "2" }
`, lines: []int{3, 4, 5}, code: 1},
	{name: "too long for varchar", file: `TABLE customers
    customer_id company_name company
    { "TOOLONG", "Too long a key", "2" }
    { "OK1", "` + strings.Repeat("x", 41) + `", "2" }
    { "OK2", "fits", "2" }
`, lines: []int{3, 4}, code: 1},
	{name: "NULL in NOT NULL", file: `TABLE customers
    customer_id company_name country company
    { "NEW1", NULL, "Spain", "2" }
    { "NEW2", "Galería", NULL, "2" }
`, lines: []int{3}, code: 1},
	{name: "missing tenant", file: `TABLE orders
    order_id customer_id ship_via company
    { "101", "ALFKI", "1", NULL }
    { "102", "ALFKI", "1", "2" }
TABLE customers
    customer_id company_name
    { "NEW1", "No tenant column" }
`, lines: []int{3, 7}, code: 1},
	{name: "reference rule with -t", tenant: "Northwind", file: `TABLE orders
    order_id customer_id ship_via
    { "101", "ALFKI", "1" }
    { "102", "BONAP", "1" }
    { "103", "ANATR", "3" }
    { "104", "ANATR", "2" }
`, lines: []int{4, 5}, code: 1},
	{name: "reference rule: tenant in the file", file: `TABLE orders
    order_id customer_id ship_via company
    { "101", "BONAP", "3", "3" }
    { "102", "BONAP", "2", "3" }
`, lines: []int{4}, code: 1},
	{name: "duplicate keys in the file", file: `TABLE customers
    customer_id company_name company
    { "DUP", "first", "2" }
    { "UNIQ", "only", "2" }
    { "DUP", "second", "2" }
`, lines: []int{5}, code: 1},
	{name: "check constraint", file: `TABLE orders
    order_id customer_id freight company
    { "101", "ALFKI", "-1", "2" }
    { "102", "ALFKI", "1", "2" }
`, lines: []int{3}, code: 1},
	{name: "a NUL in a value", file: `TABLE customers
    customer_id company_name company
    { "NUL1", "Alf\0000x", "2" }
    { "NUL2", "clean", "2" }
`, lines: []int{3}, code: 1},
	{name: "parents of the same file and a rejected parent", file: `TABLE orders
    order_id customer_id ship_via company
    { "101", "NEWC", "1", "2" }
    { "102", "BADC", "1", "2" }
TABLE customers
    customer_id company_name company
    { "NEWC", "New customer", "2" }
    { "BADC", NULL, "2" }
`, lines: []int{4, 8}, code: 1},
	{name: "empty section", file: `TABLE shippers
    shipper_id company_name
TABLE orders
    order_id customer_id company
    { "101", "NOONE", "2" }
`, lines: []int{5}, code: 1},
	{name: "clean file", file: `TABLE customers
    customer_id company_name company
    { "NEWC", "New customer", "2" }
    { "ALFKI", "Alfreds Futterkiste GmbH", "2" }
TABLE orders
    order_id customer_id ship_via company
    { "101", "NEWC", "2", "2" }
`, code: 0},
	{name: "unknown table", file: `TABLE order_details
    order_id product_id
    { "1", "1" }
`, lines: []int{1}, code: 2},
	{name: "unknown column", file: `TABLE orders
    order_id shipped_via company
    { "101", "1", "2" }
`, lines: []int{1}, code: 2},
	{name: "unknown table: empty section", file: `TABLE order_details
    order_id product_id
`, lines: []int{1}, code: 2},
}

// positionRE finds the FILE:LINE:COL a line starts with.
var positionRE = regexp.MustCompile(`^(?:tenantkit: )?(\S+?):(\d+):(\d+): `)

func TestVerifyFilesAgreesWithUserload(t *testing.T) {
	template := testkit.NewDB(t)
	template.Exec(t, northwindSchema)
	overlay := testkit.WriteFile(t, "overlay.xml", northwindOverlay)
	for _, c := range northwindCorpus {
		t.Run(c.name, func(t *testing.T) {
			db := testkit.CloneDB(t, template)
			file := testkit.WriteFile(t, "northwind.dat", c.file)
			args := []string{"--schema", overlay, "-f", file}
			if c.tenant != "" {
				args = append(args, "-t", c.tenant)
			}
			var want []string
			for _, l := range c.lines {
				want = append(want, file+":"+strconv.Itoa(l))
			}

			// -v names every rejected record (stderr sums up records
			// rejected only with a record they reference); stderr names
			// the sections userload cannot load.
			ul := testkit.Run(t, db, append([]string{"userload", "-c", "-v"}, args...)...)
			var ulLines []string
			for _, l := range strings.Split(ul.Stdout, "\n") {
				if m := positionRE.FindStringSubmatch(l); m != nil && m[1] == file && strings.Contains(l, ": reject ") {
					ulLines = append(ulLines, m[1]+":"+m[2])
				}
			}
			if ul.Code == 2 {
				for _, l := range strings.Split(ul.Stderr, "\n") {
					if m := positionRE.FindStringSubmatch(l); m != nil && m[1] == file {
						ulLines = append(ulLines, m[1]+":"+m[2])
					}
				}
			}
			ulLines = uniqueSorted(ulLines)

			vf := testkit.Run(t, db, append([]string{"verify", "--json", "--sample", "1000"}, args...)...)
			var rep struct {
				Findings []struct {
					Check   string
					Samples []string
				}
			}
			var vfLines []string
			if err := json.Unmarshal([]byte(vf.Stdout), &rep); err != nil {
				t.Fatalf("verify -f: exit %d, %v\n%s%s", vf.Code, err, vf.Stdout, vf.Stderr)
			}
			for _, f := range rep.Findings {
				for _, s := range f.Samples {
					if m := positionRE.FindStringSubmatch(s); m != nil {
						vfLines = append(vfLines, m[1]+":"+m[2])
					} else {
						t.Errorf("verify -f: %s sample without a position: %q", f.Check, s)
					}
				}
			}
			vfLines = uniqueSorted(vfLines)

			if ul.Code != c.code || !slices.Equal(ulLines, want) {
				t.Errorf("userload -c: exit %d, lines %q; want exit %d, lines %q\n%s", ul.Code, ulLines, c.code, want, ul.Stderr)
			}
			if vf.Code != ul.Code || !slices.Equal(vfLines, ulLines) {
				t.Errorf("verify -f: exit %d, lines %q; userload -c: exit %d, lines %q\n%s%s", vf.Code, vfLines, ul.Code, ulLines, vf.Stdout, vf.Stderr)
			}
		})
	}
}

func uniqueSorted(s []string) []string {
	slices.Sort(s)
	return slices.Compact(s)
}

// TestVerifyFilesChangesNothing: verify -f (like userload -c) runs
// userload's changes in a transaction that is rolled back: rows, and the
// sequences behind the keys the file gives, are as they were (userload
// itself moves orders' sequence to order_id 5000; setval is not rolled
// back, so a check must not call it).
func TestVerifyFilesChangesNothing(t *testing.T) {
	db := testkit.NewDB(t)
	db.Exec(t, northwindSchema)
	overlay := testkit.WriteFile(t, "overlay.xml", northwindOverlay)
	file := testkit.WriteFile(t, "northwind.dat", `TABLE customers
    customer_id company_name company
    { "NEWC", "New customer", "2" }
    { "ALFKI", "Alfreds Futterkiste GmbH", "2" }
TABLE orders
    order_id customer_id ship_via freight company
    { "5000", "NEWC", "2", "3.00", "2" }
    { "1", "ALFKI", "1", "99.00", "2" }
`)
	state := func() []string {
		var s []string
		for _, q := range []string{
			"SELECT count(*) || ' ' || md5(string_agg(c::text, ',' ORDER BY customer_id)) FROM customers c",
			"SELECT count(*) || ' ' || md5(string_agg(o::text, ',' ORDER BY order_id)) FROM orders o",
			"SELECT last_value || ' ' || is_called FROM orders_order_id_seq",
		} {
			s = append(s, db.Value(t, q))
		}
		return s
	}
	before := state()
	res := testkit.Run(t, db, "verify", "--schema", overlay, "-f", file)
	if res.Code != 0 {
		t.Fatalf("verify -f: exit %d\n%s%s", res.Code, res.Stdout, res.Stderr)
	}
	if after := state(); !slices.Equal(after, before) {
		t.Errorf("verify -f changed the database: before %q, after %q", before, after)
	}
	if res := testkit.Run(t, db, "userload", "-c", "-q", "--schema", overlay, "-f", file); res.Code != 0 {
		t.Fatalf("userload -c: exit %d\n%s", res.Code, res.Stderr)
	}
	if after := state(); !slices.Equal(after, before) {
		t.Errorf("userload -c changed the database: before %q, after %q", before, after)
	}
	// The same file loads, and moves the sequence.
	if res := testkit.Run(t, db, "userload", "-q", "--schema", overlay, "-f", file); res.Code != 0 {
		t.Fatalf("userload: exit %d\n%s", res.Code, res.Stderr)
	}
	if got := db.Value(t, "SELECT last_value FROM orders_order_id_seq"); got != "5000" {
		t.Errorf("after userload the sequence is at %s, want 5000", got)
	}
}
