package main

import (
	"strings"
	"testing"

	"github.com/tenantkit/tenantkit/internal/testkit"
)

// TestWhereServerErrorsAreConfig: whatever the server raises about a
// <Where> is bad configuration, FILE:LINE:COL and exit 2 with nothing
// changed, never a database failure (issue 21, point 5): a constant that
// does not convert to the column's type (caught when the statement is
// validated), and a cast that validates but fails on some row's data
// (caught when the rule runs). On Northwind's snake_case shape.
func TestWhereServerErrorsAreConfig(t *testing.T) {
	db := testkit.NewNorthwindDB(t)
	settenant := `<SetTenant>
  <Object name="employees"><TenantRule type="Name">West</TenantRule><Where>region = 'WA'</Where></Object>
  <Object name="employees">
    <TenantRule type="Name">Provider</TenantRule>
    <Where>%s</Where>
  </Object>
</SetTenant>`
	buildtenant := `<BuildTenant>
  <Object from="region">
    <Attribute from="region_description" to="name"/>
    <Where>%s</Where>
  </Object>
</BuildTenant>`
	// A pre-tenant object must be tenant-required; its tenant column is
	// still nullable while the conversion runs.
	overlay := testkit.WriteFile(t, "northwind.xml", `<Schema><Object name="region" tenancy="required"/></Schema>`)
	tests := []struct {
		name, command, config, where, want string
	}{
		{"settenant constant", "settenant", settenant, "tenant = 'x'", `:5:5: <Where>: invalid input syntax for type integer: "x"`},
		{"settenant row data", "settenant", settenant, "postal_code::int > 98000", `:5:5: <Where>: fails on rows of table "employees": invalid input syntax for type integer: "SW1 8JR"`},
		{"settenant division", "settenant", settenant, "1 / (employee_id - 5) > 0", `:5:5: <Where>: fails on rows of table "employees": division by zero`},
		{"buildtenant constant", "buildtenant", buildtenant, "region_id = 'x'", `:4:5: <Where>: invalid input syntax for type smallint: "x"`},
		{"buildtenant row data", "buildtenant", buildtenant, "region_description::int > 0", `:4:5: <Where>: fails on rows of table "region": invalid input syntax for type integer: "Eastern"`},
	}
	for _, tt := range tests {
		for _, extra := range [][]string{nil, {"-r"}} {
			if tt.command == "buildtenant" && extra != nil {
				continue
			}
			t.Run(tt.name+strings.Join(extra, ""), func(t *testing.T) {
				file := testkit.WriteFile(t, tt.command+".xml", strings.Replace(tt.config, "%s", tt.where, 1))
				res := testkit.Run(t, db, append([]string{tt.command, "--schema", overlay, "-f", file}, extra...)...)
				if res.Code != 2 || !strings.Contains(res.Stderr, file+tt.want) {
					t.Errorf("exit %d, stderr %q\nwant exit 2 and %q", res.Code, res.Stderr, file+tt.want)
				}
				if n := db.Value(t, "SELECT (SELECT count(*) FROM employees WHERE tenant IS NOT NULL) + (SELECT count(*) FROM tenant)"); n != "2" {
					t.Errorf("the run changed something: %s tenanted employees and tenants", n)
				}
			})
		}
	}
}

// TestRawLessThanInWhere: a raw '<' in a settenant condition is reported at
// its column with the hint to write &lt; (issue 21, point 8), before any
// database is reached.
func TestRawLessThanInWhere(t *testing.T) {
	file := testkit.WriteFile(t, "settenant.xml", `<SetTenant>
  <Object name="employees"><TenantRule type="Name">West</TenantRule><Where>reports_to < 5</Where></Object>
</SetTenant>`)
	res := testkit.Run(t, nil, "settenant", "--db", "postgres://nobody@127.0.0.1:1/none", "-f", file)
	want := file + `:2:87: malformed XML: expected element name after < (a '<' in text, as in a condition a < b, must be written &lt;, or the text put in <![CDATA[ … ]]>)`
	if res.Code != 2 || !strings.Contains(res.Stderr, want) {
		t.Errorf("exit %d, stderr %q\nwant %q", res.Code, res.Stderr, want)
	}
}
