package sqlq

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// The interfaces tenantkit's packages take at their seams, declared once: a
// *pgxpool.Pool, a *pgx.Conn and a pgx.Tx satisfy each of them.

// Querier reads: a pool, a connection or a transaction.
type Querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// Execer reads and runs statements.
type Execer interface {
	Querier
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// Beginner starts a transaction (on a pool or a connection) or a savepoint
// (in a transaction).
type Beginner interface {
	Begin(ctx context.Context) (pgx.Tx, error)
}

// Savepoint runs fn in a savepoint of db (a pgx.Tx; on a pool or a
// connection, in a transaction of its own), as pgx.BeginFunc does: the
// savepoint is released when fn returns nil and rolled back when fn
// returns an error, which Savepoint returns, so that a statement the
// server refuses does not abort the enclosing transaction.
//
// Unlike pgx.BeginFunc, a failed rollback is not hidden behind fn's error:
// the transaction is then unusable, and the error returned wraps the
// rollback's, naming fn's in its text only, so that a caller looking for
// fn's error (a refusal it would step over) cannot mistake it and go on in
// a broken transaction. When fn's statement lost the connection there is
// nothing to roll back (the server rolls the whole transaction back), and
// fn's error, which says so, is returned as it is.
func Savepoint(ctx context.Context, db Beginner, fn func(pgx.Tx) error) error {
	sp, err := db.Begin(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = sp.Rollback(ctx) }() // when fn panics; a no-op once closed
	if err := fn(sp); err != nil {
		if sp.Conn().IsClosed() {
			return err
		}
		if rbErr := sp.Rollback(ctx); rbErr != nil {
			return fmt.Errorf("rolling back after %v: %w", err, rbErr)
		}
		return err
	}
	return sp.Commit(ctx)
}
