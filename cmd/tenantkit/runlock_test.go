package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tenantkit/tenantkit/internal/testkit"
)

// slowTable makes public.things, whose rows take 0.1 s each to write, and
// a data file of n records for it.
func slowTable(t *testing.T, db *testkit.DB, n int) string {
	t.Helper()
	db.Exec(t, `CREATE TABLE things (id int PRIMARY KEY, label text);
		INSERT INTO things VALUES (0, 'zero');
		CREATE FUNCTION slow() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(0.1); RETURN NEW; END $$;
		CREATE TRIGGER slow BEFORE INSERT OR UPDATE ON things FOR EACH ROW EXECUTE FUNCTION slow()`)
	var b strings.Builder
	b.WriteString("id,label\n")
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, "%d,thing %d\n", i, i)
	}
	file := filepath.Join(t.TempDir(), "things.csv")
	if err := os.WriteFile(file, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return file
}

// startRun starts tenantkit in the background.
func startRun(t *testing.T, db *testkit.DB, args ...string) (*exec.Cmd, *syncBuffer) {
	t.Helper()
	cmd := exec.Command(testkit.Binary(t), append([]string{"--db", db.URL}, args...)...)
	cmd.Dir = testkit.RepoRoot()
	cmd.Env = append(os.Environ(), "TENANTKIT_SCHEMA=", "DATABASE_URL=")
	var stderr syncBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	return cmd, &stderr
}

// waitFor polls sql until it returns want (or fails the test after 10 s).
func waitFor(t *testing.T, db *testkit.DB, sql, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for db.Value(t, sql) != want {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s = %s", sql, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// The run lock is held by the session that writes: the server process
// running userload's change statement is the lock's holder.
const lockHolderWrites = `SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid)
	WHERE l.locktype = 'advisory' AND l.granted AND l.objid = 1953198708
	  AND a.datname = current_database() AND a.query LIKE '%INSERT INTO%things%'`

// With idle_session_timeout set, an idle session holding the lock used to
// be closed a few seconds into a run, and a second run then wrote at the
// same time. The lock now lives in the working session, which is never idle
// while the run works.
func TestRunLockSurvivesIdleSessionTimeout(t *testing.T) {
	db := testkit.NewDB(t)
	db.Exec(t, fmt.Sprintf("ALTER DATABASE %s SET idle_session_timeout = '300ms'", db.Name))
	file := slowTable(t, db, 25) // 2.5 s of writing
	first, stderr := startRun(t, db, "userload", "-f", file)
	waitFor(t, db, lockHolderWrites, "1")
	time.Sleep(600 * time.Millisecond) // beyond idle_session_timeout
	res := testkit.Run(t, db, "userload", "-f", file)
	if res.Code != 3 || !strings.Contains(res.Stderr, "another tenantkit run is writing") {
		t.Errorf("second run during the first: exit %d\n%s", res.Code, res.Stderr)
	}
	if err := first.Wait(); err != nil {
		t.Fatalf("first run: %v\n%s", err, stderr.String())
	}
	if got := db.Value(t, "SELECT count(*) FROM things"); got != "26" {
		t.Errorf("%s rows", got)
	}
}

// After a SIGKILL the killed run's server process keeps the lock until it
// has finished (and rolled back) the statement it was running, as the
// README says: a second run meanwhile fails without --wait; it used to be
// released at once while the killed upsert still ran.
func TestRunLockKeptByKilledRunsServerProcess(t *testing.T) {
	db := testkit.NewDB(t)
	file := slowTable(t, db, 25)
	first, _ := startRun(t, db, "userload", "-f", file)
	waitFor(t, db, lockHolderWrites, "1")
	if err := first.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = first.Wait()
	time.Sleep(200 * time.Millisecond)
	if got := db.Value(t, lockHolderWrites); got != "1" {
		t.Fatalf("after the kill, the lock is not held by the server process still writing (%s)", got)
	}
	res := testkit.Run(t, db, "userload", "-f", file)
	if res.Code != 3 || !strings.Contains(res.Stderr, "another tenantkit run is writing") {
		t.Errorf("run after the kill: exit %d\n%s", res.Code, res.Stderr)
	}
	// --wait queues until the killed run's server process has rolled back.
	res = testkit.Run(t, db, "userload", "--wait", "-q", "-f", file)
	if res.Code != 0 {
		t.Fatalf("run with --wait: exit %d\n%s", res.Code, res.Stderr)
	}
	if got := db.Value(t, "SELECT count(*) FROM things"); got != "26" {
		t.Errorf("%s rows", got)
	}
}
