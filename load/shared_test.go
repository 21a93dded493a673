package load_test

import (
	"strings"
	"testing"

	"github.com/tenantkit/tenantkit/internal/testkit"
	"github.com/tenantkit/tenantkit/load"
	"github.com/tenantkit/tenantkit/schema"
)

// moveTarget is database B of a tenant move: realms 10 Hub (the service
// provider), 11 Parent, 12 Child under Parent, 13 Else; its own copies of
// the unit u1 and the public kind alpha (another key, 7), Else's kind on
// key 4, and Hub's agent under another key.
const moveTarget = `
INSERT INTO realm (rid, label, up, sp) VALUES (10, 'Hub', NULL, true), (11, 'Parent', NULL, false), (12, 'Child', 11, false), (13, 'Else', 10, false);
INSERT INTO unit VALUES ('u1', 'Unit one of B');
INSERT INTO kind VALUES (7, 'alpha', NULL), (4, 'zeta', 13);
SELECT setval(pg_get_serial_sequence('public.kind', 'kid'), 7);
INSERT INTO agent VALUES ('00000000-0000-0000-0000-0000000000b1', 'hub-agent', 10);
`

// moveFile is what tenant-extract --with-references writes for Child in the
// source database (realms 1 Hub, 2 Parent, 3 Child).
const moveFile = `TABLE realm SHARED
    rid label
    { "1", "Hub" }
    { "2", "Parent" }

TABLE unit SHARED
    code title
    { "u1", "Unit one" }
    { "u2", "Unit two" }

TABLE agent SHARED
    aid handle owner_id
    { "00000000-0000-0000-0000-000000000001", "hub-agent", "1" }

TABLE agent
    aid handle owner_id
    { "00000000-0000-0000-0000-000000000003", "child-agent", "3" }

TABLE kind SHARED
    kid tag owner_id
    { "1", "alpha", NULL }
    { "4", "beta", "2" }
    { "9", "alpha", "2" }

TABLE job
    jid ref kind unit agent helper owner_id
    { "1", "J1", "1", "u1", "00000000-0000-0000-0000-000000000003", "00000000-0000-0000-0000-000000000001", "3" }
    { "2", "J2", "4", "u2", "00000000-0000-0000-0000-000000000003", NULL, "3" }
    { "3", "J3", "9", NULL, "00000000-0000-0000-0000-000000000003", NULL, "3" }
`

// TestRunSharedSectionsInProcess: loading a moved tenant keeps the
// database's own copies of shared rows (matched by the overlay key, else
// the primary key, and the owner: a public kind and a supertenant's of the
// same tag are two rows) and points the tenant's references at them, inserts
// the shared rows it lacks (a fresh key where its own row holds the
// file's), gives their owners the database's keys by name, and stamps the
// tenant's own rows with fresh keys.
func TestRunSharedSectionsInProcess(t *testing.T) {
	db, overlay := testkit.NewMoveDB(t, moveTarget)
	run := inProcess(t, db, schema.Options{Overlay: overlay})
	f := write(t, "child.dat", moveFile)
	sum, rejects, err := run(load.Options{Files: []string{f}, Tenant: "Child", NewKeys: true})
	if err != nil || len(rejects) > 0 {
		t.Fatalf("Run: %v %v", err, rejectTexts(rejects))
	}
	for table, want := range map[string]string{"realm": "0/0/2/0/0", "unit": "1/0/1/0/0", "agent": "1/0/1/0/0", "kind": "2/0/1/0/0", "job": "3/0/0/0/0"} {
		if got := tableCounts(t, sum, table); got != want {
			t.Errorf("%s: inserted/updated/unchanged/deleted/rejected %s, want %s", table, got, want)
		}
	}
	wantRows(t, db, `SELECT code, title FROM unit ORDER BY 1`, "u1|Unit one of B\nu2|Unit two")
	// B's alpha (7) is the public one's copy; Parent's alpha keeps its key
	// (9, free in B); beta's key 4 is Else's zeta here: a fresh key (8).
	wantRows(t, db, `SELECT tag, kid, coalesce(owner_id::text, '-') FROM kind ORDER BY 1, 2`, "alpha|7|-\nalpha|9|11\nbeta|8|11\nzeta|4|13")
	wantRows(t, db, `SELECT handle, aid::text LIKE '00000000-0000-0000-0000-0000000000%', owner_id FROM agent ORDER BY 1`, "child-agent|f|12\nhub-agent|t|10")
	wantRows(t, db, `SELECT j.ref, k.tag, coalesce(k.owner_id::text, '-'), coalesce(j.unit, '-'), a.handle, coalesce(h.handle || ' ' || h.aid::text, '-'), j.owner_id
		FROM job j JOIN kind k ON k.kid = j.kind JOIN agent a ON a.aid = j.agent LEFT JOIN agent h ON h.aid = j.helper ORDER BY 1`,
		"J1|alpha|-|u1|child-agent|hub-agent 00000000-0000-0000-0000-0000000000b1|12\n"+
			"J2|beta|11|u2|child-agent|-|12\nJ3|alpha|11|-|child-agent|-|12")
}

// TestRunSharedSectionsRefusedInProcess: shared sections need -t (exit 2),
// a mode that inserts and no partial load (exit 2), and owners the database has by name (exit
// 2 naming them, nothing changed); a shared row whose owner the file does
// not name is a reject.
func TestRunSharedSectionsRefusedInProcess(t *testing.T) {
	db, overlay := testkit.NewMoveDB(t, moveTarget)
	run := inProcess(t, db, schema.Options{Overlay: overlay})
	f := write(t, "child.dat", moveFile)
	_, _, err := run(load.Options{Files: []string{f}})
	wantErr(t, err, f+`:1: table "realm": a file with SHARED sections moves a tenant (extract.TenantOptions.WithReferences): give Options.Tenant`)
	_, _, err = run(load.Options{Files: []string{f}, Tenant: "Child", RejectsFile: f + ".rej"})
	wantErr(t, err, f+`:1: table "realm": a file with SHARED sections moves a tenant as a whole: it cannot be loaded in part with Options.RejectsFile`)
	_, _, err = run(load.Options{Files: []string{f}, Tenant: "Child", Mode: load.Delete})
	wantErr(t, err, f+`:1: table "realm": a SHARED section is only inserted where missing; it cannot be loaded with delete`)

	db.Exec(t, `UPDATE realm SET label = 'Parent of B' WHERE rid = 11`)
	_, _, err = run(load.Options{Files: []string{f}, Tenant: "Child", NewKeys: true})
	wantErr(t, err, f+`:4:5: realm: the file's shared rows are owned by "Parent" (key 2 in the file), but this database has no tenant of that name: create it first`)
	wantRows(t, db, `SELECT count(*) FROM unit`, "1")
	db.Exec(t, `UPDATE realm SET label = 'Parent' WHERE rid = 11`)

	g := write(t, "owner.dat", `TABLE kind SHARED
    kid tag owner_id
    { "8", "theta", "2" }
`)
	_, rejects, err := run(load.Options{Files: []string{g}, Tenant: "Child"})
	wantErr(t, err, "1 record(s) rejected")
	if got := rejectTexts(rejects); len(got) != 1 || !strings.Contains(got[0], "the owner of this shared row (key 2 in the file) is not named in the file's SHARED section of the tenant table") {
		t.Errorf("rejects %q", got)
	}
}
