package load_test

import (
	"strings"
	"testing"

	"github.com/tenantkit/tenantkit/internal/testkit"
)

// tenantDB is the fixture database with a tenant hierarchy:
//
//	SP (1, service provider)   Acme (2) ── AcmeSub (3)   Globex (4)   Dead (5, inactive)
//
// and rows owned by them: organizations 1 and 4 are Acme's, 2 Globex's, 3
// the service provider's; contact mbolton is the service provider's,
// hscorpio Globex's, wcoyote and rrunner Acme's; category 3 is Globex's,
// the others public.
func tenantDB(t *testing.T) *testkit.DB {
	db := testkit.NewFixtureDB(t)
	db.Exec(t, `
		INSERT INTO ca_tenant (id, name, service_provider, subtenants_ok) VALUES (1, 'SP', true, true), (2, 'Acme', false, true), (4, 'Globex', false, false);
		INSERT INTO ca_tenant (id, name, parent) VALUES (3, 'AcmeSub', 2);
		INSERT INTO ca_tenant (id, name, active) VALUES (5, 'Dead', false);
		SELECT setval(pg_get_serial_sequence('ca_tenant', 'id'), 5);
		UPDATE ca_organization SET tenant = 2 WHERE id IN (1, 4);
		UPDATE ca_organization SET tenant = 4 WHERE id = 2;
		UPDATE ca_organization SET tenant = 1 WHERE id IN (3, 5, 6);
		UPDATE ca_contact SET tenant = 1 WHERE userid IN ('mbolton', 'plumbergh', 'orphan', 'jdupont');
		UPDATE ca_contact SET tenant = 4 WHERE userid = 'hscorpio';
		UPDATE ca_contact SET tenant = 2 WHERE userid IN ('wcoyote', 'rrunner');
		UPDATE category SET tenant = 4 WHERE id = 3;
		UPDATE ca_location SET tenant = 1`)
	return db
}

func TestTenantStampsTenantedTablesOnly(t *testing.T) {
	db := tenantDB(t)
	f := write(t, "seed.dat", `TABLE priority
    code label sort_order
    { "P7", "Seven", "7" }
TABLE category
    id sym tenant
    { "30", "Acme hardware", "4" }
TABLE ca_organization
    id name
    { "30", "Acme Labs" }
`)
	res := userload(t, db, 0, "--schema", overlay, "-t", "Acme", "--json", "-f", f)
	if !strings.Contains(res.Stdout, `"stamped": 1`) || !strings.Contains(res.Stdout, `"name": "Acme"`) {
		t.Errorf("summary:\n%s", res.Stdout)
	}
	wantRows(t, db, "SELECT sym, tenant FROM category WHERE id = 30", "Acme hardware|2")
	wantRows(t, db, "SELECT name, tenant FROM ca_organization WHERE id = 30", "Acme Labs|2")
	wantRows(t, db, "SELECT label FROM priority WHERE code = 'P7'", "Seven")

	// By key too; an unknown or inactive tenant changes nothing.
	g := write(t, "seed2.dat", "TABLE category\n id sym\n { \"31\", \"Globex thing\" }\n")
	userload(t, db, 0, "--schema", overlay, "-t", "4", "-f", g)
	wantRows(t, db, "SELECT tenant FROM category WHERE id = 31", "4")
	// A record may not take over another tenant's row or a public one.
	steal := write(t, "steal.dat", "TABLE category\n id sym\n { \"3\", \"mine now\" }\n { \"1\", \"mine too\" }\n")
	res = userload(t, db, 1, "--schema", overlay, "-t", "Acme", "-f", steal)
	for _, want := range []string{
		steal + `:3:2: category: key (id)=(3) matches a row owned by tenant "Globex" (4); loading for tenant "Acme" (2), a record may change only that tenant's rows`,
		steal + `:4:2: category: key (id)=(1) matches a row that is public; loading for tenant "Acme" (2)`,
	} {
		if !strings.Contains(res.Stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, res.Stderr)
		}
	}
	wantRows(t, db, "SELECT id, sym, tenant FROM category WHERE id IN (1, 3) ORDER BY id", "1|Hardware|NULL\n3|Network|4")
	for _, bad := range []string{"Nobody", "Dead"} {
		h := write(t, "seed3.dat", "TABLE category\n id sym\n { \"32\", \"x\" }\n")
		res := userload(t, db, 2, "--schema", overlay, "-t", bad, "-f", h)
		if !strings.Contains(res.Stderr, bad) {
			t.Errorf("-t %s: %s", bad, res.Stderr)
		}
		wantRows(t, db, "SELECT count(*) FROM category WHERE id = 32", "0")
	}
}

