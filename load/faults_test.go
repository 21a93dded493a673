package load_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tenantkit/tenantkit/internal/testkit"
)

// stockFile is a userload file of records for public.stock, ids from..to.
func stockFile(t *testing.T, from, to int, pad int) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("TABLE stock\n    id qty note\n")
	filler := strings.Repeat("x", pad)
	for i := from; i <= to; i++ {
		fmt.Fprintf(&b, "    { \"%d\", \"%d\", \"%s\" }\n", i, i*10, filler)
	}
	return write(t, "stock.dat", b.String())
}

// slowStock is a database whose public.stock holds one row and takes secs
// seconds to write each row.
func slowStock(t *testing.T, secs string) *testkit.DB {
	db := testkit.NewDB(t)
	db.Exec(t, `CREATE TABLE stock (id int PRIMARY KEY, qty int, note text);
		INSERT INTO stock VALUES (1, 0, '');
		CREATE FUNCTION slow() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(`+secs+`); RETURN NEW; END $$;
		CREATE TRIGGER slow BEFORE INSERT OR UPDATE ON stock FOR EACH ROW EXECUTE FUNCTION slow()`)
	return db
}

// wantFailure checks a run that must fail as the database's failure: exit
// 3, one line on stderr holding want, nothing blamed on a record, no
// rejects file.
func wantFailure(t *testing.T, res testkit.Result, want, rejects string) {
	t.Helper()
	if res.Code != 3 {
		t.Fatalf("exit %d, want 3\nstdout:\n%s\nstderr:\n%s", res.Code, res.Stdout, res.Stderr)
	}
	lines := strings.Split(strings.TrimSpace(testkit.WithoutProgress(res.Stderr)), "\n")
	if len(lines) != 1 || !strings.Contains(lines[0], want) {
		t.Errorf("stderr should be one line naming %q:\n%s", want, res.Stderr)
	}
	if strings.Contains(res.Stderr, "reject") || strings.Contains(res.Stderr, "deallocate") {
		t.Errorf("stderr blames records or pgx's cache:\n%s", res.Stderr)
	}
	if rejects != "" {
		if _, err := os.Stat(rejects); err == nil {
			t.Errorf("a failed run wrote the rejects file %s", rejects)
		}
	}
}

// A row lock held by an application beyond --lock-timeout fails the run
// (exit 3, nothing loaded), with or without --rejects: it is no record's
// fault. It used to be "1 record rejected".
func TestUserloadLockTimeoutFailsTheRun(t *testing.T) {
	db := testkit.NewDB(t)
	db.Exec(t, `CREATE TABLE stock (id int PRIMARY KEY, qty int, note text);
		INSERT INTO stock SELECT g, 0, '' FROM generate_series(1, 20) g`)
	f := stockFile(t, 1, 30, 1)
	ctx := t.Context()
	app, err := db.Pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer app.Rollback(ctx)
	if _, err := app.Exec(ctx, "UPDATE stock SET qty = -1 WHERE id = 7"); err != nil {
		t.Fatal(err)
	}
	rej := filepath.Join(t.TempDir(), "rejects.dat")
	for _, args := range [][]string{{}, {"--rejects", rej}} {
		res := testkit.Run(t, db, append([]string{"userload", "--lock-timeout", "300ms", "-f", f}, args...)...)
		wantFailure(t, res, "lock timeout", rej)
	}
	app.Rollback(ctx)
	wantRows(t, db, "SELECT count(*), sum(qty) FROM stock", "20|0")
}

// A statement timeout fails the run instead of re-running the change in
// ever smaller pieces that each fit in the timeout (which used to load
// everything and exit 0).
func TestUserloadStatementTimeoutFailsTheRun(t *testing.T) {
	db := slowStock(t, "0.1")
	f := stockFile(t, 1, 12, 1)
	rej := filepath.Join(t.TempDir(), "rejects.dat")
	res := testkit.Run(t, db, "userload", "--statement-timeout", "500ms", "--rejects", rej, "-f", f)
	wantFailure(t, res, "statement timeout", rej)
	wantRows(t, db, "SELECT count(*), sum(qty) FROM stock", "1|0")
}

