package extract_test

import (
	"os"
	"reflect"
	"testing"

	"github.com/tenantkit/tenantkit/internal/testkit"
)

// otherSchema is a database unlike the fixtures: a tenant table with
// unconventional names, a tenant column called owner_ref, text keys, a
// composite key, a public self-referencing chain, references without
// foreign keys, and awkward values of many types.
const otherSchema = `
CREATE SCHEMA crm;
CREATE TABLE crm."Org Unit" (
    unit_code text PRIMARY KEY,
    label     text NOT NULL UNIQUE,
    up_code   text REFERENCES crm."Org Unit" (unit_code),
    may_nest  boolean NOT NULL DEFAULT true
);
CREATE TABLE crm.region (
    code      text PRIMARY KEY,
    parent    text,               -- public hierarchy, overlay SREL only
    owner_ref text REFERENCES crm."Org Unit" (unit_code)
);
CREATE TABLE crm.account (
    country   char(2) NOT NULL,
    acct_no   text NOT NULL,
    region    text REFERENCES crm.region (code),
    note      text,
    amounts   numeric(30,10)[],
    ratio     double precision,
    span      interval,
    payload   json,
    blob      bytea,
    seen_at   timestamptz,
    owner_ref text NOT NULL REFERENCES crm."Org Unit" (unit_code),
    changed   bigint NOT NULL DEFAULT 0,
    doubled   text GENERATED ALWAYS AS (acct_no || acct_no) STORED,
    PRIMARY KEY (country, acct_no)
);
CREATE TABLE crm.audit_log (at timestamptz, msg text);
INSERT INTO crm.audit_log VALUES ('2026-01-01 00:00:00+00', 'b'), ('2026-01-01 00:00:00+00', 'a'), (NULL, NULL), (NULL, '');
INSERT INTO crm."Org Unit" VALUES ('HQ', 'Head office', NULL, true), ('T1', 'Tenant ''one''', 'HQ', true), ('T1a', 'Sub of one', 'T1', false), ('T2', 'Two', 'HQ', false);
INSERT INTO crm.region VALUES ('world', NULL, NULL), ('eu', 'world', NULL), ('fr', 'eu', NULL), ('mine', 'world', 'T1'), ('unused', NULL, NULL);
INSERT INTO crm.account (country, acct_no, region, note, amounts, ratio, span, payload, blob, seen_at, owner_ref, changed) VALUES
    ('FR', 'a\tb', 'fr', E'tab\there, newline\nthere, CR\r, backslash \\ and "quotes"', '{1.5,NULL,-0.0000000001}', 0.1, '1 day 02:03:04.5', '{"a": [1, "é"]}', '\x00ff5c0a09', '2026-03-29 01:30:00+02', 'T1', 1),
    ('FR', 'empty', NULL, '', '{}', 'NaN', '-1 mon', 'null', '\x', '-infinity', 'T1', 1),
    ('DE', 'null', 'mine', NULL, NULL, 1e300, NULL, NULL, NULL, NULL, 'T1a', 1),
    ('US', 'other', 'eu', 'not Tenant one''s', NULL, -2.5, NULL, '{}', NULL, '2026-01-01 00:00:00+00', 'T2', 1),
    ('JP', 'ユニコード', 'world', '日本語 ✓ 🎉', NULL, 3, '00:00:00.000001', '[]', '\xdeadbeef', 'infinity', 'T1', 1);
`

const otherOverlay = `<?xml version="1.0"?>
<Schema dbSchema="crm" tenantColumn="owner_ref">
  <Tenants table="Org Unit" key="unit_code" name="label" parent="up_code" subtenantsAllowed="may_nest"/>
  <Object name="acct" table="account" tenancy="required" changeColumn="changed"/>
  <Object name="reg" table="region" tenancy="optional">
    <Srel attr="parent" column="parent" to="reg"/>
  </Object>
</Schema>
`

func otherDB(t *testing.T) (*testkit.DB, string) {
	db := testkit.NewDB(t)
	db.Exec(t, otherSchema)
	overlay := join(t.TempDir(), "crm.xml")
	if err := os.WriteFile(overlay, []byte(otherOverlay), 0o666); err != nil {
		t.Fatal(err)
	}
	return db, overlay
}

