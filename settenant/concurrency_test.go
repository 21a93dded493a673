package settenant

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tenantkit/tenantkit/internal/testkit"
)

// holdRow updates one contact in an open application transaction and
// commits it once settenant waits for that row's lock.
func holdRow(t *testing.T, db *testkit.DB, userid string, done chan<- struct{}) {
	t.Helper()
	ctx := context.Background()
	tx, err := db.Pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "UPDATE ca_contact SET last_name = last_name || '!' WHERE userid = $1", userid); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(done)
		deadline := time.Now().Add(10 * time.Second)
		for time.Now().Before(deadline) {
			var waiting bool
			_ = db.Pool.QueryRow(ctx, `SELECT EXISTS (SELECT FROM pg_stat_activity WHERE datname = current_database()
				AND application_name LIKE 'tenantkit settenant%' AND wait_event_type = 'Lock')`).Scan(&waiting)
			if waiting {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		time.Sleep(100 * time.Millisecond)
		_ = tx.Commit(ctx)
	}()
}

const cntRule = `<SetTenant>
  <Object name="cnt"> <TenantRule type="SREL">organization</TenantRule> <Where>tenant is null</Where> </Object>
</SetTenant>`

// toStamp counts the contacts the rule would give a tenant.
const toStamp = `SELECT count(*) FROM ca_contact c JOIN ca_organization o ON o.id = c.organization
	WHERE c.tenant IS NULL AND o.tenant IS NOT NULL`

