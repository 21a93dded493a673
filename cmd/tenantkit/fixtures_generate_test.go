package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/tenantkit/tenantkit/internal/testkit"
)

func TestFixturesGenerate(t *testing.T) {
	db := testkit.NewDB(t)
	res := testkit.Run(t, db, "fixtures", "generate", "--create", "--orgs", "20", "--contacts", "150",
		"--tickets", "120", "--tenants", "2", "--tenancy", "all", "--seed", "5", "--json")
	if res.Code != 0 {
		t.Fatalf("exit %d: %s", res.Code, res.Stderr)
	}
	var counts map[string]any // the envelope's members and the counts
	if err := json.Unmarshal([]byte(res.Stdout), &counts); err != nil {
		t.Fatalf("--json output %q: %v", res.Stdout, err)
	}
	want := map[string]int64{"ca_tenant": 3, "priority": 4, "ca_organization": 20, "ca_location": 20, "category": 20, "ca_contact": 150, "call_req": 120}
	for k, v := range want {
		if counts[k] != float64(v) {
			t.Errorf("%s = %v, want %d (all: %v)", k, counts[k], v, counts)
		}
	}
	got := db.Rows(t, `SELECT (SELECT count(*) FROM ca_contact WHERE tenant IS NOT NULL), (SELECT count(*) FROM call_req WHERE tenant IS NOT NULL)`)
	if got[0][0] != "150" || got[0][1] != "120" {
		t.Errorf("tenanted contacts, tickets = %v, want 150 120", got[0])
	}
	// The tables exist now: a second run over new contact numbers adds to them.
	res = testkit.Run(t, db, "fixtures", "generate", "--orgs", "0", "--contacts", "0", "--tickets", "0", "--categories", "1")
	if res.Code != 3 || !strings.Contains(res.Stderr, "priority") {
		t.Errorf("second run over existing keys: exit %d, %q; want exit 3 naming the table", res.Code, res.Stderr)
	}
	if n := db.Value(t, `SELECT count(*) FROM ca_contact`); n != "150" {
		t.Errorf("contacts after the failed run = %s, want 150", n)
	}
}

func TestFixturesGenerateErrors(t *testing.T) {
	db := testkit.NewDB(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--orgs", "5"}, "do not exist"},
		{[]string{"--create", "--tenancy", "orgs"}, "needs tenants"},
		{[]string{"--create", "--tenancy", "everything", "--tenants", "1"}, "unknown tenancy"},
		{[]string{"--create", "--orgs", "0"}, "organization"},
		{[]string{"--create", "extra"}, "no arguments"},
	} {
		res := testkit.Run(t, db, append([]string{"fixtures", "generate"}, tc.args...)...)
		if res.Code != 2 || !strings.Contains(res.Stderr, tc.want) {
			t.Errorf("%v: exit %d, %q; want exit 2 mentioning %q", tc.args, res.Code, res.Stderr, tc.want)
		}
	}
	if n := db.Value(t, `SELECT count(*) FROM pg_tables WHERE tablename = 'ca_tenant'`); n != "0" {
		t.Errorf("a refused run created the tables")
	}
}
