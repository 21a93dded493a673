package sqlq

import (
	"context"

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
