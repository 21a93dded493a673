package e2e_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tenantkit/tenantkit/internal/testkit"
)

// moveSourceSQL gives database A, converted, what a moved tenant must take
// along: Acme Europe (under Acme) gets a ticket assigned to the service
// provider's contact (an eligible SREL) about a new public category and an
// untenanted priority B lacks. Its other rows already reference Acme's
// (its supertenant's) organization and contact, public categories and
// priorities.
const moveSourceSQL = `
INSERT INTO priority VALUES ('P5', 'Someday', 5);
INSERT INTO category (id, sym, description) VALUES (4, 'Printers', 'Printers and toner');
INSERT INTO call_req (ref_num, summary, customer, assignee, category, organization, priority, open_date, tenant)
SELECT 'CR-1006', 'Toner low', '00000000-0000-0000-0000-000000000006', '00000000-0000-0000-0000-000000000007',
	4, 4, 'P5', '2026-03-11 09:00', id FROM ca_tenant WHERE name = 'Acme Europe'`

// moveTargetSQL makes database B, converted, one that holds other tenants
// but not Acme Europe, with its own tenant keys (every tenant's key is one
// more than in A) and its own copy of Acme's contact wcoyote: another key
// (uuid …0011) and another e-mail address, which the move must keep.
const moveTargetSQL = `
DELETE FROM call_req WHERE ref_num = 'CR-1005';
DELETE FROM ca_contact WHERE userid = 'jdupont';
DELETE FROM ca_location WHERE name = 'Paris';
DELETE FROM ca_organization WHERE name = 'Acme Europe';
DELETE FROM ca_tenant WHERE name = 'Acme Europe';
INSERT INTO ca_contact (id, userid, last_name, first_name, email, organization, location, tenant)
SELECT '00000000-0000-0000-0000-000000000011', 'wcoyote-b', last_name, first_name, 'wile@b.example', organization, location, tenant
FROM ca_contact WHERE userid = 'wcoyote';
UPDATE call_req SET customer = '00000000-0000-0000-0000-000000000011' WHERE customer = '00000000-0000-0000-0000-000000000001';
UPDATE call_req SET assignee = '00000000-0000-0000-0000-000000000011' WHERE assignee = '00000000-0000-0000-0000-000000000001';
DELETE FROM ca_contact WHERE userid = 'wcoyote';
UPDATE ca_contact SET userid = 'wcoyote' WHERE userid = 'wcoyote-b'`

// movedRows describes B's rows the move concerns: Acme Europe's tickets
// with their customer, assignee (and its e-mail), category, priority and
// organization, and how many copies B holds of each shared row.
const movedRows = `
SELECT r.ref_num || ' ' || concat_ws(' ', c.userid, a.userid || '<' || coalesce(a.email, '') || '>', a.id::text, cat.sym, r.priority, o.name || '^' || p.name, t.name)
FROM call_req r JOIN ca_contact c ON c.id = r.customer JOIN ca_contact a ON a.id = r.assignee
JOIN category cat ON cat.id = r.category JOIN ca_organization o ON o.id = r.organization
JOIN ca_organization p ON p.id = o.parent_org_id JOIN ca_tenant t ON t.id = r.tenant
WHERE t.name = 'Acme Europe'
UNION ALL SELECT 'copies ' || concat_ws('/',
	(SELECT count(*) FROM ca_contact WHERE userid IN ('wcoyote', 'orphan')),
	(SELECT count(*) FROM ca_organization WHERE name = 'Acme'),
	(SELECT count(*) FROM ca_location WHERE name = 'Acme HQ'),
	(SELECT count(*) FROM category WHERE sym IN ('Hardware', 'Printers')),
	(SELECT count(*) FROM priority WHERE code IN ('P2', 'P5')))
ORDER BY 1`

