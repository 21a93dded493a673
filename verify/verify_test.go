package verify

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tenantkit/tenantkit/internal/testkit"
	"github.com/tenantkit/tenantkit/schema"
)

func TestMain(m *testing.M) { testkit.Main(m) }

// cleanFixture turns the fixture database into a clean multi-tenant one:
// SP ─ Acme ─ Acme EU, and the roots Globex, Initech and Umbrella
// (inactive, owning nothing). Every reference obeys the reference rule;
// call_req 5 (Acme EU) has an assignee of Acme (a supertenant) and
// call_req 3 (Initech) the service provider's contact as assignee (an
// eligible SREL).
const cleanFixture = `
INSERT INTO ca_tenant (id, name, parent, subtenants_ok, service_provider, tenant_depth, active) VALUES
	(1, 'SP', NULL, true, true, 0, true), (2, 'Acme', 1, true, false, 1, true), (3, 'Acme EU', 2, false, false, 2, true),
	(4, 'Globex', NULL, false, false, 0, true), (5, 'Initech', NULL, false, false, 0, true), (6, 'Umbrella', NULL, false, false, 0, false);
UPDATE ca_organization SET tenant = CASE id WHEN 1 THEN 2 WHEN 2 THEN 4 WHEN 3 THEN 5 WHEN 4 THEN 3 WHEN 5 THEN 5 WHEN 6 THEN 4 END;
UPDATE ca_location SET tenant = CASE id WHEN 1 THEN 2 WHEN 2 THEN 4 WHEN 3 THEN 5 WHEN 4 THEN 3 END;
UPDATE ca_contact SET tenant = CASE userid WHEN 'wcoyote' THEN 2 WHEN 'rrunner' THEN 2 WHEN 'hscorpio' THEN 4
	WHEN 'plumbergh' THEN 5 WHEN 'mbolton' THEN 5 WHEN 'jdupont' THEN 3 ELSE 1 END;
UPDATE call_req SET tenant = CASE id WHEN 1 THEN 2 WHEN 2 THEN 4 WHEN 3 THEN 5 WHEN 4 THEN 5 WHEN 5 THEN 3 END;
UPDATE call_req SET assignee = '00000000-0000-0000-0000-000000000007' WHERE id = 3;
UPDATE doc_repository SET tenant = 2 WHERE path = '/docs/acme';
`

type reportJSON struct {
	Violations int64 `json:"violations"`
	Checks     []struct {
		Check      string `json:"check"`
		Violations int64  `json:"violations"`
	} `json:"checks"`
	Findings []struct {
		Check   string   `json:"check"`
		Object  string   `json:"object"`
		Column  string   `json:"column"`
		Srel    string   `json:"srel"`
		Target  string   `json:"target"`
		Count   int64    `json:"count"`
		Samples []string `json:"samples"`
	} `json:"findings"`
}

// findings renders a report as "check where: count: sample | sample" lines, sorted.
func (r *reportJSON) lines() []string {
	var out []string
	for _, f := range r.Findings {
		where := f.Object
		if f.Column != "" {
			where += "." + f.Column
		}
		if f.Srel != "" {
			where += "." + f.Srel + "->" + f.Target
		}
		out = append(out, f.Check+" "+where+": "+itoa(f.Count)+": "+strings.Join(f.Samples, " | "))
	}
	sort.Strings(out)
	return out
}

func itoa(n int64) string { b, _ := json.Marshal(n); return string(b) }

// cli are the options the verify command runs Database with by default.
var cli = Options{Sample: 10, Jobs: 2}

// inProcess opens db as the command does and loads its object schema with
// overlay (a path from the repository root).
func inProcess(t *testing.T, db *testkit.DB, overlay string) (*pgxpool.Pool, *schema.Schema) {
	t.Helper()
	pool := db.Session(t)
	if !filepath.IsAbs(overlay) {
		overlay = testkit.Path(overlay)
	}
	s, err := schema.Load(context.Background(), pool, schema.Options{Overlay: overlay})
	if err != nil {
		t.Fatalf("schema.Load: %v", err)
	}
	return pool, s
}

// asJSON gives a report as verify --json prints it.
func asJSON(t *testing.T, r *Report) reportJSON {
	t.Helper()
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var rep reportJSON
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatalf("decoding %s: %v", b, err)
	}
	return rep
}

