// Package load is tenantkit's userload engine: it applies data files to
// the database set-based, in one transaction.
//
// A run flows one way:
//
//	files → reader (datafile) → records → batches → COPY (text format) → the target table (fast path)
//	                                                                   → a typed staging table
//	      → set-based checks (keys, lengths, NOT NULL, tenants, foreign keys, the reference rule)
//	      → INSERT … ON CONFLICT, or UPDATE and INSERT, or DELETE
//
// Reading and copying run concurrently, joined by a bounded channel, so
// memory does not grow with the files. Each section of a file is copied in
// COPY's text format inside a savepoint, the server parsing every value.
// Where it can, a section goes straight into its target table (the fast
// path): an Upsert or InsertOnly run (not Check, Verbose or NewKeys) on a
// key the database enforces, or on no key, into an empty table; InsertOnly
// into any table when no tenant rule applies. The tenant rules (a
// tenant-required row without a tenant, the reference rule) are checked
// after the copy, over the whole table, which is why it must have been
// empty. Any other section is copied into a typed staging table, and the
// staged tables are applied table by table, parents before children
// (children first when deleting), whatever their order in the files: each
// check is one statement that records rejects, then one set-based change
// applies the rest: an upsert on a key the database enforces is one INSERT
// … ON CONFLICT, other runs UPDATE the matches and INSERT the others, or
// DELETE.
//
// When the database refuses a section's data (a value that does not
// convert, a constraint, a tenant rule broken on the fast path), its
// savepoint is rolled back and the section is read again, in binary COPY
// form, into a staging table of text columns, from which the values are
// cast set-based so that every bad value is named. Standard input
// (the file "-", read from Options.File.Stdin) is kept in a temporary file
// so that it can be read again. A change the database refuses as a whole (a
// check constraint, a trigger) is retried in chunks of records, then record
// by record.
//
// Sections marked SHARED (datafile.Table.Shared, a moved tenant's
// references to rows of other owners) are staged and only inserted where
// the database lacks the row: their owners are mapped to the database's
// tenants by name, and a record matching a row leaves it as it is and
// points the run's references at it (see shared.go).
//
// Every record that cannot be applied becomes a Reject with its position.
// By default any reject rolls the whole run back; with a rejects file the
// rejects are written there and the rest is committed.
package load

import (
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/tenantkit/tenantkit/datafile"
)

// Mode says what a run does with the records it reads.
type Mode int

// The modes of userload.
const (
	// Upsert inserts records without a match and updates records with one.
	Upsert Mode = iota
	// InsertOnly inserts every record; a record whose key exists is a reject (-i).
	InsertOnly
	// UpdateOnly updates matching rows; a record with no match is a reject (-u).
	UpdateOnly
	// Delete deletes the rows matching each record (-r).
	Delete
)

func (m Mode) String() string {
	switch m {
	case InsertOnly:
		return "insert-only"
	case UpdateOnly:
		return "update-only"
	case Delete:
		return "delete"
	}
	return "upsert"
}

// Options configure a run. The zero value (with Files) upserts atomically.
type Options struct {
	// Files are the data files, read in order; "-" is File.Stdin.
	Files []string
	// File are the reading options shared by every file (format, encoding,
	// literal backslashes, CSV null marker and table name, and Stdin, what
	// the file "-" reads: nil makes "-" an error).
	File datafile.Options
	Mode Mode
	// All lets a record update (or delete) every row it matches (-a);
	// without it a record matching several rows is a reject.
	All bool
	// Check runs everything and rolls back: the summary and the record
	// detail say what a real run would do (-c).
	Check bool
	// Verbose reports every record's fate to Detail (-v).
	Verbose bool
	// Key overrides the match key of every table in the files (--key).
	Key []string
	// RejectsFile opts into partial loads: rejects are written there in
	// userload format and everything else is committed.
	RejectsFile string
	// Reword, if set, rewords the reasons written to RejectsFile: the
	// command line words the settings they name (Options.All …) as its
	// flags. Nil keeps them.
	Reword func(reason string) string
	// Tenant (a name or key) gives every row of a tenanted table that
	// tenant (-t); it must exist and be active.
	Tenant string
	// NewKeys treats the keys of tables whose key has a default as labels:
	// records are inserted with fresh keys and the SRELs of the run that
	// point at the labels are rewritten (--new-keys).
	NewKeys bool
	// NoDefer keeps a fast-path load from taking the target's indexes and
	// constraints off for the COPY and rebuilding them after (--no-defer):
	// every row then pays for its index entries and foreign-key checks, and
	// the table is not locked ACCESS EXCLUSIVE.
	NoDefer bool
	// MaintenanceWorkMem, when set, raises maintenance_work_mem to it for
	// the rebuild of deferred indexes, for the run's transaction only (a
	// PostgreSQL memory setting such as "1GB"); a higher setting is kept.
	MaintenanceWorkMem string
	// Progress receives the progress report (a bar if it is a terminal);
	// nil reports nothing.
	Progress io.Writer
	// Detail receives one line per record with Verbose; nil discards.
	Detail io.Writer
	// Trace, when set, receives each statement's duration (for tuning).
	Trace io.Writer
	// OnReject, when set, is called with every reject in file order,
	// except the records rejected only because a record they reference
	// was: those come last, in one Reject whose Dependents counts them.
	OnReject func(Reject)
	// SkipBadSections (only with Check) goes on past the sections the run
	// cannot load — an unknown table or column, a generated or repeated
	// column, a match key missing from the section's columns — instead of
	// stopping at the first with exit 2: their records are skipped, the
	// rest is checked, and Summary.BadSections lists them all (verify -f).
	SkipBadSections bool
}