func TestTenantRequiredRowWithoutTenantIsRejected(t *testing.T) {
	db := tenantDB(t)
	f := write(t, "orgs.dat", `TABLE ca_organization
    id name tenant
    { "40", "Has tenant", "2" }
    { "41", "No tenant", NULL }
TABLE ca_location
    name
    { "Nowhere" }
`)
	res := userload(t, db, 1, "--schema", overlay, "-f", f)
	for _, want := range []string{
		f + `:4:5: ca_organization: column "tenant": the table is tenant-required and the record has no tenant`,
		f + `:7:5: ca_location: column "tenant": the table is tenant-required and the record has no tenant`,
	} {
		if !strings.Contains(res.Stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, res.Stderr)
		}
	}
	wantRows(t, db, "SELECT count(*) FROM ca_organization WHERE id >= 40", "0")
}

func TestReferenceRule(t *testing.T) {
	db := tenantDB(t)
	// Loaded for AcmeSub (3), whose supertenants are AcmeSub and Acme.
	f := write(t, "cr.dat", `TABLE call_req
    ref_num summary open_date organization customer assignee category
    { "OK-1", "supertenant org, supertenant contact, public category", "2026-04-01 09:00:00", "1", "00000000-0000-0000-0000-000000000001", NULL, "1" }
    { "OK-2", "own org loaded in this run", "2026-04-01 09:00:00", "50", NULL, NULL, NULL }
    { "OK-3", "service provider assignee: eligible SREL", "2026-04-01 09:00:00", NULL, NULL, "00000000-0000-0000-0000-000000000005", NULL }
    { "BAD-1", "another tenant's org (foreign key)", "2026-04-01 09:00:00", "2", NULL, NULL, NULL }
    { "BAD-2", "another tenant's assignee (overlay SREL only)", "2026-04-01 09:00:00", NULL, NULL, "00000000-0000-0000-0000-000000000003", NULL }
    { "BAD-3", "service provider customer: not eligible", "2026-04-01 09:00:00", NULL, "00000000-0000-0000-0000-000000000005", NULL, NULL }
    { "BAD-4", "another tenant's category", "2026-04-01 09:00:00", NULL, NULL, NULL, "3" }
TABLE ca_organization
    id name parent_org_id
    { "50", "AcmeSub org", "1" }
    { "51", "Bad parent", "2" }
`)
	res := userload(t, db, 1, "--schema", overlay, "-t", "AcmeSub", "-f", f)
	for _, want := range []string{
		f + `:6:5: call_req: column "organization": value "2": reference rule: SREL organization (through a foreign key) points at a row of org owned by tenant "Globex" (4), which is neither public nor tenant "AcmeSub" (3) or one of its supertenants`,
		f + `:7:5: call_req: column "assignee": value "00000000-0000-0000-0000-000000000003": reference rule: SREL assignee (through an overlay SREL, service-provider eligible) points at a row of cnt owned by tenant "Globex" (4)`,
		f + `:8:5: call_req: column "customer": value "00000000-0000-0000-0000-000000000005": reference rule: SREL customer (through a foreign key) points at a row of cnt owned by tenant "SP" (1)`,
		f + `:9:5: call_req: column "category": value "3": reference rule`,
		f + `:13:5: ca_organization: column "parent_org_id": value "2": reference rule: SREL parent_org (through an overlay SREL) points at a row of org owned by tenant "Globex" (4)`,
		"5 record(s) rejected; nothing was loaded",
	} {
		if !strings.Contains(res.Stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, res.Stderr)
		}
	}
	for _, bad := range []string{"OK-1", "OK-2", "OK-3"} {
		if strings.Contains(res.Stderr, bad) {
			t.Errorf("%s rejected:\n%s", bad, res.Stderr)
		}
	}
	wantRows(t, db, "SELECT count(*) FROM call_req WHERE ref_num LIKE 'OK-%'", "0")

	rej := write(t, "rej.dat", "")
	res = userload(t, db, 1, "--schema", overlay, "-t", "AcmeSub", "--json", "--rejects", rej, "-f", f)
	if !strings.Contains(res.Stdout, `"reference_rule_rejects": 4`) || !strings.Contains(res.Stdout, `"reference rule": 5`) {
		t.Errorf("summary:\n%s", res.Stdout)
	}
	wantRows(t, db, "SELECT ref_num, tenant FROM call_req WHERE tenant IS NOT NULL ORDER BY ref_num", "OK-1|3\nOK-2|3\nOK-3|3")
	wantRows(t, db, "SELECT id, tenant FROM ca_organization WHERE id >= 50 ORDER BY id", "50|3")

	// Without -t the owner is the record's own tenant value.
	g := write(t, "cr2.dat", `TABLE call_req
    ref_num summary open_date organization tenant
    { "G-1", "Globex ticket on Globex org", "2026-04-01 09:00:00", "2", "4" }
    { "G-2", "Globex ticket on Acme org", "2026-04-01 09:00:00", "1", "4" }
`)
	res = userload(t, db, 1, "--schema", overlay, "-f", g)
	if !strings.Contains(res.Stderr, g+`:4:5: call_req: column "organization": value "1": reference rule`) || strings.Contains(res.Stderr, "G-1") {
		t.Errorf("stderr:\n%s", res.Stderr)
	}
}