// verifyDB runs Database in process, on the objects the patterns select
// (all without), and fails the test on an error.
func verifyDB(t *testing.T, db *testkit.DB, overlay string, opts Options, objects ...string) reportJSON {
	t.Helper()
	pool, s := inProcess(t, db, overlay)
	if len(objects) > 0 {
		objs, err := s.Select(objects)
		if err != nil {
			t.Fatal(err)
		}
		opts.Objects = objs
	}
	r, err := Database(context.Background(), pool, s, opts)
	if err != nil {
		t.Fatalf("Database: %v", err)
	}
	return asJSON(t, r)
}

// verifyFiles runs Files in process; a report is wanted, and Files' error
// (sections userload cannot load) is returned beside it.
func verifyFiles(t *testing.T, db *testkit.DB, overlay string, opts FileOptions, files ...string) (reportJSON, error) {
	t.Helper()
	pool, s := inProcess(t, db, overlay)
	if opts.Sample == 0 {
		opts.Sample = 10
	}
	r, err := Files(context.Background(), pool, s, files, opts)
	if r == nil {
		t.Fatalf("Files: no report: %v", err)
	}
	return asJSON(t, r), err
}

func TestVerifyCleanFixture(t *testing.T) {
	db := testkit.NewFixtureDB(t)
	db.Exec(t, cleanFixture)
	rep := verifyDB(t, db, "fixtures/schema.xml", cli)
	if rep.Violations != 0 || len(rep.Findings) != 0 {
		t.Fatalf("clean database: %d violations: %v", rep.Violations, rep.lines())
	}
	if len(rep.Checks) != len(Checks) {
		t.Errorf("%d check totals, want %d", len(rep.Checks), len(Checks))
	}
	// The text form says so too.
	res := testkit.Run(t, db, "verify", "--schema", "fixtures/schema.xml")
	if res.Code != 0 || !strings.Contains(res.Stdout, "\nreference-rule                   0\n") || !strings.Contains(res.Stdout, "\ntotal                            0\n") {
		t.Errorf("text output, exit %d:\n%s", res.Code, res.Stdout)
	}
}

