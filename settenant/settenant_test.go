package settenant

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/tenantkit/tenantkit/internal/testkit"
	"github.com/tenantkit/tenantkit/schema"
	"github.com/tenantkit/tenantkit/verify"
)

// tenantsSQL creates the tenants the end-to-end tests use: the service
// provider, Acme with a subtenant, Globex and Tenant A.
const tenantsSQL = `INSERT INTO ca_tenant (id, name, parent, service_provider, subtenants_ok) VALUES
	(1, 'SP', NULL, true, true), (2, 'Acme', NULL, false, true), (3, 'Globex', NULL, false, false),
	(4, 'Tenant A', NULL, false, false), (5, 'Acme EU', 2, false, false)`

func fixtureDB(t *testing.T) *testkit.DB {
	t.Helper()
	db := testkit.NewFixtureDB(t)
	db.Exec(t, tenantsSQL)
	return db
}

// writeConfig writes a settenant file and returns its path.
func writeConfig(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "settenant.xml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// runIn calls Run in process on db as the settenant command does (Sample
// defaults to the command's 10).
func runIn(t *testing.T, db *testkit.DB, so schema.Options, file string, opts Options) (*Result, error) {
	t.Helper()
	ctx := context.Background()
	cfg, err := ParseFile(file)
	if err != nil {
		t.Fatalf("ParseFile: %v", err)
	}
	pool := db.Session(t)
	s, err := schema.Load(ctx, pool, so)
	if err != nil {
		t.Fatalf("schema.Load: %v", err)
	}
	if opts.Sample == 0 {
		opts.Sample = 10
	}
	return Run(ctx, pool, s, cfg, opts)
}

// run is runIn with the fixture overlay; an error fails the test.
func run(t *testing.T, db *testkit.DB, file string, opts Options) *Result {
	t.Helper()
	res, err := runIn(t, db, schema.Options{Overlay: testkit.Path("fixtures/schema.xml")}, file, opts)
	if err != nil {
		t.Fatalf("Run %+v: %v", opts, err)
	}
	return res
}

// settenant runs the rules and returns the text the command prints.
func settenant(t *testing.T, db *testkit.DB, file string, opts Options) string {
	t.Helper()
	var b strings.Builder
	if err := run(t, db, file, opts).WriteText(&b); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// report runs the rules and returns the result after a JSON round trip,
// as settenant --json prints it.
func report(t *testing.T, db *testkit.DB, file string, opts Options) *Result {
	t.Helper()
	return jsonRoundTrip(t, run(t, db, file, opts))
}

// jsonRoundTrip returns res as --json prints it and a reader decodes it.
func jsonRoundTrip(t *testing.T, res *Result) *Result {
	t.Helper()
	b, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	var out Result
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("decoding %s: %v", b, err)
	}
	return &out
}

func tenants(t *testing.T, db *testkit.DB, sql string) string {
	t.Helper()
	var parts []string
	for _, r := range db.Rows(t, sql) {
		parts = append(parts, strings.Join(r, "="))
	}
	return strings.Join(parts, " ")
}

const (
	contactTenants = `SELECT userid, tenant FROM ca_contact ORDER BY userid`
	orgTenants     = `SELECT id, tenant FROM ca_organization ORDER BY id`
	ticketTenants  = `SELECT ref_num, tenant FROM call_req ORDER BY ref_num`
)

// TestSeedExamples runs the two examples of the seed document: contacts
// from their organization, then the remaining organizations by name.
func TestSeedExamples(t *testing.T) {
	db := fixtureDB(t)
	db.Exec(t, `UPDATE ca_organization SET tenant = 2 WHERE id = 1; UPDATE ca_organization SET tenant = 3 WHERE id = 2`)
	file := writeConfig(t, `<SetTenant>
  <Object name="cnt"> <TenantRule type="SREL">organization</TenantRule> <Where>tenant is null</Where> </Object>
  <Object name="org"> <TenantRule type="Name">Tenant A</TenantRule> <Where>tenant is null</Where> </Object>
</SetTenant>`)
	res := settenant(t, db, file, Options{})
	want := "rule 1 (line 2): cnt ← SREL organization where tenant is null: updated 3 rows\n" +
		"rule 2 (line 3): org ← Name Tenant A where tenant is null: updated 4 rows\n" +
		"7 rows updated by 2 rules\n"
	if res != want {
		t.Errorf("output\n%s\nwant\n%s", res, want)
	}
	if got, want := tenants(t, db, contactTenants), "hscorpio=3 jdupont=NULL mbolton=NULL orphan=NULL plumbergh=NULL rrunner=2 wcoyote=2"; got != want {
		t.Errorf("contacts: %s\nwant      %s", got, want)
	}
	if got, want := tenants(t, db, orgTenants), "1=2 2=3 3=4 4=4 5=4 6=4"; got != want {
		t.Errorf("organizations: %s\nwant           %s", got, want)
	}
	// The second run tenants the contacts of the organizations the first
	// run's second rule tenanted; the third changes nothing.
	if out := report(t, db, file, Options{}); out.Updated != 3 {
		t.Errorf("second run updated %d rows, want 3", out.Updated)
	}
	before := tenants(t, db, contactTenants) + tenants(t, db, orgTenants)
	out := report(t, db, file, Options{Report: true})
	if out.Updated != 0 || out.Rules[0].Updated != 0 || out.Rules[1].Updated != 0 || out.Rules[0].Unchanged != 0 || out.Rules[0].Matched != 1 {
		t.Errorf("rerun: %+v %+v %+v", out, out.Rules[0].Counts, out.Rules[1].Counts)
	}
	if after := tenants(t, db, contactTenants) + tenants(t, db, orgTenants); after != before {
		t.Errorf("rerun changed rows:\n%s\n%s", before, after)
	}
}

// TestSRELPaths follows two- and three-hop paths.
func TestSRELPaths(t *testing.T) {
	db := fixtureDB(t)
	db.Exec(t, `UPDATE ca_organization SET tenant = CASE id WHEN 1 THEN 2 WHEN 2 THEN 3 WHEN 3 THEN 4 WHEN 4 THEN 3 END`)
	settenant(t, db, writeConfig(t, `<SetTenant><Object name="cr">
  <TenantRule type="SREL">customer.organization</TenantRule>
</Object></SetTenant>`), Options{})
	if got, want := tenants(t, db, ticketTenants), "CR-1001=2 CR-1002=3 CR-1003=4 CR-1004=4 CR-1005=3"; got != want {
		t.Errorf("tickets: %s\nwant     %s", got, want)
	}
	out := report(t, db, writeConfig(t, `<SetTenant><Object name="cr">
  <TenantRule type="SREL">customer.organization.parent_org</TenantRule>
</Object></SetTenant>`), Options{Report: true})
	r := out.Rules[0]
	// Only CR-1005's customer's organization (4) has a parent (1, Acme);
	// the others keep the tenant they have.
	if r.Matched != 5 || r.Updated != 1 || r.Reassigned != 1 || r.Kept != 4 || r.Untenanted.Total() != 0 {
		t.Errorf("three-hop report: %+v", *r.Counts)
	}
	if got, want := tenants(t, db, ticketTenants), "CR-1001=2 CR-1002=3 CR-1003=4 CR-1004=4 CR-1005=2"; got != want {
		t.Errorf("tickets: %s\nwant     %s", got, want)
	}
}

// TestRuleOrder shows that a rule sees the tenants earlier rules set.
func TestRuleOrder(t *testing.T) {
	db := fixtureDB(t)
	db.Exec(t, `UPDATE ca_organization SET tenant = 2 WHERE id IN (1, 4); UPDATE ca_organization SET tenant = 3 WHERE id = 2`)
	cnt := `<Object name="cnt"><TenantRule type="SREL">organization</TenantRule></Object>`
	cr := `<Object name="cr"><TenantRule type="SREL">customer</TenantRule></Object>`
	reset := `UPDATE ca_contact SET tenant = NULL; UPDATE call_req SET tenant = NULL`

	settenant(t, db, writeConfig(t, "<SetTenant>"+cnt+cr+"</SetTenant>"), Options{})
	if got, want := tenants(t, db, ticketTenants), "CR-1001=2 CR-1002=3 CR-1003=NULL CR-1004=NULL CR-1005=2"; got != want {
		t.Errorf("contacts first: tickets %s\nwant                    %s", got, want)
	}
	db.Exec(t, reset)
	settenant(t, db, writeConfig(t, "<SetTenant>"+cr+cnt+"</SetTenant>"), Options{})
	if got, want := tenants(t, db, ticketTenants), "CR-1001=NULL CR-1002=NULL CR-1003=NULL CR-1004=NULL CR-1005=NULL"; got != want {
		t.Errorf("tickets first: tickets %s\nwant                   %s", got, want)
	}
	if got, want := tenants(t, db, contactTenants), "hscorpio=3 jdupont=2 mbolton=NULL orphan=NULL plumbergh=NULL rrunner=2 wcoyote=2"; got != want {
		t.Errorf("tickets first: contacts %s\nwant                    %s", got, want)
	}
}

// TestWhere checks that Where selects the rows and that its unqualified
// names are the target table's, although the source table has columns of
// the same names (id, tenant, last_mod).
func TestWhere(t *testing.T) {
	db := fixtureDB(t)
	db.Exec(t, `UPDATE ca_organization SET tenant = 2 WHERE id = 1; UPDATE ca_organization SET tenant = 3 WHERE id = 2;
		UPDATE ca_contact SET tenant = 4 WHERE userid = 'hscorpio'`)
	file := writeConfig(t, `<SetTenant>
  <Object name="cnt">
    <TenantRule type="SREL">organization</TenantRule>
    <Where>tenant IS NULL AND id IS NOT NULL AND last_mod IS NOT NULL
      AND ca_contact.userid &lt;&gt; 'rrunner' -- not him
    </Where>
  </Object>
  <Object name="org">
    <TenantRule type="Name">Tenant A</TenantRule>
    <Where>tenant is null and inactive = 0 and name &lt;&gt; 'it''s; (not'</Where>
  </Object>
</SetTenant>`)
	settenant(t, db, file, Options{})
	if got, want := tenants(t, db, contactTenants), "hscorpio=4 jdupont=NULL mbolton=NULL orphan=NULL plumbergh=NULL rrunner=NULL wcoyote=2"; got != want {
		t.Errorf("contacts: %s\nwant      %s", got, want)
	}
	if got, want := tenants(t, db, orgTenants), "1=2 2=3 3=4 4=4 5=NULL 6=4"; got != want {
		t.Errorf("organizations: %s\nwant           %s", got, want)
	}
}

// reasonsSetup makes one contact of each kind for a rule that takes the
// tenant from the contact's location (an SREL with no foreign key, so a
// reference can dangle).
const reasonsSetup = `
UPDATE ca_location SET tenant = CASE id WHEN 1 THEN 2 WHEN 2 THEN 3 WHEN 4 THEN 4 END;
UPDATE ca_contact SET tenant = 2 WHERE userid IN ('rrunner', 'hscorpio'); -- unchanged; reassigned
UPDATE ca_contact SET location = 99 WHERE userid = 'jdupont';             -- dangling
UPDATE ca_contact SET tenant = 3 WHERE userid = 'orphan';                 -- kept (no location)
INSERT INTO ca_contact (userid, last_name, location) VALUES ('skipme', 'Skip', 4);`

const reasonsConfig = `<SetTenant>
  <Object name="cnt">
    <TenantRule type="SREL">location</TenantRule>
    <Where>userid &lt;&gt; 'skipme'</Where>
  </Object>
</SetTenant>`

// TestReportReasons checks every number of the report on a crafted case,
// that -c reports the same and changes nothing, and that a rerun changes
// nothing.
func TestReportReasons(t *testing.T) {
	db := fixtureDB(t)
	db.Exec(t, reasonsSetup)
	file := writeConfig(t, reasonsConfig)
	before := tenants(t, db, contactTenants)

	check := report(t, db, file, Options{Check: true})
	if after := tenants(t, db, contactTenants); after != before {
		t.Fatalf("-c changed rows:\n%s\n%s", before, after)
	}
	run := report(t, db, file, Options{Report: true})
	want := &Counts{
		Matched: 7, Unchanged: 1, Reassigned: 1, Kept: 1,
		Untenanted: Reasons{NullReference: 1, UntenantedReference: 1, DanglingReference: 1},
		SampleKey:  []string{"userid"},
		Sample: []Untenanted{
			{Key: "jdupont", Reason: reasonDanglingReference}, {Key: "mbolton", Reason: reasonNullReference}, {Key: "plumbergh", Reason: reasonUntenantedReference},
		},
		// Tickets (tenant-required) without a tenant are not public: they
		// are verify's missing-tenant rows, not reference-rule ones
		// (checked below).
		Conflicts: []Conflict{},
	}
	for name, out := range map[string]*Result{"-c": check, "-r": run} {
		r := out.Rules[0]
		if r.Updated != 2 || out.Updated != 2 || !reflect.DeepEqual(r.Counts, want) {
			t.Errorf("%s: updated %d, report %+v\nwant updated 2, report %+v", name, r.Updated, *r.Counts, *want)
		}
	}
	if !check.Check || check.Committed || run.Check || !run.Committed {
		t.Errorf("check/committed flags: -c %v/%v, -r %v/%v", check.Check, check.Committed, run.Check, run.Committed)
	}
	// The conflicts are what verify finds afterwards: none.
	ctx := context.Background()
	pool := db.Session(t)
	s, err := schema.Load(ctx, pool, schema.Options{Overlay: testkit.Path("fixtures/schema.xml")})
	if err != nil {
		t.Fatal(err)
	}
	objs, err := s.Select([]string{"cr"})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := verify.Database(ctx, pool, s, verify.Options{Objects: objs})
	if err != nil {
		t.Fatalf("verify.Database: %v", err)
	}
	var found []string
	for _, f := range rep.Findings {
		if f.Check == verify.CheckReferenceRule {
			found = append(found, fmt.Sprintf("%s.%s → %s %d", f.Object, f.Srel, f.Target, f.Count))
		}
	}
	if got := strings.Join(found, ", "); got != "" {
		t.Errorf("verify finds %q, settenant -r reported %v", got, run.Rules[0].Counts.Conflicts)
	}
	if got, want := tenants(t, db, contactTenants),
		"hscorpio=3 jdupont=NULL mbolton=NULL orphan=3 plumbergh=NULL rrunner=2 skipme=NULL wcoyote=2"; got != want {
		t.Errorf("contacts: %s\nwant      %s", got, want)
	}

	// Rerun: nothing changes; the two updated rows are now unchanged.
	res := settenant(t, db, file, Options{Report: true, Sample: 2})
	wantText := `rule 1 (line 2): cnt ← SREL location where userid <> 'skipme'
  matched 7, updated 0 (0 had another tenant), unchanged 3, kept their tenant 1
  left without a tenant 3: null reference 1, referenced row has no tenant 1, dangling reference 1
  rows left without a tenant (userid, first 2):
    jdupont	dangling reference
    mbolton	null reference
`
	if res != wantText {
		t.Errorf("rerun report\n%s\nwant\n%s", res, wantText)
	}
}

// TestBatches runs the crafted case in batches of two rows, committing each:
// same numbers, same rows.
func TestBatches(t *testing.T) {
	db := fixtureDB(t)
	db.Exec(t, reasonsSetup)
	out := report(t, db, writeConfig(t, reasonsConfig), Options{Report: true, BatchSize: 2, CommitEachRule: true, Sample: 5})
	r := out.Rules[0]
	wantReasons := Reasons{NullReference: 1, UntenantedReference: 1, DanglingReference: 1}
	if r.Matched != 7 || r.Updated != 2 || r.Unchanged != 1 || r.Kept != 1 || r.Untenanted != wantReasons || len(r.Sample) != 3 {
		t.Errorf("batched report: updated %d, %+v", r.Updated, *r.Counts)
	}
	if got, want := tenants(t, db, contactTenants),
		"hscorpio=3 jdupont=NULL mbolton=NULL orphan=3 plumbergh=NULL rrunner=2 skipme=NULL wcoyote=2"; got != want {
		t.Errorf("contacts: %s\nwant      %s", got, want)
	}
	// Without the report, batches count the updates too.
	db.Exec(t, `UPDATE ca_contact SET tenant = NULL`)
	out = report(t, db, writeConfig(t, reasonsConfig), Options{BatchSize: 3})
	if out.Updated != 3 || out.Rules[0].Counts != nil {
		t.Errorf("batched run without report: %+v", out.Rules[0])
	}
}

// TestConflicts checks that the report names references that the new
// tenants break, and not those the reference rule allows.
func TestConflicts(t *testing.T) {
	db := fixtureDB(t)
	db.Exec(t, `
UPDATE ca_contact SET tenant = 2 WHERE userid = 'wcoyote';   -- Acme
UPDATE ca_contact SET tenant = 3 WHERE userid = 'rrunner';   -- Globex
UPDATE ca_contact SET tenant = 1 WHERE userid = 'hscorpio';  -- the service provider
UPDATE call_req SET tenant = 5 WHERE ref_num = 'CR-1004';    -- Acme EU references mbolton
UPDATE call_req SET tenant = 3 WHERE ref_num = 'CR-1003';    -- Globex references plumbergh, mbolton
UPDATE call_req SET assignee = '00000000-0000-0000-0000-000000000003' WHERE ref_num = 'CR-1005'`)
	file := writeConfig(t, `<SetTenant>
  <!-- CR-1001 (customer wcoyote) becomes Acme; its assignee rrunner is Globex: outgoing conflict. -->
  <Object name="cr"><TenantRule type="SREL">customer</TenantRule><Where>ref_num = 'CR-1001'</Where></Object>
  <!-- CR-1005 becomes Acme; its assignee is the service provider's, through an eligible SREL: allowed. -->
  <Object name="cr"><TenantRule type="Name">Acme</TenantRule><Where>ref_num = 'CR-1005'</Where></Object>
  <!-- mbolton and plumbergh become Acme: CR-1004 (Acme EU, a subtenant) may see them,
       CR-1003 (Globex) may not (customer and assignee): incoming conflicts. -->
  <Object name="cnt"><TenantRule type="Name">Acme</TenantRule><Where>userid IN ('mbolton', 'plumbergh')</Where></Object>
</SetTenant>`)
	res := settenant(t, db, file, Options{Check: true})
	if !strings.Contains(res, "  reference rule broken through cr.customer → cnt: 1 row (rows of other tenants that reference updated rows)\n") {
		t.Errorf("text report lacks the incoming conflict:\n%s", res)
	}
	out := report(t, db, file, Options{Report: true})
	want := [][]Conflict{
		{{Srel: "cr.assignee → cnt", Direction: "outgoing", Rows: 1}},
		{},
		{{Srel: "cr.customer → cnt", Direction: "incoming", Rows: 1}, {Srel: "cr.assignee → cnt", Direction: "incoming", Rows: 1}},
	}
	for i, w := range want {
		if got := out.Rules[i].Conflicts; !reflect.DeepEqual(got, w) {
			t.Errorf("rule %d conflicts %+v, want %+v", i+1, got, w)
		}
	}
}

// TestSampleConfig runs the shipped fixtures/settenant.xml after the top
// organizations got their tenants, as buildtenant would leave them.
func TestSampleConfig(t *testing.T) {
	db := fixtureDB(t)
	db.Exec(t, `UPDATE ca_organization SET tenant = CASE id WHEN 1 THEN 2 WHEN 2 THEN 3 WHEN 3 THEN 4 END`)
	// The sample's Name rules use the names buildtenant gives the tenants.
	db.Exec(t, `UPDATE ca_tenant SET name = CASE id WHEN 1 THEN 'Service Provider' WHEN 4 THEN 'Initech' WHEN 5 THEN 'Acme Europe' ELSE name END`)
	out := report(t, db, testkit.Path("fixtures/settenant.xml"), Options{Report: true})
	if len(out.Rules) != 10 || out.Updated != 1+6+5+1+1+4 {
		t.Errorf("updated %d rows in %d rules, want 18 in 10", out.Updated, len(out.Rules))
	}
	if got, want := tenants(t, db, orgTenants), "1=2 2=3 3=4 4=2 5=1 6=NULL"; got != want {
		t.Errorf("organizations: %s\nwant           %s", got, want)
	}
	if got, want := tenants(t, db, `SELECT name, tenant FROM ca_location ORDER BY id`), "Acme HQ=2 Globex Campus=3 Initech Office=4 Paris=5"; got != want {
		t.Errorf("locations: %s\nwant       %s", got, want)
	}
	if got, want := tenants(t, db, contactTenants), "hscorpio=3 jdupont=2 mbolton=4 orphan=1 plumbergh=4 rrunner=2 wcoyote=2"; got != want {
		t.Errorf("contacts: %s\nwant      %s", got, want)
	}
	if got, want := tenants(t, db, ticketTenants), "CR-1001=2 CR-1002=3 CR-1003=4 CR-1004=4 CR-1005=2"; got != want {
		t.Errorf("tickets: %s\nwant     %s", got, want)
	}
}

// TestChangeColumnStamped: rows a rule gives a tenant get their change
// column moved to now, so that incremental extracts see them; rows it leaves
// alone keep theirs — in the plain statement and with the report (-r).
func TestChangeColumnStamped(t *testing.T) {
	for _, opts := range []Options{{}, {Report: true}} {
		db := fixtureDB(t)
		db.Exec(t, `UPDATE ca_organization SET tenant = CASE WHEN id IN (1, 2) THEN 2 END;
			UPDATE call_req SET last_mod = '2020-01-01 00:00:00+00'`)
		settenant(t, db, writeConfig(t, `<SetTenant><Object name="cr">
  <TenantRule type="SREL">organization</TenantRule>
</Object></SetTenant>`), opts)
		got := tenants(t, db, `SELECT ref_num, coalesce(tenant::text, '-') || ':' || (last_mod > now() - interval '1 hour') FROM call_req ORDER BY ref_num`)
		if want := "CR-1001=2:true CR-1002=2:true CR-1003=-:false CR-1004=-:false CR-1005=-:false"; got != want {
			t.Errorf("settenant %+v: tickets %s\nwant %s", opts, got, want)
		}
	}
}
