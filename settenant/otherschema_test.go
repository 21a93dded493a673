package settenant

import (
	"strings"
	"testing"

	"github.com/tenantkit/tenantkit/internal/testkit"
	"github.com/tenantkit/tenantkit/schema"
)

// otherSchemaSQL is not the fixture: uuid tenant keys, a tenant column
// called owner_id next to an unrelated text column called tenant, composite
// keys and references (the composite SREL attributes are the constraint
// names), a self-reference, and a table without any key.
const otherSchemaSQL = `
CREATE TABLE "Tenants" (
    tid    uuid PRIMARY KEY,
    name   text NOT NULL UNIQUE,
    parent uuid REFERENCES "Tenants",
    active boolean NOT NULL DEFAULT true);
CREATE TABLE "Dept" (
    code text, site text, label text,
    owner_id uuid REFERENCES "Tenants",
    parent_code text, parent_site text,
    PRIMARY KEY (code, site),
    CONSTRAINT parent FOREIGN KEY (parent_code, parent_site) REFERENCES "Dept");
CREATE TABLE "Staff Member" (
    id uuid PRIMARY KEY, label text, dept_code text, dept_site text,
    owner_id uuid REFERENCES "Tenants",
    tenant text,
    CONSTRAINT dept FOREIGN KEY (dept_code, dept_site) REFERENCES "Dept");
CREATE TABLE loose (note text, staff uuid REFERENCES "Staff Member", owner_id uuid REFERENCES "Tenants");

INSERT INTO "Tenants" VALUES
    ('aaaaaaaa-0000-0000-0000-000000000001', 'Root "Co" ü', NULL, true),
    ('aaaaaaaa-0000-0000-0000-000000000002', 'Other', NULL, true);
INSERT INTO "Dept" VALUES
    ('HQ', 'Paris', 'hq', NULL, NULL, NULL),
    ('IT', 'Paris', 'it', NULL, 'HQ', 'Paris'),
    ('Ops', 'Paris', 'ops', NULL, 'IT', 'Paris'),
    ('HQ', 'Oslo', 'hq', 'aaaaaaaa-0000-0000-0000-000000000002', NULL, NULL),
    ('IT', 'Oslo', 'it', NULL, 'HQ', 'Oslo');
INSERT INTO "Staff Member" VALUES
    ('bbbbbbbb-0000-0000-0000-000000000001', 'ann', 'Ops', 'Paris', NULL, 'x'),
    ('bbbbbbbb-0000-0000-0000-000000000002', 'bob', 'IT', 'Oslo', NULL, 'x'),
    ('bbbbbbbb-0000-0000-0000-000000000003', 'cy', 'HQ', 'Oslo', NULL, 'x'),
    ('bbbbbbbb-0000-0000-0000-000000000004', 'skip', 'IT', 'Oslo', NULL, 'x'),
    ('bbbbbbbb-0000-0000-0000-000000000005', 'dee', 'IT', 'Paris', NULL, 'y');
INSERT INTO loose VALUES ('a', 'bbbbbbbb-0000-0000-0000-000000000001', NULL), ('b', NULL, NULL),
    ('c', 'bbbbbbbb-0000-0000-0000-000000000003', NULL);`