// TestMoveTenantToAnotherDatabase is workflow 4: copy tenant Acme Europe
// from database A into database B (same schema, other tenants, its own
// copies of shared rows) with tenant-extract --with-references, tenant
// create and userload -t --new-keys; verify on B is clean. A target with
// another schema, or without the owners of the shared rows, is exit 2 and
// changes nothing.
func TestMoveTenantToAnotherDatabase(t *testing.T) {
	t.Parallel()
	a := testkit.NewFixtureDB(t)
	convert(t, a)
	a.Exec(t, moveSourceSQL)
	b := testkit.NewFixtureDB(t)
	b.Exec(t, `INSERT INTO ca_tenant (name) VALUES ('placeholder'); DELETE FROM ca_tenant`) // B's keys differ from A's
	convert(t, b)
	b.Exec(t, moveTargetSQL)
	run(t, b, 0, "verify")

	file := filepath.Join(t.TempDir(), "acme-europe.dat")
	res := run(t, a, 0, "tenant-extract", "--tenant", "Acme Europe", "--with-references", "-o", file)
	wantLine(t, "tenant-extract", res.Stderr, "extracted 15 rows from 13 tables to "+file+" (userload)")
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	// The owners of the shared rows: the supertenant and the service
	// provider, by A's keys.
	if !strings.HasPrefix(string(data), "TABLE ca_tenant SHARED\n    id name\n    { \"1\", \"Service Provider\" }\n    { \"2\", \"Acme\" }\n") {
		t.Errorf("the file does not start with the owners:\n%s", data)
	}
	for _, want := range []string{"TABLE ca_contact SHARED", "TABLE category SHARED", "TABLE priority SHARED", "TABLE ca_organization SHARED", "TABLE ca_location SHARED"} {
		if !strings.Contains(string(data), want+"\n") {
			t.Errorf("no section %q in\n%s", want, data)
		}
	}

	run(t, b, 0, "tenant", "create", "--parent", "Acme", "Acme Europe")
	before := db2rows(t, b, ownedRows)
	// A target without the supertenant (by name): exit 2, nothing changed.
	b.Exec(t, `UPDATE ca_tenant SET name = 'Acme Corp' WHERE name = 'Acme'`)
	res = run(t, b, 2, "userload", "-t", "Acme Europe", "--new-keys", "-f", file)
	if !strings.Contains(res.Stderr, file+`:4:5: ca_tenant: the file's shared rows are owned by "Acme" (key 2 in the file), but this database has no tenant of that name: create it first`) {
		t.Errorf("missing owner: stderr %q", res.Stderr)
	}
	b.Exec(t, `UPDATE ca_tenant SET name = 'Acme' WHERE name = 'Acme Corp'`)
	// A target of another schema: exit 2, nothing changed.
	b.Exec(t, `ALTER TABLE call_req RENAME COLUMN tags TO labels`)
	res = run(t, b, 2, "userload", "-t", "Acme Europe", "--new-keys", "-f", file)
	if !strings.Contains(res.Stderr, `: table "call_req" has no column "tags"`) {
		t.Errorf("other schema: stderr %q", res.Stderr)
	}
	b.Exec(t, `ALTER TABLE call_req RENAME COLUMN labels TO tags`)
	if got := db2rows(t, b, ownedRows); strings.Join(got, "\n") != strings.Join(before, "\n") {
		t.Errorf("a refused load changed B:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(before, "\n"))
	}

	res = run(t, b, 0, "userload", "-t", "Acme Europe", "--new-keys", "-f", file)
	wantLine(t, "userload", res.Stdout, "15 records read, 0 rejected, committed")
	wantLine(t, "userload", res.Stdout, "ca_contact               1          0          2          0          0")
	wantLine(t, "userload", res.Stdout, "category                 1          0          1          0          0")
	res = run(t, b, 0, "verify")
	wantLine(t, "verify", res.Stdout, "total                            0")

	// Acme Europe's tickets point at B's copies: Acme's wcoyote with B's key
	// and e-mail, the service provider's contact, the public categories and
	// priorities; shared rows B had are not duplicated, those it lacked are
	// inserted once.
	want := []string{
		"CR-1005 jdupont wcoyote<wile@b.example> 00000000-0000-0000-0000-000000000011 Hardware P2 Acme Europe^Acme Acme Europe",
		"CR-1006 jdupont orphan<> 00000000-0000-0000-0000-000000000007 Printers P5 Acme Europe^Acme Acme Europe",
		"copies 2/1/1/2/2",
	}
	if got := db2rows(t, b, movedRows); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("B after the move:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// --new-keys: the moved rows got B's fresh keys, not A's; the owner is
	// B's Acme Europe, under B's Acme.
	if got, want := b.Value(t, `SELECT concat_ws(' ', (SELECT id <> '00000000-0000-0000-0000-000000000006' FROM ca_contact WHERE userid = 'jdupont'),
		(SELECT id > 6 FROM ca_organization WHERE name = 'Acme Europe'), (SELECT string_agg((id > 5)::text, ',') FROM call_req WHERE ref_num IN ('CR-1005', 'CR-1006')),
		(SELECT t.id::text || '^' || p.name FROM ca_tenant t JOIN ca_tenant p ON p.id = t.parent WHERE t.name = 'Acme Europe'))`), "t t true,true 8^Acme"; got != want {
		t.Errorf("moved keys and owner: %s, want %s", got, want)
	}
	// The other tenants' rows are as they were.
	after := db2rows(t, b, ownedRows)
	for i, r := range before {
		if strings.HasPrefix(r, "Acme Europe ") {
			continue
		}
		if !strings.Contains("\n"+strings.Join(after, "\n")+"\n", "\n"+r+"\n") && !strings.HasPrefix(r, "public ") {
			t.Errorf("row %d of the census changed: %q not in\n%s", i, r, strings.Join(after, "\n"))
		}
	}
	wantLine(t, "census", strings.Join(after, "\n"), "Acme Europe 1/1/1/2/0/0/0")
	wantLine(t, "census", strings.Join(after, "\n"), "public 0/0/0/0/4/2/2")

}

// db2rows is the first column of each row of sql on db.
func db2rows(t *testing.T, db *testkit.DB, sql string) []string {
	t.Helper()
	var out []string
	for _, r := range db.Rows(t, sql) {
		out = append(out, r[0])
	}
	return out
}