// Reject is a record that cannot be applied.
type Reject struct {
	Pos    datafile.Pos `json:"pos"`
	Table  string       `json:"table"`
	Column string       `json:"column,omitempty"`
	Value  *string      `json:"value,omitempty"`
	Reason string       `json:"reason"`
	// Dependents, in the one Reject that sums them up, counts the records
	// rejected only because a record they reference was rejected; First
	// holds the first few of them.
	Dependents int64    `json:"dependents,omitempty"`
	First      []Reject `json:"first,omitempty"`
	// Kind is the reason's kind, as counted in Summary.RejectsByReason.
	Kind string `json:"kind,omitempty"`
}

// shownDependents is how many dependent records the summing-up Reject names.
const shownDependents = 5

func (r Reject) String() string {
	if r.Dependents > 0 {
		var first []string
		for _, d := range r.First {
			first = append(first, fmt.Sprintf("%s (%s)", d.Pos, d.Table))
		}
		more := ""
		if r.Dependents > int64(len(r.First)) {
			more = ", …"
		}
		return fmt.Sprintf("%d %s on rejected records and %s rejected with them (Options.Verbose or Options.RejectsFile names each): %s%s",
			r.Dependents, plural(r.Dependents, "record depends", "records depend"), plural(r.Dependents, "was", "were"), strings.Join(first, ", "), more)
	}
	s := fmt.Sprintf("%s: %s: ", r.Pos, r.Table)
	if r.Column != "" {
		s += fmt.Sprintf("column %q: ", r.Column)
		if r.Value != nil {
			s += fmt.Sprintf("value %q: ", clip(*r.Value, 80))
		}
	}
	return s + r.Reason
}

func clip(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n]) + "…"
	}
	return s
}

// TableCounts are the effects of a run on one table. Inserted, Updated and
// Deleted count rows of the table; Rejected counts records.
type TableCounts struct {
	Table    string `json:"table"`
	Records  int64  `json:"records"`
	Inserted int64  `json:"inserted"`
	Updated  int64  `json:"updated"`
	// Unchanged counts matched rows that already held the record's values.
	Unchanged int64 `json:"unchanged"`
	Deleted   int64 `json:"deleted"`
	Rejected  int64 `json:"rejected"`
	// Stamped counts records given the tenant of -t.
	Stamped int64 `json:"stamped,omitempty"`
	// Rewired counts references rewritten from labels to new keys (--new-keys).
	Rewired int64 `json:"rewired,omitempty"`
	// NoTenantRejects and RefRejects count rejects for a missing tenant and
	// for the reference rule.
	NoTenantRejects int64 `json:"no_tenant_rejects,omitempty"`
	RefRejects      int64 `json:"reference_rule_rejects,omitempty"`
	// FastPath reports that records were copied straight into the table.
	FastPath bool `json:"fast_path"`
}