func TestOtherSchema(t *testing.T) {
	db := testkit.NewDB(t)
	db.Exec(t, otherSchemaSQL)
	file := writeConfig(t, `<SetTenant>
  <Object name="Dept"><TenantRule type="Name">Root "Co" ü</TenantRule><Where>parent_code IS NULL AND owner_id IS NULL</Where></Object>
  <!-- A self-reference: each run of the rule goes one level down. -->
  <Object name="Dept"><TenantRule type="SREL">parent</TenantRule><Where>owner_id IS NULL</Where></Object>
  <Object name="Dept"><TenantRule type="SREL">parent</TenantRule><Where>owner_id IS NULL</Where></Object>
  <!-- Two hops over composite references; "tenant" and "label" are the staff table's own columns. -->
  <Object name="Staff Member">
    <TenantRule type="SREL">dept.parent</TenantRule>
    <Where>tenant = 'x' AND label &lt;&gt; 'skip'</Where>
  </Object>
  <Object name="loose"><TenantRule type="SREL">staff</TenantRule></Object>
</SetTenant>`)
	so := schema.Options{TenantColumn: "owner_id"}
	res, err := runIn(t, db, so, file, Options{Report: true})
	if err != nil {
		t.Fatal(err)
	}
	var text strings.Builder
	if err := res.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	const root, other = "aaaaaaaa-0000-0000-0000-000000000001", "aaaaaaaa-0000-0000-0000-000000000002"
	if got, want := tenants(t, db, `SELECT code || '@' || site, owner_id FROM "Dept" ORDER BY site, code`),
		"HQ@Oslo="+other+" IT@Oslo="+other+" HQ@Paris="+root+" IT@Paris="+root+" Ops@Paris="+root; got != want {
		t.Errorf("departments: %s\nwant         %s", got, want)
	}
	// ann: Ops → IT@Paris → root; bob: IT@Oslo → HQ@Oslo → other; cy: HQ has
	// no parent; skip and dee are not selected.
	if got, want := tenants(t, db, `SELECT label, owner_id FROM "Staff Member" ORDER BY label`),
		"ann="+root+" bob="+other+" cy=NULL dee=NULL skip=NULL"; got != want {
		t.Errorf("staff: %s\nwant   %s", got, want)
	}
	if got, want := tenants(t, db, `SELECT note, owner_id FROM loose ORDER BY note`), "a="+root+" b=NULL c=NULL"; got != want {
		t.Errorf("loose: %s\nwant   %s", got, want)
	}
	for _, line := range []string{
		"rule 4 (line 7): Staff Member ← SREL dept.parent where tenant = 'x' AND label <> 'skip'\n" +
			"  matched 3, updated 2 (0 had another tenant), unchanged 0, kept their tenant 0\n" +
			"  left without a tenant 1: null reference 1, referenced row has no tenant 0, dangling reference 0\n" +
			"  rows left without a tenant (id):\n" +
			"    bbbbbbbb-0000-0000-0000-000000000003\tnull reference\n",
		"  rows left without a tenant (ctid):\n    (0,2)\tnull reference\n    (0,3)\treferenced row has no tenant\n",
	} {
		if !strings.Contains(text.String(), line) {
			t.Errorf("report lacks\n%s\nin\n%s", line, text.String())
		}
	}
	// A table without a key cannot be batched.
	before := tenants(t, db, `SELECT label, owner_id FROM "Staff Member" ORDER BY label`)
	db.Exec(t, `UPDATE "Staff Member" SET owner_id = NULL`)
	res, err = runIn(t, db, so, file, Options{BatchSize: 10})
	if res != nil || err == nil || !strings.Contains(err.Error(), "settenant.xml:11:3: ") ||
		!strings.Contains(err.Error(), `table "loose" has no primary key or unique key of NOT NULL columns to batch by`) {
		t.Errorf("batching a table without a key: %v, %+v", err, res)
	}
	if got := tenants(t, db, `SELECT label, owner_id FROM "Staff Member" ORDER BY label`); got != "ann=NULL bob=NULL cy=NULL dee=NULL skip=NULL" {
		t.Errorf("the refused run changed rows: %s (before: %s)", got, before)
	}
}

// TestWhereTextIsNotATemplate: a Where condition holding what statement
// templates and format strings give a meaning ({where}, $1, %s, %[1]s)
// reaches the server as written, on the plain path, with the report and
// in batches: it selects the one row whose label is that text.
func TestWhereTextIsNotATemplate(t *testing.T) {
	db := testkit.NewDB(t)
	db.Exec(t, otherSchemaSQL)
	const label = `{where}{range}{chain} $1 %s %[1]s %% O''Brien \`
	db.Exec(t, `UPDATE "Staff Member" SET label = $1 WHERE label = 'bob'`, strings.ReplaceAll(label, "''", "'"))
	file := writeConfig(t, `<SetTenant>
  <Object name="Staff Member">
    <TenantRule type="Name">Other</TenantRule>
    <Where>label = '`+label+`' -- {where} $2 %d
    </Where>
  </Object>
</SetTenant>`)
	const other = "aaaaaaaa-0000-0000-0000-000000000002"
	want := "ann=NULL cy=NULL dee=NULL skip=NULL " + strings.ReplaceAll(label, "''", "'") + "=" + other
	for _, args := range [][]string{nil, {"-r"}, {"--batch-size", "2"}} {
		db.Exec(t, `UPDATE "Staff Member" SET owner_id = NULL`)
		res := testkit.Run(t, db, append([]string{"settenant", "--tenant-column", "owner_id", "-f", file}, args...)...)
		if res.Code != 0 {
			t.Fatalf("%q: exit %d\n%s%s", args, res.Code, res.Stdout, res.Stderr)
		}
		if got := tenants(t, db, `SELECT label, owner_id FROM "Staff Member" ORDER BY label COLLATE "C"`); got != want {
			t.Errorf("%q: staff %s\nwant         %s", args, got, want)
		}
	}
}
