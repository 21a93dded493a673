package settenant

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/tenantkit/tenantkit/internal/testkit"
	"github.com/tenantkit/tenantkit/schema"
)

const employeeTenants = `SELECT employee_id, coalesce(tenant::text, '-') FROM employees ORDER BY employee_id`

// brelFile is a settenant file with one BREL rule on employees.
func brelFile(t *testing.T, attrs, source, where string) string {
	t.Helper()
	if where != "" {
		where = "<Where>" + where + "</Where>"
	}
	return writeConfig(t, fmt.Sprintf(`<SetTenant>
  <Object name="employees">
    <TenantRule type="BREL"%s>%s</TenantRule>%s
  </Object>
</SetTenant>`, attrs, source, where))
}

// runBREL runs a file on the Northwind shape (no overlay) and returns the
// result after a JSON round trip, as --json prints it.
func runBREL(t *testing.T, db *testkit.DB, so schema.Options, file string, opts Options) *Result {
	t.Helper()
	res, err := runIn(t, db, so, file, opts)
	if err != nil {
		t.Fatalf("Run %+v: %v", opts, err)
	}
	return jsonRoundTrip(t, res)
}

func votes(vs ...any) []Vote {
	var out []Vote
	for i := 0; i < len(vs); i += 2 {
		out = append(out, Vote{Tenant: vs[i].(string), Referrers: int64(vs[i+1].(int))})
	}
	return out
}