// Summary is what a run did (or, with Check or after a rollback, would have done).
type Summary struct {
	Mode      string         `json:"mode"`
	Records   int64          `json:"records"`
	Rejected  int64          `json:"rejected"`
	Committed bool           `json:"committed"`
	Checked   bool           `json:"check,omitempty"`
	Tenant    *TenantRef     `json:"tenant,omitempty"`
	Tables    []*TableCounts `json:"tables"`
	// RejectsByReason counts rejected records by kind of reason ("bad
	// value", "NOT NULL", "dangling foreign key", "reference rule", …).
	RejectsByReason map[string]int64 `json:"rejects_by_reason,omitempty"`
	// RejectsFile is where rejects were written, "" when none were.
	RejectsFile string `json:"rejects_file,omitempty"`
	// LenientQuotes counts the CSV fields read with a bare double quote
	// (File.LenientQuotes).
	LenientQuotes int64 `json:"lenient_quotes,omitempty"`
	// BadSections are the sections skipped with Options.SkipBadSections,
	// in file order.
	BadSections []BadSection `json:"bad_sections,omitempty"`
}

// BadSection is a section a run cannot load; userload stops at the first
// with exit 2 (see Options.SkipBadSections).
type BadSection struct {
	Pos     datafile.Pos `json:"pos"`
	Table   string       `json:"table"`
	Column  string       `json:"column,omitempty"`
	Problem string       `json:"problem"`
	// Message is the error userload stops with: FILE:LINE:COL: message.
	Message string `json:"message"`
}

// The problems of a BadSection.
const (
	UnknownTable    = "unknown table"
	UnknownColumn   = "unknown column"
	GeneratedColumn = "generated column"
	RepeatedColumn  = "repeated column"
	// KeyProblem: the match key is not among the section's columns (or
	// --key names no column), or a mode that needs a key has none.
	KeyProblem = "match key"
	// TooManyColumns: the section has more columns than staging can hold.
	TooManyColumns = "too many columns"
)

// badSectionError is the exit-2 error of a BadSection.
type badSectionError struct{ BadSection }

func (e *badSectionError) Error() string { return e.Message }

// TenantRef names the tenant of -t.
type TenantRef struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// table returns the counts of the named table, adding them if need be.
func (s *Summary) table(name string) *TableCounts {
	for _, t := range s.Tables {
		if t.Table == name {
			return t
		}
	}
	t := &TableCounts{Table: name}
	s.Tables = append(s.Tables, t)
	sort.Slice(s.Tables, func(i, j int) bool { return s.Tables[i].Table < s.Tables[j].Table })
	return t
}

// WriteText prints the summary as a table.
func (s *Summary) WriteText(w io.Writer) error {
	width := len("TABLE")
	for _, t := range s.Tables {
		width = max(width, len(t.Table))
	}
	fmt.Fprintf(w, "%-*s %10s %10s %10s %10s %10s\n", width, "TABLE", "INSERTED", "UPDATED", "UNCHANGED", "DELETED", "REJECTED")
	for _, t := range s.Tables {
		fmt.Fprintf(w, "%-*s %10d %10d %10d %10d %10d\n", width, t.Table, t.Inserted, t.Updated, t.Unchanged, t.Deleted, t.Rejected)
	}
	if s.Tenant != nil {
		for _, t := range s.Tables {
			if t.Stamped+t.Rewired+t.RefRejects+t.NoTenantRejects > 0 {
				fmt.Fprintf(w, "%s: %d stamped with tenant %s (%s), %d references rewired, %d reference-rule rejects, %d no-tenant rejects\n",
					t.Table, t.Stamped, s.Tenant.Name, s.Tenant.ID, t.Rewired, t.RefRejects, t.NoTenantRejects)
			}
		}
	}
	switch {
	case s.LenientQuotes == 1:
		fmt.Fprintf(w, "1 field with a bare \" accepted (Options.LenientQuotes)\n")
	case s.LenientQuotes > 1:
		fmt.Fprintf(w, "%d fields with a bare \" accepted (Options.LenientQuotes)\n", s.LenientQuotes)
	}
	var err error
	switch {
	case s.Checked:
		_, err = fmt.Fprintf(w, "check only: %d records read, nothing was changed\n", s.Records)
	case s.Committed:
		_, err = fmt.Fprintf(w, "%d records read, %d rejected, committed\n", s.Records, s.Rejected)
	default:
		_, err = fmt.Fprintf(w, "%d records read, %d rejected, rolled back: nothing was changed\n", s.Records, s.Rejected)
	}
	return err
}

func plural(n int64, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