// A deadlock or serialization failure reruns the whole statement; one that
// keeps failing fails the run after a bounded number of attempts instead of
// rejecting every record.
func TestUserloadTransientErrorsRetryThenFail(t *testing.T) {
	db := testkit.NewDB(t)
	db.Exec(t, `CREATE TABLE stock (id int PRIMARY KEY, qty int, note text);
		INSERT INTO stock VALUES (1, 0, '');
		CREATE SEQUENCE tries;
		CREATE TABLE mode (always bool);
		INSERT INTO mode VALUES (false);
		CREATE FUNCTION flaky() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN
			-- nextval is not rolled back with the statement
			IF nextval('public.tries') = 1 OR (SELECT always FROM public.mode) THEN
				RAISE EXCEPTION 'simulated' USING ERRCODE = '40P01';
			END IF;
			RETURN NEW;
		END $$;
		CREATE TRIGGER flaky BEFORE INSERT OR UPDATE ON stock FOR EACH ROW EXECUTE FUNCTION flaky()`)
	f := stockFile(t, 1, 5, 1)
	res := userload(t, db, 0, "--json", "-f", f)
	if got := counts(t, res); got != "stock:4/1/0/0/0" {
		t.Errorf("counts %s", got)
	}
	db.Exec(t, "DELETE FROM stock WHERE id > 1; UPDATE stock SET qty = 0; UPDATE mode SET always = true")
	before := db.Value(t, "SELECT last_value FROM tries")
	rej := filepath.Join(t.TempDir(), "rejects.dat")
	res = testkit.Run(t, db, "userload", "--rejects", rej, "-f", f)
	wantFailure(t, res, "after 4 attempts", rej)
	wantRows(t, db, "SELECT count(*), sum(qty) FROM stock", "1|0")
	if after := db.Value(t, "SELECT last_value FROM tries"); after == before {
		t.Errorf("the statement was not run")
	}
}

// A terminated session (pg_terminate_backend, as a DBA or a server
// shutdown does) fails the run with one line naming the lost connection.
func TestUserloadTerminatedSessionFailsTheRun(t *testing.T) {
	db := slowStock(t, "0.2")
	f := stockFile(t, 1, 40, 1)
	rej := filepath.Join(t.TempDir(), "rejects.dat")
	done := make(chan testkit.Result, 1)
	go func() { done <- testkit.Run(t, db, "userload", "--rejects", rej, "-f", f) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		n := db.Value(t, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
			WHERE datname = current_database() AND application_name LIKE 'tenantkit userload%' AND query LIKE '%INSERT INTO%stock%'`)
		if n != "0" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the load never reached its change statement")
		}
		time.Sleep(20 * time.Millisecond)
	}
	res := <-done
	wantFailure(t, res, "terminat", rej)
	wantRows(t, db, "SELECT count(*), sum(qty) FROM stock", "1|0")
}

// With the target table's disk full, userload fails at once (exit 3, one
// line, nothing committed), with --rejects too; it used to print thousands
// of "could not extend file" rejects and commit the rest. The table lives
// in a tablespace on a small tmpfs of a cluster of the test's own.
func TestUserloadDiskFullFailsTheRun(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting a small tmpfs needs root")
	}
	cluster := testkit.PrivateCluster(t)
	mnt := filepath.Join(cluster.Dir, "small")
	if err := os.Mkdir(mnt, 0o700); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", mnt).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs here: %v %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("umount", "-l", mnt).Run() })
	if err := testkit.ChownToServer(mnt); err != nil {
		t.Fatal(err)
	}
	db := cluster.NewDB(t, "full")
	db.Exec(t, fmt.Sprintf(`CREATE TABLESPACE small LOCATION '%s'`, mnt))
	const table = `CREATE TABLE stock (id int PRIMARY KEY USING INDEX TABLESPACE small, qty int, note text) TABLESPACE small`
	db.Exec(t, table+`; INSERT INTO stock VALUES (1, 0, '')`)
	f := stockFile(t, 1, 12000, 200) // about 2.8 MB of rows
	rej := filepath.Join(t.TempDir(), "rejects.dat")
	start := time.Now()
	res := testkit.Run(t, db, "userload", "--rejects", rej, "-f", f)
	wantFailure(t, res, "No space left on device", rej)
	if d := time.Since(start); d > 30*time.Second {
		t.Errorf("failing took %s", d)
	}
	wantRows(t, db, "SELECT count(*), sum(qty) FROM stock", "1|0")
	// Into the empty table the load takes the fast path (COPY straight in).
	db.Exec(t, "DROP TABLE stock") // frees the tablespace at commit
	db.Exec(t, table)
	res = testkit.Run(t, db, "userload", "-f", f)
	wantFailure(t, res, "No space left on device", "")
	wantRows(t, db, "SELECT count(*) FROM stock", "0")
}

// userload -c on a read-only database says in one line that the check
// needs a writable one (it stages in temporary tables), instead of a
// failure of its first CREATE TEMP TABLE.
func TestUserloadCheckOnReadOnlyDatabase(t *testing.T) {
	db := testkit.NewDB(t)
	db.Exec(t, `CREATE TABLE stock (id int PRIMARY KEY, qty int, note text)`)
	db.Exec(t, fmt.Sprintf("ALTER DATABASE %s SET default_transaction_read_only = on", db.Name))
	res := testkit.Run(t, db, "userload", "-c", "-f", stockFile(t, 1, 2, 1))
	wantFailure(t, res, "-c needs a writable database", "")
	if !strings.Contains(res.Stderr, "read-only (default_transaction_read_only)") {
		t.Errorf("stderr: %s", res.Stderr)
	}
}