// TestBRELNorthwind gives employees the tenant of the regions their
// territories are in (employee_territories.employee_id, then
// territory_id.region_id): agreeing, disagreeing, tied, missing and
// untenanted referrers, with agree="all" and agree="majority", reported,
// previewed, batched and rerun.
func TestBRELNorthwind(t *testing.T) {
	const source = "employee_territories.employee_id/territory_id.region_id"
	tests := []struct {
		name    string
		attrs   string
		tenants string
		counts  Counts
		sample  []Untenanted
		// The link rows, untenanted, reference employees that now have a
		// tenant: the reference rule's incoming conflicts.
		conflicts []Conflict
	}{{
		name: "all",
		// 1 and 10 (was West) agree on East; 6's untenanted referrer casts
		// no vote; 9 (North) keeps its tenant though its referrers disagree.
		tenants: "1=3 2=- 3=- 4=- 5=- 6=2 7=- 8=- 9=4 10=3",
		counts: Counts{Matched: 10, Reassigned: 1, Kept: 1,
			Untenanted: Reasons{NoReferrers: 1, UntenantedReferrers: 2, ReferrersDisagree: 3}},
		sample: []Untenanted{
			{Key: "2", Reason: reasonReferrersDisagree, Votes: votes("2", 1, "3", 1)},
			{Key: "3", Reason: reasonReferrersDisagree, Votes: votes("2", 2, "3", 1)},
			{Key: "4", Reason: reasonNoReferrers},
			{Key: "5", Reason: reasonUntenantedReferrers},
			{Key: "7", Reason: reasonUntenantedReferrers},
			{Key: "8", Reason: reasonReferrersDisagree, Votes: votes("2", 1, "3", 1, "4", 1)},
		},
		conflicts: []Conflict{{Srel: "employee_territories.employee_id → employees", Direction: "incoming", Rows: 6}},
	}, {
		name:    "majority",
		attrs:   ` agree="majority"`,
		tenants: "1=3 2=- 3=2 4=- 5=- 6=2 7=- 8=- 9=4 10=3",
		counts: Counts{Matched: 10, Reassigned: 1, Kept: 1,
			Untenanted: Reasons{NoReferrers: 1, UntenantedReferrers: 2, ReferrersTie: 2}},
		sample: []Untenanted{
			{Key: "2", Reason: reasonReferrersTie, Votes: votes("2", 1, "3", 1)},
			{Key: "4", Reason: reasonNoReferrers},
			{Key: "5", Reason: reasonUntenantedReferrers},
			{Key: "7", Reason: reasonUntenantedReferrers},
			{Key: "8", Reason: reasonReferrersTie, Votes: votes("2", 1, "3", 1, "4", 1)},
		},
		conflicts: []Conflict{{Srel: "employee_territories.employee_id → employees", Direction: "incoming", Rows: 9}},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := testkit.NewNorthwindTerritoriesDB(t)
			file := brelFile(t, tt.attrs, source, "")
			before := tenants(t, db, employeeTenants)
			// -c reports what the run does and changes nothing.
			check := runBREL(t, db, schema.Options{}, file, Options{Check: true})
			if after := tenants(t, db, employeeTenants); after != before {
				t.Errorf("-c changed employees: %s", after)
			}
			res := runBREL(t, db, schema.Options{}, file, Options{Report: true})
			if got := tenants(t, db, employeeTenants); got != tt.tenants {
				t.Errorf("employees %s\nwant      %s", got, tt.tenants)
			}
			want := tt.counts
			want.SampleKey, want.Sample, want.Conflicts = []string{"employee_id"}, tt.sample, tt.conflicts
			r := res.Rules[0]
			updated := want.Matched - want.Kept - want.Untenanted.Total()
			if r.Updated != updated || !reflect.DeepEqual(*r.Counts, want) {
				t.Errorf("report: updated %d %+v\nwant updated %d %+v", r.Updated, *r.Counts, updated, want)
			}
			if c := check.Rules[0]; c.Updated != r.Updated || !reflect.DeepEqual(c.Counts, r.Counts) {
				t.Errorf("-c reported %+v, the run %+v", c.Counts, r.Counts)
			}
			if wantAgree := map[string]Agreement{"all": AgreeAll, "majority": AgreeMajority}[tt.name]; r.Agree != wantAgree || r.Type != BREL || r.Source != source {
				t.Errorf("rule %s %s agree %q", r.Type, r.Source, r.Agree)
			}
			// A rerun changes nothing: the rows it tenanted are unchanged.
			again := runBREL(t, db, schema.Options{}, file, Options{Report: true})
			if a := again.Rules[0]; a.Updated != 0 || a.Unchanged != updated || a.Kept != want.Kept || a.Untenanted != want.Untenanted {
				t.Errorf("rerun: %+v", *a.Counts)
			}
			if got := tenants(t, db, employeeTenants); got != tt.tenants {
				t.Errorf("rerun changed employees: %s", got)
			}
			// Batches of 3 keys give the same tenants and counts.
			batched := testkit.NewNorthwindTerritoriesDB(t)
			br := runBREL(t, batched, schema.Options{}, file, Options{Report: true, BatchSize: 3})
			if got := tenants(t, batched, employeeTenants); got != tt.tenants {
				t.Errorf("batched: employees %s", got)
			}
			if b := br.Rules[0]; b.Updated != updated || !reflect.DeepEqual(*b.Counts, want) {
				t.Errorf("batched report %+v", *b.Counts)
			}
			// Without a report, the plain UPDATE gives the same tenants.
			plain := testkit.NewNorthwindTerritoriesDB(t)
			if pr := runBREL(t, plain, schema.Options{}, file, Options{}); pr.Updated != updated {
				t.Errorf("plain run updated %d, want %d", pr.Updated, updated)
			}
			if got := tenants(t, plain, employeeTenants); got != tt.tenants {
				t.Errorf("plain run: employees %s", got)
			}
		})
	}
}

// TestBRELText checks the report people read and the Where of a BREL rule.
func TestBRELText(t *testing.T) {
	db := testkit.NewNorthwindTerritoriesDB(t)
	file := brelFile(t, "", "employee_territories.employee_id / territory_id.region_id", "tenant IS NULL AND employee_id BETWEEN 1 AND 8")
	res, err := runIn(t, db, schema.Options{}, file, Options{Report: true, Sample: 2})
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	if err := res.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	want := "rule 1 (line 2): employees ← BREL employee_territories.employee_id / territory_id.region_id where tenant IS NULL AND employee_id BETWEEN 1 AND 8\n" +
		"  matched 8, updated 2 (0 had another tenant), unchanged 0, kept their tenant 0\n" +
		"  left without a tenant 6: no referrers 1, referrers have no tenant 2, referrers disagree 3\n" +
		"  rows left without a tenant (employee_id, first 2):\n" +
		"    2\treferrers disagree: 2 (1 referrer), 3 (1 referrer)\n" +
		"    3\treferrers disagree: 2 (2 referrers), 3 (1 referrer)\n" +
		"  reference rule broken through employee_territories.employee_id → employees: 4 rows (rows of other tenants that reference updated rows)\n"
	if b.String() != want {
		t.Errorf("output\n%s\nwant\n%s", b.String(), want)
	}
	if got, want := tenants(t, db, employeeTenants), "1=3 2=- 3=- 4=- 5=- 6=2 7=- 8=- 9=4 10=2"; got != want {
		t.Errorf("employees %s\nwant      %s", got, want)
	}
}