func TestNewKeysSeedsTwoTenantsFromOneTemplate(t *testing.T) {
	db := tenantDB(t)
	tpl := `# a template: children before parents, keys are labels
TABLE call_req
    id ref_num summary open_date organization customer category
    { "1", "WELCOME-%s", "Welcome", "2026-04-01 09:00:00", "100", "aaaaaaaa-0000-0000-0000-000000000001", "50" }
TABLE ca_contact
    id last_name organization
    { "aaaaaaaa-0000-0000-0000-000000000001", "Template admin", "101" }
TABLE category
    id sym
    { "50", "Template category" }
TABLE ca_organization
    id name parent_org_id
    { "101", "Template child", "100" }
    { "100", "Template root", NULL }
TABLE priority
    code label sort_order
    { "P6", "Template priority", "6" }
`
	for _, tenantName := range []string{"Acme", "Globex"} {
		f := write(t, "tpl.dat", strings.Replace(tpl, "%s", tenantName, 1))
		res := userload(t, db, 0, "--schema", overlay, "-t", tenantName, "--new-keys", "--json", "-f", f)
		if !strings.Contains(res.Stdout, `"rewired": 3`) {
			t.Errorf("summary:\n%s", res.Stdout)
		}
	}
	// Every reference lands inside its own tenant; no label survives.
	wantRows(t, db, `
		SELECT c.ref_num, c.tenant, o.tenant, o.name, po.tenant, po.name, k.tenant, k.last_name, ko.name, cat.tenant, cat.sym
		FROM call_req c
		JOIN ca_organization o ON o.id = c.organization
		JOIN ca_contact k ON k.id = c.customer
		JOIN ca_organization ko ON ko.id = k.organization
		JOIN category cat ON cat.id = c.category
		LEFT JOIN ca_organization po ON po.id = (SELECT parent_org_id FROM ca_organization WHERE id = ko.id)
		WHERE c.ref_num LIKE 'WELCOME-%' ORDER BY c.ref_num`, `
		WELCOME-Acme|2|2|Template root|2|Template root|2|Template admin|Template child|2|Template category
		WELCOME-Globex|4|4|Template root|4|Template root|4|Template admin|Template child|4|Template category`)
	wantRows(t, db, "SELECT count(*) FROM ca_organization WHERE id IN (100, 101) OR name LIKE 'Template%' AND tenant IS NULL", "0")
	wantRows(t, db, "SELECT count(*) FROM ca_contact WHERE id = 'aaaaaaaa-0000-0000-0000-000000000001'", "0")
	wantRows(t, db, "SELECT count(*), min(tenant), max(tenant) FROM category WHERE sym = 'Template category'", "2|2|4")
	// priority has no tenancy and a key without default: matched as usual.
	wantRows(t, db, "SELECT count(*) FROM priority WHERE code = 'P6'", "1")
}