// A row an application holds locked while settenant -r runs is updated once
// the application commits, as the plain path would; the report matched it
// back by ctid, which the application's update changed, and left it without
// a tenant (exit 0, the report not adding up).
func TestReportUpdatesRowsChangedConcurrently(t *testing.T) {
	db := fixtureDB(t)
	db.Exec(t, `UPDATE ca_organization SET tenant = 2 WHERE id = 1; UPDATE ca_organization SET tenant = 3 WHERE id = 2`)
	want := db.Value(t, toStamp)
	if want == "0" {
		t.Fatal("the fixture has no contact to stamp")
	}
	userid := db.Value(t, `SELECT c.userid FROM ca_contact c JOIN ca_organization o ON o.id = c.organization
		WHERE c.tenant IS NULL AND o.tenant IS NOT NULL ORDER BY c.userid LIMIT 1`)
	file := writeConfig(t, cntRule)

	// -c under a concurrent writer previews every row the run would update.
	done := make(chan struct{})
	holdRow(t, db, userid, done)
	res := report(t, db, file, Options{Check: true})
	<-done
	if got := res.Rules[0].Updated; itoa(got) != want {
		t.Errorf("-c would update %d, want %s", got, want)
	}

	done = make(chan struct{})
	holdRow(t, db, userid, done)
	res = report(t, db, file, Options{Report: true})
	<-done
	r := res.Rules[0]
	if itoa(r.Updated) != want {
		t.Errorf("-r updated %d, want %s", r.Updated, want)
	}
	if left := db.Value(t, toStamp); left != "0" {
		t.Errorf("%s contacts left without their organization's tenant", left)
	}
	if got := db.Value(t, "SELECT tenant IS NOT NULL FROM ca_contact WHERE userid = $1", userid); got != "t" {
		t.Errorf("the contact the application held has no tenant")
	}
	if sum := r.Updated + r.Unchanged + r.Kept + r.Untenanted.Total() + r.ChangedDuringRun; sum != r.Matched {
		t.Errorf("matched %d != updated %d + unchanged %d + kept %d + untenanted %d + changed %d",
			r.Matched, r.Updated, r.Unchanged, r.Kept, r.Untenanted.Total(), r.ChangedDuringRun)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// Batched rules analyze what the earlier rules changed before their own
// batches run, so that these are not planned with statistics saying the
// earlier rule's tenant column is all NULL.
func TestBatchesAnalyzeEarlierRulesTables(t *testing.T) {
	db := fixtureDB(t)
	db.Exec(t, `UPDATE ca_organization SET tenant = 2 WHERE id = 1; UPDATE ca_organization SET tenant = 3 WHERE id = 2`)
	file := writeConfig(t, `<SetTenant>
  <Object name="cnt"> <TenantRule type="SREL">organization</TenantRule> <Where>tenant is null</Where> </Object>
  <Object name="cr"> <TenantRule type="SREL">customer</TenantRule> <Where>tenant is null</Where> </Object>
</SetTenant>`)
	const analyzed = `SELECT analyze_count FROM pg_stat_user_tables WHERE relname = 'ca_contact'`
	before := db.Value(t, analyzed)
	res := report(t, db, file, Options{BatchSize: 2, CommitEachRule: true})
	if res.Rules[0].Updated == 0 || res.Rules[1].Updated == 0 {
		t.Fatalf("the rules updated %d and %d rows", res.Rules[0].Updated, res.Rules[1].Updated)
	}
	if after := db.Value(t, analyzed); after == before {
		t.Errorf("ca_contact was not analyzed between the rules (analyze_count %s)", after)
	}
	if left := db.Value(t, `SELECT count(*) FROM call_req r JOIN ca_contact c ON c.id = r.customer
		WHERE r.tenant IS NULL AND c.tenant IS NOT NULL`); left != "0" {
		t.Errorf("%s tickets left without their customer's tenant", left)
	}
}

// An interrupted --commit-each-rule run says which rules and batches it
// committed, on stdout, in --json and in its last line, instead of
// "nothing was changed".
func TestInterruptedCommitEachRuleSaysWhatWasCommitted(t *testing.T) {
	db := fixtureDB(t)
	db.Exec(t, `UPDATE ca_organization SET tenant = 2 WHERE id = 1; UPDATE ca_organization SET tenant = 3 WHERE id = 2;
		CREATE FUNCTION public.slow() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(1); RETURN NEW; END $$;
		CREATE TRIGGER slow BEFORE UPDATE ON call_req FOR EACH ROW EXECUTE FUNCTION public.slow()`)
	file := writeConfig(t, `<SetTenant>
  <Object name="cnt"> <TenantRule type="SREL">organization</TenantRule> <Where>tenant is null</Where> </Object>
  <Object name="cr"> <TenantRule type="SREL">customer</TenantRule> <Where>tenant is null</Where> </Object>
</SetTenant>`)
	stamped := db.Value(t, toStamp)
	for _, format := range []string{"text", "json"} {
		db.Exec(t, "ALTER TABLE call_req DISABLE TRIGGER slow; UPDATE call_req SET tenant = NULL; ALTER TABLE call_req ENABLE TRIGGER slow")
		db.Exec(t, "UPDATE ca_contact SET tenant = NULL")
		args := []string{"--db", db.URL, "settenant", "--schema", "fixtures/schema.xml", "-f", file, "--batch-size", "1", "--commit-each-rule", "-q"}
		if format == "json" {
			args = append(args[:len(args)-1], "--json")
		}
		cmd := exec.Command(testkit.Binary(t), args...)
		cmd.Dir = testkit.RepoRoot()
		var stdout, stderr strings.Builder
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Interrupt once rule 2 has committed a batch (a ticket), during
		// the next one.
		deadline := time.Now().Add(15 * time.Second)
		for db.Value(t, "SELECT count(*) FROM call_req WHERE tenant IS NOT NULL") == "0" && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		_ = cmd.Process.Signal(os.Interrupt)
		err := cmd.Wait()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 130 {
			t.Fatalf("%s: %v\n%s%s", format, err, stdout.String(), stderr.String())
		}
		batches := db.Value(t, "SELECT count(*) FROM call_req WHERE tenant IS NOT NULL")
		committed := "rule 1 and " + batches + " batches of rule 2 committed"
		if batches == "1" {
			committed = "rule 1 and 1 batch of rule 2 committed"
		}
		if strings.Contains(stderr.String(), "nothing was changed") || !strings.Contains(stderr.String(), committed) {
			t.Errorf("%s: stderr does not say what was committed (%s batches):\n%s", format, batches, stderr.String())
		}
		if format == "text" {
			if !strings.Contains(stdout.String(), "stopped: "+committed) {
				t.Errorf("stdout:\n%s", stdout.String())
			}
			continue
		}
		var res Result
		if err := json.Unmarshal([]byte(stdout.String()), &res); err != nil {
			t.Fatalf("%v\n%s", err, stdout.String())
		}
		if res.Committed || res.CommittedRules != 1 || itoa(int64(res.CommittedBatches)) != batches || len(res.Rules) != 1 ||
			itoa(res.Rules[0].Updated) != stamped || res.CommittedRows != res.Rules[0].Updated+int64(res.CommittedBatches) {
			t.Errorf("json: %+v (want rule 1 with %s rows and %s batches)", res, stamped, batches)
		}
	}
}

// settenant -c on a read-only database says in one line that it needs a
// writable one.
func TestCheckOnReadOnlyDatabase(t *testing.T) {
	db := fixtureDB(t)
	db.Exec(t, "ALTER DATABASE "+db.Name+" SET default_transaction_read_only = on")
	res := testkit.Run(t, db, "settenant", "--schema", "fixtures/schema.xml", "-f", writeConfig(t, cntRule), "-c")
	lines := strings.Split(strings.TrimSpace(res.Stderr), "\n")
	if res.Code != 3 || len(lines) != 1 || !strings.Contains(lines[0], "-c needs a writable database") {
		t.Errorf("exit %d\n%s", res.Code, res.Stderr)
	}
}

// A batch that hits a deadlock (here a trigger raising 40P01 once) is rolled
// back to its savepoint and run again; one that keeps deadlocking fails the
// run (exit 3) after a bounded number of attempts.
func TestDeadlockedBatchIsRetried(t *testing.T) {
	db := fixtureDB(t)
	db.Exec(t, `UPDATE ca_organization SET tenant = 2 WHERE id = 1; UPDATE ca_organization SET tenant = 3 WHERE id = 2;
		CREATE SEQUENCE public.tries; CREATE TABLE public.mode (always bool); INSERT INTO public.mode VALUES (false);
		CREATE FUNCTION public.flaky() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN
			IF nextval('public.tries') = 1 OR (SELECT always FROM public.mode) THEN
				RAISE EXCEPTION 'deadlock detected (simulated)' USING ERRCODE = '40P01';
			END IF;
			RETURN NEW;
		END $$;
		CREATE TRIGGER flaky BEFORE UPDATE OF tenant ON ca_contact FOR EACH ROW EXECUTE FUNCTION public.flaky()`)
	want := db.Value(t, toStamp)
	file := writeConfig(t, cntRule)
	res := report(t, db, file, Options{Report: true, BatchSize: 2, CommitEachRule: true})
	if itoa(res.Rules[0].Updated) != want || db.Value(t, toStamp) != "0" {
		t.Errorf("updated %d, want %s; %s left", res.Rules[0].Updated, want, db.Value(t, toStamp))
	}
	db.Exec(t, "ALTER TABLE ca_contact DISABLE TRIGGER flaky; UPDATE ca_contact SET tenant = NULL; ALTER TABLE ca_contact ENABLE TRIGGER flaky; UPDATE public.mode SET always = true")
	out := testkit.Run(t, db, "settenant", "--schema", "fixtures/schema.xml", "-f", file)
	if out.Code != 3 || !strings.Contains(out.Stderr, "deadlock") || !strings.Contains(out.Stderr, "after 4 attempts") {
		t.Errorf("exit %d\n%s", out.Code, out.Stderr)
	}
	if left := db.Value(t, toStamp); left != want {
		t.Errorf("the failed run changed rows: %s left to stamp, want %s", left, want)
	}
}
