package settenant

import (
	"context"
	"strconv"
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
	res := report(t, db, file, "-c")
	<-done
	if got := res.Rules[0].Updated; itoa(got) != want {
		t.Errorf("-c would update %d, want %s", got, want)
	}

	done = make(chan struct{})
	holdRow(t, db, userid, done)
	res = report(t, db, file, "-r")
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
	res := report(t, db, file, "--batch-size", "2", "--commit-each-rule")
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