func TestTenantColumnWithAnotherName(t *testing.T) {
	db := testkit.NewDB(t)
	db.Exec(t, `
		CREATE TABLE clients (client_no serial PRIMARY KEY, name text NOT NULL UNIQUE, active boolean NOT NULL DEFAULT true);
		INSERT INTO clients (name) VALUES ('One'), ('Two');
		CREATE TABLE assets (tag text, site text, owned_by int NOT NULL REFERENCES clients, PRIMARY KEY (tag, site));
		CREATE TABLE notes (note_id uuid PRIMARY KEY DEFAULT gen_random_uuid(), body text, tag text, site text, owned_by int REFERENCES clients,
			FOREIGN KEY (tag, site) REFERENCES assets (tag, site));
		INSERT INTO assets VALUES ('x', 'north', 2)`)
	f := write(t, "a.dat", `TABLE notes
    note_id body tag site
    { "bbbbbbbb-0000-0000-0000-000000000001", "on my asset", "A1", "south" }
    { "bbbbbbbb-0000-0000-0000-000000000002", "on client Two's asset", "x", "north" }
TABLE assets
    tag site
    { "A1", "south" }
`)
	res := userload(t, db, 1, "--tenant-column", "owned_by", "-t", "One", "-f", f)
	if !strings.Contains(res.Stderr, f+`:4:5: notes: column "tag, site": reference rule: SREL notes_tag_site_fkey (through a foreign key) points at a row of assets owned by tenant "Two" (2)`) {
		t.Errorf("stderr:\n%s", res.Stderr)
	}
	g := write(t, "b.dat", strings.Replace(string(mustRead(t, f)), `    { "bbbbbbbb-0000-0000-0000-000000000002", "on client Two's asset", "x", "north" }`+"\n", "", 1))
	userload(t, db, 0, "--tenant-column", "owned_by", "-t", "One", "-f", g)
	wantRows(t, db, "SELECT tag, site, owned_by FROM assets ORDER BY tag", "A1|south|1\nx|north|2")
	wantRows(t, db, "SELECT body, owned_by FROM notes", "on my asset|1")
}

// TestFastPathKeepsTenantRules loads into an empty tenanted table, which
// goes straight into the table by COPY: the reference rule is still
// checked, a violation names its record and leaves the table empty, and a
// clean file is loaded by the fast path.
func TestFastPathKeepsTenantRules(t *testing.T) {
	db := testkit.NewDB(t)
	db.Exec(t, `
		CREATE TABLE clients (client_no serial PRIMARY KEY, name text NOT NULL UNIQUE);
		INSERT INTO clients (name) VALUES ('One'), ('Two');
		CREATE TABLE sites (site_id int PRIMARY KEY, owned_by int REFERENCES clients);
		INSERT INTO sites VALUES (10, 1), (20, 2), (30, NULL);
		CREATE TABLE devices (serial text PRIMARY KEY, site int REFERENCES sites, owned_by int REFERENCES clients)`)
	f := write(t, "devices.csv", "serial,site,owned_by\nd1,10,1\nd2,20,1\nd3,30,2\n")
	res := userload(t, db, 1, "--tenant-column", "owned_by", "-f", f)
	if want := f + `:3:1: devices: column "site": value "20": reference rule: SREL`; !strings.Contains(res.Stderr, want) {
		t.Errorf("stderr lacks %q:\n%s", want, res.Stderr)
	}
	wantRows(t, db, "SELECT count(*) FROM devices", "0")
	g := write(t, "devices.csv", "serial,site,owned_by\nd1,10,1\nd3,30,2\nd4,,\n")
	res = userload(t, db, 0, "--tenant-column", "owned_by", "--json", "-f", g)
	if !strings.Contains(res.Stdout, `"fast_path": true`) {
		t.Errorf("empty table not loaded by the fast path:\n%s", res.Stdout)
	}
	wantRows(t, db, "SELECT serial, coalesce(site::text, 'NULL'), coalesce(owned_by::text, 'NULL') FROM devices ORDER BY serial",
		"d1|10|1\nd3|30|2\nd4|NULL|NULL")
}
