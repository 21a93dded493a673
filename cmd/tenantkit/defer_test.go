package main

import (
	"strings"
	"testing"

	"github.com/tenantkit/tenantkit/internal/testkit"
)

// userload into an empty table rebuilds its indexes after the COPY with the
// flag's maintenance_work_mem; --no-defer keeps them; a bad size is bad
// usage before anything runs.
func TestUserloadDeferFlags(t *testing.T) {
	db := testkit.NewDB(t)
	db.Exec(t, `CREATE TABLE ledger (entry_no bigint PRIMARY KEY, memo text UNIQUE);
		CREATE TABLE ledger_note (n int PRIMARY KEY, entry bigint REFERENCES ledger)`)
	f := testkit.WriteFile(t, "ledger.csv", "entry_no,memo\n1,a\n2,b\n")
	trace := []string{"TENANTKIT_TRACE=1"}

	res := testkit.RunEnv(t, db, trace, nil, "userload", "--maintenance-work-mem", "lots", "-f", f)
	if res.Code != 2 || !strings.Contains(res.Stderr, `--maintenance-work-mem "lots"`) {
		t.Fatalf("bad size: exit %d\n%s", res.Code, res.Stderr)
	}
	if got := db.Value(t, "SELECT count(*) FROM ledger"); got != "0" {
		t.Fatalf("bad usage loaded %s rows", got)
	}

	res = testkit.RunEnv(t, db, trace, nil, "userload", "--no-defer", "-f", f)
	if res.Code != 0 || strings.Contains(res.Stderr, "DROP CONSTRAINT") {
		t.Fatalf("--no-defer: exit %d\n%s", res.Code, res.Stderr)
	}
	db.Exec(t, "TRUNCATE ledger CASCADE")

	res = testkit.RunEnv(t, db, trace, nil, "userload", "--maintenance-work-mem", "300MB", "-f", f)
	for _, want := range []string{"DROP CONSTRAINT ledger_note_entry_fkey", "DROP CONSTRAINT ledger_pkey",
		"maintenance_work_mem", "ADD CONSTRAINT ledger_memo_key UNIQUE USING INDEX ledger_memo_key"} {
		if res.Code != 0 || !strings.Contains(res.Stderr, want) {
			t.Errorf("exit %d; stderr lacks %q:\n%s", res.Code, want, res.Stderr)
		}
	}
	if got := db.Value(t, "SELECT string_agg(memo, ',' ORDER BY entry_no) FROM ledger"); got != "a,b" {
		t.Errorf("rows: %s", got)
	}
	if got := db.Value(t, "SELECT count(*) FROM pg_constraint WHERE conrelid IN ('ledger'::regclass, 'ledger_note'::regclass)"); got != "4" {
		t.Errorf("constraints after the load: %s, want 4", got)
	}
}
