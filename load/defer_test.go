package load_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"strings"
	"testing"

	"github.com/tenantkit/tenantkit/internal/dbconn"
	"github.com/tenantkit/tenantkit/internal/testkit"
	"github.com/tenantkit/tenantkit/load"
	"github.com/tenantkit/tenantkit/schema"
)

// deferSchema has every kind of index and constraint a fast-path load takes
// off and puts back, on names unlike the fixtures': a uuid key with storage
// parameters, a unique constraint with INCLUDE and a comment, a deferrable
// foreign key, a NOT VALID self-reference, an exclusion constraint, partial,
// expression and hash indexes, CLUSTER ON, REPLICA IDENTITY USING INDEX, a
// statistics target, and another table's foreign key to it.
const deferSchema = `
CREATE TABLE region (code text PRIMARY KEY);
INSERT INTO region VALUES ('eu'), ('us');
CREATE TABLE parcel (
	id uuid PRIMARY KEY WITH (fillfactor = 80),
	ref text NOT NULL,
	region text REFERENCES region (code) ON DELETE SET NULL DEFERRABLE INITIALLY DEFERRED,
	parent uuid,
	span int4range,
	weight numeric CHECK (weight >= 0),
	CONSTRAINT parcel_ref_key UNIQUE (ref) INCLUDE (weight),
	CONSTRAINT parcel_parent_fk FOREIGN KEY (parent) REFERENCES parcel (id) NOT VALID,
	CONSTRAINT parcel_no_overlap EXCLUDE USING gist (span WITH &&)
);
CREATE INDEX "parcel lower ref" ON parcel (lower(ref)) WHERE region IS NOT NULL;
CREATE INDEX parcel_region_hash ON parcel USING hash (region);
COMMENT ON INDEX "parcel lower ref" IS 'lookup''s index';
COMMENT ON CONSTRAINT parcel_ref_key ON parcel IS 'natural key';
ALTER TABLE parcel CLUSTER ON parcel_ref_key;
ALTER TABLE parcel REPLICA IDENTITY USING INDEX parcel_pkey;
ALTER INDEX "parcel lower ref" ALTER COLUMN 1 SET STATISTICS 500;
CREATE TABLE scan (id serial PRIMARY KEY, parcel uuid REFERENCES parcel ON DELETE CASCADE);
INSERT INTO scan (parcel) VALUES (NULL);
`

// catalogDigest is every definition a rebuild must restore, without OIDs.
const catalogDigest = `
SELECT string_agg(x, E'\n' ORDER BY x) FROM (
	SELECT format('index %s: %s clustered=%s replident=%s valid=%s comment=%s stats=%s tablespace=%s',
		c.relname, pg_get_indexdef(i.indexrelid), i.indisclustered, i.indisreplident, i.indisvalid,
		obj_description(i.indexrelid, 'pg_class'),
		(SELECT string_agg(attnum || ':' || attstattarget, ',' ORDER BY attnum) FROM pg_attribute WHERE attrelid = i.indexrelid),
		c.reltablespace)
	FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
	WHERE i.indrelid IN ('parcel'::regclass, 'scan'::regclass)
	UNION ALL
	SELECT format('constraint %s.%s: %s validated=%s deferrable=%s/%s comment=%s',
		conrelid::regclass, conname, pg_get_constraintdef(oid), convalidated, condeferrable, condeferred,
		obj_description(oid, 'pg_constraint'))
	FROM pg_constraint WHERE conrelid IN ('parcel'::regclass, 'scan'::regclass)
	UNION ALL
	SELECT 'replica identity ' || relreplident::text FROM pg_class WHERE oid = 'parcel'::regclass
) d(x)`

