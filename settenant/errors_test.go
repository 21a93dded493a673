package settenant

import (
	"fmt"
	"strings"
	"testing"

	"github.com/tenantkit/tenantkit/internal/testkit"
)

// TestConfigErrors checks that names the database does not know and bad
// conditions stop the run with exit 2 and FILE:LINE:COL before anything
// changes — the first rule of every file would update rows.
func TestConfigErrors(t *testing.T) {
	db := fixtureDB(t)
	db.Exec(t, `UPDATE ca_organization SET tenant = 2 WHERE id = 1; UPDATE ca_tenant SET active = false WHERE id = 4`)
	first := `<SetTenant>
  <Object name="cnt"><TenantRule type="SREL">organization</TenantRule></Object>
  <Object name="%s">
    <TenantRule type="%s">%s</TenantRule>
    %s
  </Object>
</SetTenant>`
	tests := []struct {
		name, object, typ, source, where string
		want                             string
	}{
		{"unknown object", "nosuch", "SREL", "organization", "", `:3:3: unknown object "nosuch"`},
		{"untenanted object", "pri", "Name", "Acme", "", `:3:3: object "pri" (table "priority") has no tenant column`},
		{"unknown attribute", "cnt", "SREL", "nosuch", "", `:4:5: SREL path "nosuch": object "cnt" has no attribute "nosuch"`},
		{"not an SREL", "cnt", "SREL", "last_name", "", `:4:5: SREL path "last_name": attribute "last_name" of object "cnt" is not an SREL (no foreign key, and no <Srel> in the schema overlay)`},
		{"path through a plain column", "cr", "SREL", "customer.email", "", `:4:5: SREL path "customer.email": attribute "email" of object "cnt" is not an SREL`},
		{"path to an untenanted object", "cr", "SREL", "priority", "", `:4:5: SREL path "priority" ends at object "pri" (table "priority"), which has no tenant column`},
		{"empty path segment", "cr", "SREL", "customer..organization", "", `:4:5: SREL path "customer..organization" has an empty attribute name`},
		{"unknown tenant", "org", "Name", "Nobody", "", `:4:5: unknown tenant "Nobody": no tenant has this name or key`},
		{"inactive tenant", "org", "Name", "Tenant A", "", `:4:5: tenant "Tenant A" is inactive`},
		{"unknown column in Where", "org", "Name", "Acme", "<Where>nosuch = 1</Where>", `:5:5: <Where>: column "nosuch" does not exist`},
		{"syntax error in Where", "org", "Name", "Acme", "<Where>tenant is nul</Where>", `:5:5: <Where>: syntax error at or near`},
		{"non-boolean Where", "org", "Name", "Acme", "<Where>id + 1</Where>", `:5:5: <Where>: argument of AND must be type boolean, not type integer`},
		{"statement in Where", "org", "Name", "Acme", "<Where>true; DROP TABLE ca_contact</Where>", `:5:5: <Where>: the condition contains ';'`},
		{"escape from Where", "org", "Name", "Acme", "<Where>true) OR (true</Where>", `:5:5: <Where>: a ')' closes a parenthesis the condition did not open`},
		{"column of the source in Where", "cnt", "SREL", "organization", "<Where>inactive = 0</Where>", `:5:5: <Where>: column "inactive" does not exist`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := writeConfig(t, fmt.Sprintf(first, tt.object, tt.typ, tt.source, tt.where))
			res := testkit.Run(t, db, "settenant", "--schema", "fixtures/schema.xml", "-f", file, "-r")
			if res.Code != 2 || !strings.Contains(res.Stderr, file+tt.want) {
				t.Errorf("exit %d, stderr %q\nwant exit 2 and %q", res.Code, res.Stderr, file+tt.want)
			}
			if n := db.Value(t, "SELECT count(*) FROM ca_contact WHERE tenant IS NOT NULL"); n != "0" {
				t.Errorf("%s contacts were tenanted", n)
			}
		})
	}
	t.Run("missing file", func(t *testing.T) {
		res := testkit.Run(t, db, "settenant", "-f", "nosuch.xml")
		if res.Code != 2 || !strings.Contains(res.Stderr, "nosuch.xml") {
			t.Errorf("exit %d, stderr %q", res.Code, res.Stderr)
		}
	})
}

func TestUsage(t *testing.T) {
	res := testkit.Run(t, nil, "settenant", "--help")
	if res.Code != 0 || !strings.Contains(res.Stdout, "\nEXAMPLES:\n") || !strings.Contains(res.Stdout, "--batch-size") {
		t.Errorf("settenant --help: exit %d\n%s", res.Code, res.Stdout)
	}
	for _, args := range [][]string{{"settenant"}, {"settenant", "-f", "x.xml", "--sample", "many"}} {
		if res := testkit.Run(t, nil, args...); res.Code != 2 {
			t.Errorf("%v: exit %d, want 2 (stderr %q)", args, res.Code, res.Stderr)
		}
	}
	// A malformed file is reported before connecting to any database.
	res = testkit.Run(t, nil, "settenant", "--db", "postgres://nobody@127.0.0.1:1/none", "-f", "settenant/testdata/configs/bad-root.xml")
	if want := "settenant/testdata/configs/bad-root.xml:1:1: root element is <Settenant>, want <SetTenant>"; res.Code != 2 || !strings.Contains(res.Stderr, want) {
		t.Errorf("bad file: exit %d, stderr %q", res.Code, res.Stderr)
	}
}
