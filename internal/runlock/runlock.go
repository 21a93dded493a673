// Package runlock serializes tenantkit's writing commands on a database with
// a session-level advisory lock, so two runs never interleave their changes.
// Read-only commands never take it.
//
// The lock is held by the session that does the run's work (With and
// Session hand that connection to the writer): it cannot be lost while the
// work goes on (an idle_session_timeout or a terminated backend ends the
// work with it), and after a kill it stays held exactly as long as the
// killed run's server process still runs.
package runlock

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Key is the advisory lock every writing command takes (advisory locks are
// per database, so runs on different databases do not meet). It is positive
// and below 2^32, so pg_locks shows it as classid 0, objid Key.
const Key = 1953198708

// keyText is Key in SQL.
const keyText = "1953198708"

const keySQL = keyText + "::bigint"

// ErrHeld is returned when another run holds the lock and waiting was not asked for.
var ErrHeld = errors.New("another tenantkit run is writing to this database")

// Lock is a held run lock.
type Lock struct {
	conn *pgxpool.Conn
}

type ctxKey struct{}

// With returns a context carrying the lock: Session then hands out the
// lock's own connection, so that the work runs in the session holding it.
func With(ctx context.Context, l *Lock) context.Context {
	return context.WithValue(ctx, ctxKey{}, l)
}

// Session returns the connection a writer works on: the session holding
// the run lock of ctx (see With), else a connection of the pool. release
// gives it back (the lock's connection stays with the lock).
func Session(ctx context.Context, pool *pgxpool.Pool) (conn *pgxpool.Conn, release func(), err error) {
	if l, ok := ctx.Value(ctxKey{}).(*Lock); ok && l != nil && l.conn != nil {
		return l.conn, func() {}, nil
	}
	c, err := pool.Acquire(ctx)
	if err != nil {
		return nil, nil, err
	}
	return c, c.Release, nil
}

// ErrLost is returned by Verify when the session no longer holds the lock.
var ErrLost = errors.New("the run lock was lost")

// Verify checks, in the session of q, that the run lock of ctx is still
// held by that session; without a lock in ctx it checks nothing. Writers
// call it before they commit.
func Verify(ctx context.Context, q interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}) error {
	if l, ok := ctx.Value(ctxKey{}).(*Lock); !ok || l == nil {
		return nil
	}
	var held bool
	err := q.QueryRow(ctx, `SELECT EXISTS (SELECT FROM pg_locks WHERE locktype = 'advisory' AND granted
		AND pid = pg_backend_pid() AND classid = 0 AND objid = `+keyText+` AND objsubid = 1)`).Scan(&held)
	if err != nil {
		return err
	}
	if !held {
		return ErrLost
	}
	return nil
}

// Holder describes the session holding the lock.
type Holder struct {
	PID     int
	App     string
	Started time.Time
}

const holderSQL = `
SELECT a.pid, coalesce(a.application_name, ''), coalesce(a.backend_start, now())
FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
WHERE l.locktype = 'advisory' AND l.granted AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
  AND l.classid = 0 AND l.objid = ` + keyText + ` AND l.objsubid = 1 LIMIT 1`

// Acquire takes the lock on a connection of its own, kept until Release;
// the run's work must use that connection (see With and Session).
// Without wait it fails at once, naming the holder; with wait it queues
// (and ctx cancels the wait). notify is called once before waiting.
func Acquire(ctx context.Context, pool *pgxpool.Pool, wait bool, notify func(Holder)) (*Lock, error) {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return nil, err
	}
	var ok bool
	if err := conn.QueryRow(ctx, "SELECT pg_try_advisory_lock("+keySQL+")").Scan(&ok); err != nil {
		conn.Release()
		return nil, err
	}
	if ok {
		return &Lock{conn: conn}, nil
	}
	var h Holder
	err = conn.QueryRow(ctx, holderSQL).Scan(&h.PID, &h.App, &h.Started)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		conn.Release()
		return nil, err
	}
	if !wait {
		conn.Release()
		return nil, fmt.Errorf("%w: held by server process %d (%s) since %s; rerun with the wait option to queue behind it",
			ErrHeld, h.PID, appOrUnknown(h.App), h.Started.Format(time.RFC3339))
	}
	if notify != nil {
		notify(h)
	}
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock("+keySQL+")"); err != nil {
		// A cancelled wait leaves the connection in an unknown state.
		conn.Conn().Close(context.Background())
		conn.Release()
		return nil, err
	}
	return &Lock{conn: conn}, nil
}

// Release gives the lock back. Closing the connection would too: a killed
// run's server process keeps it until it ends, which is when it finishes
// or cancels the statement it was running, and rolls back.
func (l *Lock) Release() {
	if l == nil || l.conn == nil {
		return
	}
	if _, err := l.conn.Exec(context.Background(), "SELECT pg_advisory_unlock("+keySQL+")"); err != nil {
		l.conn.Conn().Close(context.Background())
	}
	l.conn.Release()
	l.conn = nil
}

func appOrUnknown(app string) string {
	if app == "" {
		return "unknown client"
	}
	return app
}
