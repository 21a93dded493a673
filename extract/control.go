package extract

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tenantkit/tenantkit/datafile"
	"github.com/tenantkit/tenantkit/internal/fault"
	"github.com/tenantkit/tenantkit/internal/sqlq"
	"github.com/tenantkit/tenantkit/schema"
)

// controlVersion is the version of the control file layout.
const controlVersion = 1

// control is the incremental control file: per table, the change column and
// its high-water mark after the last run. The first run with a new file is
// a full extract; each later run extracts only rows whose change column is
// past the mark. Deleted rows leave nothing to extract, so deletions are
// not detected.
type control struct {
	path string
	file controlFile
}

type controlFile struct {
	Version int `json:"version"`
	// Command and Scope say what the file tracks (the command, and e.g.
	// the tenant), so that a file is not reused for another extract.
	Command string                   `json:"command"`
	Scope   string                   `json:"scope"`
	Tables  map[string]*controlTable `json:"tables"`
}

type controlTable struct {
	// ChangeColumn is empty for a table without one: such a table is
	// extracted in full every run.
	ChangeColumn string `json:"change_column,omitempty"`
	// Mark is the change column's high-water mark in PostgreSQL's text
	// form; nil until a run has seen a row.
	Mark        *string   `json:"mark"`
	Rows        int64     `json:"rows"`
	ExtractedAt time.Time `json:"extracted_at"`
}

// loadControl reads the control file at path; a missing file starts a new
// one. A file made by another command or for another scope is refused.
func loadControl(path, command, scope string) (*control, error) {
	c := &control{path: path, file: controlFile{Version: controlVersion, Command: command, Scope: scope, Tables: map[string]*controlTable{}}}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return c, nil
	}
	if err != nil {
		return nil, fault.Usage(fmt.Errorf("control file: %w", err))
	}
	var f controlFile
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fault.Usagef("control file %s: not a tenantkit control file: %v", path, err)
	}
	switch {
	case f.Version != controlVersion:
		return nil, fault.Usagef("control file %s: version %d, this tenantkit reads version %d", path, f.Version, controlVersion)
	case f.Command != command || f.Scope != scope:
		return nil, fault.Usagef("control file %s tracks %s (%s), not %s (%s); use another control file",
			path, f.Command, f.Scope, command, scope)
	}
	if f.Tables == nil {
		f.Tables = map[string]*controlTable{}
	}
	c.file = f
	return c, nil
}

// save writes the control file atomically (temporary file, then rename).
func (c *control) save() error {
	data, err := json.MarshalIndent(c.file, "", "  ")
	if err != nil {
		return fault.Failure(err)
	}
	a, err := datafile.CreateAtomic(c.path)
	if err != nil {
		return fault.Failure(fmt.Errorf("writing the control file: %w", err))
	}
	if err := os.WriteFile(a.Temp, append(data, '\n'), 0o666); err != nil {
		a.Abort()
		return fault.Failure(fmt.Errorf("writing the control file: %w", err))
	}
	if err := a.Commit(); err != nil {
		return fault.Failure(fmt.Errorf("writing the control file: %w", err))
	}
	return nil
}

// increment is one table's part in an incremental run.
type increment struct {
	entry *controlTable
	col   *schema.Column // nil: no change column, full extract
	prev  *string        // the mark this run starts from; nil: full
	// strict is set for timestamptz change columns: the next run takes
	// rows strictly past the mark, which is kept below every transaction
	// still in flight (see inFlightSince). Other types cannot be compared
	// with transaction start times, so they take rows at or past the mark:
	// rows sharing the mark's value are extracted again (userload upserts
	// them) rather than missed.
	strict bool
	clamp  *time.Time
}

// increment returns o's increment, starting a new entry when the table is
// new to the file or its change column changed.
func (c *control) increment(o *schema.Object, clamp *time.Time) *increment {
	e := c.file.Tables[o.Table]
	if e == nil || e.ChangeColumn != o.ChangeColumn {
		e = &controlTable{ChangeColumn: o.ChangeColumn}
		c.file.Tables[o.Table] = e
	}
	inc := &increment{entry: e, prev: e.Mark, clamp: clamp}
	if o.ChangeColumn != "" {
		inc.col = o.Column(o.ChangeColumn)
		inc.strict = inc.col.Type == "timestamp with time zone"
	} else {
		inc.prev = nil
	}
	return inc
}

// condition is the SQL condition on alias a selecting the rows changed
// since the last run, or "" for a full extract.
func (i *increment) condition(a string) string {
	if i.col == nil || i.prev == nil {
		return ""
	}
	op := ">="
	if i.strict {
		op = ">"
	}
	return fmt.Sprintf("%s.%s %s %s::%s", a, sqlq.Ident(i.col.Name), op, sqlq.Lit(*i.prev), i.col.Type)
}

func (i *increment) since() string {
	if i.prev == nil {
		return ""
	}
	return *i.prev
}

func (i *increment) mark() string {
	if i.entry.Mark == nil {
		return ""
	}
	return *i.entry.Mark
}

// markSQL computes the new mark of a timestamptz change column: the
// largest value extracted (or the old mark when nothing changed), but
// below the start of every transaction that was in flight when the run
// began, whose rows the snapshot cannot see although their change column
// may be older than the rows it does see.
const markSQL = `SELECT least(coalesce(max(t.%s), $1::text::timestamptz), $2::timestamptz - interval '1 microsecond')::text %s`

// plainMarkSQL computes the new mark of any other change column.
const plainMarkSQL = `SELECT coalesce(max(t.%s)::text, $1::text) %s`

// advance records the new mark once sec's rows are written.
func (i *increment) advance(ctx context.Context, tx pgx.Tx, sec *section, rows int64) error {
	i.entry.Rows, i.entry.ExtractedAt = rows, time.Now().UTC()
	if i.col == nil {
		return nil
	}
	col := sqlq.Ident(i.col.Name)
	var mark *string
	var err error
	if i.strict {
		err = tx.QueryRow(ctx, fmt.Sprintf(markSQL, col, sec.from), i.prev, i.clamp).Scan(&mark)
	} else {
		err = tx.QueryRow(ctx, fmt.Sprintf(plainMarkSQL, col, sec.from), i.prev).Scan(&mark)
	}
	if err != nil {
		return fault.Failure(fmt.Errorf("%s: reading the high-water mark of %s: %w", sec.what, i.col.Name, err))
	}
	i.entry.Mark = mark
	return nil
}

// inFlightSQL finds the earliest start among the transactions of other
// sessions on this database, and at the latest the current time. It runs
// before the extract's snapshot is taken: a transaction the snapshot cannot
// see either was in flight here or starts later, so its change timestamps
// (now() of a writer is its transaction's start) are not older than this.
// Sessions of other roles show no start without pg_read_all_stats; their
// transactions cannot be accounted for.
const inFlightSQL = `SELECT least(clock_timestamp(), min(xact_start))
FROM pg_stat_activity
WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'`

func inFlightSince(ctx context.Context, conn *pgx.Conn) (*time.Time, error) {
	var t time.Time
	if err := conn.QueryRow(ctx, inFlightSQL).Scan(&t); err != nil {
		return nil, fault.Failure(fmt.Errorf("reading transactions in flight: %w", err))
	}
	return &t, nil
}
