package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/tenantkit/tenantkit/internal/testkit"
)

// TestSettenantBREL runs settenant with a BREL rule through the binary on
// Northwind's shape with territories (issue 23, point 2): territories from
// their region (SREL), employees from the regions of their territories
// (BREL through the link rows, by majority), the link rows from their
// employee (SREL); the JSON report's reasons and votes; a preview after the
// run that would change nothing; and a BREL that does not point at its
// object, exit 2 at FILE:LINE:COL with nothing changed.
func TestSettenantBREL(t *testing.T) {
	db := testkit.NewNorthwindTerritoriesDB(t)
	file := testkit.WriteFile(t, "settenant.xml", `<SetTenant>
  <Object name="territories"><TenantRule type="SREL">region_id</TenantRule></Object>
  <Object name="employees">
    <TenantRule type="BREL" agree="majority">employee_territories.employee_id/territory_id.region_id</TenantRule>
  </Object>
  <Object name="employee_territories"><TenantRule type="SREL">employee_id</TenantRule></Object>
</SetTenant>`)
	res := testkit.Run(t, db, "settenant", "-f", file, "-r", "--json")
	if res.Code != 0 {
		t.Fatalf("exit %d\n%s\n%s", res.Code, res.Stdout, res.Stderr)
	}
	// The BREL members (type, agree, the BREL reasons, the votes) are in
	// docs/tenantkit.schema.json.
	validateOutput(t, outputSchema(t), "settenant", res.Stdout, res.Code)
	var out struct {
		Updated int64 `json:"updated"`
		Rules   []struct {
			Type       string           `json:"type"`
			Agree      string           `json:"agree"`
			Updated    int64            `json:"updated"`
			Untenanted map[string]int64 `json:"untenanted"`
			Sample     []struct {
				Key    string `json:"key"`
				Reason string `json:"reason"`
				Votes  []struct {
					Tenant    string `json:"tenant"`
					Referrers int64  `json:"referrers"`
				} `json:"votes"`
			} `json:"sample"`
		} `json:"rules"`
	}
	if err := json.Unmarshal([]byte(res.Stdout), &out); err != nil {
		t.Fatalf("%v\n%s", err, res.Stdout)
	}
	if len(out.Rules) != 3 {
		t.Fatalf("%d rules in %s", len(out.Rules), res.Stdout)
	}
	// Territories: 5 of 7 (U1's region has no tenant, X1 has none).
	// Employees 1, 3, 6, 10 (9 keeps North); their link rows follow.
	if out.Rules[0].Updated != 5 || out.Rules[1].Updated != 4 || out.Rules[2].Updated != 11 || out.Updated != 20 {
		t.Errorf("updated %d: %d, %d, %d", out.Updated, out.Rules[0].Updated, out.Rules[1].Updated, out.Rules[2].Updated)
	}
	brel := out.Rules[1]
	wantReasons := map[string]int64{"null_reference": 0, "untenanted_reference": 0, "dangling_reference": 0,
		"no_referrers": 1, "untenanted_referrers": 2, "referrers_tie": 2}
	if brel.Type != "BREL" || brel.Agree != "majority" || !equalCounts(brel.Untenanted, wantReasons) {
		t.Errorf("BREL rule: %s %s %v", brel.Type, brel.Agree, brel.Untenanted)
	}
	if len(brel.Sample) != 5 || brel.Sample[0].Key != "2" || brel.Sample[0].Reason != "referrers_tie" ||
		len(brel.Sample[0].Votes) != 2 || brel.Sample[0].Votes[0].Tenant != "2" || brel.Sample[0].Votes[1].Tenant != "3" ||
		brel.Sample[0].Votes[1].Referrers != 1 || brel.Sample[1].Reason != "no_referrers" || brel.Sample[1].Votes != nil {
		t.Errorf("BREL sample: %+v", brel.Sample)
	}
	employees := db.Rows(t, `SELECT string_agg(employee_id || '=' || coalesce(tenant::text, '-'), ' ' ORDER BY employee_id) FROM employees`)[0][0]
	if want := "1=3 2=- 3=2 4=- 5=- 6=2 7=- 8=- 9=4 10=3"; employees != want {
		t.Errorf("employees %s\nwant      %s", employees, want)
	}
	// A rerun would change nothing.
	res = testkit.Run(t, db, "settenant", "-f", file, "-c")
	if res.Code != 0 || !strings.HasSuffix(res.Stdout, "check only: 0 rows would be updated; nothing was changed\n") ||
		!strings.Contains(res.Stdout, "rule 2 (line 3): employees ← BREL employee_territories.employee_id/territory_id.region_id (majority)\n") ||
		!strings.Contains(res.Stdout, "  left without a tenant 5: no referrers 1, referrers have no tenant 2, referrers tie 2\n") ||
		!strings.Contains(res.Stdout, "    8\treferrers tie: 2 (1 referrer), 3 (1 referrer), 4 (1 referrer)\n") {
		t.Errorf("-c after the run: exit %d\n%s%s", res.Code, res.Stdout, res.Stderr)
	}

	fresh := testkit.NewNorthwindTerritoriesDB(t)
	bad := testkit.WriteFile(t, "bad.xml", `<SetTenant>
  <Object name="territories"><TenantRule type="SREL">region_id</TenantRule></Object>
  <Object name="employees">
    <TenantRule type="BREL">employee_territories.territory_id/region_id</TenantRule>
  </Object>
</SetTenant>`)
	res = testkit.Run(t, fresh, "settenant", "-f", bad, "-r")
	want := bad + `:4:5: BREL "employee_territories.territory_id/region_id": employee_territories.territory_id points at object "territories", not at "employees"`
	if res.Code != 2 || !strings.Contains(res.Stderr, want) {
		t.Errorf("bad BREL: exit %d, stderr %q\nwant exit 2 and %q", res.Code, res.Stderr, want)
	}
	if n := fresh.Value(t, "SELECT count(*) FROM territories WHERE tenant IS NOT NULL"); n != "0" {
		t.Errorf("the bad file tenanted %s territories", n)
	}
	if res := testkit.Run(t, nil, "settenant", "--help"); res.Code != 0 || !strings.Contains(res.Stdout, `type="BREL"`) || !strings.Contains(res.Stdout, `agree="majority"`) {
		t.Errorf("settenant --help does not describe BREL rules: exit %d\n%s", res.Code, res.Stdout)
	}
}

func equalCounts(a, b map[string]int64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}
