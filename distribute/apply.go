package distribute

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/jackc/pgx/v5"

	"github.com/tenantkit/tenantkit/internal/fault"
	"github.com/tenantkit/tenantkit/internal/progress"
	"github.com/tenantkit/tenantkit/internal/sqlq"
	"github.com/tenantkit/tenantkit/schema"
)

// Write prints the plan as an SQL script: the classification, the foreign
// key decisions and the overlay fragment as comments, then the statements.
// A plan with nothing to do prints nothing.
func (p *Plan) Write(w io.Writer) error {
	if p.Done() {
		return nil
	}
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "-- object\ttable\trows\ttype\treason")
	for _, t := range p.Tables {
		fmt.Fprintf(tw, "-- %s\t%s\t%d\t%s\t%s\n", t.Name, t.Table, t.Rows, t.Type, t.Reason)
	}
	tw.Flush()
	if len(p.ForeignKeys) > 0 {
		b.WriteString("--\n")
		tw = tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "-- foreign key\tSREL\taction\treason")
		for _, fk := range p.ForeignKeys {
			fmt.Fprintf(tw, "-- %s\t%s.%s → %s\t%s\t%s\n", fk.Name, fk.From, fk.Attr, fk.To, fk.Action, fk.Reason)
		}
		tw.Flush()
	}
	for _, n := range p.Notes {
		b.WriteString("-- note: " + n + "\n")
	}
	if frag := Fragment(p.Kept); frag != "" {
		b.WriteString("--\n-- SRELs of dropped foreign keys, for the schema overlay (distribute apply writes it to its overlay output file):\n")
		for _, l := range strings.Split(strings.TrimRight(frag, "\n"), "\n") {
			b.WriteString("-- " + l + "\n")
		}
	}
	if !p.Citus && !p.KeysOnly {
		b.WriteString("--\n-- this server has no citus extension: apply refuses the Citus calls (Options.KeysOnly applies the rest)\n")
	}
	phase := ""
	for _, s := range p.Steps {
		ph := "schema changes, in one transaction"
		switch {
		case s.After:
			ph = "after distribution"
		case s.Citus:
			ph = "Citus, one table at a time"
		}
		if ph != phase {
			phase = ph
			fmt.Fprintf(&b, "\n-- %s\n", ph)
		}
		fmt.Fprintf(&b, "-- %s: %s\n%s;\n", s.Object, s.What, s.SQL)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// DB is what Apply needs: a connection that runs statements and begins
// transactions.
type DB interface {
	sqlq.Execer
	sqlq.Beginner
}

// Apply runs the plan: the schema changes in one transaction, then each
// Citus call and each foreign key added after them on its own (Citus moves
// the data of one table per call; a failed run is resumed by running again).
// Progress gets a phase per Citus call (see internal/progress); nil
// reports nothing.
func (p *Plan) Apply(ctx context.Context, db DB, progressTo io.Writer) error {
	if !p.KeysOnly && !p.Citus {
		return fault.Usage(fmt.Errorf("distribute apply: %w", ErrNoCitus))
	}
	var schemaSteps, later []Step
	for _, s := range p.Steps {
		if s.Citus || s.After {
			later = append(later, s)
		} else {
			schemaSteps = append(schemaSteps, s)
		}
	}
	prog := progress.New(progressTo, "distribute", progress.Options{Total: int64(len(later)), Unit: "steps"})
	defer prog.Finish()
	prog.Phase("schema changes")
	err := sqlq.Savepoint(ctx, db, func(tx pgx.Tx) error {
		for _, s := range schemaSteps {
			if _, err := tx.Exec(ctx, s.SQL); err != nil {
				return fmt.Errorf("distribute: %s: %s: %w", s.Object, s.What, err)
			}
		}
		return nil
	})
	if err != nil {
		return fault.Failure(err)
	}
	for i, s := range later {
		prog.Phase(s.Object + ": " + s.What)
		if _, err := db.Exec(ctx, s.SQL); err != nil {
			what := "the schema changes"
			if i > 0 {
				what += fmt.Sprintf(" and %d of %d Citus steps", i, len(later))
			}
			return fault.Committed(fault.Failure(fmt.Errorf("distribute: %s: %s: %w", s.Object, s.What, err)),
				what+" are committed; run distribute apply again to resume")
		}
		prog.Add(1)
	}
	return nil
}

// Isolate moves one tenant's rows of every co-located distributed table to
// shards of their own (Citus's isolate_tenant_to_new_shard, CASCADE).
// It returns the new shard's id.
func Isolate(ctx context.Context, q sqlq.Querier, s *schema.Schema, tenantKey string) (int64, string, error) {
	cit, err := readCitus(ctx, q, s.DBSchema)
	if err != nil {
		return 0, "", err
	}
	if !cit.installed {
		return 0, "", fault.Usage(fmt.Errorf("distribute isolate: %w", ErrNoCitus))
	}
	var anchor *schema.Object
	for _, o := range s.Objects {
		if cit.types[o.Table] == Distributed {
			anchor = o
			break
		}
	}
	if anchor == nil {
		return 0, "", fault.Usagef("distribute isolate: schema %q has no distributed table yet (run distribute apply first)", s.DBSchema)
	}
	var shard int64
	if err := q.QueryRow(ctx, fmt.Sprintf("SELECT pg_catalog.isolate_tenant_to_new_shard(%s, $1::%s, 'CASCADE')",
		sqlq.Lit(anchor.Ident()), typeOf(anchor)), tenantKey).Scan(&shard); err != nil {
		return 0, "", fmt.Errorf("distribute isolate: isolate_tenant_to_new_shard on %s: %w", anchor.Table, err)
	}
	return shard, anchor.Table, nil
}

// typeOf is the SQL type of the object's tenant column.
func typeOf(o *schema.Object) string {
	if c := o.Column(o.TenantColumn); c != nil {
		return c.Type
	}
	return "text"
}
