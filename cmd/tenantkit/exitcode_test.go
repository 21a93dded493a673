package main

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/tenantkit/tenantkit/internal/fault"
)

// TestExitCodes: every kind of error has its code, nil is 0, an
// unclassified error is a failure and an unclassified positioned one bad
// input; the innermost classification wins over a later one.
func TestExitCodes(t *testing.T) {
	want := map[fault.Kind]int{
		fault.ErrFailure:   3,
		fault.ErrUsage:     2,
		fault.ErrNotFound:  2,
		fault.ErrRejected:  1,
		fault.ErrViolation: 1,
	}
	for _, k := range fault.Kinds {
		code, ok := want[k]
		if !ok {
			t.Fatalf("kind %v has no expected code in this test", k)
		}
		err := fmt.Errorf("run: %w", fault.Classify(k, errors.New("boom")))
		if got := exitCodeOf(err); got != code {
			t.Errorf("kind %q: exit code %d, want %d", k, got, code)
		}
		if _, ok := exitCodes[k]; !ok {
			t.Errorf("kind %q is missing from exitCodes", k)
		}
	}
	if len(exitCodes) != len(fault.Kinds) {
		t.Errorf("exitCodes has %d kinds, fault has %d", len(exitCodes), len(fault.Kinds))
	}
	for _, tc := range []struct {
		err  error
		code int
	}{
		{nil, 0},
		{errors.New("boom"), 3},
		{fault.At("f.dat", 3, 4, "bad value"), 2},
		{fault.Failure(fault.At("f.dat", 3, 0, "bad value")), 3},
		{fault.Usage(fault.Rejects(errors.New("1 record rejected"))), 1},
		{fault.Committed(fault.Violations(errors.New("rule 2 failed")), "rule 1 stays committed"), 1},
	} {
		if got := exitCodeOf(tc.err); got != tc.code {
			t.Errorf("exitCodeOf(%v) = %d, want %d", tc.err, got, tc.code)
		}
	}
	if exitInterrupt != 130 || exitTerminated != 143 {
		t.Errorf("signal codes %d, %d, want 130, 143", exitInterrupt, exitTerminated)
	}
}

// TestFlagWords: every library wording becomes its flag, the longest
// wording at a place wins, and a message through the writer of standard
// error reads as the command line's.
func TestFlagWords(t *testing.T) {
	for lib, flag := range flagWords {
		if got := flagWording.Replace("x " + string(lib) + " y"); got != "x "+flag+" y" {
			t.Errorf("%q worded %q, want %q", lib, got, "x "+flag+" y")
		}
		if !strings.Contains(" "+flag, " -") && !strings.Contains(flag, "(-") {
			t.Errorf("%q is worded %q, which names no flag", lib, flag)
		}
	}
	for _, tc := range []struct{ lib, cli string }{
		{"userload: no data file (use Options.Files)", "userload: no data file (use -f FILE)"},
		{"userload: Options.Tenant: tenant \"x\" is not active", "userload: -t: tenant \"x\" is not active"},
		{"the record has no tenant (give a tenant value or Options.Tenant)", "the record has no tenant (give a tenant value or -t TENANT)"},
		{"nothing was loaded (use Options.RejectsFile for a partial load)", "nothing was loaded (use --rejects FILE for a partial load)"},
		{"(Options.Verbose or Options.RejectsFile names each)", "(-v or --rejects names each)"},
		{"TenantOptions.WithPublic and TenantOptions.StripTenant cannot be combined: load.Options.Tenant would", "--with-public and --strip-tenant cannot be combined: userload -t would"},
		{"records checked as load.Options.Check would load them", "records checked as userload -c would load them"},
		{"rerun with Options.LockDown (and Options.LockDownDBs naming each other database)", "rerun with --lock-down (and --lock-down-db NAME for each other database)"},
		{"aliases: Options.LockDownDBs: no database", "aliases: --lock-down-db: no database"},
		{"key (k)=(1) already exists (mode InsertOnly inserts only)", "key (k)=(1) already exists (-i inserts only)"},
	} {
		var buf bytes.Buffer
		w := wordFlags(wordFlags(&buf))
		fmt.Fprintf(w, "tenantkit: %v\n", fault.Usagef("%s", tc.lib))
		if got, want := buf.String(), "tenantkit: "+tc.cli+"\n"; got != want {
			t.Errorf("worded %q, want %q", got, want)
		}
	}
}
