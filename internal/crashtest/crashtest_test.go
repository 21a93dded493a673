package crashtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	mrand "math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tenantkit/tenantkit/internal/sqlq"
	"github.com/tenantkit/tenantkit/internal/testkit"
)

var (
	rowsFlag  = flag.Int("crash.rows", 20000, "rows of generated data per big table (contacts, tickets, loaded files)")
	killsFlag = flag.Int("crash.kills", 10, "kills at moments spread over a run, per command (phase kills come on top)")
	seedFlag  = flag.Int64("crash.seed", 0, "seed of the kill moments' jitter (0: from the clock; the test logs it)")
	freshFlag = flag.Bool("crash.fresh", false, "kill every run on a fresh copy and rerun after each kill (default: kills follow each other on one copy while it stays unchanged, then one rerun)")
	onlyFlag  = flag.String("crash.only", "", "run only the commands whose names contain this text")
)

func TestMain(m *testing.M) { testkit.Main(m) }

// generateSQL adds $1 rows of contacts and tickets, $1/20 organizations
// (three levels, a few inactive) and $1 rows of crash_stock to the fixture
// database, with text that needs quoting, and creates the empty crash_item.
// Keys are deterministic, so every copy of the database holds equal rows.
var generateSQL = []string{
	`INSERT INTO ca_tenant (name, subtenants_ok, service_provider) VALUES ('Service Provider', true, true)`,
	`INSERT INTO ca_organization (id, name, description, parent_org_id, inactive)
	 SELECT 1000 + i, 'Org ' || i, CASE i % 3 WHEN 0 THEN NULL WHEN 1 THEN '' ELSE E'Süd "GmbH"\\ ' || i || E'\nline' END,
	        CASE i % 4 WHEN 0 THEN NULL WHEN 3 THEN 999 + i ELSE 1000 + i - i % 4 + CASE WHEN i < 4 THEN 4 ELSE 0 END END,
	        (i % 40 = 1)::int
	 FROM generate_series(1, greatest($1::int / 20, 12)) AS i`,
	`SELECT setval(pg_get_serial_sequence('ca_organization', 'id'), (SELECT max(id) FROM ca_organization))`,
	`INSERT INTO ca_contact (id, userid, last_name, first_name, email, organization, attrs)
	 SELECT md5('contact' || i)::uuid, 'user' || i, E'O''Neil \\ ' || i, CASE WHEN i % 5 = 0 THEN NULL ELSE 'Zoë' END,
	        CASE WHEN i % 7 = 0 THEN '' ELSE 'u' || i || '@example.org' END,
	        1001 + i % greatest($1::int / 20, 12), CASE WHEN i % 2 = 0 THEN jsonb_build_object('n', i) END
	 FROM generate_series(1, $1::int) AS i`,
	`INSERT INTO call_req (id, ref_num, summary, description, customer, category, organization, priority, open_date, cost, tags)
	 SELECT 1000 + i, 'GEN-' || i, 'Ticket ' || i, CASE WHEN i % 3 = 0 THEN NULL ELSE E'tab\there, "quoted"\n' || i END,
	        CASE WHEN i % 10 = 0 THEN NULL ELSE md5('contact' || (1 + i % $1::int))::uuid END, 1 + i % 3,
	        1001 + i % greatest($1::int / 20, 12), 'P' || (1 + i % 4), timestamp '2026-01-01' + i * interval '1 minute',
	        (i % 1000) / 10.0, ARRAY['t' || i % 5]
	 FROM generate_series(1, $1::int) AS i`,
	`SELECT setval(pg_get_serial_sequence('call_req', 'id'), (SELECT max(id) FROM call_req))`,
	`CREATE TABLE crash_item (
	     item_no bigint PRIMARY KEY,
	     "Label" text NOT NULL,
	     note    text,
	     qty     integer,
	     org     integer REFERENCES ca_organization (id),
	     made    date)`,
	`CREATE TABLE crash_stock (
	     sku   text PRIMARY KEY,
	     qty   integer NOT NULL,
	     price numeric(10,2),
	     note  text)`,
	`INSERT INTO crash_stock SELECT 'S' || lpad(i::text, 8, '0'), i % 7, i / 100.0, CASE WHEN i % 2 = 0 THEN E'a\\b "c"' END
	 FROM generate_series(1, $1::int) AS i`,
	`ANALYZE`,
}

