package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/tenantkit/tenantkit/internal/testkit"
)

func TestMain(m *testing.M) { testkit.Main(m) }

type srelJSON struct {
	Attr     string   `json:"attr"`
	Columns  []string `json:"columns"`
	To       string   `json:"to"`
	Eligible bool     `json:"service_provider_eligible"`
	FK       string   `json:"foreign_key"`
}

type objectJSON struct {
	Name     string     `json:"name"`
	Table    string     `json:"table"`
	Tenancy  string     `json:"tenancy"`
	TenantCo string     `json:"tenant_column"`
	MatchKey []string   `json:"match_key"`
	Srels    []srelJSON `json:"srels"`
}

func TestSchemaJSONFixtures(t *testing.T) {
	db := testkit.NewFixtureDB(t)
	res := testkit.Run(t, db, "schema", "--json", "--schema", "fixtures/schema.xml")
	if res.Code != 0 {
		t.Fatalf("exit %d: %s", res.Code, res.Stderr)
	}
	var out struct {
		Tenants struct {
			Table, Key, Name, Parent string
			MaxDepth                 int `json:"max_depth"`
		} `json:"tenants"`
		Objects []objectJSON `json:"objects"`
	}
	if err := json.Unmarshal([]byte(res.Stdout), &out); err != nil {
		t.Fatalf("bad JSON: %v\n%s", err, res.Stdout)
	}
	if out.Tenants.Table != "ca_tenant" || out.Tenants.Key != "id" || out.Tenants.Name != "name" || out.Tenants.Parent != "parent" || out.Tenants.MaxDepth != 4 {
		t.Errorf("tenants = %+v", out.Tenants)
	}
	// object → tenancy, match key, SRELs as "attr>target" with flags.
	want := map[string]struct {
		table, tenancy, key string
		srels               []string
	}{
		"ca_tenant": {"ca_tenant", "none", "id", []string{"parent>ca_tenant fk"}},
		"org":       {"ca_organization", "required", "id", []string{"parent_org>org overlay"}},
		"loc":       {"ca_location", "required", "id", nil},
		"cnt":       {"ca_contact", "required", "userid", []string{"organization>org fk", "location>loc overlay"}},
		"pcat":      {"category", "optional", "id", nil},
		"cr":        {"call_req", "required", "ref_num", []string{"customer>cnt fk", "category>pcat fk", "organization>org fk", "priority>pri fk", "assignee>cnt overlay eligible"}},
		"nr":        {"notification_rule", "optional", "id", []string{"category>pcat fk"}},
		"repo":      {"doc_repository", "optional", "server,path", nil},
		"pri":       {"priority", "none", "code", nil},
	}
	if len(out.Objects) != len(want) {
		t.Errorf("%d objects, want %d", len(out.Objects), len(want))
	}
	for _, o := range out.Objects {
		w, ok := want[o.Name]
		if !ok {
			t.Errorf("unexpected object %q", o.Name)
			continue
		}
		if o.Table != w.table || o.Tenancy != w.tenancy || strings.Join(o.MatchKey, ",") != w.key {
			t.Errorf("%s: table %s tenancy %s key %v; want %s %s %s", o.Name, o.Table, o.Tenancy, o.MatchKey, w.table, w.tenancy, w.key)
		}
		if w.tenancy != "none" && o.TenantCo != "tenant" {
			t.Errorf("%s: tenant column %q", o.Name, o.TenantCo)
		}
		var got []string
		for _, s := range o.Srels {
			d := s.Attr + ">" + s.To
			if s.FK != "" {
				d += " fk"
			} else {
				d += " overlay"
			}
			if s.Eligible {
				d += " eligible"
			}
			got = append(got, d)
		}
		if !reflect.DeepEqual(got, w.srels) {
			t.Errorf("%s: srels %q, want %q", o.Name, got, w.srels)
		}
	}
}

func TestSchemaText(t *testing.T) {
	db := testkit.NewFixtureDB(t)
	// --db given after the command instead of before it.
	res := testkit.Run(t, nil, "schema", "--schema", "fixtures/schema.xml", "--db", db.URL)
	if res.Code != 0 {
		t.Fatalf("exit %d: %s", res.Code, res.Stderr)
	}
	for _, want := range []string{
		"tenant table ca_tenant (key id, name name, parent parent",
		"object cr (table call_req)\n  tenancy   required (column tenant)\n  match key ref_num",
		"  srel      assignee: assignee -> cnt(id) [overlay] [service provider eligible]",
	} {
		if !strings.Contains(res.Stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, res.Stdout)
		}
	}
}