// TestVerifyProgress: a progress writer that is no terminal receives a
// timestamped line as each check starts, numbered of the total, in order
// with one job.
func TestVerifyProgress(t *testing.T) {
	db := testkit.NewFixtureDB(t)
	db.Exec(t, cleanFixture)
	pool, s := inProcess(t, db, "fixtures/schema.xml")
	var out bytes.Buffer
	r, err := Database(context.Background(), pool, s, Options{Sample: 10, Jobs: 1, Progress: &out})
	if err != nil {
		t.Fatal(err)
	}
	line := regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(Z|[+-]\d\d:\d\d) verify: check (\d+)/(\d+): (\S+) (.+)$`)
	var refRule bool
	n := 0
	for _, l := range strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n") {
		m := line.FindStringSubmatch(l)
		if m == nil {
			if !strings.Contains(l, ": done in ") {
				t.Errorf("progress line %q", l)
			}
			continue
		}
		n++
		if m[2] != strconv.Itoa(n) || m[3] != strconv.Itoa(r.Queries) {
			t.Errorf("line %q, want check %d/%d", l, n, r.Queries)
		}
		refRule = refRule || (m[4] == CheckReferenceRule && strings.HasPrefix(m[5], "cr."))
	}
	if n != r.Queries || r.Queries < 10 {
		t.Errorf("%d check lines for %d checks:\n%s", n, r.Queries, out.String())
	}
	if !refRule {
		t.Errorf("no reference-rule check of call_req (cr) named:\n%s", out.String())
	}
}

// TestVerifyPlanted plants exactly k violations of each check in the clean
// fixture and expects verify to report exactly those, with their keys.
func TestVerifyPlanted(t *testing.T) {
	dir := t.TempDir()
	overlay, err := os.ReadFile(testkit.Path("fixtures/schema.xml"))
	if err != nil {
		t.Fatal(err)
	}
	capped := filepath.Join(dir, "capped.xml")
	if err := os.WriteFile(capped, []byte(strings.Replace(string(overlay), `maxTenants="0"`, `maxTenants="4"`, 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	const (
		c1 = "00000000-0000-0000-0000-000000000001"
		c3 = "00000000-0000-0000-0000-000000000003"
		c5 = "00000000-0000-0000-0000-000000000005"
	)
	tests := []struct {
		name    string
		plant   string
		overlay string
		want    []string
	}{
		{
			name: "missing tenant, not counted again as a reference target",
			// call_req 2 (Globex) references hscorpio: that row is a
			// violation itself and is not reported as a bad target.
			plant: `UPDATE ca_contact SET tenant = NULL WHERE userid = 'hscorpio'; UPDATE call_req SET tenant = NULL WHERE id = 4`,
			want: []string{
				"missing-tenant cnt: 1: id=" + c3,
				"missing-tenant cr: 1: id=4",
			},
		},
		{
			name: "unknown tenant",
			plant: `ALTER TABLE ca_location DROP CONSTRAINT ca_location_tenant_fkey;
				UPDATE ca_location SET tenant = 99 WHERE id IN (1, 2)`,
			want: []string{"unknown-tenant loc: 2: id=1 (tenant key 99) | id=2 (tenant key 99)"},
		},
		{
			name: "inactive tenant",
			// call_req 2 (Globex) references category 3, now Umbrella's:
			// counted under inactive-tenant only.
			plant: `UPDATE doc_repository SET tenant = 6 WHERE path = '/docs/public'; UPDATE category SET tenant = 6 WHERE id = 3`,
			want: []string{
				"inactive-tenant pcat: 1: id=3 (tenant Umbrella)",
				`inactive-tenant repo: 1: server=files01 path=/docs/public (tenant Umbrella)`,
			},
		},
		{
			name: "reference rule",
			plant: `UPDATE call_req SET customer = '` + c1 + `' WHERE id = 2;                 -- Globex -> Acme
				UPDATE call_req SET customer = '00000000-0000-0000-0000-000000000007' WHERE id IN (1, 4);  -- Acme -> SP: a supertenant; Initech -> SP: not eligible
				UPDATE call_req SET assignee = '` + c3 + `' WHERE id = 4;                 -- Initech -> Globex, eligible but not SP
				UPDATE ca_contact SET location = 4 WHERE userid = 'wcoyote';               -- Acme -> Acme EU (a subtenant)
				UPDATE ca_organization SET parent_org_id = 4 WHERE id = 1;                 -- self-reference, Acme -> Acme EU
				UPDATE category SET tenant = 2 WHERE id = 3;                               -- call_req 2 (Globex) -> Acme
				UPDATE notification_rule SET category = 3 WHERE id = 2;                    -- public -> Acme`,
			want: []string{
				"reference-rule cnt.location->loc: 1: id=" + c1 + " (Acme) -> id=4 (Acme EU)",
				"reference-rule cr.assignee->cnt: 1: id=4 (Initech) -> id=" + c3 + " (Globex)",
				"reference-rule cr.category->pcat: 1: id=2 (Globex) -> id=3 (Acme)",
				"reference-rule cr.customer->cnt: 2: id=2 (Globex) -> id=" + c1 + " (Acme) | id=4 (Initech) -> id=00000000-0000-0000-0000-000000000007 (SP)",
				"reference-rule nr.category->pcat: 1: id=2 (public) -> id=3 (Acme)",
				"reference-rule org.parent_org->org: 1: id=1 (Acme) -> id=4 (Acme EU)",
			},
		},
		{
			name:  "dangling overlay references",
			plant: `UPDATE ca_contact SET location = 999 WHERE userid = 'mbolton'; UPDATE call_req SET assignee = '00000000-0000-0000-0000-0000000000ff' WHERE id = 1`,
			want: []string{
				"dangling-reference cnt.location->loc: 1: id=" + c5 + " -> location=999",
				"dangling-reference cr.assignee->cnt: 1: id=1 -> assignee=00000000-0000-0000-0000-0000000000ff",
			},
		},
		{
			name:  "second service provider",
			plant: `UPDATE ca_tenant SET service_provider = true WHERE id = 4`,
			want:  []string{"service-provider ca_tenant: 2: Globex (one of 2 service providers) | SP (one of 2 service providers)"},
		},
		{
			name:  "service provider with a parent",
			plant: `UPDATE ca_tenant SET subtenants_ok = true WHERE id = 4; UPDATE ca_tenant SET parent = 4, tenant_depth = 1 WHERE id = 1; UPDATE ca_tenant SET tenant_depth = tenant_depth + 1 WHERE id IN (2, 3)`,
			want:  []string{"service-provider ca_tenant: 1: SP (the service provider has a parent)"},
		},
		{
			name:  "cycle",
			plant: `UPDATE ca_tenant SET subtenants_ok = true WHERE id = 3; UPDATE ca_tenant SET parent = 3 WHERE id = 2`,
			want:  []string{"cycle ca_tenant: 2: Acme | Acme EU"},
		},
		{
			name: "depth 5 with cap 4",
			plant: `UPDATE ca_tenant SET subtenants_ok = true WHERE id = 3;
				INSERT INTO ca_tenant (id, name, parent, subtenants_ok, tenant_depth) VALUES (7, 'Acme Paris', 3, true, 3), (8, 'Acme Paris 1', 7, false, 4)`,
			want: []string{"depth ca_tenant: 1: Acme Paris 1 (depth 4, maxDepth 4 allows 0 to 3)"},
		},
		{
			name:  "parent without subtenants allowed",
			plant: `INSERT INTO ca_tenant (id, name, parent, tenant_depth) VALUES (7, 'Globex Labs', 4, 1)`,
			want:  []string{"subtenants-not-allowed ca_tenant: 1: Globex Labs (parent Globex)"},
		},
		{
			name:  "unknown parent",
			plant: `ALTER TABLE ca_tenant DROP CONSTRAINT ca_tenant_parent_fkey; UPDATE ca_tenant SET parent = 77 WHERE id = 5`,
			want:  []string{"unknown-parent ca_tenant: 1: Initech (parent key 77)"},
		},
		{
			name:  "stored depth",
			plant: `UPDATE ca_tenant SET tenant_depth = 5 WHERE id = 3`,
			want:  []string{"stored-depth ca_tenant: 1: Acme EU (depth 5, want 2)"},
		},
		{
			name:    "tenant cap",
			overlay: capped,
			want:    []string{"max-tenants ca_tenant: 1: 6 tenants; the cap is 4"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			db := testkit.NewFixtureDB(t)
			db.Exec(t, cleanFixture)
			if tc.plant != "" {
				db.Exec(t, tc.plant)
			}
			ov := tc.overlay
			if ov == "" {
				ov = "fixtures/schema.xml"
			}
			rep := verifyDB(t, db, ov, cli)
			if got := rep.lines(); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("findings\n got %q\nwant %q", got, tc.want)
			}
			var total int64
			for _, f := range rep.Findings {
				total += f.Count
			}
			if rep.Violations != total || total == 0 {
				t.Errorf("violations %d, findings add up to %d", rep.Violations, total)
			}
		})
	}
}

const otherSchemaSQL = `
CREATE SCHEMA crm;
CREATE TABLE crm.customers_t (
	uid uuid PRIMARY KEY DEFAULT gen_random_uuid(), label text NOT NULL UNIQUE, up uuid REFERENCES crm.customers_t,
	may_have_children boolean NOT NULL DEFAULT false, is_provider boolean NOT NULL DEFAULT false,
	enabled boolean NOT NULL DEFAULT true, lvl smallint);
CREATE TABLE crm.account (region text, num int, "Owner Id" uuid NOT NULL REFERENCES crm.customers_t, name text, PRIMARY KEY (region, num));
CREATE TABLE crm."Order" (id serial PRIMARY KEY, "Owner Id" uuid REFERENCES crm.customers_t, acct_region text, acct_num int,
	parent_order int, currency text, FOREIGN KEY (acct_region, acct_num) REFERENCES crm.account);
CREATE TABLE crm.currency (code text PRIMARY KEY);
`

const otherOverlay = `<Schema dbSchema="crm" tenantColumn="Owner Id">
  <Tenants table="customers_t" key="uid" name="label" parent="up" subtenantsAllowed="may_have_children"
           active="enabled" serviceProvider="is_provider" depth="lvl" maxDepth="3"/>
  <Object name="order" table="Order">
    <Srel attr="parent" column="parent_order" to="order"/>
    <Srel attr="currency" column="currency" to="currency"/>
  </Object>
</Schema>
`

// TestVerifyOtherSchema runs the tenant commands and verify on a schema
// unlike the fixture: uuid tenant keys, a tenant column named "Owner Id",
// a composite foreign key, an overlay self-reference, a text reference to an
// untenanted table, maxDepth 3.
func TestVerifyOtherSchema(t *testing.T) {
	db := testkit.NewDB(t)
	db.Exec(t, otherSchemaSQL)
	overlay := filepath.Join(t.TempDir(), "crm.xml")
	if err := os.WriteFile(overlay, []byte(otherOverlay), 0o600); err != nil {
		t.Fatal(err)
	}
	tenant := func(code int, args ...string) {
		t.Helper()
		res := testkit.Run(t, db, append([]string{"--schema", overlay, "tenant", "create"}, args...)...)
		if res.Code != code {
			t.Fatalf("tenant create %q: exit %d, want %d: %s", args, res.Code, code, res.Stderr)
		}
	}
	tenant(0, "--service-provider", "--subtenants-allowed", "Prov")
	tenant(0, "--parent", "Prov", "--subtenants-allowed", "T1")
	tenant(0, "--parent", "T1", "--subtenants-allowed", "T1a") // level 3: the cap
	tenant(1, "--parent", "T1a", "T1a-x")                      // level 4
	tenant(0, "T2")
	if got := db.Value(t, "SELECT string_agg(label || '=' || lvl || ':' || (uid IS NOT NULL), ',' ORDER BY lvl, label) FROM crm.customers_t"); got != "Prov=0:true,T2=0:true,T1=1:true,T1a=2:true" {
		t.Errorf("tenants %s", got)
	}
	db.Exec(t, `
		CREATE FUNCTION pg_temp.t(text) RETURNS uuid AS 'SELECT uid FROM crm.customers_t WHERE label = $1' LANGUAGE sql;
		INSERT INTO crm.currency VALUES ('EUR');
		INSERT INTO crm.account VALUES ('eu', 1, pg_temp.t('T1'), 'a'), ('us', 1, pg_temp.t('T2'), 'b'),
			('north "pole"', 3, pg_temp.t('T2'), 'c');
		INSERT INTO crm."Order" (id, "Owner Id", acct_region, acct_num, parent_order, currency) VALUES
			(1, pg_temp.t('T2'),  'eu', 1, NULL, 'EUR'),   -- T2 -> T1: leak (composite FK)
			(2, pg_temp.t('T1'),  NULL, NULL, 1, NULL),    -- T1 -> T2: leak (self-reference)
			(3, NULL,             'eu', 1, NULL, 'EUR'),   -- public -> T1: leak
			(4, pg_temp.t('T1a'), 'eu', 1, 5, NULL),       -- T1a -> T1, its supertenant: fine
			(5, pg_temp.t('T1'),  NULL, NULL, NULL, NULL),
			(6, pg_temp.t('T1'),  NULL, NULL, 4, NULL),    -- T1 -> T1a, a subtenant: leak
			(7, pg_temp.t('T1'),  NULL, NULL, 999, NULL),  -- dangling
			(8, pg_temp.t('T1'),  'north "pole"', 3, NULL, NULL), -- T1 -> T2: leak
			(10, pg_temp.t('T2'), 'eu', 1, NULL, NULL);    -- T2 -> T1: leak, sorted after 8
	`)
	rep := verifyDB(t, db, overlay, cli)
	want := []string{
		"dangling-reference order.parent->order: 1: id=7 -> parent_order=999",
		`reference-rule order.Order_acct_region_acct_num_fkey->account: 4: id=1 (T2) -> region=eu num=1 (T1) | id=3 (public) -> region=eu num=1 (T1) | id=8 (T1) -> region="north \"pole\"" num=3 (T2) | id=10 (T2) -> region=eu num=1 (T1)`,
		"reference-rule order.parent->order: 2: id=2 (T1) -> id=1 (T2) | id=6 (T1) -> id=4 (T1a)",
	}
	if got := rep.lines(); !reflect.DeepEqual(got, want) {
		t.Errorf("findings\n got %q\nwant %q", got, want)
	}
	// More jobs, same findings.
	for _, jobs := range []int{1, 8} {
		opts := cli
		opts.Jobs = jobs
		rep := verifyDB(t, db, overlay, opts)
		if got := rep.lines(); !reflect.DeepEqual(got, want) {
			t.Errorf("Jobs %d: findings\n got %q\nwant %q", jobs, got, want)
		}
	}
	// --objects limits the row checks; --sample limits the keys.
	rep = verifyDB(t, db, overlay, Options{Sample: 1, Jobs: 2}, "acc*")
	if rep.Violations != 0 {
		t.Errorf("--objects acc*: %v", rep.lines())
	}
	rep = verifyDB(t, db, overlay, Options{Sample: 0, Jobs: 2})
	if rep.Violations != 7 || len(rep.Findings) != 3 || len(rep.Findings[0].Samples) != 0 {
		t.Errorf("--sample 0: %d violations, %q", rep.Violations, rep.lines())
	}
	rep = verifyDB(t, db, overlay, Options{Sample: 1, Jobs: 2})
	if got := rep.lines(); len(got) != 3 || got[1] != "reference-rule order.Order_acct_region_acct_num_fkey->account: 4: id=1 (T2) -> region=eu num=1 (T1)" {
		t.Errorf("--sample 1: %q", got)
	}
}