// TestBRELOwnTenant reads the referrers' own tenant column (no path after
// the back reference), composite keys, and a tenant column not called
// tenant: warehouses take the owner their bins agree on.
func TestBRELOwnTenant(t *testing.T) {
	db := testkit.NewDB(t)
	db.Exec(t, `CREATE TABLE account (id integer PRIMARY KEY, name text NOT NULL UNIQUE, parent integer REFERENCES account,
		subtenants_allowed boolean NOT NULL DEFAULT true, active boolean NOT NULL DEFAULT true,
		service_provider boolean NOT NULL DEFAULT false, depth integer);
	INSERT INTO account VALUES (1, 'SP', NULL, true, true, true, 0), (2, 'A', 1, true, true, false, 1), (3, 'B', 1, true, true, false, 1);
	CREATE TABLE warehouse (site text, code integer, owned_by integer REFERENCES account, PRIMARY KEY (site, code));
	INSERT INTO warehouse VALUES ('x', 1, NULL), ('x', 2, NULL), ('y', 1, NULL), ('y', 2, 3);
	CREATE TABLE bin (bin_id integer PRIMARY KEY, site text, code integer, owned_by integer REFERENCES account,
		CONSTRAINT bin_wh FOREIGN KEY (site, code) REFERENCES warehouse);
	INSERT INTO bin VALUES (1, 'x', 1, 2), (2, 'x', 1, 2), (3, 'x', 1, NULL), (4, 'x', 2, 2), (5, 'x', 2, 3),
		(6, 'y', NULL, 3), (7, 'y', 2, 2)`)
	file := writeConfig(t, `<SetTenant>
  <Object name="warehouse"><TenantRule type="BREL">bin.bin_wh</TenantRule></Object>
</SetTenant>`)
	so := schema.Options{TenantColumn: "owned_by"}
	res := runBREL(t, db, so, file, Options{Report: true})
	const wh = `SELECT site || code, coalesce(owned_by::text, '-') FROM warehouse ORDER BY site, code`
	// x1: 2, 2 and an untenanted bin; x2: 2 against 3; y1: only a bin
	// whose reference is half NULL, so none; y2: reassigned from 3 to 2.
	if got, want := tenants(t, db, wh), "x1=2 x2=- y1=- y2=2"; got != want {
		t.Errorf("warehouses %s\nwant       %s", got, want)
	}
	r := res.Rules[0]
	want := Counts{Matched: 4, Reassigned: 1, Untenanted: Reasons{NoReferrers: 1, ReferrersDisagree: 1},
		SampleKey: []string{"site", "code"},
		// Bin 3, without an owner, references a warehouse that now has one.
		Conflicts: []Conflict{{Srel: "bin.bin_wh → warehouse", Direction: "incoming", Rows: 1}},
		Sample: []Untenanted{
			{Key: "(x,2)", Reason: reasonReferrersDisagree, Votes: votes("2", 1, "3", 1)},
			{Key: "(y,1)", Reason: reasonNoReferrers},
		}}
	if r.Updated != 2 || !reflect.DeepEqual(*r.Counts, want) {
		t.Errorf("report: updated %d %+v\nwant %+v", r.Updated, *r.Counts, want)
	}
	if again := runBREL(t, db, so, file, Options{Report: true}); again.Updated != 0 || again.Rules[0].Unchanged != 2 {
		t.Errorf("rerun: %+v", *again.Rules[0].Counts)
	}
	// In batches of one composite key, each reading only its own bins.
	db.Exec(t, `UPDATE warehouse SET owned_by = CASE site || code WHEN 'y2' THEN 3 END`)
	if res := runBREL(t, db, so, file, Options{Report: true, BatchSize: 1}); !reflect.DeepEqual(*res.Rules[0].Counts, want) {
		t.Errorf("batched report %+v", *res.Rules[0].Counts)
	}
	if got, want := tenants(t, db, wh), "x1=2 x2=- y1=- y2=2"; got != want {
		t.Errorf("batched: warehouses %s", got)
	}
}