func TestSchemaBadOverlays(t *testing.T) {
	db := testkit.NewFixtureDB(t)
	dir := t.TempDir()
	tests := []struct {
		name, xml, want string
	}{
		{"malformed", "<Schema>\n  <Object name=\"org\">\n</Schema>\n", ":3: malformed XML: element <Object> closed by </Schema>"},
		{"unknown table", "<Schema>\n  <Object name=\"x\" table=\"nope\"/>\n</Schema>\n", `:2:3: object "x": unknown table "nope" in schema "public"`},
		{"unknown column", "<Schema>\n  <Object name=\"org\" table=\"ca_organization\" changeColumn=\"nope\"/>\n</Schema>\n", `:2:46: object "org": changeColumn "nope" is not a column of table "ca_organization"`},
		{"srel to unknown object", "<Schema>\n  <Object name=\"org\" table=\"ca_organization\">\n    <Srel column=\"parent_org_id\" to=\"ghost\"/>\n  </Object>\n</Schema>\n", `:3:34: object "org": SREL "parent_org_id" points at unknown object "ghost"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(dir, strings.ReplaceAll(tt.name, " ", "_")+".xml")
			if err := os.WriteFile(p, []byte(tt.xml), 0o600); err != nil {
				t.Fatal(err)
			}
			res := testkit.Run(t, db, "schema", "--schema", p)
			if res.Code != 2 {
				t.Errorf("exit %d, want 2 (stderr %s)", res.Code, res.Stderr)
			}
			want := "tenantkit: " + p + tt.want + "\n"
			if res.Stderr != want {
				t.Errorf("stderr\n got %q\nwant %q", res.Stderr, want)
			}
			if res.Stdout != "" {
				t.Errorf("stdout not empty: %q", res.Stdout)
			}
		})
	}
}

func TestConnectionFailure(t *testing.T) {
	res := testkit.Run(t, nil, "--db", "postgres://nobody:secret-pw@127.0.0.1:1/nodb?connect_timeout=5", "schema")
	if res.Code != 3 {
		t.Fatalf("exit %d, want 3: %s", res.Code, res.Stderr)
	}
	lines := strings.Split(strings.TrimSpace(res.Stderr), "\n")
	if len(lines) != 1 || !strings.HasPrefix(lines[0], "tenantkit: cannot connect to 127.0.0.1:1/nodb: ") || !strings.Contains(lines[0], "connection refused") {
		t.Errorf("stderr = %q", res.Stderr)
	}
	if strings.Contains(res.Stderr, "secret-pw") {
		t.Error("the password reached stderr")
	}
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{{"schema", "--no-such-flag"}, {"no-such-command"}, {"acl", "plan"}} {
		res := testkit.Run(t, nil, args...)
		if res.Code != 2 {
			t.Errorf("%v: exit %d, want 2 (stderr %q)", args, res.Code, res.Stderr)
		}
	}
	res := testkit.Run(t, nil, "version")
	if res.Code != 0 || !strings.HasPrefix(res.Stdout, "tenantkit ") {
		t.Errorf("version: %d %q", res.Code, res.Stdout)
	}
	res = testkit.Run(t, nil, "schema", "--help")
	if res.Code != 0 || !strings.Contains(res.Stdout, "\nEXAMPLES:\n   tenantkit schema --schema fixtures/schema.xml\n") {
		t.Errorf("schema --help: %d %q", res.Code, res.Stdout)
	}
}

func TestSchemaConfigErrorsAreBadInput(t *testing.T) {
	db := testkit.NewDB(t)
	db.Exec(t, "CREATE TABLE tenant (id int PRIMARY KEY, label text); CREATE TABLE item (id int PRIMARY KEY, tenant int REFERENCES tenant (id))")
	res := testkit.Run(t, db, "schema")
	if res.Code != 2 || res.Stderr != "tenantkit: tenant table \"tenant\": no name column; name it in the overlay's <Tenants name=…>\n" {
		t.Errorf("exit %d, stderr %q", res.Code, res.Stderr)
	}
	res = testkit.Run(t, db, "schema", "--db-schema", "nope")
	if res.Code != 2 || res.Stderr != "tenantkit: schema \"nope\" does not exist in the database\n" {
		t.Errorf("exit %d, stderr %q", res.Code, res.Stderr)
	}
}

func TestMissingOverlayIsBadInput(t *testing.T) {
	db := testkit.NewDB(t)
	res := testkit.Run(t, db, "schema", "--schema", "no/such/overlay.xml")
	if res.Code != 2 || !strings.Contains(res.Stderr, "no/such/overlay.xml: no such file or directory") {
		t.Errorf("exit %d, stderr %q", res.Code, res.Stderr)
	}
}

func TestSchemaTenantUnique(t *testing.T) {
	db := testkit.NewDB(t)
	db.Exec(t, `CREATE TABLE firm (fid int PRIMARY KEY, name text NOT NULL UNIQUE);
		CREATE TABLE invoice (num text PRIMARY KEY, firm_id int NOT NULL REFERENCES firm)`)
	res := testkit.Run(t, db, "schema", "--tenant-column", "firm_id", "--tenant-unique")
	want := `-- public.invoice: primary key invoice_pkey (num) is unique across tenants
ALTER TABLE "public"."invoice" DROP CONSTRAINT "invoice_pkey", ADD CONSTRAINT "invoice_pkey" PRIMARY KEY ("firm_id", "num");
`
	if res.Code != 0 || res.Stdout != want {
		t.Errorf("exit %d\n%s%s", res.Code, res.Stdout, res.Stderr)
	}
}
