// Package dbconn opens tenantkit's connection pool and turns connection
// failures into one readable line.
package dbconn

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"

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