// itemsCSV and stockCSV are the files userload loads: every crash_item row
// (into the empty table: the fast path) and crash_stock rows of which half
// update existing ones and half are new (the upsert).
const itemsCSV = `SELECT i AS item_no, 'Item ' || i || E' "q" \\ é' AS "Label",
    CASE i % 3 WHEN 0 THEN NULL WHEN 1 THEN '' ELSE E'line1\nline2, ' || i END AS note,
    i % 100 AS qty, 1001 + i % greatest({N} / 20, 12) AS org, date '2026-01-01' + i % 365 AS made
FROM generate_series(1, {N}) AS i`

const stockCSV = `SELECT 'S' || lpad(i::text, 8, '0') AS sku, i % 7 + 1 AS qty, i / 50.0 AS price,
    CASE WHEN i % 3 = 0 THEN NULL ELSE 'restocked ' || i END AS note
FROM generate_series({N} / 2 + 1, {N} / 2 + {N}) AS i`

// writeCSV writes a query's rows as a CSV file with a header (COPY's CSV:
// NULL unquoted empty, the empty string "").
func writeCSV(t *testing.T, db *testkit.DB, path, query string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	conn, err := db.Pool.Acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	if _, err := conn.Conn().PgConn().CopyTo(context.Background(), f, "COPY ("+query+") TO STDOUT WITH (FORMAT csv, HEADER)"); err != nil {
		t.Fatalf("writing %s: %v", path, err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// scenario is one writing command to crash.
type scenario struct {
	name   string
	args   []string
	app    string           // its application_name
	phases []*regexp.Regexp // statements to kill at as soon as they run
	roles  []string         // cluster-wide roles it changes
}

// result sums up one scenario for the final log.
type result struct {
	name                    string
	kills, killedMidway     int
	statesCompared, unequal int
	reruns                  int
}

func TestKill(t *testing.T) {
	rows, kills := *rowsFlag, *killsFlag
	seed := *seedFlag
	if seed == 0 {
		seed = time.Now().UnixNano()
	}
	t.Logf("crash test: %d rows, %d timed kills per command, seed %d (-crash.seed to repeat)", rows, kills, seed)
	rng := mrand.New(mrand.NewSource(seed))
	ctx := context.Background()

	var suffix [4]byte
	_, _ = rand.Read(suffix[:])
	prefix := "crash_" + hex.EncodeToString(suffix[:])
	logins := []string{prefix + "_acme", prefix + "_org", prefix + "_ops"}
	t.Cleanup(func() { dropRoles(t, logins) }) // after every database is dropped

	dir := t.TempDir()
	base := testkit.NewFixtureDB(t)
	for _, sql := range generateSQL {
		if strings.Contains(sql, "$1") {
			base.Exec(t, sql, rows)
		} else {
			base.Exec(t, sql)
		}
	}
	items, stock := filepath.Join(dir, "crash_item.csv"), filepath.Join(dir, "crash_stock.csv")
	writeCSV(t, base, items, strings.ReplaceAll(itemsCSV, "{N}", fmt.Sprint(rows)))
	writeCSV(t, base, stock, strings.ReplaceAll(stockCSV, "{N}", fmt.Sprint(rows)))
	aliasFile := filepath.Join(dir, "aliases.txt")
	aliasText := fmt.Sprintf(`(gim-user-schema public)
(aliases-for-account name: Acme login: %q password: "pw \"acme\"" (tenants: "Acme" "Acme Europe") (time-zone: Europe/Paris))
(aliases-for-account name: Orgs login: %s password: pw-org (tenants: "Org 4" "Org 8" "Société Générale"))
(aliases-for-account name: Ops login: %q password: "pw ops" (tenant: all) (time-zone: UTC))
`, logins[0], logins[1], logins[2])
	if err := os.WriteFile(aliasFile, []byte(aliasText), 0o600); err != nil {
		t.Fatal(err)
	}

	overlay := testkit.Path("fixtures/schema.xml")
	re := regexp.MustCompile
	scenarios := []struct {
		scenario
		golden string // "base", or the scenario whose reference run is the starting state
	}{
		{scenario{name: "userload-insert", args: []string{"userload", "--schema", overlay, "-f", items}, app: "tenantkit userload",
			phases: []*regexp.Regexp{re(`(?i)^COPY`), re(`(?i)^(INSERT|UPDATE|SELECT setval)`)}}, "base"},
		{scenario{name: "userload-upsert", args: []string{"userload", "--schema", overlay, "-f", stock}, app: "tenantkit userload",
			phases: []*regexp.Regexp{re(`(?i)^COPY`), re(`(?i)^(WITH|INSERT|UPDATE)`)}}, "base"},
		{scenario{name: "buildtenant", args: []string{"buildtenant", "--schema", overlay}, app: "tenantkit buildtenant",
			phases: []*regexp.Regexp{re(`(?i)INSERT`), re(`(?i)^UPDATE`)}}, "base"},
		{scenario{name: "settenant", args: []string{"settenant", "--schema", overlay, "-f", testkit.Path("fixtures/settenant.xml")},
			app: "tenantkit settenant", phases: []*regexp.Regexp{re(`(?i)UPDATE`)}}, "buildtenant"},
		{scenario{name: "aliases", args: []string{"aliases", "--schema", overlay, "-f", aliasFile}, app: "tenantkit aliases",
			phases: []*regexp.Regexp{re(`(?i)^CREATE ROLE`), re(`(?i)^CREATE (OR REPLACE )?VIEW`), re(`(?i)^(GRANT|COMMENT)`)},
			roles:  logins}, "settenant"},
	}

	admin, err := pgx.Connect(ctx, testkit.AdminURL())
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)

	references := map[string]*testkit.DB{"base": base}
	var results []result
	for _, sc := range scenarios {
		golden, ok := references[sc.golden]
		if !ok {
			t.Fatalf("%s: no reference database %q (did its scenario fail?)", sc.name, sc.golden)
		}
		// The reference: one uninterrupted run, timed.
		ref := testkit.CloneDB(t, golden)
		testkit.Binary(t) // built before the clock starts
		start := time.Now()
		res := testkit.Run(t, ref, sc.args...)
		took := time.Since(start)
		if res.Code != 0 {
			t.Fatalf("%s: the uninterrupted run failed: exit %d\n%s%s", sc.name, res.Code, res.Stdout, res.Stderr)
		}
		references[sc.name] = ref
		if *onlyFlag != "" && !strings.Contains(sc.name, *onlyFlag) {
			continue
		}
		want, err := Capture(ctx, ref.Pool, Options{Stable: true, Roles: sc.roles})
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: the uninterrupted run took %s", sc.name, took.Round(time.Millisecond))
		// Every copy of golden starts as golden is (roles aside: they are
		// the cluster's and read in each copy).
		initial := startState{}
		if initial.state, err = Capture(ctx, golden.Pool, Options{}); err != nil {
			t.Fatal(err)
		}
		if initial.seqs, err = Sequences(ctx, golden.Pool); err != nil {
			t.Fatal(err)
		}
		r := &result{name: sc.name}
		tr := &trial{t: t, admin: admin, golden: golden, start: initial, sc: sc.scenario, want: want, fresh: *freshFlag, r: r}
		ms := moments(rng, took, kills, sc.phases)
		for i, w := range ms {
			tr.kill(w, i == len(ms)-1)
		}
		for try := 0; r.reruns == 0 && try < 3; try++ { // at least one rerun after a kill
			tr.kill(When{After: took / 2}, true)
		}
		results = append(results, *r)
	}
	for _, r := range results {
		t.Logf("SUMMARY %s: %d kills tried (%d hit the run, the others came after it ended), %d states compared (%d after reruns), %d unequal",
			r.name, r.kills, r.killedMidway, r.statesCompared, r.reruns, r.unequal)
	}
}

// startState is what every copy of a golden database starts with.
type startState struct {
	state State
	seqs  []Sequence
}

// moments spreads n kills over a run that takes d: at fractions 0.05 … 0.95
// each moved by a random jitter within its slot, then one kill per phase.
func moments(rng *mrand.Rand, d time.Duration, n int, phases []*regexp.Regexp) []When {
	var out []When
	for i := 0; i < n; i++ {
		frac := 0.05
		if n > 1 {
			slot := 0.9 / float64(n-1)
			frac = 0.05 + float64(i)*slot + (rng.Float64()-0.5)*slot
		}
		frac = min(max(frac, 0.01), 0.99)
		out = append(out, When{After: time.Duration(frac * float64(d))})
	}
	for _, p := range phases {
		out = append(out, When{Phase: p})
	}
	out = append(out, When{Phase: regexp.MustCompile(`(?i)^COMMIT`)})
	return out
}

// trial runs a scenario's kills against copies of golden.
type trial struct {
	t      *testing.T
	admin  *pgx.Conn
	golden *testkit.DB
	start  startState
	sc     scenario
	want   State // after an uninterrupted run (Stable)
	fresh  bool  // a new copy and a rerun for every kill
	r      *result

	db *testkit.DB // the copy in use, as golden is; nil: none yet
}

// kill kills one run and compares the database with its state before the
// run; a run that committed before the kill took effect (or finished by
// itself) must equal an uninterrupted run's. Without fresh, the next kill
// runs on the same copy while it is unchanged, and the last one reruns.
func (tr *trial) kill(w When, last bool) {
	t, ctx, sc := tr.t, context.Background(), tr.sc
	if tr.db == nil {
		tr.db = testkit.CloneDB(t, tr.golden)
	}
	db := tr.db
	// Earlier killed runs on this copy advanced its sequences: put them
	// back, so that a run that completes draws the same generated keys.
	if err := RestoreSequences(ctx, db.Pool, tr.start.seqs); err != nil {
		t.Fatal(err)
	}
	before, err := CaptureRoles(ctx, db.Pool, Options{Roles: sc.roles})
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range tr.start.state {
		before[k] = v
	}
	db.Pool.Reset() // the run's backends are the only ones left

	cmd := exec.Command(testkit.Binary(t), append([]string{"--db", db.URL}, sc.args...)...)
	cmd.Dir = testkit.RepoRoot()
	cmd.Env = append(os.Environ(), "TENANTKIT_SCHEMA=", "DATABASE_URL=")
	mon := Monitor{Q: tr.admin, Database: db.Name, App: sc.app}
	k, err := mon.Run(ctx, cmd, w)
	if err != nil {
		t.Fatal(err)
	}
	if err := mon.WaitGone(ctx, 2*time.Minute); err != nil {
		t.Fatal(err)
	}
	tr.r.kills++
	after, err := Capture(ctx, db.Pool, Options{Roles: sc.roles})
	if err != nil {
		t.Fatal(err)
	}
	tr.r.statesCompared++
	changed := len(Diff(before, after)) > 0
	switch {
	case k.Finished:
		if k.Code != 0 {
			tr.fail("%s %s", sc.name, k)
		}
	case !changed:
		tr.r.killedMidway++
		t.Logf("%s %s; database as before the run", sc.name, k)
	}
	if changed || k.Finished {
		// Only a run that committed may have changed anything, and then
		// completely: compare with the uninterrupted run.
		got, err := Capture(ctx, db.Pool, Options{Stable: true, Roles: sc.roles})
		if err != nil {
			t.Fatal(err)
		}
		if d := Diff(tr.want, got); len(d) > 0 {
			tr.fail("%s %s: the database is neither as before the run nor as after an uninterrupted run:\n  %s",
				sc.name, k, strings.Join(Diff(before, after), "\n  "))
		} else if !k.Finished {
			tr.r.killedMidway++
			t.Logf("%s %s; committed before the kill took effect, as an uninterrupted run", sc.name, k)
		} else {
			t.Logf("%s %s; as an uninterrupted run", sc.name, k)
		}
		tr.db = nil // no longer as golden
		return
	}
	if tr.fresh || last {
		tr.rerun()
	}
}

// rerun runs the command again on the killed copy (its sequences put back)
// and compares the database with an uninterrupted run's.
func (tr *trial) rerun() {
	t, ctx, sc, db := tr.t, context.Background(), tr.sc, tr.db
	tr.db = nil
	if err := RestoreSequences(ctx, db.Pool, tr.start.seqs); err != nil {
		t.Fatal(err)
	}
	res := testkit.Run(t, db, sc.args...)
	if res.Code != 0 {
		tr.fail("%s: the rerun after the kill failed: exit %d\n%s%s", sc.name, res.Code, res.Stdout, res.Stderr)
		return
	}
	got, err := Capture(ctx, db.Pool, Options{Stable: true, Roles: sc.roles})
	if err != nil {
		t.Fatal(err)
	}
	tr.r.statesCompared++
	tr.r.reruns++
	if d := Diff(tr.want, got); len(d) > 0 {
		tr.fail("%s: after the rerun the database differs from an uninterrupted run's:\n  %s", sc.name, strings.Join(d, "\n  "))
		return
	}
	t.Logf("%s: rerun after the kill: as an uninterrupted run", sc.name)
}

func (tr *trial) fail(format string, args ...any) {
	tr.t.Helper()
	tr.r.unequal++
	tr.t.Errorf(format, args...)
}

// dropRoles drops the test's login roles (their databases are gone by then).
func dropRoles(t *testing.T, roles []string) {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, testkit.AdminURL())
	if err != nil {
		t.Errorf("dropping roles: %v", err)
		return
	}
	defer conn.Close(ctx)
	for _, r := range roles {
		if _, err := conn.Exec(ctx, "DROP ROLE IF EXISTS "+sqlq.Ident(r)); err != nil {
			t.Errorf("dropping role %s: %v", r, err)
		}
	}
}