func deferRun(t *testing.T, db *testkit.DB, opts load.Options) (*load.Summary, string, error) {
	t.Helper()
	ctx := context.Background()
	pool := db.Session(t)
	s, err := schema.Load(ctx, pool, schema.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var trace bytes.Buffer
	opts.Trace = &trace
	sum, err := load.Run(ctx, pool, s, opts)
	return sum, trace.String(), err
}

const parcels = `id,ref,region,parent,span,weight
9b2f6c1e-0000-4000-8000-000000000001,"A-1 ""north""",eu,,"[1,5)",1.5
9b2f6c1e-0000-4000-8000-000000000002,B\2,us,9b2f6c1e-0000-4000-8000-000000000001,"[5,9)",
9b2f6c1e-0000-4000-8000-000000000003,ç-3,,9b2f6c1e-0000-4000-8000-000000000002,,0
`

func TestFastPathDefersIndexesAndConstraints(t *testing.T) {
	db := testkit.NewDB(t)
	db.Exec(t, deferSchema)
	before := db.Value(t, catalogDigest)
	f := write(t, "parcel.csv", parcels)
	sum, trace, err := deferRun(t, db, load.Options{Files: []string{f}})
	if err != nil {
		t.Fatalf("load: %v\n%s", err, trace)
	}
	if sum.Tables[0].Inserted != 3 || !sum.Tables[0].FastPath {
		t.Errorf("summary: %+v", sum.Tables[0])
	}
	for _, want := range []string{
		"DROP CONSTRAINT parcel_pkey", "DROP CONSTRAINT scan_parcel_fkey", `DROP INDEX public."parcel lower ref"`,
		"ADD CONSTRAINT parcel_ref_key UNIQUE USING INDEX parcel_ref_key", "CLUSTER ON parcel_ref_key",
	} {
		if !strings.Contains(trace, want) {
			t.Errorf("the trace lacks %q:\n%s", want, trace)
		}
	}
	if after := db.Value(t, catalogDigest); after != before {
		t.Errorf("catalog changed by the load:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	wantRows(t, db, "SELECT ref, coalesce(region, 'NULL'), coalesce(weight::text, 'NULL') FROM parcel ORDER BY id",
		"A-1 \"north\"|eu|1.5\nB\\2|us|NULL\nç-3|NULL|0")
	// The rebuilt constraints hold: a second parcel with the same ref is refused.
	if _, err := db.Pool.Exec(context.Background(), `INSERT INTO parcel (id, ref) VALUES (gen_random_uuid(), 'ç-3')`); err == nil ||
		!strings.Contains(err.Error(), "parcel_ref_key") {
		t.Errorf("the unique constraint is not back: %v", err)
	}
}

// A record that breaks a deferred constraint is only found by the rebuild;
// the section then goes through staging, which names it, nothing is
// applied, and the catalog is as before.
func TestFastPathRebuildFailureNamesTheRecords(t *testing.T) {
	for _, tc := range []struct {
		name, file, want string
	}{
		{"unique", parcels + "9b2f6c1e-0000-4000-8000-000000000004,B\\2,eu,,,\n", ":5:"},
		{"foreign key", parcels + "9b2f6c1e-0000-4000-8000-000000000004,D-4,xx,,,\n", ":5:"},
		{"exclusion", parcels + "9b2f6c1e-0000-4000-8000-000000000004,D-4,eu,,\"[2,3)\",\n", ":5:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db := testkit.NewDB(t)
			db.Exec(t, deferSchema)
			before := db.Value(t, catalogDigest)
			f := write(t, "parcel.csv", tc.file)
			var rejects []load.Reject
			sum, trace, err := deferRun(t, db, load.Options{Files: []string{f}, OnReject: func(r load.Reject) { rejects = append(rejects, r) }})
			if err == nil || sum == nil || sum.Rejected == 0 {
				t.Fatalf("load: err %v, summary %+v\n%s", err, sum, trace)
			}
			if len(rejects) == 0 || !strings.Contains(rejects[len(rejects)-1].Pos.String(), tc.want) {
				t.Errorf("rejects %v do not name line %s", rejects, tc.want)
			}
			if !strings.Contains(trace, "DROP CONSTRAINT parcel_pkey") {
				t.Errorf("the fast path did not defer:\n%s", trace)
			}
			wantRows(t, db, "SELECT count(*) FROM parcel", "0")
			if after := db.Value(t, catalogDigest); after != before {
				t.Errorf("catalog changed:\nbefore:\n%s\nafter:\n%s", before, after)
			}
		})
	}
}

func TestNoDeferKeepsIndexes(t *testing.T) {
	db := testkit.NewDB(t)
	db.Exec(t, deferSchema)
	f := write(t, "parcel.csv", parcels)
	sum, trace, err := deferRun(t, db, load.Options{Files: []string{f}, NoDefer: true})
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	if !sum.Tables[0].FastPath || strings.Contains(trace, "DROP") {
		t.Errorf("--no-defer: fast path %v, trace:\n%s", sum.Tables[0].FastPath, trace)
	}
	wantRows(t, db, "SELECT count(*) FROM parcel", "3")
}

// A table the run does not own (nor one that references it) cannot have its
// constraints dropped: it is loaded with them in place.
func TestDeferSkipsTablesTheRoleDoesNotOwn(t *testing.T) {
	testkit.DropRolesAfter(t, "tk_defer_loader")
	db := testkit.NewDB(t)
	db.Exec(t, deferSchema+`
		CREATE ROLE tk_defer_loader LOGIN;
		GRANT SELECT, INSERT ON parcel, region TO tk_defer_loader;
		GRANT TEMPORARY ON DATABASE `+db.Name+` TO tk_defer_loader;`)
	f := write(t, "parcel.csv", parcels)
	ctx := context.Background()
	pool, err := dbconn.Open(ctx, db.URLAs("tk_defer_loader"), dbconn.Session{})
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	s, err := schema.Load(ctx, pool, schema.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var trace bytes.Buffer
	if _, err := load.Run(ctx, pool, s, load.Options{Files: []string{f}, Trace: &trace}); err != nil {
		t.Fatalf("load: %v\n%s", err, trace.String())
	}
	if strings.Contains(trace.String(), "DROP") {
		t.Errorf("dropped constraints of a table it does not own:\n%s", trace.String())
	}
	wantRows(t, db, "SELECT count(*) FROM parcel", "3")
}

// Indexes in their own tablespace are rebuilt there (pg_get_indexdef leaves
// the tablespace out).
func TestDeferKeepsTablespaces(t *testing.T) {
	dir, err := os.MkdirTemp("", "tk-tablespace-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := testkit.ChownToServer(dir); err != nil {
		t.Fatal(err)
	}
	var b [4]byte
	_, _ = rand.Read(b[:])
	space := "tk_space_" + hex.EncodeToString(b[:])
	admin := testkit.NewDB(t) // dropped last: the tablespace is dropped through it
	if _, err := admin.Pool.Exec(context.Background(), "CREATE TABLESPACE "+space+" LOCATION '"+dir+"'"); err != nil {
		t.Skipf("cannot create a tablespace on the test server (it needs a local server and root or the postgres user): %v", err)
	}
	t.Cleanup(func() { admin.Exec(t, "DROP TABLESPACE IF EXISTS "+space) })
	db := testkit.NewDB(t)
	db.Exec(t, deferSchema+`
		ALTER INDEX parcel_region_hash SET TABLESPACE `+space+`;
		ALTER INDEX parcel_pkey SET TABLESPACE `+space)
	before := db.Value(t, catalogDigest)
	if !strings.Contains(before, "parcel_pkey: CREATE UNIQUE INDEX") || strings.Count(before, "tablespace=0") != 4 {
		t.Fatalf("set-up: %s", before)
	}
	f := write(t, "parcel.csv", parcels)
	if _, trace, err := deferRun(t, db, load.Options{Files: []string{f}}); err != nil || !strings.Contains(trace, "SET LOCAL default_tablespace = \""+space+"\"") {
		t.Fatalf("load: %v\n%s", err, trace)
	}
	if after := db.Value(t, catalogDigest); after != before {
		t.Errorf("catalog changed:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	wantRows(t, db, "SELECT count(*) FROM parcel", "3")
}
