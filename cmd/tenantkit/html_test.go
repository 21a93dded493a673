package main

import (
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/tenantkit/tenantkit/internal/testkit"
)

var updateScreenshot = flag.Bool("update-screenshot", false, "rewrite docs/html-report.png from the fixture report")

// fixtureRun runs tenantkit with the fixture overlay and checks the exit code.
func fixtureRun(t *testing.T, db *testkit.DB, code int, args ...string) testkit.Result {
	t.Helper()
	res := testkit.Run(t, db, append([]string{"--schema", "fixtures/schema.xml"}, args...)...)
	if res.Code != code {
		t.Fatalf("%q: exit %d, want %d\nstdout: %s\nstderr: %s", args, res.Code, code, res.Stdout, res.Stderr)
	}
	return res
}

// TestHTMLReports converts the fixture database (workflow 1) with
// settenant --html, breaks a reference and runs verify --html, and checks
// both pages as headless chromium renders them.
func TestHTMLReports(t *testing.T) {
	testkit.Chromium(t)
	db := testkit.NewFixtureDB(t)
	dir := t.TempDir()
	fixtureRun(t, db, 0, "tenant", "create", "--service-provider", "--subtenants-allowed", "Service Provider")
	fixtureRun(t, db, 0, "buildtenant")

	// An unwritable place is bad usage, found before anything runs.
	res := fixtureRun(t, db, 2, "settenant", "-f", "fixtures/settenant.xml", "--html", filepath.Join(dir, "no", "such", "dir.html"))
	if !strings.Contains(res.Stderr, "dir.html") || db.Value(t, "SELECT count(*) FROM ca_contact WHERE tenant IS NOT NULL") != "0" {
		t.Errorf("settenant with an unwritable --html: stderr %q, or rows changed", res.Stderr)
	}

	preview := filepath.Join(dir, "settenant.html")
	res = fixtureRun(t, db, 0, "settenant", "-f", "fixtures/settenant.xml", "-c", "--html", preview)
	if !strings.Contains(res.Stdout, "matched") { // --html implies the report
		t.Errorf("settenant --html printed no report: %s", res.Stdout)
	}
	b := testkit.DumpDOM(t, preview)
	for _, e := range b.PageErrors() {
		t.Error(e)
	}
	matched := db.Value(t, "SELECT count(*) FROM ca_contact")
	for _, want := range []string{
		`<section id="verdict" class="verdict ok" data-ok="true">`,
		`would update 17 rows by 10 rules`,
		`check only (-c)`,
		`<g class="bar matched" data-label="matched" data-n="` + matched + `">`,
		`rows per tenant as they are: the check (-c) changed nothing`,
	} {
		if !strings.Contains(b.Out, want) {
			t.Errorf("the settenant page has no %s", want)
		}
	}
	fixtureRun(t, db, 0, "settenant", "-f", "fixtures/settenant.xml")

	// A ticket moved to Globex whose customer is Acme's.
	db.Exec(t, "UPDATE call_req SET tenant = (SELECT id FROM ca_tenant WHERE name = 'Globex') WHERE ref_num = 'CR-1001'")
	report := filepath.Join(dir, "verify.html")
	res = fixtureRun(t, db, 1, "verify", "--html", report)
	if !strings.Contains(res.Stdout, "reference-rule") {
		t.Errorf("verify --html printed no text report: %s", res.Stdout)
	}
	b = testkit.DumpDOM(t, report)
	for _, e := range b.PageErrors() {
		t.Error(e)
	}
	dom := b.Out
	for _, want := range []string{
		`<section id="verdict" class="verdict bad" data-ok="false">`,
		// CR-1001 breaks the rule through its customer, organization and assignee.
		`<li class="bad" data-check="reference-rule"><span>reference-rule</span><span class="n">3</span></li>`,
		`<span class="n" id="total-violations">3</span>`,
		`<code>customer → cnt</code>`,
		`<details class="object" open="" data-object="cr">`,
		`(Globex) -&gt; `,
	} {
		if !strings.Contains(dom, want) {
			t.Errorf("the verify page has no %s", want)
		}
	}
	// The tree: the service provider expanded, its children drawn, a
	// tenant with subtenants collapsed (its subtenants not in the page).
	if !strings.Contains(dom, `data-tenant="Service Provider" data-index="`) ||
		!regexp.MustCompile(`data-tenant="Service Provider" data-index="\d+" aria-expanded="true"`).MatchString(dom) {
		t.Errorf("the service provider is not expanded:\n%s", testkit.Grep(dom, "Service Provider"))
	}
	parent := db.Value(t, `SELECT p.name FROM ca_tenant p WHERE p.parent = (SELECT id FROM ca_tenant WHERE service_provider)
		AND EXISTS (SELECT FROM ca_tenant c WHERE c.parent = p.id) ORDER BY p.name LIMIT 1`)
	child := db.Value(t, `SELECT c.name FROM ca_tenant c JOIN ca_tenant p ON p.id = c.parent WHERE p.name = $1 ORDER BY c.name LIMIT 1`, parent)
	if !regexp.MustCompile(`data-tenant="` + regexp.QuoteMeta(parent) + `" data-index="\d+" aria-expanded="false"`).MatchString(dom) {
		t.Errorf("%s, which has subtenants, is not collapsed:\n%s", parent, testkit.Grep(dom, parent))
	}
	if strings.Contains(dom, `<li class="node" role="treeitem" data-tenant="`+child+`"`) {
		t.Errorf("%s, under the collapsed %s, is in the tree", child, parent)
	}
	// The table: one row per tenant, with its rows of call_req.
	tenants := db.Value(t, "SELECT count(*) FROM ca_tenant")
	if !strings.Contains(dom, `<span id="tk-page" data-total="`+tenants+`">`) {
		t.Errorf("the table does not count %s tenants: %s", tenants, testkit.Grep(dom, "tk-page"))
	}
	globex := db.Value(t, "SELECT count(*) FROM call_req WHERE tenant = (SELECT id FROM ca_tenant WHERE name = 'Globex')")
	if row := regexp.MustCompile(`<tr data-tenant="Globex">.*?</tr>`).FindString(dom); !strings.Contains(row, `<td class="n">`+globex+`</td>`) {
		t.Errorf("Globex's row does not hold its %s tickets: %s", globex, row)
	}
	if *updateScreenshot {
		testkit.Screenshot(t, report, testkit.Path("docs/html-report.png"), 1280, 1500)
	}

	// Names are text: a tenant named like markup.
	db.Exec(t, `UPDATE ca_tenant SET name = $1 WHERE name = 'Globex'`, `<script>alert(1)</script>"O'Hara`)
	fixtureRun(t, db, 1, "verify", "--html", report)
	b = testkit.DumpDOM(t, report)
	for _, e := range b.PageErrors() {
		t.Error(e)
	}
	if !strings.Contains(b.Out, `<tr data-tenant="&lt;script&gt;alert(1)&lt;/script&gt;&quot;O'Hara"><td title="key `) ||
		!strings.Contains(b.Out, `(&lt;script&gt;alert(1)&lt;/script&gt;"O'Hara) -&gt; `) {
		t.Errorf("the markup tenant name is not text in the page:\n%s", testkit.Grep(b.Out, "alert(1)"))
	}
	if fi, err := os.Stat(report); err != nil || fi.Size() == 0 {
		t.Errorf("report: %v", err)
	}
}
