package prepare

import (
	"context"
	"fmt"
	"io"

	"github.com/jackc/pgx/v5"

	"github.com/tenantkit/tenantkit/internal/fault"
	"github.com/tenantkit/tenantkit/internal/sqlq"
)

// Apply runs the plan: the steps that share a transaction first, in one,
// then each of the others alone (see Step.Alone). Each statement is
// written to log as it starts (nil: quiet). A failure leaves the
// transactional part rolled back, or the alone steps done so far in place:
// Build on the database then plans the rest.
func Apply(ctx context.Context, db interface {
	sqlq.Execer
	sqlq.Beginner
}, p *Plan, log io.Writer) error {
	say := func(s Step) {
		if log != nil {
			fmt.Fprintf(log, "prepare: %s: %s\n", s.Table, s.SQL)
		}
	}
	var together, alone []Step
	for _, s := range p.Steps {
		if s.Alone {
			alone = append(alone, s)
		} else {
			together = append(together, s)
		}
	}
	if len(together) > 0 {
		err := sqlq.Savepoint(ctx, db, func(tx pgx.Tx) error {
			for _, s := range together {
				say(s)
				if _, err := tx.Exec(ctx, s.SQL); err != nil {
					return fmt.Errorf("prepare: %s: %s: %w", s.Table, s.SQL, err)
				}
			}
			return nil
		})
		if err != nil {
			return fault.Failure(err)
		}
	}
	for _, s := range alone {
		say(s)
		if _, err := db.Exec(ctx, s.SQL); err != nil {
			return fault.Failure(fmt.Errorf("prepare: %s: %s: %w (the steps before it are done; run prepare again to continue)", s.Table, s.SQL, err))
		}
	}
	return nil
}
