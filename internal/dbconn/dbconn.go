// Package dbconn opens tenantkit's connection pool and turns connection
// failures into one readable line. Every connection it makes carries the
// session invariants the other packages' statements rely on: search_path
// pinned to SearchPath (so every user object is named with its schema),
// standard_conforming_strings on, and the run's application_name and
// timeouts.
package dbconn

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Resolve picks the connection string: the flag, else DATABASE_URL, else ""
// (which makes pgx read the PG* variables and ~/.pgpass).
func Resolve(flag string) string {
	if flag != "" {
		return flag
	}
	return os.Getenv("DATABASE_URL")
}

// Session settings every connection of a run gets.
type Session struct {
	// App is the application_name, e.g. "tenantkit userload", so that other
	// sessions (and the run lock's message) can tell who holds what.
	App string
	// LockTimeout and StatementTimeout are PostgreSQL durations ("5s"); ""
	// keeps the server's setting.
	LockTimeout      string
	StatementTimeout string
}

// Open connects and checks that the server answers. The error names the
// host, port and database and the reason, never the password.
func Open(ctx context.Context, url string, sess Session) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("bad connection string: %s", scrub(err.Error(), url))
	}
	cfg.MaxConns = 8
	params := cfg.ConnConfig.RuntimeParams
	if sess.App != "" {
		params["application_name"] = sess.App
	}
	if sess.LockTimeout != "" {
		params["lock_timeout"] = sess.LockTimeout
	}
	if sess.StatementTimeout != "" {
		params["statement_timeout"] = sess.StatementTimeout
	}
	params["standard_conforming_strings"] = "on"
	cfg.AfterConnect = pin
	target := fmt.Sprintf("%s:%d/%s", cfg.ConnConfig.Host, cfg.ConnConfig.Port, cfg.ConnConfig.Database)
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("cannot connect to %s: %s", target, reason(err))
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("cannot connect to %s: %s", target, reason(err))
	}
	return pool, nil
}

// DefaultSchemaSetting is the session setting where Open keeps the schema
// the role's own search_path would have made current: the objects' schema
// when neither --db-schema nor the overlay names one.
const DefaultSchemaSetting = "tenantkit.default_schema"

// SearchPath is the search_path of every tenantkit session. Tenant users
// may create objects in the schemas they can write, so an unqualified name
// must never find one: only the system catalog is searched (pg_temp last,
// and PostgreSQL never looks there for functions or operators), and every
// statement names the user's objects with their schema.
const SearchPath = "pg_catalog, pg_temp"

// pinSQL runs first on every new connection, before anything else can
// resolve a name: it records the schema the role's search_path makes
// current, then pins search_path and standard_conforming_strings (also sent
// as a startup parameter, but a database or role setting, or PGOPTIONS, must
// not be able to turn it off). Every name in it is qualified.
const pinSQL = `SELECT pg_catalog.set_config('` + DefaultSchemaSetting + `', coalesce(pg_catalog.current_schema(), ''), false),
	pg_catalog.set_config('search_path', '` + SearchPath + `', false),
	pg_catalog.set_config('standard_conforming_strings', 'on', false)`

func pin(ctx context.Context, conn *pgx.Conn) error {
	if _, err := conn.Exec(ctx, pinSQL); err != nil {
		return fmt.Errorf("setting up the session: %w", err)
	}
	return nil
}

// reason keeps the innermost useful message of a connection error.
func reason(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Message
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) {
		return opErr.Error()
	}
	for {
		inner := errors.Unwrap(err)
		if inner == nil {
			break
		}
		err = inner
	}
	msg, _, _ := strings.Cut(err.Error(), "\n")
	return msg
}

// scrub removes a password from a message that may quote the URL.
func scrub(msg, url string) string {
	if i := strings.Index(url, "://"); i >= 0 {
		rest := url[i+3:]
		if at := strings.LastIndex(rest, "@"); at >= 0 {
			if colon := strings.Index(rest[:at], ":"); colon >= 0 {
				if pw := rest[colon+1 : at]; pw != "" {
					msg = strings.ReplaceAll(msg, pw, "xxxxx")
				}
			}
		}
	}
	return msg
}
