package verify

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tenantkit/tenantkit/datafile"
	"github.com/tenantkit/tenantkit/internal/fault"
	"github.com/tenantkit/tenantkit/load"
	"github.com/tenantkit/tenantkit/schema"
)

// The data file checks, in report order. The first six are problems of a
// section (userload refuses the files: exit 2), the others rejects of
// records (exit 1).
const (
	CheckUnknownTable    = "unknown-table"
	CheckUnknownColumn   = "unknown-column"
	CheckDuplicateColumn = "duplicate-column"
	CheckGeneratedColumn = "generated-column"
	CheckMissingKey      = "missing-key"
	CheckTooManyColumns  = "too-many-columns"
	CheckBadValue        = "bad-value"
	CheckNullValue       = "null-value"
	CheckDuplicateKey    = "duplicate-key"
	CheckKeyMatch        = "key-match"
	CheckRefused         = "refused"
	CheckRejected        = "rejected"
	// CheckMissingTenant, CheckReferenceRule and CheckDanglingReference
	// are named like the database checks.
)

// FileChecks lists every data file check in report order.
var FileChecks = []string{
	CheckUnknownTable, CheckUnknownColumn, CheckDuplicateColumn, CheckGeneratedColumn, CheckMissingKey,
	CheckTooManyColumns, CheckBadValue, CheckNullValue, CheckMissingTenant, CheckDuplicateKey, CheckKeyMatch,
	CheckDanglingReference, CheckReferenceRule, CheckRefused, CheckRejected,
}

// sectionChecks names the checks of load's bad sections.
var sectionChecks = map[string]string{
	load.UnknownTable:    CheckUnknownTable,
	load.UnknownColumn:   CheckUnknownColumn,
	load.RepeatedColumn:  CheckDuplicateColumn,
	load.GeneratedColumn: CheckGeneratedColumn,
	load.KeyProblem:      CheckMissingKey,
	load.TooManyColumns:  CheckTooManyColumns,
}

// rejectChecks names the checks of load's reject kinds; a kind not listed
// is CheckRejected.
var rejectChecks = map[string]string{
	"bad value":                  CheckBadValue,
	"NOT NULL":                   CheckNullValue,
	"no tenant":                  CheckMissingTenant,
	"duplicate key in the files": CheckDuplicateKey,
	"key exists":                 CheckKeyMatch,
	"no match":                   CheckKeyMatch,
	"another tenant's row":       CheckKeyMatch,
	"several matches":            CheckKeyMatch,
	"dangling foreign key":       CheckDanglingReference,
	"reference rule":             CheckReferenceRule,
	"refused by the database":    CheckRefused,
}

// FileOptions tune Files.
type FileOptions struct {
	// Tenant (a name or key) is the tenant the files would be loaded for
	// (userload -t); "" means the files carry their own tenant values.
	Tenant string
	// Read says how to read the files; Read.Stdin is what the file "-"
	// reads.
	Read datafile.Options
	// Sample is how many offending records to report per finding; 0 means
	// none.
	Sample int
	// Progress receives the progress report (a bar if it is a terminal);
	// nil reports nothing.
	Progress io.Writer
}

// Files checks data files exactly as load.Options.Check would load them: it runs
// load's reading, staging, every check and the changes (which later checks
// need: references to rows of the same run, constraints, triggers) in a
// transaction that is rolled back, and turns each reject into a finding.
// Sections userload cannot load at all (an unknown table or column…) are
// findings too, and the rest is checked all the same; the returned error is
// then the exit-2 error userload stops with, the first of them, beside the
// report. A malformed file stops the run with exit 2 and no report.
func Files(ctx context.Context, pool *pgxpool.Pool, s *schema.Schema, paths []string, opts FileOptions) (*Report, error) {
	fc := &fileChecker{s: s, opts: opts, rep: &Report{}}
	for _, c := range FileChecks {
		fc.rep.Checks = append(fc.rep.Checks, CheckTotal{Check: c})
	}
	sum, err := load.Run(ctx, pool, s, load.Options{
		Files: paths, File: opts.Read, Tenant: opts.Tenant, Progress: opts.Progress,
		Check: true, SkipBadSections: true, OnReject: fc.reject,
	})
	if err != nil && !errors.Is(err, fault.ErrRejected) {
		return nil, err
	}
	if sum == nil {
		return nil, errors.New("verify: no summary") // cannot happen: Run returns one with every violation
	}
	for _, b := range sum.BadSections {
		fc.badSection(b)
	}
	fc.rep.Notes = append(fc.rep.Notes, fmt.Sprintf("%d records checked as load.Options.Check would load them; nothing was changed", sum.Records))
	fc.rep.sortFindings(FileChecks)
	if len(sum.BadSections) > 0 {
		return fc.rep, fault.Usage(fmt.Errorf("%s (and %d more problems, see the report)", sum.BadSections[0].Message, len(sum.BadSections)-1))
	}
	return fc.rep, nil
}

type fileChecker struct {
	s    *schema.Schema
	opts FileOptions
	rep  *Report
}

// objectName is the object name of a table (the table's own when the
// schema has no such object).
func (fc *fileChecker) object(table string) (*schema.Object, string) {
	if o := fc.s.Object(table); o != nil {
		return o, o.Name
	}
	return nil, table
}

func (fc *fileChecker) badSection(b load.BadSection) {
	check := sectionChecks[b.Problem]
	if check == "" {
		check = CheckUnknownColumn
	}
	_, name := fc.object(b.Table)
	fc.add(&Finding{Check: check, Object: name, Column: b.Column, Count: 1, Samples: []string{b.Message}})
}

// reject turns one of load's rejects into a finding.
func (fc *fileChecker) reject(r load.Reject) {
	check := rejectChecks[r.Kind]
	if check == "" {
		check = CheckRejected
	}
	o, name := fc.object(r.Table)
	f := &Finding{Check: check, Object: name, Column: r.Column, Count: 1}
	if o != nil && (check == CheckReferenceRule || check == CheckDanglingReference) {
		for _, sr := range o.Srels { // load names the SREL by its columns
			if sr.Target != nil && strings.Join(sr.Columns, ", ") == r.Column {
				f.Column, f.Srel, f.Target = "", sr.Attr, sr.Target.Name
				break
			}
		}
	}
	sample := r.Pos.String() + ": "
	switch {
	case r.Column != "" && r.Value != nil:
		sample += r.Column + "=" + strconv.Quote(*r.Value) + ": "
	case r.Column != "":
		sample += r.Column + ": "
	}
	f.Samples = []string{sample + r.Reason}
	fc.add(f)
}

// add records one finding, merging it into an existing one for the same
// check and place.
func (fc *fileChecker) add(f *Finding) {
	if len(f.Samples) > fc.opts.Sample {
		f.Samples = f.Samples[:fc.opts.Sample]
	}
	for _, g := range fc.rep.Findings {
		if g.Check == f.Check && g.Object == f.Object && g.Column == f.Column && g.Srel == f.Srel {
			g.Count += f.Count
			for _, smp := range f.Samples {
				if len(g.Samples) < fc.opts.Sample {
					g.Samples = append(g.Samples, smp)
				}
			}
			fc.rep.Violations += f.Count
			fc.rep.total(f.Check, f.Count)
			return
		}
	}
	fc.rep.add(f)
}