// TestBRELErrors checks that BREL rules that do not resolve stop the run
// with exit 2 at FILE:LINE:COL before anything changes (the first rule
// would update rows).
func TestBRELErrors(t *testing.T) {
	db := testkit.NewNorthwindTerritoriesDB(t)
	const file = `<SetTenant>
  <Object name="territories"><TenantRule type="SREL">region_id</TenantRule></Object>
  <Object name="%s">
    <TenantRule type="%s"%s>%s</TenantRule>
  </Object>
</SetTenant>`
	tests := []struct {
		name, object, typ, attrs, source string
		want                             string
	}{
		{"not at this object", "employees", "BREL", "", "employee_territories.territory_id",
			`:4:5: BREL "employee_territories.territory_id": employee_territories.territory_id points at object "territories", not at "employees": a BREL rule names an SREL of another object that references the rule's own object`},
		{"no attribute", "employees", "BREL", "", "employee_territories",
			`:4:5: BREL "employee_territories": name the referencing object and its SREL that points at "employees" as object.attribute (then /path to follow it further)`},
		{"unknown object", "employees", "BREL", "", "nosuch.employee_id", `:4:5: BREL "nosuch.employee_id": unknown object "nosuch"`},
		{"unknown attribute", "employees", "BREL", "", "employee_territories.nosuch",
			`:4:5: BREL "employee_territories.nosuch": object "employee_territories" has no attribute "nosuch"`},
		{"plain column", "region", "BREL", "", "territories.territory_description",
			`:4:5: BREL "territories.territory_description": attribute "territory_description" of object "territories" is not an SREL`},
		{"bad far path", "employees", "BREL", "", "employee_territories.employee_id/territory_id.nosuch",
			`:4:5: SREL path "territory_id.nosuch": object "territories" has no attribute "nosuch"`},
		{"far path to nothing", "employees", "BREL", "", "employee_territories.employee_id/",
			`:4:5: BREL "employee_territories.employee_id/": nothing after "/"`},
		{"agree on SREL", "employee_territories", "SREL", ` agree="majority"`, "territory_id",
			`:4:29: agree="majority" is for BREL rules, not type="SREL"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := writeConfig(t, fmt.Sprintf(file, tt.object, tt.typ, tt.attrs, tt.source))
			res := testkit.Run(t, db, "settenant", "-f", f, "-r")
			if res.Code != 2 || !strings.Contains(res.Stderr, f+tt.want) {
				t.Errorf("exit %d, stderr %q\nwant exit 2 and %q", res.Code, res.Stderr, f+tt.want)
			}
			if n := db.Value(t, "SELECT count(*) FROM territories WHERE tenant IS NOT NULL"); n != "0" {
				t.Errorf("%s territories were tenanted", n)
			}
		})
	}
}

// TestBRELSelf reads back references of the rule's own object: a manager
// takes the tenant its reports agree on (employees.reports_to), as the
// statement found them when it started.
func TestBRELSelf(t *testing.T) {
	db := testkit.NewNorthwindTerritoriesDB(t)
	db.Exec(t, `UPDATE employees SET tenant = CASE employee_id WHEN 1 THEN 3 WHEN 6 THEN 2 WHEN 10 THEN 3 ELSE tenant END`)
	file := brelFile(t, "", "employees.reports_to", "")
	res := runBREL(t, db, schema.Options{}, file, Options{Report: true})
	// 2 manages 1 (East) and three without a tenant; 5 manages 6 (West),
	// 9 (North) and 10 (East).
	if got, want := tenants(t, db, employeeTenants), "1=3 2=3 3=- 4=- 5=- 6=2 7=- 8=- 9=4 10=3"; got != want {
		t.Errorf("employees %s\nwant      %s", got, want)
	}
	r := res.Rules[0]
	if want := (Reasons{NoReferrers: 4, ReferrersDisagree: 1}); r.Updated != 1 || r.Kept != 4 || r.Untenanted != want {
		t.Errorf("report: updated %d %+v", r.Updated, *r.Counts)
	}
	if len(r.Sample) != 5 || r.Sample[2].Key != "5" || !reflect.DeepEqual(r.Sample[2].Votes, votes("2", 1, "3", 1, "4", 1)) {
		t.Errorf("sample %+v", r.Sample)
	}
}