func TestOtherSchemaRoundTrip(t *testing.T) {
	db, overlay := otherDB(t)
	want := checksums2(t, db)
	dir := t.TempDir()
	for _, tc := range []struct{ name, out, format string }{
		{"userload", join(dir, "crm.dat"), ""},
		{"csv", join(dir, "crm") + "/", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			run(t, db, 0, "extract", "--sorted", "--schema", overlay, "-o", tc.out, "ALL")
			dst := testkit.NewDB(t)
			dst.Exec(t, otherSchema)
			dst.Exec(t, `TRUNCATE crm.account, crm.region, crm."Org Unit", crm.audit_log`)
			loadData(t, dst, "crm", tc.out)
			if got := checksums2(t, dst); !reflect.DeepEqual(got, want) {
				t.Errorf("checksums differ\n got %v\nwant %v", got, want)
			}
		})
	}
	// The generated column is left out; the tricky text survives exactly.
	acct := readData(t, join(dir, "crm.dat"))["account"]
	if len(acct.columns) != 12 {
		t.Errorf("account columns = %v", acct.columns)
	}
	// A table without any key comes out ordered by every column's text.
	if got := readData(t, join(dir, "crm.dat"))["audit_log"].column(t, "msg"); !reflect.DeepEqual(got, []string{"a", "b", "", "NULL"}) {
		t.Errorf("audit_log msg order = %q", got)
	}
	notes := acct.column(t, "note")
	want2 := []string{"NULL", "tab\there, newline\nthere, CR\r, backslash \\ and \"quotes\"", "", "日本語 ✓ 🎉", "not Tenant one's"}
	if !reflect.DeepEqual(notes, want2) {
		t.Errorf("notes = %q\nwant %q", notes, want2)
	}
}

// checksums2 is checksums over the crm schema.
func checksums2(t *testing.T, db *testkit.DB) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, tab := range []string{`"Org Unit"`, "region", "account", "audit_log"} {
		out[tab] = db.Value(t, `SELECT count(*) || ':' || md5(coalesce(string_agg(t::text, E'\n' ORDER BY t::text), '')) FROM crm.`+tab+` t`)
	}
	return out
}

func TestOtherSchemaTenantExtract(t *testing.T) {
	db, overlay := otherDB(t)
	dir := t.TempDir()
	pk := func(s *section) []string {
		if s == nil {
			return nil
		}
		c, a := s.column(t, "country"), s.column(t, "acct_no")
		out := make([]string, len(c))
		for i := range c {
			out[i] = c[i] + "/" + a[i]
		}
		return out
	}
	out := join(dir, "t1.dat")
	run(t, db, 0, "tenant-extract", "--sorted", "--schema", overlay, "--tenant", "Tenant 'one'", "-o", out)
	data := readData(t, out)
	if got := pk(data["account"]); !reflect.DeepEqual(got, []string{`FR/a\tb`, "FR/empty", "JP/ユニコード"}) {
		t.Errorf("accounts of T1 = %q", got)
	}
	if got := data["region"].column(t, "code"); !reflect.DeepEqual(got, []string{"mine"}) {
		t.Errorf("regions of T1 = %v", got)
	}
	// Subtenants and public rows: fr needs eu needs world, mine needs world.
	run(t, db, 0, "tenant-extract", "--sorted", "--schema", overlay, "--tenant", "T1", "--subtenants", "--with-public", "-o", out)
	data = readData(t, out)
	if got := pk(data["account"]); !reflect.DeepEqual(got, []string{"DE/null", `FR/a\tb`, "FR/empty", "JP/ユニコード"}) {
		t.Errorf("accounts of T1 and T1a = %q", got)
	}
	if got := data["region"].column(t, "code"); !reflect.DeepEqual(got, []string{"eu", "fr", "mine", "world"}) {
		t.Errorf("regions = %v", got)
	}
	// Incremental through a bigint change column (>= the mark: the rows at
	// the mark come again, nothing is missed).
	ctl := join(dir, "t2.ctl")
	run(t, db, 0, "tenant-extract", "--sorted", "--schema", overlay, "--tenant", "T2", "--objects", "acct", "--strip-tenant", "--control", ctl, "-o", out)
	db.Exec(t, `INSERT INTO crm.account (country, acct_no, owner_ref, changed) VALUES ('US', 'new', 'T2', 2), ('US', 'older', 'T2', 0)`)
	run(t, db, 0, "tenant-extract", "--sorted", "--schema", overlay, "--tenant", "T2", "--objects", "acct", "--strip-tenant", "--control", ctl, "-o", out)
	data = readData(t, out)
	if got := pk(data["account"]); !reflect.DeepEqual(got, []string{"US/new", "US/other"}) {
		t.Errorf("incremental accounts = %q", got)
	}
	for _, c := range data["account"].columns {
		if c == "owner_ref" {
			t.Errorf("--strip-tenant kept the tenant column")
		}
	}
}
